//! Geometry of tiled stages: where the tiles lie on the image, which of their features the loss
//! may trust, how a tile's change is blended back, and Gram matrices summed over tiles.
//!
//! A feature of a convolutional network depends on the pixels within its receptive field; near a
//! tile's edge that field runs into zero padding the whole image does not have. So the loss of a
//! tile leaves out the features within `margin` pixels of every edge that lies inside the image
//! (the image's own edges are padded in the whole-image pass too), and a tile's change is blended
//! back with weights that are 0 over that margin and rise smoothly to 1 over the next
//! `2 · feather` pixels. Neighbouring tiles meet half-way through their ramps, so every pixel's
//! update is a smooth mix of the tiles that trusted it; the grid also moves between passes, so no
//! tile border stays in one place.

use tch::{Device, Kind, Tensor};

use crate::engine::features::backbone::Backbone;
use crate::engine::features::lite::Placement;
use crate::engine::image::mask::MIN_LAYER_AREA;
use crate::engine::image::window::Window;
use crate::error::{Error, Result};

/// Segments shorter than this are merged into their neighbour, so that no tile is a sliver.
const MIN_SEGMENT: u32 = 8;

/// How a tiled stage cuts its image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Longest side of a tile window, in pixels.
    pub tile: u32,
    /// Pixels at inner tile edges whose features the loss ignores (the receptive-field radius of
    /// the deepest layer, rounded up to `align`).
    pub margin: u32,
    /// Half the length of the blending ramp that follows the margin.
    pub feather: u32,
    /// Tile origins and margins are multiples of this (the deepest layer's stride), so that a
    /// tile's pooling grid is the whole image's and its features can be cropped exactly.
    pub align: u32,
}

impl Layout {
    /// The layout of a tiled stage of `backbone` in tiles of `tile` pixels (its loss reaches
    /// down to [`Backbone::tile_deepest`]).
    pub fn new(tile: u32, backbone: Backbone) -> Result<Layout> {
        Layout::reaching(tile, backbone, backbone.tile_deepest())
    }

    /// The layout for tiles of `tile` pixels whose loss reaches down to layer `deepest` of
    /// `backbone`.
    pub fn reaching(tile: u32, backbone: Backbone, deepest: usize) -> Result<Layout> {
        let align = backbone.stride(deepest).max(4);
        let margin = round_up(backbone.receptive_radius(deepest), align);
        let feather = round_up(margin / 2, align);
        let layout = Layout {
            tile,
            margin,
            feather,
            align,
        };
        if layout.owned() < align {
            return Err(Error::arg(format!(
                "tiles of {tile} px are too small for layers down to {}: each needs {} px of \
                 overlap, so a tile must be at least {} px",
                backbone.layer_name(deepest),
                2 * layout.pad(),
                2 * layout.pad() + 4 * align
            )));
        }
        Ok(layout)
    }

    /// Context a tile carries on each inner side beyond the part it owns.
    pub fn pad(&self) -> u32 {
        self.margin + self.feather
    }

    /// Pixels along each axis a tile owns (what is left of its window after the pads).
    pub fn owned(&self) -> u32 {
        (self.tile.saturating_sub(2 * self.pad()) / self.align) * self.align
    }

    /// The tiles of one optimisation pass over a `width`×`height` image; the grid shifts with
    /// `pass` (a low-discrepancy sequence, so successive borders spread over the whole owned span).
    pub fn pass(&self, width: u32, height: u32, pass: u32) -> Vec<Tile> {
        let shift = |alpha: f64| {
            let fraction = (pass as f64 * alpha).fract();
            ((fraction * self.owned() as f64) as u32 / self.align) * self.align
        };
        // The R2 sequence's two constants (1/plastic number and its square).
        self.grid(
            width,
            height,
            shift(0.754_877_666_2),
            shift(0.569_840_290_9),
        )
    }

    /// The tiles whose owned parts exactly partition the image, for sums over it (style Grams).
    pub fn partition(&self, width: u32, height: u32) -> Vec<Tile> {
        let no_feather = Layout {
            feather: 0,
            tile: self.tile.saturating_sub(2 * self.feather),
            ..*self
        };
        no_feather.grid(width, height, 0, 0)
    }

    /// Tiles a pass visits in all over `passes` passes (the stage's progress counts them).
    pub fn visits(&self, width: u32, height: u32, passes: u32) -> u64 {
        (0..passes)
            .map(|p| self.pass(width, height, p).len() as u64)
            .sum()
    }

    fn grid(&self, width: u32, height: u32, shift_x: u32, shift_y: u32) -> Vec<Tile> {
        let columns = self.segments(width, shift_x);
        let rows = self.segments(height, shift_y);
        let mut tiles = Vec::with_capacity(columns.len() * rows.len());
        for &(y0, y1) in &rows {
            for &(x0, x1) in &columns {
                let (left, right) = self.window_span(x0, x1, width);
                let (top, bottom) = self.window_span(y0, y1, height);
                let inner = |edge: bool| if edge { self.margin } else { 0 };
                tiles.push(Tile {
                    window: Window {
                        x: left,
                        y: top,
                        width: right - left,
                        height: bottom - top,
                    },
                    crop: [
                        inner(left > 0),
                        inner(top > 0),
                        inner(right < width),
                        inner(bottom < height),
                    ],
                    image_width: width,
                    image_height: height,
                });
            }
        }
        tiles
    }

    /// Owned segments `[start, end)` along an axis of `length`: boundaries every `owned` pixels
    /// moved back by `shift`, slivers merged into their neighbour.
    fn segments(&self, length: u32, shift: u32) -> Vec<(u32, u32)> {
        let step = self.owned().max(self.align);
        let mut bounds = vec![0u32];
        let mut next = step.saturating_sub(shift);
        while next < length {
            if next - bounds[bounds.len() - 1] >= MIN_SEGMENT {
                bounds.push(next);
            }
            next += step;
        }
        if bounds.len() > 1 && length - bounds[bounds.len() - 1] < MIN_SEGMENT {
            bounds.pop();
        }
        bounds.push(length);
        bounds.windows(2).map(|b| (b[0], b[1])).collect()
    }

    fn window_span(&self, start: u32, end: u32, length: u32) -> (u32, u32) {
        (
            start.saturating_sub(self.pad()),
            (end + self.pad()).min(length),
        )
    }

    /// Blending weights of `tile` ([1, 1, h, w], fp32): 0 over the margin of each inner edge,
    /// rising smoothly to 1 over the next 2 · feather pixels; 1 up to the image's own edges.
    pub fn weights(&self, tile: &Tile, device: Device) -> Result<Tensor> {
        let ramp = |length: u32, before: u32, after: u32| -> Vec<f32> {
            (0..length)
                .map(|i| {
                    let up = self.ramp(i, before > 0);
                    let down = self.ramp(length - 1 - i, after > 0);
                    up * down
                })
                .collect()
        };
        let [left, top, right, bottom] = tile.crop;
        let (width, height) = (tile.window.width as i64, tile.window.height as i64);
        // The two ramps go up in one upload, not the plane they span, which is made on the
        // device (the same fp32 products).
        let mut ramps = ramp(tile.window.width, left, right);
        ramps.extend(ramp(tile.window.height, top, bottom));
        let ramps =
            crate::engine::device::readback::upload(&Tensor::f_from_slice(&ramps)?, device)?;
        let across = ramps.f_narrow(0, 0, width)?;
        let down = ramps.f_narrow(0, width, height)?;
        Ok(down
            .f_view([1, 1, height, 1])?
            .f_mul(&across.f_view([1, 1, 1, width])?)?)
    }

    /// Weight of the pixel `distance` pixels in from an edge (0 at the edge's first pixel).
    fn ramp(&self, distance: u32, inner: bool) -> f32 {
        if !inner {
            return 1.0;
        }
        let x = (distance as f32 + 0.5 - self.margin as f32) / (2 * self.feather).max(1) as f32;
        let t = x.clamp(0.0, 1.0);
        t * t * (3.0 - 2.0 * t)
    }
}

/// How a stage is optimised in tiles: the layout, the passes over the image and the iterations of
/// each tile visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    pub layout: Layout,
    pub passes: u32,
    pub per_visit: u32,
}

/// One tile: its window, the pixels at each side (left, top, right, bottom) whose features
/// the loss leaves out (the margin on inner edges, 0 on the image's own), and the size of the
/// image it is a window of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    pub window: Window,
    pub crop: [u32; 4],
    pub image_width: u32,
    pub image_height: u32,
}

impl Tile {
    /// Where the tile's window lies in its image (for a network whose padding depends on it).
    pub fn placement(&self) -> Placement {
        Placement {
            x: self.window.x,
            y: self.window.y,
            width: self.window.width,
            height: self.window.height,
            whole_width: self.image_width,
            whole_height: self.image_height,
        }
    }

    /// `features` ([1, C, h, w]) of a layer at `stride` without the cropped border. An error
    /// when nothing is left (the layout keeps tiles larger than their margins).
    pub fn interior(&self, features: &Tensor, stride: u32) -> Result<Tensor> {
        let (_, _, h, w) = features.size4()?;
        let [left, top, right, bottom] = self.crop.map(|c| (c / stride) as i64);
        let (width, height) = (w - left - right, h - top - bottom);
        if width <= 0 || height <= 0 {
            return Err(Error::Internal(format!(
                "tile {:?} has no features left inside its margins",
                self.window
            )));
        }
        Ok(features
            .f_narrow(2, top, height)?
            .f_narrow(3, left, width)?)
    }
}

/// A Gram matrix summed over tiles: Σ FᵀF over every tile's features and the positions counted,
/// normalised at the end as [`crate::engine::loss::gram`] normalises one map (by C · positions).
pub struct GramSum {
    sum: Option<Tensor>,
    /// What each part added to the positions counted, in order: whole numbers (exact in f64), or
    /// a region's summed squared weights, left on the device until the sums finish (read back
    /// then, all in one transfer, and added in the same order).
    counts: Vec<PositionCount>,
}

enum PositionCount {
    Known(f64),
    OnDevice(Tensor),
}

impl GramSum {
    pub fn new() -> GramSum {
        GramSum {
            sum: None,
            counts: Vec::new(),
        }
    }

    pub fn add(&mut self, features: &Tensor) -> Result<()> {
        let (_, _, h, w) = features.size4()?;
        self.add_part(features)?;
        self.counts.push(PositionCount::Known((h * w) as f64));
        Ok(())
    }

    /// Adds the features weighted by a region's weights ([1, 1, h, w]) there, counted by their
    /// summed squares: the sum then finishes as the region's guided Gram matrix.
    pub fn add_weighted(&mut self, features: &Tensor, weights: &Tensor) -> Result<()> {
        self.add_part(&features.f_mul(weights)?)?;
        let area = weights.f_square()?.f_sum(Kind::Double)?;
        self.counts.push(PositionCount::OnDevice(area));
        Ok(())
    }

    fn add_part(&mut self, features: &Tensor) -> Result<()> {
        let (_, channels, h, w) = features.size4()?;
        let flat = features.f_reshape([channels, h * w])?;
        let part = flat.f_mm(&flat.f_tr()?)?;
        self.sum = Some(match self.sum.take() {
            Some(sum) => sum.f_add(&part)?,
            None => part,
        });
        Ok(())
    }

    pub fn finish(self) -> Result<Tensor> {
        let mut finished = GramSum::finish_all(vec![self])?;
        Ok(finished.remove(0))
    }

    /// Finishes every sum, with one read-back for all the positions still on the device.
    pub fn finish_all(sums: Vec<GramSum>) -> Result<Vec<Tensor>> {
        let on_device: Vec<&Tensor> = sums
            .iter()
            .flat_map(|sum| &sum.counts)
            .filter_map(|count| match count {
                PositionCount::OnDevice(area) => Some(area),
                PositionCount::Known(_) => None,
            })
            .collect();
        let read = if on_device.is_empty() {
            Vec::new()
        } else {
            crate::engine::device::readback::values(&Tensor::f_stack(&on_device, 0)?)?
        };
        let mut read = read.into_iter();
        sums.into_iter()
            .map(|sum| {
                let positions = sum.counts.iter().fold(0.0, |positions, count| {
                    positions
                        + match count {
                            PositionCount::Known(count) => *count,
                            PositionCount::OnDevice(_) => {
                                read.next().expect("every area on the device was read")
                            }
                        }
                });
                sum.finish_with(positions)
            })
            .collect()
    }

    fn finish_with(self, positions: f64) -> Result<Tensor> {
        let sum = self
            .sum
            .ok_or_else(|| Error::Internal("a Gram sum over no tiles".into()))?;
        if positions < MIN_LAYER_AREA {
            return Err(Error::arg(
                "the style image's mask selects too little of it for the deeper style layers: \
                 make the masked part larger or raise style_scale",
            ));
        }
        let channels = sum.size()[0];
        Ok(sum
            .f_div_scalar(channels as f64 * positions)?
            .f_to_kind(Kind::Float)?)
    }
}

impl Default for GramSum {
    fn default() -> Self {
        GramSum::new()
    }
}

fn round_up(value: u32, multiple: u32) -> u32 {
    value.div_ceil(multiple) * multiple
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::features::vgg::Layer;

    fn layout(tile: u32) -> Layout {
        Layout::new(tile, Backbone::Vgg19).unwrap()
    }

    #[test]
    fn receptive_fields_of_vgg_layers() {
        // relu1_1: 3 px; relu3_1: 24 px; relu5_1: 156 px (radii rounded up).
        assert_eq!(Layer::RELU1_1.receptive_radius(), 2);
        assert_eq!(Layer::RELU3_1.receptive_radius(), 12);
        assert_eq!(Layer::RELU5_1.receptive_radius(), 78);
        let l = layout(64);
        assert_eq!((l.margin, l.feather, l.align), (12, 8, 4));
    }

    #[test]
    fn receptive_reach_of_lite_layers() {
        // stem (3×3 stride 2): one pixel either side of its 2×2 cell; block0 (3×3) adds 2 px;
        // block1 (3×3 stride 2) 2; block2 (3×3 at stride 4) 4; block3 (5×5 stride 2, whose
        // odd padding pixel can fall before) 8; block4 (5×5 at stride 8) 16.
        let reach: Vec<u32> = (0..6)
            .map(crate::engine::features::lite::receptive_reach)
            .collect();
        assert_eq!(reach, [1, 3, 5, 9, 17, 33]);
        let l = Layout::new(64, Backbone::Lite).unwrap();
        assert_eq!((l.margin, l.feather, l.align), (12, 8, 4));
    }

    #[test]
    fn each_pass_covers_the_image_and_tiles_stay_within_their_size() {
        for (w, h) in [(128u32, 96u32), (200, 77), (64, 64), (1000, 3)] {
            let l = layout(64);
            for pass in 0..5 {
                let tiles = l.pass(w, h, pass);
                let mut covered = vec![0u32; (w * h) as usize];
                for t in &tiles {
                    let win = t.window;
                    assert!(win.x + win.width <= w && win.y + win.height <= h);
                    assert!(win.width <= 64 + MIN_SEGMENT && win.height <= 64 + MIN_SEGMENT);
                    assert_eq!(win.x % l.align, 0);
                    for y in win.y..win.y + win.height {
                        for x in win.x..win.x + win.width {
                            covered[(y * w + x) as usize] += 1;
                        }
                    }
                }
                assert!(covered.iter().all(|&c| c > 0), "{w}×{h} pass {pass}");
            }
            assert_eq!(
                l.visits(w, h, 3),
                (0..3).map(|p| l.pass(w, h, p).len() as u64).sum::<u64>()
            );
        }
    }

    #[test]
    fn the_grid_moves_between_passes() {
        let l = layout(64);
        let first: Vec<u32> = l.pass(256, 256, 0).iter().map(|t| t.window.x).collect();
        let second: Vec<u32> = l.pass(256, 256, 1).iter().map(|t| t.window.x).collect();
        assert_ne!(first, second);
    }

    #[test]
    fn weights_sum_to_about_one_across_a_border_and_vanish_in_the_margin() {
        let l = layout(64);
        let tiles = l.pass(200, 40, 0);
        let (a, b) = (tiles[0], tiles[1]);
        let wa = l.weights(&a, Device::Cpu).unwrap();
        let wb = l.weights(&b, Device::Cpu).unwrap();
        let at = |w: &Tensor, tile: &Tile, x: u32| {
            w.double_value(&[0, 0, 0, (x - tile.window.x) as i64])
        };
        // The owned boundary lies half-way through both ramps.
        let boundary = a.window.x + a.window.width - l.pad();
        let sum = at(&wa, &a, boundary) + at(&wb, &b, boundary);
        assert!((sum - 1.0).abs() < 0.1, "{sum}");
        // Inside a's right margin a's weight is 0; a's left edge is the image's: weight 1.
        assert_eq!(at(&wa, &a, a.window.x + a.window.width - 1), 0.0);
        assert_eq!(at(&wa, &a, 0), 1.0);
    }

    #[test]
    fn partition_grams_equal_the_whole_map_gram() {
        // A feature map cut into the owned parts of a partition: the summed Gram is the whole's.
        let l = layout(64);
        let features = Tensor::randn([1, 5, 50, 70], (Kind::Float, Device::Cpu));
        let mut sum = GramSum::new();
        let mut positions = 0;
        for tile in l.partition(70, 50) {
            let win = tile.window.of(&features).unwrap();
            let inner = tile.interior(&win, 1).unwrap();
            positions += inner.size()[2] * inner.size()[3];
            sum.add(&inner).unwrap();
        }
        assert_eq!(positions, 50 * 70);
        let whole = crate::engine::loss::gram(&features);
        let diff = (sum.finish().unwrap() - whole)
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-5, "{diff}");
    }

    #[test]
    fn too_small_a_tile_is_an_argument_error() {
        assert!(Layout::new(40, Backbone::Vgg19).is_err());
        assert!(Layout::reaching(64, Backbone::Vgg19, Layer::RELU5_1.index()).is_err());
        assert!(Layout::new(40, Backbone::Lite).is_err());
        assert!(Layout::reaching(128, Backbone::Lite, 5).is_err());
    }
}
