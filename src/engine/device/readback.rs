//! Every transfer between host and device in the optimisation loop goes through here and is
//! counted. On a GPU a read waits for all queued work (a synchronisation): the loop's speed there
//! is bounded by how many it makes, not by the chip. An upload from ordinary (pageable) host
//! memory waits too; one from page-locked memory, queued without waiting, does not. Counting both
//! on the CPU keeps them a tested property (tests/readback.rs) without a GPU in CI.
//!
//! The counts are per thread: a step runs on its caller's thread, and tests run in parallel.

use std::cell::Cell;

use tch::{Device, Kind, Tensor};

use crate::error::Result;

thread_local! {
    static READS: Cell<u64> = const { Cell::new(0) };
    static UPLOADS: Cell<u64> = const { Cell::new(0) };
}

/// Reads made on this thread so far.
pub fn reads() -> u64 {
    READS.with(Cell::get)
}

/// Uploads made on this thread so far (counted on the CPU too, where they cost nothing).
pub fn uploads() -> u64 {
    UPLOADS.with(Cell::get)
}

fn counted(counter: &'static std::thread::LocalKey<Cell<u64>>) {
    counter.with(|count| count.set(count.get() + 1));
}

/// The values of `tensor` (any shape, any float kind) as f64, in one transfer.
pub fn values(tensor: &Tensor) -> Result<Vec<f64>> {
    counted(&READS);
    let host = tensor
        .f_to_kind(Kind::Double)?
        .f_reshape([-1])?
        .f_to_device(Device::Cpu)?;
    Ok(Vec::<f64>::try_from(host)?)
}

/// `host` (a tensor made in host memory) on `device`. On a GPU it is copied to page-locked memory
/// and the upload queued from there without waiting (libtorch keeps that memory until the copy is
/// done); on the CPU it is `host` itself.
pub fn upload(host: &Tensor, device: Device) -> Result<Tensor> {
    counted(&UPLOADS);
    if host.device() == device {
        return Ok(host.shallow_clone());
    }
    // `_pin_memory`, not `pin_memory`: libtorch warns on every `pin_memory` given a device, and
    // tch always gives one.
    let pinned = host.f_internal_pin_memory(device)?;
    Ok(pinned.f_to_device_(device, host.kind(), true, false)?)
}
