//! Replacing a user's file atomically, as every file the tools write must be: the new content goes to a temporary file
//! in the same directory, is fsynced, and is renamed over the old file; the directory is then
//! fsynced too, so after a crash the file is either wholly old or wholly new.
//!
//! The file's permission bits are kept (and, when root rewrites someone else's file, its owner),
//! and a symlink is followed so the link itself stays a link (a registry.json kept in a dotfiles
//! repository and linked into `~/.config/nix` stays where it is).

use crate::error::{Error, Result};
use crate::locations;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
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

/// Replaces the file at `path` (following a symlink) with `contents`, atomically.
///
/// An existing file keeps its permission bits (and its owner, when run as root); a new file gets
/// `new_mode` (after the umask) and any missing parent directories are created.
pub fn write(path: &Path, contents: &[u8], new_mode: u32) -> Result<()> {
    let target = real_target(path)?;
    let dir = target
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let name = target
        .file_name()
        .ok_or_else(|| Error::usage(format!("{} is not a file path", path.display())))?;
    let existing = match std::fs::metadata(&target) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::failed(format!(
                "cannot read {}: {e}",
                target.display()
            )))
        }
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::failed(format!("cannot create {}: {e}", dir.display())))?;

    let (tmp_path, mut file) = create_temp(&dir, &name.to_string_lossy(), new_mode)?;
    let result = (|| -> std::io::Result<()> {
        if let Some(meta) = &existing {
            file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
            if locations::is_root() && (meta.uid() != 0 || meta.gid() != 0) {
                std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()))?;
                // chown clears set-id bits; put the mode back as it was.
                file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
            }
        }
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp_path, &target)?;
        sync_dir(&dir)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(Error::failed(format!(
            "cannot write {}: {e}",
            target.display()
        )));
    }
    Ok(())
}

/// Removes the file at `path` (following a symlink, so the link's target goes and the dangling
/// link stays, as with [`write()`]) and fsyncs its directory. A missing file is not an error.
pub fn remove(path: &Path) -> Result<()> {
    let target = real_target(path)?;
    match std::fs::remove_file(&target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::failed(format!(
                "cannot remove {}: {e}",
                target.display()
            )))
        }
    }
    let dir = target.parent().unwrap_or(Path::new("/"));
    sync_dir(dir).map_err(|e| Error::failed(format!("cannot sync {}: {e}", dir.display())))
}

/// Creates a new temporary file `.<name>.tmp-<pid>-<n>` in `dir`, exclusively.
fn create_temp(dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{pid}-{n}"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => continue,
            Err(e) => {
                return Err(Error::failed(format!(
                    "cannot create a temporary file in {}: {e}",
                    dir.display()
                )))
            }
        }
    }
}

/// fsyncs a directory so a rename or unlink in it is durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
