//! The feature networks (the backbone) whose activations the losses compare: VGG-19, the
//! method's original ([`vgg`]), and EfficientNet-Lite0, a light one for speed ([`lite`]), behind
//! one table and one trait ([`backbone`]), each loaded when a session first needs it
//! ([`network`]); and their weights files, found and read ([`weights`]), checked
//! against the installed checksums ([`checksum`]) and parsed by the project's one safetensors
//! reader ([`safetensors`]), which the fast network's file goes through too.

pub mod backbone;
pub mod checksum;
pub mod lite;
pub mod network;
pub mod safetensors;
pub mod vgg;
pub mod weights;
