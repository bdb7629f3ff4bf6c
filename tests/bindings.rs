//! The C++ wrapper (`include/nstyle.hpp`) and the Python binding's ctypes declarations
//! (`plugins/python/nstyle/__init__.py`) are written by hand; this keeps them from drifting from
//! the generated header: every function, every enum constant and every struct field of
//! `include/nstyle.h` must be named in both.

use std::collections::BTreeSet;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The header without its comments (they mention names that are not declarations).
fn header_code() -> String {
    let header = read("include/nstyle.h");
    let mut code = String::new();
    let mut rest = header.as_str();
    while let Some(start) = rest.find("/*") {
        code.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("comments close") + start + 2;
        rest = &rest[end..];
    }
    code.push_str(rest);
    code.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn identifiers_before(code: &str, marker: char) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(marker) {
        let before = code[..at].trim_end();
        let name: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
    names
}

/// Function names (`nstyle_…(`), enum constants (`NSTYLE_… =`) and struct fields (the last
/// word before `;` inside a `typedef struct … { … }`).
fn declarations() -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let code = header_code();
    let functions = identifiers_before(&code, '(')
        .into_iter()
        .filter(|n| n.starts_with("nstyle_"))
        .collect();
    let constants = identifiers_before(&code, '=')
        .into_iter()
        .filter(|n| n.starts_with("NSTYLE_"))
        .collect();
    let mut fields = BTreeSet::new();
    for (at, _) in code.match_indices("typedef struct") {
        let body = &code[at..];
        let (open, close) = (body.find('{'), body.find('}'));
        if let (Some(open), Some(close)) = (open, close) {
            fields.extend(identifiers_before(&body[open + 1..close], ';'));
        }
    }
    (functions, constants, fields)
}

/// Whether `name` occurs in `text` as a whole word.
fn names(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let before = text[..at].chars().next_back().is_none_or(|c| !word(c));
        let after = text[at + name.len()..]
            .chars()
            .next()
            .is_none_or(|c| !word(c));
        before && after
    })
}

fn missing_from(path: &str) -> Vec<String> {
    let text = read(path);
    let (functions, constants, fields) = declarations();
    let mut missing = Vec::new();
    for (kind, set) in [
        ("function", functions),
        ("constant", constants),
        ("field", fields),
    ] {
        for name in set.iter().filter(|n| !names(&text, n)) {
            missing.push(format!("{kind} {name}"));
        }
    }
    missing
}

#[test]
fn the_header_is_parsed_into_what_it_declares() {
    let (functions, constants, fields) = declarations();
    for name in ["nstyle_step", "nstyle_set_input", "nstyle_errmsg"] {
        assert!(
            functions.contains(name),
            "{name} not found in {functions:?}"
        );
    }
    for name in [
        "NSTYLE_DONE",
        "NSTYLE_GREY8",
        "NSTYLE_INPUT_TEMPORAL_WEIGHTS",
    ] {
        assert!(constants.contains(name), "{name} not found");
    }
    for name in ["stride_bytes", "tv_loss", "default_value"] {
        assert!(fields.contains(name), "{name} not found in {fields:?}");
    }
    assert!(functions.len() >= 30, "{functions:?}");
}

#[test]
fn the_cpp_wrapper_names_everything_the_header_declares() {
    let missing = missing_from("include/nstyle.hpp");
    assert!(missing.is_empty(), "include/nstyle.hpp lacks {missing:?}");
}

#[test]
fn the_python_binding_names_everything_the_header_declares() {
    let missing = missing_from("plugins/python/nstyle/__init__.py");
    assert!(
        missing.is_empty(),
        "plugins/python/nstyle/__init__.py lacks {missing:?}"
    );
}
