//! libFuzzer target: the CLI's image loading, `nstyle::imageio::load`, on a file made of the
//! input (PNG, JPEG, TIFF as the image crate decodes them with the limits the library leaves it:
//! the crate's defaults, 512 MiB per allocation).
//!
//! Contract (a violation is a crash libFuzzer records):
//!   - no panic (libfuzzer-sys aborts on one), no abort, no hang (run with -timeout=10);
//!   - an error is one printable line: non-empty, no control character, bounded length;
//!   - a loaded picture is consistent: sides ≥ 1, RGB of width × height × 3 values in 0..1,
//!     alpha (if any) of width × height values in 0..1.
//!
//! The file name's extension cycles with the input length (none, .png, .jpg, .tif): the image
//! crate picks the decoder by extension and then by content, so both routes are exercised.

#![no_main]

mod contract;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = contract::check(data);
});
