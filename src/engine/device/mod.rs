//! Where and how the tensors are computed: the device and the network's precision on it
//! ([`precision`]), the CPU threads a step uses ([`threads`]), and the counted reads back from the
//! device to the host ([`readback`]). Nothing here knows about style transfer.

pub mod precision;
pub mod readback;
pub mod threads;
