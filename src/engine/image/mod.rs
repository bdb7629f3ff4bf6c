//! The images of a run as the host hands them over: pictures in and out ([`picture`]), content
//! and style sources stored compactly and resized on demand ([`source`]), region masks
//! ([`mask`]) and the temporal target of video stylisation ([`temporal`]).

pub mod mask;
pub mod picture;
pub mod source;
pub mod temporal;
