//! Opening a directory so that nobody but the effective user (and root) can redirect what is
//! done in it, as git and OpenSSH check a path before trusting it.
//!
//! The path is walked one component at a time from `/`, each directory opened with
//! `O_NOFOLLOW | O_DIRECTORY` relative to the one before and checked on the opened descriptor:
//! it must be owned by the effective user or root and writable only by them (the rule of
//! [`crate::trust`]: not by others unless sticky, as `/tmp` is, and not by a group unless it is
//! the user's private group). A symlink on the way is
//! followed only when it is owned by the effective user or root. Files are then created,
//! renamed and removed relative to the opened directory, so nothing someone else planted (a
//! link, a swapped directory) can send a write elsewhere.

use crate::error::{Error, Result};
use crate::locations;
use crate::trust::{self, Owners, Untrusted};
use std::collections::VecDeque;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// The most symlinks followed while walking one path, as the kernel's limit.
const MAX_LINKS: usize = 40;

/// A directory opened by [`SafeDir::open`]: every component of its path checked.
#[derive(Debug)]
pub struct SafeDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// What `lstat` says about an entry, as much as callers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryStat {
    /// `st_mode`: type and permission bits.
    pub mode: u32,
    /// The owner's user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

impl EntryStat {
    /// The file type bits (`S_IFMT`).
    fn kind(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    /// Whether the entry is a regular file.
    pub fn is_file(&self) -> bool {
        self.kind() == libc::S_IFREG
    }

    /// Whether the entry is a symlink.
    pub fn is_symlink(&self) -> bool {
        self.kind() == libc::S_IFLNK
    }

    /// Whether the entry is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind() == libc::S_IFDIR
    }

    /// What the entry is, in words.
    pub fn kind_words(&self) -> &'static str {
        match self.kind() {
            libc::S_IFREG => "a regular file",
            libc::S_IFDIR => "a directory",
            libc::S_IFLNK => "a symbolic link",
            libc::S_IFIFO => "a FIFO (named pipe)",
            libc::S_IFSOCK => "a socket",
            libc::S_IFBLK | libc::S_IFCHR => "a device",
            _ => "not a regular file",
        }
    }
}

/// A user id in words: the name from the password database, else `user id N`.
pub fn who(uid: u32) -> String {
    locations::name_of_uid(uid).unwrap_or_else(|| format!("user id {uid}"))
}

/// The hint for a path someone else owns.
pub const FOREIGN_HINT: &str = "run the tool as the user who owns it; under sudo, use `sudo -H` so that HOME is root's own, or fix the directory's owner and mode (chmod go-w)";

/// How the hint for a path that others can write begins; the `chmod` to run follows.
pub const MODE_HINT: &str = "make it writable only by you: ";

/// The hint for `path`, refused for `why`: [`FOREIGN_HINT`] for an owner, else [`MODE_HINT`]
/// and the `chmod` that makes it right.
pub fn trust_hint(why: &Untrusted, path: &Path) -> String {
    match why.chmod(path) {
        Some(chmod) => format!("{MODE_HINT}{chmod}"),
        None => FOREIGN_HINT.to_string(),
    }
}

/// Whether `e` refuses a path because someone else owns or can write it (its hint is
/// [`trust_hint`]'s).
pub fn is_trust_refusal(e: &Error) -> bool {
    e.hint()
        .is_some_and(|h| h == FOREIGN_HINT || h.starts_with(MODE_HINT))
}

impl SafeDir {
    /// Opens the existing directory `path`, checking every component as the module says.
    pub fn open(path: &Path) -> Result<SafeDir> {
        walk(path, None)
    }

    /// Opens `path`, creating missing directories with `mode` (less the umask) on the way.
    pub fn open_or_create(path: &Path, mode: u32) -> Result<SafeDir> {
        walk(path, Some(mode))
    }

    /// The directory's path, as walked (symlinks on the way resolved).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `fstat` of the directory itself.
    pub fn stat(&self) -> std::io::Result<EntryStat> {
        // SAFETY: an all-zero stat is a valid value for fstat to fill in; fd is open.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        check(unsafe { libc::fstat(self.fd.as_raw_fd(), &mut st) })?;
        Ok(EntryStat {
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
        })
    }

    /// `lstat` of the entry `name`: `None` when there is none.
    pub fn lstat(&self, name: &OsStr) -> std::io::Result<Option<EntryStat>> {
        match fstatat(&self.fd, name) {
            Ok(st) => Ok(Some(st)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates the new file `name` (`O_CREAT | O_EXCL | O_NOFOLLOW`, so never through a link)
    /// for writing, with `mode` less the umask.
    pub fn create_new(&self, name: &OsStr, mode: u32) -> std::io::Result<File> {
        let c = cstr(name)?;
        let flags =
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: c is a valid NUL-terminated string; the fd is owned by the File on success.
        let fd =
            unsafe { libc::openat(self.fd.as_raw_fd(), c.as_ptr(), flags, mode as libc::c_uint) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Renames the entry `from` to `to`, both in this directory (`renameat`).
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> std::io::Result<()> {
        let (a, b) = (cstr(from)?, cstr(to)?);
        let fd = self.fd.as_raw_fd();
        // SAFETY: both strings are valid and NUL-terminated; fd is open.
        check(unsafe { libc::renameat(fd, a.as_ptr(), fd, b.as_ptr()) })
    }

    /// Removes the (non-directory) entry `name` (`unlinkat`).
    pub fn unlink(&self, name: &OsStr) -> std::io::Result<()> {
        let c = cstr(name)?;
        // SAFETY: c is valid and NUL-terminated; fd is open.
        check(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) })
    }

    /// Creates the symlink `name` pointing at `target` (`symlinkat`; an existing entry is
    /// `AlreadyExists`, never replaced or followed).
    pub fn symlink(&self, target: &Path, name: &OsStr) -> std::io::Result<()> {
        let (t, c) = (cstr(target.as_os_str())?, cstr(name)?);
        // SAFETY: both strings are valid and NUL-terminated; fd is open.
        check(unsafe { libc::symlinkat(t.as_ptr(), self.fd.as_raw_fd(), c.as_ptr()) })
    }

    /// The text of the symlink `name` (`readlinkat`).
    pub fn read_link(&self, name: &OsStr) -> std::io::Result<PathBuf> {
        read_link_at(&self.fd, name)
    }

    /// The names in the directory (`.` and `..` left out).
    pub fn names(&self) -> std::io::Result<Vec<OsString>> {
        let proc_path = format!("/proc/self/fd/{}", self.fd.as_raw_fd());
        let listing = std::fs::read_dir(&proc_path).or_else(|_| std::fs::read_dir(&self.path))?;
        listing.map(|e| e.map(|e| e.file_name())).collect()
    }

    /// fsyncs the directory, so a rename or unlink in it is durable.
    pub fn sync(&self) -> std::io::Result<()> {
        // SAFETY: fd is open.
        check(unsafe { libc::fsync(self.fd.as_raw_fd()) })
    }
}

/// The walk of [`SafeDir::open`] and [`SafeDir::open_or_create`].
fn walk(path: &Path, create: Option<u32>) -> Result<SafeDir> {
    let euid = locations::effective_uid();
    let abs = locations::absolute(path)?;
    let fail = |at: &Path, why: String| {
        Error::failed(format!(
            "cannot use {}: {} {why}",
            path.display(),
            at.display()
        ))
    };
    let root =
        open_dir_at(None, OsStr::new("/")).map_err(|e| fail(Path::new("/"), e.to_string()))?;
    let mut stack: Vec<(OwnedFd, PathBuf)> = vec![(root, PathBuf::from("/"))];
    check_opened(&stack[0].0, Path::new("/"))
        .map_err(|(why, hint)| fail(Path::new("/"), why).with_hint(hint))?;
    let mut pending: VecDeque<OsString> = names_of(&abs);
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let (dir, shown) = stack.last().expect("the root stays on the stack");
        let here = shown.join(&name);
        let st = match fstatat(dir, &name) {
            Ok(st) => st,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create.is_some() => {
                let c = cstr(&name).map_err(|e| fail(&here, e.to_string()))?;
                let mode = create.unwrap_or(0o700) as libc::mode_t;
                // SAFETY: c is valid and NUL-terminated; dir is open.
                let made = check(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) });
                match made {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(Error::failed(format!(
                            "cannot create {}: {e}",
                            here.display()
                        )))
                    }
                }
                pending.push_front(name);
                continue;
            }
            Err(e) => return Err(fail(&here, format!("cannot be opened: {e}"))),
        };
        if st.is_symlink() {
            if st.uid != euid && st.uid != 0 {
                return Err(fail(
                    &here,
                    format!(
                        "is a symbolic link owned by {}, not by you ({})",
                        who(st.uid),
                        who(euid)
                    ),
                )
                .with_hint(FOREIGN_HINT));
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(fail(&here, "is in a loop of symbolic links".into()));
            }
            let target = read_link_at(dir, &name).map_err(|e| fail(&here, e.to_string()))?;
            if target.is_absolute() {
                stack.truncate(1);
            }
            for part in names_of(&target).into_iter().rev() {
                pending.push_front(part);
            }
            continue;
        }
        if !st.is_dir() {
            return Err(fail(
                &here,
                format!("is {}, not a directory", st.kind_words()),
            ));
        }
        let fd = open_dir_at(Some(dir), &name)
            .map_err(|e| fail(&here, format!("cannot be opened: {e}")))?;
        check_opened(&fd, &here).map_err(|(why, hint)| fail(&here, why).with_hint(hint))?;
        stack.push((fd, here));
    }
    let (fd, path) = stack.pop().expect("the root stays on the stack");
    Ok(SafeDir { fd, path })
}

/// Checks the opened directory `shown` with the trust rule ([`trust::check`]: the effective
/// user's or root's, writable only by them); the refusal's words and hint.
fn check_opened(fd: &OwnedFd, shown: &Path) -> std::result::Result<(), (String, String)> {
    // SAFETY: an all-zero stat is a valid value for fstat to fill in; fd is open.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        let why = format!("cannot be examined: {}", std::io::Error::last_os_error());
        return Err((why, FOREIGN_HINT.to_string()));
    }
    match trust::check(st.st_uid, st.st_gid, st.st_mode, Owners::YouOrRoot) {
        Some(why) => Err((why.why().to_string(), trust_hint(&why, shown))),
        None => Ok(()),
    }
}

/// The names of `path`'s normal and `..` components, in order (`/` and `.` left out).
fn names_of(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Opens the directory `name` relative to `dir` (or the absolute `name` without one), never
/// following a symlink at `name`.
fn open_dir_at(dir: Option<&OwnedFd>, name: &OsStr) -> std::io::Result<OwnedFd> {
    let c = cstr(name)?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let at = dir.map_or(libc::AT_FDCWD, AsRawFd::as_raw_fd);
    // SAFETY: c is valid and NUL-terminated; the fd is owned by OwnedFd on success.
    let fd = unsafe { libc::openat(at, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`.
fn fstatat(dir: &OwnedFd, name: &OsStr) -> std::io::Result<EntryStat> {
    let c = cstr(name)?;
    // SAFETY: an all-zero stat is valid for fstatat to fill in; c is valid; dir is open.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(EntryStat {
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
    })
}

/// `readlinkat(dir, name)`.
fn read_link_at(dir: &OwnedFd, name: &OsStr) -> std::io::Result<PathBuf> {
    let c = cstr(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: buf's length is passed; c is valid; dir is open.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            c.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(PathBuf::from(OsString::from_vec(buf)))
}

/// A C string of a file name; a NUL inside is an error.
fn cstr(name: &OsStr) -> std::io::Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
}

/// Turns a libc return code into a `Result`.
fn check(rc: libc::c_int) -> std::io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn walks_own_links_and_creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        symlink("real", dir.path().join("link")).unwrap();
        let opened = SafeDir::open_or_create(&dir.path().join("link/a/../b/c"), 0o700).unwrap();
        assert_eq!(opened.path(), real.join("b/c"));
        assert!(real.join("a").is_dir() && real.join("b/c").is_dir());
        let mode = std::fs::metadata(real.join("b/c"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn refuses_a_writable_directory_and_a_file_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = SafeDir::open(&open.join(".")).unwrap_err();
        assert!(
            err.message().contains("is writable by others"),
            "{}",
            err.message()
        );
        std::fs::write(dir.path().join("file"), "").unwrap();
        let err = SafeDir::open_or_create(&dir.path().join("file/x"), 0o700).unwrap_err();
        assert!(
            err.message().contains("is a regular file, not a directory"),
            "{}",
            err.message()
        );
        let missing = SafeDir::open(&dir.path().join("missing")).unwrap_err();
        assert!(
            missing.message().contains("cannot be opened"),
            "{}",
            missing.message()
        );
    }
}
