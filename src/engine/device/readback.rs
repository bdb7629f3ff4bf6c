//! Every device→host read of the optimisation loop goes through here and is counted. On a GPU a
//! read waits for all queued work (a synchronisation): the loop's speed there is bounded by how
//! many it makes, not by the chip. Counting them on the CPU keeps that number a tested property
//! (tests/readback.rs) without a GPU in CI.
//!
//! The count is per thread: a step runs on its caller's thread, and tests run in parallel.

use std::cell::Cell;

use tch::{Device, Kind, Tensor};

use crate::error::Result;

thread_local! {
    static READS: Cell<u64> = const { Cell::new(0) };
}

/// Reads made on this thread so far.
pub fn count() -> u64 {
    READS.with(Cell::get)
}

fn counted() {
    READS.with(|reads| reads.set(reads.get() + 1));
}

/// The values of `tensor` (any shape, any float kind) as f64, in one transfer.
pub fn values(tensor: &Tensor) -> Result<Vec<f64>> {
    counted();
    let host = tensor
        .f_to_kind(Kind::Double)?
        .f_reshape([-1])?
        .f_to_device(Device::Cpu)?;
    Ok(Vec::<f64>::try_from(host)?)
}

/// The value of a one-element tensor as f64, in one transfer.
pub fn scalar(tensor: &Tensor) -> Result<f64> {
    counted();
    Ok(tensor.f_double_value(&[])?)
}
