//! How a run is laid out before it starts: the multi-scale stages ([`schedule`]), the tiles a
//! stage too large for memory is cut into ([`tiles`]), and the memory a stage needs against the
//! budget ([`memory`]).

pub mod memory;
pub mod schedule;
pub mod tiles;
