//! Replacing a user's file atomically, as every file the tools write must be: the new content goes to a temporary file
//! in the same directory, is fsynced, and is renamed over the old file; the directory is then
//! fsynced too, so after a crash the file is either wholly old or wholly new.
//!
//! Nothing someone else controls can redirect a write: the directory is opened component by
//! component ([`SafeDir`]), the temporary file is created with `O_EXCL | O_NOFOLLOW` and
//! renamed inside the opened directory, and a symlink at the file's own path is followed only
//! when the effective user owns it and what it names (a registry.json kept in a dotfiles
//! repository and linked into `~/.config/nix` stays where it is).

use crate::error::{Error, Result};
use crate::locations;
use crate::safe_dir::{self, who, SafeDir};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Mode given to a file that did not exist before (the umask still applies).
pub const DEFAULT_MODE: u32 = 0o644;

/// Where `path` really is: the final target when `path` is a symlink (relative targets resolved
/// against the link's directory), else `path` itself. A missing file is its own target.
pub fn real_target(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match locations::link_target(&current) {
            Some(target) => current = target,
            None => return Ok(current),
        }
    }
    Err(Error::failed(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Checks, before anything is changed, that `path` can be replaced: its directory (or, when the
/// directory is missing, the nearest existing ancestor, where it would be created) is writable
/// by the effective user. The error (exit 1) names the directory; callers add the hint.
pub fn check_replaceable(path: &Path) -> Result<()> {
    let target = real_target(path)?;
    let dir = target.parent().unwrap_or(Path::new("/"));
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => break,
        }
    }
    if !existing.is_dir() {
        return Err(Error::failed(format!(
            "cannot write {}: {} is not a directory",
            path.display(),
            existing.display()
        )));
    }
    if !locations::is_writable_dir(existing) {
        let what = if existing == dir {
            format!("its directory {} is not writable by you", dir.display())
        } else {
            format!(
                "its directory {} is missing and {} is not writable by you",
                dir.display(),
                existing.display()
            )
        };
        return Err(Error::failed(format!(
            "cannot write {}: {what}",
            path.display()
        )));
    }
    Ok(())
}

/// Replaces the file at `path` (following a symlink the effective user owns) with `contents`,
/// atomically.
///
/// The directory is opened with [`SafeDir`] (every component owned by the effective user or
/// root and not writable by others; missing ones are created, `new_mode` with the execute bits
/// of its read bits), the new content goes to a temporary file made with
/// `O_CREAT | O_EXCL | O_NOFOLLOW` there, and it is renamed over `path` inside that directory.
/// A symlink at `path` (a registry kept in a dotfiles repository) is followed only when the
/// link is owned by the effective user, and a file it names must be theirs too; the target's
/// directory is checked the same way. An existing file keeps its permission bits (set-id bits
/// dropped) and, when root rewrites a file of root's directory owned by someone else, its
/// owner; a new file gets `new_mode` (after the umask). Temporary files of writes that were
/// killed are removed on the way.
pub fn write(path: &Path, contents: &[u8], new_mode: u32) -> Result<()> {
    let how = How {
        new_mode,
        keep_mode: true,
        follow_links: true,
    };
    replace(path, contents, how, 0)
}

/// Replaces the tool's own state file at `path` (a cache entry, a history entry) with
/// `contents`, atomically, as [`write`] does but private: the file is always mode 0600 and a
/// missing directory is made 0700, and whatever is at `path` (a symlink, a FIFO) is replaced,
/// never followed or written through.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let how = How {
        new_mode: 0o600,
        keep_mode: false,
        follow_links: false,
    };
    replace(path, contents, how, 0)
}

/// How [`replace`] treats the file it replaces.
#[derive(Debug, Clone, Copy)]
struct How {
    new_mode: u32,
    keep_mode: bool,
    follow_links: bool,
}

/// The mode of a directory made for files of `mode`: each read bit gains its execute bit.
fn dir_mode(mode: u32) -> u32 {
    (mode | ((mode & 0o444) >> 2)) & 0o777
}

/// Splits `path` into its (absolute) directory and file name.
pub(crate) fn split(path: &Path) -> Result<(PathBuf, std::ffi::OsString)> {
    let abs = locations::absolute(path)?;
    let name = abs
        .file_name()
        .ok_or_else(|| Error::usage(format!("{} is not a file path", path.display())))?
        .to_os_string();
    let dir = abs
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    Ok((dir, name))
}

/// The work of [`write`] and [`write_private`]; `depth` counts the symlinks followed.
fn replace(path: &Path, contents: &[u8], how: How, depth: usize) -> Result<()> {
    let (dir_path, name) = split(path)?;
    let dir = SafeDir::open_or_create(&dir_path, dir_mode(how.new_mode))
        .map_err(|e| e.context(format!("cannot write {}", path.display())))?;
    let cannot = |why: String| Error::failed(format!("cannot write {}: {why}", path.display()));
    let existing = dir.lstat(&name).map_err(|e| cannot(e.to_string()))?;
    let euid = locations::effective_uid();
    if let Some(st) = existing {
        if st.is_symlink() && how.follow_links {
            let target = own_link_target(&dir, &name, st.uid, depth, &cannot)?;
            return replace(&target, contents, how, depth + 1);
        }
        if st.is_dir() {
            return Err(cannot("it is a directory".into()));
        }
        if how.follow_links && !st.is_symlink() && !st.is_file() {
            return Err(cannot(format!(
                "it is {}, not a regular file",
                st.kind_words()
            )));
        }
        if depth > 0 && st.uid != euid {
            return Err(cannot(format!(
                "it is the target of a symbolic link and owned by {}, not by you ({})",
                who(st.uid),
                who(euid)
            ))
            .with_hint(safe_dir::FOREIGN_HINT));
        }
    }
    let kept = existing.filter(|st| how.keep_mode && st.is_file());
    remove_stale_temps(&dir, &name);
    let (tmp_name, mut file) = create_temp(&dir, &name, how.new_mode)?;
    let result = (|| -> std::io::Result<()> {
        if let Some(st) = kept {
            let mode = st.mode & 0o777;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            if locations::is_root() && (st.uid != 0 || st.gid != 0) {
                std::os::unix::fs::fchown(&file, Some(st.uid), Some(st.gid))?;
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
        } else if !how.keep_mode {
            file.set_permissions(std::fs::Permissions::from_mode(how.new_mode))?;
        }
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        dir.rename(&tmp_name, &name)?;
        dir.sync()
    })();
    if let Err(e) = result {
        let _ = dir.unlink(&tmp_name);
        return Err(cannot(e.to_string()));
    }
    Ok(())
}

/// Removes the file at `path` (following a symlink the effective user owns, so the link's target
/// goes and the dangling link stays, as with [`write()`]) and fsyncs its directory. A missing
/// file is not an error. The directory is opened with [`SafeDir`], as for [`write`].
pub fn remove(path: &Path) -> Result<()> {
    remove_at(path, 0)
}

/// Where the symlink `name` in `dir` (owned by `owner`) leads, when it may be followed: only a
/// link of the effective user's (one someone else planted is never written or removed through),
/// and at most 40 links deep. `cannot` words the error for the file being changed.
fn own_link_target(
    dir: &SafeDir,
    name: &std::ffi::OsStr,
    owner: u32,
    depth: usize,
    cannot: &dyn Fn(String) -> Error,
) -> Result<PathBuf> {
    let euid = locations::effective_uid();
    if owner != euid {
        return Err(cannot(format!(
            "it is a symbolic link owned by {}, not by you ({}); refusing to follow it",
            who(owner),
            who(euid)
        ))
        .with_hint(safe_dir::FOREIGN_HINT));
    }
    if depth >= 40 {
        return Err(cannot("too many levels of symbolic links".into()));
    }
    let target = dir.read_link(name).map_err(|e| cannot(e.to_string()))?;
    Ok(dir.path().join(target))
}

/// The work of [`remove`]; `depth` counts the symlinks followed.
fn remove_at(path: &Path, depth: usize) -> Result<()> {
    let (dir_path, name) = split(path)?;
    let cannot = |why: String| Error::failed(format!("cannot remove {}: {why}", path.display()));
    let dir = match SafeDir::open(&dir_path) {
        Ok(dir) => dir,
        Err(_) if std::fs::symlink_metadata(&dir_path).is_err() => return Ok(()),
        Err(e) => return Err(e.context(format!("cannot remove {}", path.display()))),
    };
    let euid = locations::effective_uid();
    match dir.lstat(&name).map_err(|e| cannot(e.to_string()))? {
        None => return Ok(()),
        Some(st) if st.is_symlink() => {
            let target = own_link_target(&dir, &name, st.uid, depth, &cannot)?;
            return remove_at(&target, depth + 1);
        }
        Some(st) if st.is_dir() => return Err(cannot("it is a directory".into())),
        Some(st) if depth > 0 && st.uid != euid => {
            return Err(cannot(format!(
                "it is the target of a symbolic link and owned by {}, not by you",
                who(st.uid)
            )))
        }
        Some(_) => {}
    }
    match dir.unlink(&name) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(cannot(e.to_string())),
    }
    dir.sync()
        .map_err(|e| Error::failed(format!("cannot sync {}: {e}", dir.path().display())))
}

/// The name of the temporary file `n` of process `pid` for the file `name`.
fn temp_name(name: &OsStr, pid: u32, n: u32) -> std::ffi::OsString {
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".tmp-{pid}-{n}"));
    tmp
}

/// The process id in a temporary file name of `name` ([`temp_name`]), or `None` when `entry` is
/// not one.
pub fn temp_owner_pid(entry: &OsStr, name: &OsStr) -> Option<u32> {
    let entry = entry.to_str()?;
    let rest = entry.strip_prefix('.')?.strip_prefix(name.to_str()?)?;
    let (pid, n) = rest.strip_prefix(".tmp-")?.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(pid) || !all_digits(n) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` no longer exists (`kill(pid, 0)` fails with `ESRCH`).
fn is_dead(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Removes temporary files of `name` left in `dir` by writes that were killed: only regular
/// files owned by the effective user, and only of processes that no longer exist. Best effort:
/// what cannot be removed stays.
fn remove_stale_temps(dir: &SafeDir, name: &OsStr) {
    let Ok(names) = dir.names() else {
        return;
    };
    let euid = locations::effective_uid();
    for entry in names {
        let Some(pid) = temp_owner_pid(&entry, name) else {
            continue;
        };
        if pid == std::process::id() || !is_dead(pid) {
            continue;
        }
        if let Ok(Some(st)) = dir.lstat(&entry) {
            if st.is_file() && st.uid == euid {
                let _ = dir.unlink(&entry);
            }
        }
    }
}

/// Creates a new temporary file `.<name>.tmp-<pid>-<n>` in `dir`, exclusively and never through
/// a link.
fn create_temp(dir: &SafeDir, name: &OsStr, mode: u32) -> Result<(std::ffi::OsString, File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = temp_name(name, pid, n);
        match dir.create_new(&tmp, mode) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => continue,
            Err(e) => {
                return Err(Error::failed(format!(
                    "cannot create a temporary file in {}: {e}",
                    dir.path().display()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt};

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn writes_a_new_file_and_its_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/registry.json");
        write(&path, b"{}", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn replaces_keeping_the_mode_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write(&path, b"new", DEFAULT_MODE).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o640);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["registry.json"]);
    }

    #[test]
    fn follows_a_symlink_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles/registry.json");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("registry.json");
        std::os::unix::fs::symlink("dotfiles/registry.json", &link).unwrap();
        write(&link, b"new", DEFAULT_MODE).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        remove(&link).unwrap();
        assert!(!real.exists());
        assert!(std::fs::symlink_metadata(&link).is_ok());
    }

    #[test]
    fn remove_of_a_missing_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        remove(&dir.path().join("nope")).unwrap();
    }

    #[test]
    fn replaceable_checks_the_nearest_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        check_replaceable(&dir.path().join("missing/dir/registry.json")).unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = check_replaceable(&file.join("registry.json")).unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(
            err.message().contains("is not a directory"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn private_files_are_0600_in_a_0700_directory_and_replace_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let path = dir.path().join("cache/entry.json");
        write_private(&path, b"one").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"two").unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::remove_file(&path).unwrap();
        symlink(&victim, &path).unwrap();
        write_private(&path, b"three").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    }

    #[test]
    fn refuses_a_directory_others_may_write() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = write(&shared.join("registry.json"), b"{}", DEFAULT_MODE).unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(
            err.message()
                .ends_with("shared is writable by others (mode 777)"),
            "{}",
            err.message()
        );
        let chmod = format!("chmod o-w {}", shared.display());
        assert!(err.hint().unwrap().ends_with(&chmod), "{:?}", err.hint());
        assert!(!shared.join("registry.json").exists());
    }

    #[test]
    fn refuses_a_fifo_at_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("registry.json");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = write(&fifo, b"{}", DEFAULT_MODE).unwrap_err();
        assert!(
            err.message()
                .ends_with("it is a FIFO (named pipe), not a regular file"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn temp_files_of_dead_writers_are_removed_on_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entry.json");
        // A pid that cannot exist (above the kernel's maximum), one that does (ours), and a
        // name that only looks like a temporary file.
        let dead = dir.path().join(".entry.json.tmp-999999999-0");
        let alive = dir
            .path()
            .join(format!(".entry.json.tmp-{}-77", std::process::id()));
        let other = dir.path().join(".entry.json.tmp-999999999-x");
        for p in [&dead, &alive, &other] {
            std::fs::write(p, "partial").unwrap();
        }
        let dead_dir = dir.path().join(".entry.json.tmp-999999998-0");
        std::fs::create_dir(&dead_dir).unwrap();
        write(&path, b"new", DEFAULT_MODE).unwrap();
        assert!(!dead.exists());
        assert!(alive.exists() && other.exists() && dead_dir.is_dir());
    }

    #[test]
    fn temp_names_are_recognised() {
        let name = OsStr::new("build-x.json");
        assert_eq!(temp_owner_pid(&temp_name(name, 42, 3), name), Some(42));
        assert_eq!(
            temp_owner_pid(OsStr::new(".build-x.json.tmp-42"), name),
            None
        );
        assert_eq!(temp_owner_pid(OsStr::new(".other.tmp-42-0"), name), None);
        assert_eq!(dir_mode(0o600), 0o700);
        assert_eq!(dir_mode(0o644), 0o755);
    }
}
