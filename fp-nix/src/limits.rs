//! Limits on what the tools read, so hostile or mistaken input (a 100 MB file piped in by
//! accident, `/dev/zero`, a FIFO nobody writes to) gives a clear error in bounded memory and
//! time instead of exhausting memory or hanging.
//!
//! Every file the tools read back (config.toml, cache entries, registries, pin history, locks)
//! goes through [`read_regular`]: only a regular file is read, never a FIFO, socket, device or
//! directory, and never more than a cap the caller names.

use crate::error::{Error, Result};
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest document (manifest, registry, stdin) the tools read: far above any real one
/// (a 100,000-element manifest is about 30 MiB).
pub const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

/// The largest small state or settings file (config.toml, a cache entry) the tools read.
pub const MAX_SMALL_FILE_BYTES: u64 = 1024 * 1024;

/// Whether [`read_regular`] follows a symlink at the path itself (links in the directories
/// above it are always followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// A symlink is followed to the file it names (a config file kept in a dotfiles repository).
    Follow,
    /// A symlink is refused: the file must be at the path itself (a state file the tools wrote).
    Refuse,
}

/// A whole regular file read by [`read_regular`], with what `fstat` said about the very file
/// read (owner, mode), so callers can decide whether to trust it.
#[derive(Debug)]
pub struct ReadFile {
    /// The contents, at most the cap.
    pub bytes: Vec<u8>,
    /// The opened file's metadata.
    pub meta: Metadata,
}

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
            "{what} is larger than {}; that is not a file flakey-profile reads",
            size_words(limit)
        )));
    }
    Ok(bytes)
}

/// Reads the regular file at `path`, at most `limit` bytes, without ever blocking on it.
///
/// The file is opened with [`open_regular`]; a FIFO, socket, device, directory (or, under
/// [`Links::Refuse`], a symlink) is refused with exit 2 naming what it is; more than `limit`
/// bytes is exit 2.
///
/// The outer `std::io::Error` is that of finding or opening the file, returned as is so callers
/// can tell "missing" (`NotFound`) apart; a symlink loop is `ELOOP` there.
pub fn read_regular(path: &Path, limit: u64, links: Links) -> std::io::Result<Result<ReadFile>> {
    let (file, meta) = match open_regular(path, links)? {
        Ok(opened) => opened,
        Err(what) => return Ok(Err(refusal(path, what))),
    };
    let bytes = match read_limited(&file, limit, &path.display().to_string()) {
        Ok(bytes) => bytes,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(ReadFile { bytes, meta }))
}

/// Opens the regular file at `path` for reading without ever blocking on it or opening
/// anything else: the path is type-checked before it is opened (so a device is never opened),
/// opened with `O_NONBLOCK | O_NOCTTY` (and `O_NOFOLLOW` under [`Links::Refuse`]), and the
/// opened file is checked again with `fstat` (so a swap between the check and the open is
/// caught). Returns the file and that `fstat`, or, in the inner error, what the path is instead
/// ([`not_regular`]'s words). The outer error is that of finding or opening it, as
/// [`read_regular`]'s.
pub fn open_regular(
    path: &Path,
    links: Links,
) -> std::io::Result<std::result::Result<(File, Metadata), &'static str>> {
    let before = match links {
        Links::Follow => std::fs::metadata(path)?,
        Links::Refuse => std::fs::symlink_metadata(path)?,
    };
    if let Some(what) = not_regular(&before) {
        return Ok(Err(what));
    }
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    let meta = file.metadata()?;
    Ok(match not_regular(&meta) {
        Some(what) => Err(what),
        None => Ok((file, meta)),
    })
}

/// Reads the file at `path` with [`read_regular`] (following a symlink) and
/// [`MAX_DOCUMENT_BYTES`]; the `std::io::Error` of opening it is returned as is, so callers
/// can tell "missing" apart.
pub fn read_file(path: &Path) -> std::io::Result<Result<Vec<u8>>> {
    Ok(read_regular(path, MAX_DOCUMENT_BYTES, Links::Follow)?.map(|read| read.bytes))
}

/// What a file that is not a regular file is, in words; `None` for a regular file.
pub fn not_regular(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_symlink() {
        Some("a symbolic link")
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_block_device() || t.is_char_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

/// The error (exit 2) for a path that is not a regular file; `what` is [`not_regular`]'s words.
pub fn refusal(path: &Path, what: &str) -> Error {
    Error::usage(format!(
        "{} is {what}, not a regular file; refusing to read it",
        path.display()
    ))
}

/// `limit` in words: `1 MiB`, `64 MiB`, or bytes below a MiB.
fn size_words(limit: u64) -> String {
    if limit >= 1024 * 1024 && limit % (1024 * 1024) == 0 {
        format!("{} MiB", limit / (1024 * 1024))
    } else {
        format!("{limit} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn refuses_more_than_the_limit() {
        assert_eq!(read_limited(&b"12345"[..], 5, "x").unwrap(), b"12345");
        let err = read_limited(&b"123456"[..], 5, "stdin").unwrap_err();
        assert_eq!(err.code(), 2);
        assert_eq!(
            err.message(),
            "stdin is larger than 5 bytes; that is not a file flakey-profile reads"
        );
    }

    #[test]
    fn reads_at_most_limit_plus_one_from_an_endless_source() {
        let err = read_limited(std::io::repeat(0), 1024 * 1024, "/dev/zero").unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(
            err.message().contains("larger than 1 MiB"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn reads_a_regular_file_and_a_link_to_one_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "flake = 1").unwrap();
        let link = dir.path().join("link.toml");
        symlink(&file, &link).unwrap();
        let read = read_regular(&file, 100, Links::Refuse).unwrap().unwrap();
        assert_eq!(read.bytes, b"flake = 1");
        assert!(read.meta.is_file());
        assert_eq!(read_file(&link).unwrap().unwrap(), b"flake = 1");
        let err = read_regular(&link, 100, Links::Refuse)
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err
            .message()
            .ends_with("is a symbolic link, not a regular file; refusing to read it"));
        let err = read_regular(&file, 4, Links::Follow).unwrap().unwrap_err();
        assert!(
            err.message().contains("larger than 4 bytes"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn a_missing_file_and_a_link_loop_are_open_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_file(&dir.path().join("nope")).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        let a = dir.path().join("a");
        symlink(dir.path().join("b"), &a).unwrap();
        symlink(&a, dir.path().join("b")).unwrap();
        let looped = read_file(&a).unwrap_err();
        assert_eq!(looped.raw_os_error(), Some(libc::ELOOP));
    }

    #[test]
    fn refuses_a_fifo_a_directory_and_a_device_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_file(&fifo).unwrap().unwrap_err();
        assert!(err
            .message()
            .ends_with("is a FIFO (named pipe), not a regular file; refusing to read it"));
        let err = read_file(dir.path()).unwrap().unwrap_err();
        assert!(
            err.message().contains("is a directory"),
            "{}",
            err.message()
        );
        let link = dir.path().join("zero");
        symlink("/dev/zero", &link).unwrap();
        let err = read_file(&link).unwrap().unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.message().contains("is a device"), "{}", err.message());
    }
}
