//! The feature networks (the backbone) whose activations the losses compare: VGG-19, the
//! method's original ([`vgg`]), and EfficientNet-Lite0, a light one for speed ([`lite`]), behind
//! one shape ([`network`]); and their weights files, found and read ([`weights`]), checked
//! against the installed checksums ([`checksum`]) and parsed by the project's one safetensors
//! reader ([`safetensors`]), which the fast network's file goes through too.

pub mod checksum;
pub mod lite;
pub mod network;
pub mod safetensors;
pub mod vgg;
pub mod weights;
