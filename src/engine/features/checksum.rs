//! Integrity of installed weights files. An installed copy (the release bundle, the wheel, the
//! plug-in folders) carries a `SHA256SUMS` manifest beside its weights; a file listed there must
//! match it, or loading fails naming the file and both checksums. A damaged download or a bad
//! copy would otherwise pass the shape checks and give subtly wrong pictures.
//! Without a manifest (the build cache, a file named by the user) nothing is checked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Name of the manifest that sits beside installed weights (sha256sum's format).
pub const MANIFEST_NAME: &str = "SHA256SUMS";

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Lower-case hex SHA-256 of a file's content.
pub fn file_sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, format!("cannot read: {e}")))?;
    Ok(sha256_hex(&bytes))
}

/// What the manifest beside `path` expects of it: `None` when there is no manifest or it does not
/// list the file.
pub fn expected(path: &Path) -> Option<String> {
    let manifest = path.parent()?.join(MANIFEST_NAME);
    let name = path.file_name()?.to_str()?;
    let text = std::fs::read_to_string(manifest).ok()?;
    text.lines().find_map(|line| {
        let (sum, file) = line.split_once(char::is_whitespace)?;
        // sha256sum writes "<sum>  <name>" (text mode) or "<sum> *<name>" (binary mode).
        let file = file.trim_start().trim_start_matches('*');
        (file == name).then(|| sum.to_ascii_lowercase())
    })
}

/// Fails when the manifest beside `path` lists it with another checksum than `bytes` have.
pub fn verify_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    let Some(want) = expected(path) else {
        return Ok(());
    };
    let got = sha256_hex(bytes);
    if got == want {
        Ok(())
    } else {
        Err(mismatch(path, &got, &want))
    }
}

/// A file's length and modification time: a file verified once is not hashed again while they stay.
type FileStamp = (u64, Option<SystemTime>);

/// Like [`verify_bytes`], reading the file; a file once verified is not hashed again in this
/// process while its length and modification time stay the same.
pub fn verify_file(path: &Path) -> Result<()> {
    let Some(want) = expected(path) else {
        return Ok(());
    };
    let stamp = std::fs::metadata(path)
        .map(|m| (m.len(), m.modified().ok()))
        .map_err(|e| Error::io(path, format!("cannot read: {e}")))?;
    static VERIFIED: Mutex<Option<HashMap<PathBuf, FileStamp>>> = Mutex::new(None);
    let key = path.to_path_buf();
    if let Ok(seen) = VERIFIED.lock() {
        if seen.as_ref().and_then(|m| m.get(&key)) == Some(&stamp) {
            return Ok(());
        }
    }
    let got = file_sha256(path)?;
    if got != want {
        return Err(mismatch(path, &got, &want));
    }
    if let Ok(mut seen) = VERIFIED.lock() {
        seen.get_or_insert_with(HashMap::new).insert(key, stamp);
    }
    Ok(())
}

fn mismatch(path: &Path, got: &str, want: &str) -> Error {
    Error::Model(format!(
        "{}: the file is damaged: its SHA-256 is {got}, but {} beside it says {want}; \
         reinstall nstyle or copy the file again",
        path.display(),
        MANIFEST_NAME
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_text() {
        // FIPS 180-2's "abc" example.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_listed_file_must_match_and_an_unlisted_one_is_not_checked() {
        let dir = std::env::temp_dir().join(format!("nstyle-checksum-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.bin");
        let other = dir.join("other.bin");
        std::fs::write(&good, b"abc").unwrap();
        std::fs::write(&other, b"anything").unwrap();
        std::fs::write(
            dir.join(MANIFEST_NAME),
            format!("{}  good.bin\n", sha256_hex(b"abc")),
        )
        .unwrap();
        verify_file(&good).unwrap();
        verify_file(&other).unwrap();
        verify_bytes(&good, b"abc").unwrap();
        let damaged = verify_bytes(&good, b"abd").unwrap_err().to_string();
        assert!(
            damaged.contains("good.bin") && damaged.contains("damaged"),
            "{damaged}"
        );
        // A file changed on disk after it was verified is hashed again.
        std::fs::write(&good, b"abcd").unwrap();
        assert!(verify_file(&good).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
