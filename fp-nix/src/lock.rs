//! The one lock flakey-profile's tools take: an exclusive `flock`, held while a tool reads what
//! it decides on and changes it.
//!
//! A profile's directory is locked while its generations are read and changed, because
//! `nix-env --set` of Nix 2.8 is not safe against itself: Nix counts a generation link that
//! another nix-env is still creating (`profile-N-link.tmp-…`) as the newest generation, and when
//! it points at the same store path, points the profile at that temporary link, which is gone a
//! moment later. fp-pin locks its own lock file (`pin.lock` in its state directory) while it
//! reads and writes the registry, the channels and its history; a file of its own, so it never
//! waits for itself when it also locks a channels profile's directory.
//!
//! The lock waits for the other holder, saying so, as Nix's own profile lock does ("waiting for
//! lock on profile"): both callers take it before they read anything they decide on, so after
//! waiting they decide on what the other run left, and a second run is correct rather than
//! refused. Locking a profile's directory itself creates no file, and the kernel drops a lock
//! when the process dies, so a killed tool never leaves one behind. (Nix's own profile lock is another
//! file, so the nix-env commands run under this lock do not wait for it.)

use crate::error::{Error, Result};
use crate::limits::{open_regular, Links};
use crate::safe_dir::{who, SafeDir};
use crate::Log;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// An exclusive lock on a directory or a lock file, released when dropped (or when the process
/// dies).
#[derive(Debug)]
pub struct Lock {
    _handle: std::fs::File,
}

impl Lock {
    /// Takes the lock of the directory `dir`, waiting for another holder and telling `log` when
    /// it has to.
    pub fn directory(log: &dyn Log, dir: &Path) -> Result<Lock> {
        let handle = std::fs::File::open(dir).map_err(|e| cannot("open", dir, e))?;
        Self::take(log, handle, dir)
    }

    /// Takes the lock of the lock file `path` (created, mode 0600, when missing), waiting like
    /// [`Lock::directory`].
    ///
    /// The file is opened without following a symlink (so a link planted in its place never
    /// makes a file elsewhere) and without blocking (so a FIFO or device cannot hang the
    /// tool), and must then be a regular file owned by the effective user. Anything else is an
    /// error saying what was found, never a run without the lock. An existing file is opened
    /// read-only (`flock` needs no more), so a read-only directory still locks.
    pub fn file(log: &dyn Log, path: &Path) -> Result<Lock> {
        let handle = open_lock_file(path)?;
        Self::take(log, handle, path)
    }

    /// `flock`s `handle`, first without waiting, then, after saying so, waiting.
    fn take(log: &dyn Log, handle: std::fs::File, what: &Path) -> Result<Lock> {
        let fd = handle.as_raw_fd();
        // SAFETY: flock on a descriptor we own; it only changes the lock state.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            log.info(&format!(
                "waiting for another flakey-profile tool to finish with {}",
                what.display()
            ));
            // SAFETY: as above, blocking this time.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
                return Err(cannot("lock", what, std::io::Error::last_os_error()));
            }
        }
        Ok(Lock { _handle: handle })
    }
}

/// Opens the lock file `path` with [`open_regular`] (`O_NOFOLLOW | O_NONBLOCK`, type-checked,
/// read-only) or, when it is missing, creates it (mode 0600, `O_EXCL | O_NOFOLLOW`) in its
/// directory opened with [`SafeDir`]; then checks that it is the effective user's.
fn open_lock_file(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::MetadataExt;
    let not_regular = |what: &str| {
        Error::failed(format!(
            "cannot lock {}: it is {what}, not a regular file",
            path.display()
        ))
        .with_hint(format!("remove it and run again: rm -r {}", path.display()))
    };
    let mut created = false;
    let (handle, meta) = loop {
        match open_regular(path, Links::Refuse) {
            Ok(Ok(opened)) => break opened,
            Ok(Err(what)) => return Err(not_regular(what)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !created => {
                // Made once; another run may make it first, and the loop then opens theirs.
                created = true;
                let (dir, name) = crate::atomic_file::split(path)?;
                let dir = SafeDir::open(&dir).map_err(|e| e.context("cannot lock"))?;
                match dir.create_new(&name, 0o600) {
                    Ok(file) => {
                        let meta = file.metadata().map_err(|e| cannot("inspect", path, e))?;
                        break (file, meta);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(cannot("create", path, e)),
                }
            }
            Err(e) => return Err(cannot("open", path, e)),
        }
    };
    let euid = crate::locations::effective_uid();
    if meta.uid() != euid {
        return Err(Error::failed(format!(
            "cannot lock {}: it is owned by {}, not by you ({})",
            path.display(),
            who(meta.uid()),
            who(euid)
        ))
        .with_hint(
            "run the tool as the user whose state directory this is (with sudo, use sudo -H)",
        ));
    }
    Ok(handle)
}

/// The error for a lock that cannot be opened or taken.
fn cannot(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::failed(format!("cannot {what} {}: {e}", path.display()))
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
        let first = Lock::directory(&crate::Silent, dir.path()).unwrap();
        let path = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            let log = Lines::default();
            let _second = Lock::directory(&log, &path).unwrap();
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
    fn tools_started_at_once_on_a_missing_lock_file_all_take_it() {
        // Each round, threads race to create the same missing lock file; every one must get
        // the lock (in turn), none an "exists" error.
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("race-{round}.lock"));
            let start = std::sync::Arc::new(std::sync::Barrier::new(8));
            let takers: Vec<_> = (0..8)
                .map(|_| {
                    let (path, start) = (path.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        Lock::file(&crate::Silent, &path).map(drop)
                    })
                })
                .collect();
            for taker in takers {
                taker.join().unwrap().unwrap();
            }
        }
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Lock::directory(&crate::Silent, &dir.path().join("nope")).unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(
            err.message().starts_with("cannot open "),
            "{}",
            err.message()
        );
    }

    #[test]
    fn a_lock_file_that_is_not_a_plain_file_of_ours_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let link = dir.path().join("link.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = Lock::file(&crate::Silent, &link).unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(err.message().contains("symbolic link"), "{}", err.message());
        assert!(!target.exists(), "nothing is created through the link");
        let loop_link = dir.path().join("loop.lock");
        std::os::unix::fs::symlink(&loop_link, &loop_link).unwrap();
        let err = Lock::file(&crate::Silent, &loop_link).unwrap_err();
        assert!(err.message().contains("symbolic link"), "{}", err.message());
        let sub = dir.path().join("dir.lock");
        std::fs::create_dir(&sub).unwrap();
        let err = Lock::file(&crate::Silent, &sub).unwrap_err();
        assert!(err.message().contains("a directory"), "{}", err.message());
        let fifo = dir.path().join("fifo.lock");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: c is a valid path string for the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = Lock::file(&crate::Silent, &fifo).unwrap_err();
        assert!(err.message().contains("FIFO"), "{}", err.message());
    }

    #[test]
    fn a_lock_file_is_made_and_locks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin.lock");
        let first = Lock::file(&crate::Silent, &path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let other = std::fs::File::open(&path).unwrap();
        // SAFETY: flock on a descriptor this test owns.
        let held = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0;
        assert!(held, "the lock file is locked");
        drop(first);
        // SAFETY: as above.
        let free = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        assert!(free, "dropping the lock releases it");
    }
}
