//! What a caller can set: the option table, the single source of every option's type, range,
//! default and effect ([`options`]), and the typed settings it fills ([`settings`]).

pub mod options;
pub mod settings;
