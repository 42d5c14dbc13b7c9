//! The one lock flakey-profile's tools take: an exclusive `flock` on a directory, held while a
//! tool reads what it decides on and changes it.
//!
//! A profile's directory is locked while its generations are read and changed, because
//! `nix-env --set` of Nix 2.8 is not safe against itself: Nix counts a generation link that
//! another nix-env is still creating (`profile-N-link.tmp-…`) as the newest generation, and when
//! it points at the same store path, points the profile at that temporary link, which is gone a
//! moment later. fp-pin locks its state directory while it reads and writes the registry, the
//! channels and its history.
//!
//! The lock waits for the other holder, saying so, as Nix's own profile lock does ("waiting for
//! lock on profile"): both callers take it before they read anything they decide on, so after
//! waiting they decide on what the other run left, and a second run is correct rather than
//! refused. Locking the directory itself creates no file, and the kernel drops the lock when the
//! process dies, so a killed tool never leaves it behind. (Nix's own profile lock is another
//! file, so the nix-env commands run under this lock do not wait for it.)

use crate::error::{Error, Result};
use crate::Log;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// An exclusive lock on a directory, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DirLock {
    _dir: std::fs::File,
}

impl DirLock {
    /// Takes the lock of `dir`, waiting for another holder and telling `log` when it has to.
    pub fn acquire(log: &dyn Log, dir: &Path) -> Result<DirLock> {
        let cannot = |what: &str, e: std::io::Error| {
            Error::failed(format!(
                "cannot {what} the directory {}: {e}",
                dir.display()
            ))
        };
        let handle = std::fs::File::open(dir).map_err(|e| cannot("open", e))?;
        let fd = handle.as_raw_fd();
        // SAFETY: flock on a descriptor we own; it only changes the lock state.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            log.info(&format!(
                "waiting for another flakey-profile tool to finish with {}",
                dir.display()
            ));
            // SAFETY: as above, blocking this time.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
                return Err(cannot("lock", std::io::Error::last_os_error()));
            }
        }
        Ok(DirLock { _dir: handle })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A log that keeps the lines it is told.
    #[derive(Default)]
    struct Lines(RefCell<Vec<String>>);

    impl Log for Lines {
        fn info(&self, line: &str) {
            self.0.borrow_mut().push(line.to_string());
        }
        fn verbose(&self, _line: &str) {}
        fn is_quiet(&self) -> bool {
            false
        }
    }

    #[test]
    fn a_second_holder_waits_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(&crate::Silent, dir.path()).unwrap();
        let path = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            let log = Lines::default();
            let _second = DirLock::acquire(&log, &path).unwrap();
            log.0.into_inner()
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!waiter.is_finished(), "the second lock did not wait");
        drop(first);
        let lines = waiter.join().unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("waiting for another flakey-profile tool"));
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = DirLock::acquire(&crate::Silent, &dir.path().join("nope")).unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(err.message().starts_with("cannot open the directory"));
    }
}
