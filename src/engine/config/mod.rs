//! What a caller can set: the option table, the single source of every option's type, range,
//! default and effect ([`options`]), the typed settings it fills ([`settings`]), and the values
//! both use: layer lists and weights ([`values`]).

pub mod options;
pub mod settings;
pub mod values;
