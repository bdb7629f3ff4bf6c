//! The inputs of a session by slot: the content, the styles, their regions, the content mask,
//! the initial image and the temporal target with its weights, each set or cleared through one
//! call ([`set_input`]) that says which slot, which style (for the style slots) and the data: a
//! colour image or a plane of weights. A new kind of input is a new slot here and a branch in
//! [`set_input`]; the C ABI's one call (`nstyle_set_input`) does not change.

use crate::engine::image::mask::Mask;
use crate::engine::image::source::SourceImage;
use crate::engine::image::temporal::TemporalTarget;
use crate::engine::Transfer;
use crate::error::{Error, Result};

/// Where an input goes. The numbers are the C ABI's `NstyleInput`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputSlot {
    Content = 0,
    Style = 1,
    StyleRegion = 2,
    StyleSourceRegion = 3,
    ContentMask = 4,
    InitImage = 5,
    TemporalTarget = 6,
    TemporalWeights = 7,
}

/// Every slot, in numbering order.
pub const SLOTS: [InputSlot; 8] = [
    InputSlot::Content,
    InputSlot::Style,
    InputSlot::StyleRegion,
    InputSlot::StyleSourceRegion,
    InputSlot::ContentMask,
    InputSlot::InitImage,
    InputSlot::TemporalTarget,
    InputSlot::TemporalWeights,
];

/// What an input holds: a colour image, or a plane of weights (0..1 per pixel).
pub enum InputData {
    Image(SourceImage),
    Plane(Mask),
}

impl InputSlot {
    pub fn from_raw(raw: u32) -> Result<InputSlot> {
        SLOTS.get(raw as usize).copied().ok_or_else(|| {
            Error::arg(format!(
                "unknown input {raw} (expected 0..={}: content, style, style region, style \
                 source region, content mask, init image, temporal target, temporal weights)",
                SLOTS.len() - 1
            ))
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            InputSlot::Content => "content",
            InputSlot::Style => "style",
            InputSlot::StyleRegion => "style region",
            InputSlot::StyleSourceRegion => "style source region",
            InputSlot::ContentMask => "content mask",
            InputSlot::InitImage => "init image",
            InputSlot::TemporalTarget => "temporal target",
            InputSlot::TemporalWeights => "temporal weights",
        }
    }

    /// Whether the slot takes a plane of weights (else a colour image).
    pub fn takes_plane(self) -> bool {
        matches!(
            self,
            InputSlot::StyleRegion
                | InputSlot::StyleSourceRegion
                | InputSlot::ContentMask
                | InputSlot::TemporalWeights
        )
    }
}

/// Checks what can be checked before the pixels are copied: the index (style slots: an existing
/// style, or for `Style` also the next one, which adds a style), whether the data's kind suits
/// the slot, and whether the slot can be cleared. `plane` is None when clearing.
pub fn check_input(
    session: &Transfer,
    slot: InputSlot,
    index: usize,
    plane: Option<bool>,
) -> Result<()> {
    let styles = session.style_count();
    match slot {
        InputSlot::Style if plane.is_some() && index == styles => {}
        InputSlot::Style | InputSlot::StyleRegion | InputSlot::StyleSourceRegion => {
            session.check_style_index(index)?
        }
        _ if index != 0 => {
            return Err(Error::arg(format!(
                "input {} takes index 0, not {index} (only the style inputs are indexed)",
                slot.name()
            )))
        }
        _ => {}
    }
    match plane {
        None if slot == InputSlot::Content => Err(Error::arg(
            "the content cannot be cleared (set another content image)",
        )),
        Some(plane) if plane != slot.takes_plane() => Err(Error::arg(format!(
            "input {} takes {}, not {}",
            slot.name(),
            if slot.takes_plane() {
                "a grey plane (formats 6..=8)"
            } else {
                "a colour image (formats 0..=5)"
            },
            if plane {
                "a grey plane"
            } else {
                "a colour image"
            }
        ))),
        _ => Ok(()),
    }
}

/// Sets (Some) or clears (None) one input. Everything is checked before anything changes: on an
/// error the session is as it was. Setting `Style` at the index after the last adds a style
/// (blend weight 1); at an existing index it replaces that style's image, keeping its weight and
/// masks; clearing it removes the style (the later ones move down by one). `TemporalWeights`
/// are resampled to the temporal target's size and need a target; setting a target resets its
/// weights to 1 everywhere.
pub fn set_input(
    session: &mut Transfer,
    slot: InputSlot,
    index: usize,
    data: Option<InputData>,
) -> Result<()> {
    let plane = data.as_ref().map(|d| matches!(d, InputData::Plane(_)));
    check_input(session, slot, index, plane)?;
    match (slot, data) {
        (InputSlot::Content, Some(InputData::Image(image))) => session.set_content(image),
        (InputSlot::Style, Some(InputData::Image(image))) => {
            if index == session.style_count() {
                session.add_style(image, 1.0)?
            } else {
                session.replace_style_image(index, image)?
            }
        }
        (InputSlot::Style, None) => session.remove_style(index)?,
        (InputSlot::StyleRegion, data) => session.set_style_region(index, selection(data)?)?,
        (InputSlot::StyleSourceRegion, data) => {
            session.set_style_source_mask(index, selection(data)?)?
        }
        (InputSlot::ContentMask, data) => session.set_content_mask(selection(data)?),
        (InputSlot::InitImage, Some(InputData::Image(image))) => session.set_init_image(&image)?,
        (InputSlot::InitImage, None) => session.clear_init_image()?,
        (InputSlot::TemporalTarget, Some(InputData::Image(image))) => {
            session.set_temporal(TemporalTarget::new(image, None)?)
        }
        (InputSlot::TemporalTarget, None) => session.clear_temporal(),
        (InputSlot::TemporalWeights, data) => {
            let target = session.temporal().ok_or_else(|| {
                Error::State("temporal weights need a temporal target: set it first".into())
            })?;
            let weights = match data {
                Some(InputData::Plane(plane)) => Some(plane),
                _ => None,
            };
            session.set_temporal(target.with_weights(weights.as_ref())?)
        }
        (slot, _) => {
            return Err(Error::Internal(format!(
                "input {} was checked but has no branch",
                slot.name()
            )))
        }
    }
    Ok(())
}

/// A region or mask: a plane that selects something, or None to clear.
fn selection(data: Option<InputData>) -> Result<Option<Mask>> {
    match data {
        Some(InputData::Plane(plane)) => Ok(Some(plane.selecting()?)),
        Some(InputData::Image(_)) => Err(Error::Internal("a colour image as a mask".into())),
        None => Ok(None),
    }
}
