//! include/nstyle.h (what the plug-ins and C programs compile against) must be exactly what
//! build.rs generates from src/ffi.rs into OUT_DIR; `make header` refreshes it.

#[test]
fn the_header_in_include_is_fresh() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/nstyle.h"));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/nstyle.h");
    let copy = std::fs::read_to_string(path).expect("include/nstyle.h exists");
    assert!(
        copy == generated,
        "include/nstyle.h is stale: src/ffi.rs or cbindgen.toml changed; run `make header` and \
         commit the new header"
    );
}
