//! Text that goes into error messages: one printable line, of bounded length, whatever it quotes.
//! Shared by the C boundary (`nstyle_last_error`), the option table and the CLI.

/// `text` as one printable line: control characters (newlines included) become spaces, runs of
/// spaces collapse, and the ends are trimmed.
pub fn printable_line(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{FFFD}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `limit` characters of `text`, with "…" when cut: messages quote what callers and
/// decoders pass (a 100 KB option key, a bad TIFF's 98 KB list of bit depths).
pub fn shortened(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
