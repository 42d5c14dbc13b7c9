//! Limits on what the tools read, so hostile or mistaken input (a 100 MB file piped in by
//! accident, `/dev/zero`) gives a clear error in bounded memory instead of exhausting it.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The largest document (manifest, registry, stdin) the tools read: far above any real one
/// (a 100,000-element manifest is about 30 MiB).
pub const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads all of `reader`, refusing more than `limit` bytes with exit 2. `what` names the input
/// in the error (`stdin`, a path).
pub fn read_limited(reader: impl Read, limit: u64, what: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::failed(format!("cannot read {what}: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(Error::usage(format!(
            "{what} is larger than {} MiB; that is not a document flakey-profile reads",
            limit / (1024 * 1024)
        )));
    }
    Ok(bytes)
}

/// Reads the file at `path` with [`read_limited`] and [`MAX_DOCUMENT_BYTES`]; the
/// `std::io::Error` of opening it is returned as is, so callers can tell "missing" apart.
pub fn read_file(path: &Path) -> std::io::Result<Result<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    Ok(read_limited(
        file,
        MAX_DOCUMENT_BYTES,
        &path.display().to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_more_than_the_limit() {
        assert_eq!(read_limited(&b"12345"[..], 5, "x").unwrap(), b"12345");
        let err = read_limited(&b"123456"[..], 5, "stdin").unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.message().starts_with("stdin is larger than"));
    }

    #[test]
    fn reads_at_most_limit_plus_one_from_an_endless_source() {
        let err = read_limited(std::io::repeat(0), 1024 * 1024, "/dev/zero").unwrap_err();
        assert_eq!(err.code(), 2);
    }
}
