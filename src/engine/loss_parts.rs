//! The value of the objective split into its terms, for progress reports.

/// Weighted loss terms (each already multiplied by its weight) and their sum.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossParts {
    pub total: f64,
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    /// The temporal term (video; 0 without a temporal target).
    pub temporal: f64,
}
