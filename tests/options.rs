//! The option table drives parsing, validation, effects and the header's option docs.

use nstyle::engine::config::options::{self, Domain, Effect, OPTIONS};
use nstyle::engine::Settings;
use nstyle::Error;

/// A valid value of `row` other than its default.
fn another_value(row: &options::OptionSpec) -> String {
    let default = row.domain.parse(row.key, row.default).unwrap();
    let candidates: Vec<String> = match row.domain {
        Domain::Int { min, max, words } => {
            [min.to_string(), max.to_string(), (min + 1).to_string()]
                .into_iter()
                .chain(words.iter().map(|w| w.to_string()))
                .collect()
        }
        Domain::Float { min, max, .. } => vec![max.to_string(), ((min + max) / 2.0).to_string()],
        Domain::Choice(words) => words.iter().map(|w| w.to_string()).collect(),
        Domain::Bool => vec!["0".into(), "1".into()],
        Domain::Layers => vec!["relu3_1".into()],
    };
    candidates
        .into_iter()
        .find(|c| row.domain.parse(row.key, c).unwrap() != default)
        .unwrap_or_else(|| panic!("{}: no other value", row.key))
}

#[test]
fn every_row_parses_its_default_and_the_defaults_are_the_settings_defaults() {
    let defaults = Settings::default();
    for row in OPTIONS {
        let mut settings = Settings::default();
        settings
            .set_option(row.key, row.default)
            .unwrap_or_else(|e| panic!("{}: {e}", row.key));
        assert_eq!(settings, defaults, "{}", row.key);
        // The value reads back as text that parses to the same value.
        let text = defaults.get_option(row.key).unwrap();
        assert_eq!(
            row.domain.parse(row.key, &text).unwrap(),
            row.domain.parse(row.key, row.default).unwrap(),
            "{}",
            row.key
        );
    }
}

#[test]
fn out_of_range_values_are_refused_with_the_range_and_change_nothing() {
    for row in OPTIONS {
        let bad: Vec<String> = match row.domain {
            Domain::Int { min, max, .. } => {
                let mut bad = vec!["x".to_string(), "-1".into()];
                if min > 0 {
                    bad.push((min - 1).to_string());
                }
                if max < u64::MAX {
                    bad.push((max as u128 + 1).to_string());
                }
                bad
            }
            Domain::Float { min, max, .. } => {
                vec![
                    "nan".into(),
                    "inf".into(),
                    (min - 1.0).to_string(),
                    (max * 2.0 + 1.0).to_string(),
                ]
            }
            Domain::Choice(_) => vec!["nonsense".into(), String::new()],
            Domain::Bool => vec!["2".into(), "yes".into()],
            Domain::Layers => vec!["relu9_9".into(), String::new()],
        };
        for value in bad {
            let mut settings = Settings::default();
            let err = settings.set_option(row.key, &value).unwrap_err();
            assert!(
                matches!(err, Error::Argument(_)),
                "{}={value}: {err:?}",
                row.key
            );
            assert_eq!(
                settings,
                Settings::default(),
                "{}={value} changed something",
                row.key
            );
            let text = err.to_string();
            if let Domain::Int { min, max, .. } = row.domain {
                assert!(
                    text.contains(&format!("{min}..={max}")),
                    "{}: {text}",
                    row.key
                );
            }
            if let Domain::Choice(words) = row.domain {
                assert!(
                    words.iter().all(|w| text.contains(w)),
                    "{}: {text}",
                    row.key
                );
            }
        }
    }
}

#[test]
fn each_row_reports_its_effect() {
    for row in OPTIONS {
        let before = Settings::default();
        let mut after = before.clone();
        after.set_option(row.key, &another_value(row)).unwrap();
        let effect = if before.needs_restart(&after) {
            Effect::Restart
        } else if before.changes_targets(&after) {
            Effect::Retarget
        } else {
            Effect::Live
        };
        assert_eq!(effect, row.effect, "{}", row.key);
    }
}

/// The header documents `nstyle_set_option` with lines rendered from the table; run with
/// NSTYLE_BLESS=1 to rewrite them in src/ffi.rs after changing a row.
#[test]
fn header_option_docs_are_rendered_from_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ffi.rs");
    let source = std::fs::read_to_string(path).unwrap();
    let (begin, end) = ("/// <!-- options:begin -->\n", "/// <!-- options:end -->");
    let start = source.find(begin).expect("begin marker") + begin.len();
    let stop = source.find(end).expect("end marker");
    let rendered: String = options::render_docs()
        .lines()
        .map(|line| format!("/// {line}\n"))
        .collect();
    if source[start..stop] != rendered {
        if std::env::var_os("NSTYLE_BLESS").is_some() {
            let updated = format!("{}{rendered}{}", &source[..start], &source[stop..]);
            std::fs::write(path, updated).unwrap();
        } else {
            panic!("src/ffi.rs option docs differ from the table; rerun with NSTYLE_BLESS=1");
        }
    }
}
