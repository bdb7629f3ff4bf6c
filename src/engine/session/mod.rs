//! The method at work: a session ([`transfer`]) takes its inputs ([`inputs`]) and drives the
//! optimisation in progress ([`run`]), stage by stage, each minimising its [`objective`]; or
//! paints in one pass of the fast network ([`instant`]); and says beforehand how long a run will
//! take ([`estimate`]).

pub mod estimate;
pub mod inputs;
pub mod instant;
pub mod objective;
pub mod run;
pub mod transfer;
