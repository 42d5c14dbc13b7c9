//! The edited copy of a flake that is built before flake.nix is replaced: the files Nix would
//! see of the flake (a git work tree's tracked files, or the whole directory), in a temporary
//! directory, with the edited file.

use fp_common::{Error, Result};
use fp_nix::limits::{open_regular, refusal, Links};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Copies the flake in `dir` to a temporary directory (removed when dropped) and writes
/// `text` as its file `rel` (`flake.nix`, or the file its `paths` is imported from).
pub fn edited_copy(dir: &Path, rel: &Path, text: &str) -> Result<tempfile::TempDir> {
    let copy = tempfile::Builder::new()
        .prefix("fp-edit-")
        .tempdir()
        .map_err(|e| Error::failed(format!("cannot make a temporary directory: {e}")))?;
    for rel in files(dir)? {
        let from = dir.join(&rel);
        let to = copy.path().join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| cannot("make", parent, e))?;
        }
        let meta = match std::fs::symlink_metadata(&from) {
            Ok(m) => m,
            Err(_) => continue, // tracked but deleted in the work tree
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&from).map_err(|e| cannot("read", &from, e))?;
            std::os::unix::fs::symlink(target, &to).map_err(|e| cannot("make", &to, e))?;
        } else if !meta.is_dir() {
            // A directory at a tracked path is a submodule, which Nix leaves out too.
            copy_regular(&from, &to)?;
        }
    }
    let file = copy.path().join(rel);
    std::fs::write(&file, text).map_err(|e| cannot("write", &file, e))?;
    Ok(copy)
}

/// Copies the regular file `from` to the new file `to` (with its permission bits), never
/// blocking and never opening anything else: `from` is opened with [`open_regular`] (a FIFO,
/// socket, device or a symlink swapped in since it was listed is refused, exit 2), and at most
/// the size the opened file had is copied, so a file growing while it is read cannot keep the
/// copy going.
fn copy_regular(from: &Path, to: &Path) -> Result<()> {
    let (file, meta) = match open_regular(from, Links::Refuse) {
        Ok(Ok(opened)) => opened,
        Ok(Err(what)) => return Err(refusal(from, what)),
        Err(e) => return Err(cannot("copy", from, e)),
    };
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(meta.mode() & 0o777 | 0o600)
        .open(to)
        .map_err(|e| cannot("make", to, e))?;
    std::io::copy(&mut file.take(meta.len()), &mut out).map_err(|e| cannot("copy", from, e))?;
    Ok(())
}

fn cannot(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::failed(format!("cannot {what} {}: {e}", path.display()))
}

/// The files of the flake, relative to `dir`: in a git work tree the tracked ones (what Nix
/// reads of a git flake), else every file below `dir` but `.git`.
fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    if let Some(tracked) = crate::git::tracked(dir) {
        return Ok(tracked);
    }
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut out)?;
    Ok(out)
}

fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let here = root.join(rel);
    let entries = std::fs::read_dir(&here).map_err(|e| cannot("read", &here, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let path = rel.join(&name);
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(root, &path, out)?,
            Ok(_) => out.push(path),
            Err(_) => {}
        }
    }
    Ok(())
}
