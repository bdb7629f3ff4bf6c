//! The committed C header must be exactly what build.rs generates from src/ffi.rs.

use std::process::Command;

#[test]
fn committed_header_is_fresh() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/nstyle.h"));
    let root = env!("CARGO_MANIFEST_DIR");
    let committed = Command::new("git")
        .args(["-C", root, "show", "HEAD:include/nstyle.h"])
        .output()
        .expect("git runs (the header check compares against the committed header)");
    assert!(
        committed.status.success(),
        "include/nstyle.h is not committed: {}",
        String::from_utf8_lossy(&committed.stderr)
    );
    assert!(
        String::from_utf8_lossy(&committed.stdout) == generated,
        "include/nstyle.h is stale: the build regenerated it from src/ffi.rs; commit the new header"
    );
}
