//! A rectangle of an image and the view of it that a tile, or a term's target at a tile, works
//! on.

use tch::Tensor;

use crate::error::Result;

/// A rectangle of the image, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Window {
    /// This window of `image` ([1, C, H, W]), as a view.
    pub fn of(&self, image: &Tensor) -> Result<Tensor> {
        Ok(image
            .f_narrow(2, self.y as i64, self.height as i64)?
            .f_narrow(3, self.x as i64, self.width as i64)?)
    }
}
