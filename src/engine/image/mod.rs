//! The images of a run as the host hands them over: pictures in and out ([`picture`]), content
//! and style sources stored compactly and resized on demand ([`source`]), region masks
//! ([`mask`]), the temporal target of video stylisation ([`temporal`]), and the rectangles of an
//! image that tiles cut ([`window`]).

pub mod mask;
pub mod picture;
pub mod source;
pub mod temporal;
pub mod window;
