//! The value of the objective split into its terms, for progress reports.

/// The weighted loss terms of an evaluation (each already multiplied by its weight), by name in
/// the objective's order, and their sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LossParts {
    pub total: f64,
    pub terms: Vec<(&'static str, f64)>,
}

impl LossParts {
    /// The weighted value of the term called `name` (0 when the objective has no such term).
    pub fn get(&self, name: &str) -> f64 {
        self.terms
            .iter()
            .find(|(term, _)| *term == name)
            .map_or(0.0, |(_, value)| *value)
    }
}
