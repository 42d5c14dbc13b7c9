//! Tests that act as another user on the machine: a real account made with `useradd`, files
//! "planted" as that user (made by the test and given to the user with `lchown`, which leaves
//! exactly what the user could have left), and a digest of a directory tree to show that
//! nothing in it changed.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// A user account of the machine.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The login name.
    pub name: String,
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
}

impl TestUser {
    /// The system user `name`, created with `useradd --system --user-group` (no home, no shell)
    /// when missing and kept for later runs. `None`, with the reason printed, when the test
    /// does not run as root or `useradd` is missing: the caller then says what it did not run.
    pub fn ensure(name: &str) -> Option<TestUser> {
        static MADE: Mutex<()> = Mutex::new(());
        if !crate::is_root() {
            eprintln!("needs root to create the user {name} and act for it");
            return None;
        }
        let _one_at_a_time = MADE.lock().unwrap_or_else(|e| e.into_inner());
        if id(name, "-u").is_none() {
            let made = Command::new("useradd")
                .args(["--system", "--user-group", "--no-create-home"])
                .args(["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"])
                .args(["--comment", "flakey-profile test user"])
                .arg(name)
                .stdout(Stdio::null())
                .status();
            // Another test binary may have made it meanwhile; the lookup below decides.
            if made.is_err() {
                eprintln!("useradd not available");
                return None;
            }
        }
        Some(TestUser {
            name: name.to_string(),
            uid: id(name, "-u")?,
            gid: id(name, "-g")?,
        })
    }

    /// Gives `path` (not following a symlink) to this user, as if the user had made it.
    pub fn give(&self, path: &Path) {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))
            .unwrap_or_else(|e| panic!("lchown {}: {e}", path.display()));
    }

    /// Gives `dir` and everything under it (not following symlinks) to this user.
    pub fn give_tree(&self, dir: &Path) {
        walk(dir, &mut |path, _| self.give(path));
    }

    /// Every entry under `dir` (itself included) that is not this user's, by path.
    pub fn foreign_entries(&self, dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        walk(dir, &mut |path, meta| {
            if meta.uid() != self.uid {
                found.push(format!("{} (uid {})", path.display(), meta.uid()));
            }
        });
        found
    }
}

/// `id FLAG NAME` as a number.
fn id(name: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, name]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Calls `visit` for `dir` and every entry below it (not following symlinks).
fn walk(dir: &Path, visit: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    visit(dir, &meta);
    if meta.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        names.sort();
        for path in names {
            walk(&path, visit);
        }
    }
}

/// A description of every entry under `dir`: type, mode, owner, and a hash of a file's contents
/// or a link's target. Equal before and after means nothing under `dir` changed (FIFOs and
/// devices are described, never opened).
pub fn tree_digest(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(dir, &mut |path, meta| {
        let t = meta.file_type();
        let what = if t.is_symlink() {
            format!("link {:?}", std::fs::read_link(path).ok())
        } else if t.is_file() {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(path).unwrap_or_default().hash(&mut h);
            format!("file {} {:x}", meta.len(), h.finish())
        } else if t.is_dir() {
            "dir".to_string()
        } else if t.is_fifo() {
            "fifo".to_string()
        } else if t.is_char_device() || t.is_block_device() {
            format!("device {}", meta.rdev())
        } else {
            "other".to_string()
        };
        let rel = path.strip_prefix(dir).unwrap_or(path).display().to_string();
        let line = format!(
            "{what} mode {:o} uid {} gid {}",
            meta.mode(),
            meta.uid(),
            meta.gid()
        );
        out.insert(rel, line);
    });
    out
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().expect("utf-8 path")).expect("no NUL");
    // SAFETY: c is a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

/// Makes a character device at `path` with the numbers of `/dev/null` (1, 3): a device node
/// of the test's own, so a defect that wrote through it would harm nothing real.
pub fn mknod_null(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().expect("utf-8 path")).expect("no NUL");
    // SAFETY: c is a valid NUL-terminated path.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(rc, 0, "mknod {}", path.display());
}

/// Makes a sparse file of `bytes` bytes at `path` (a "100 MB file" that costs no disk).
pub fn sparse_file(path: &Path, bytes: u64) {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(bytes))
        .unwrap_or_else(|e| panic!("sparse file {}: {e}", path.display()));
}

/// Makes `a` and `b` symlinks to each other at `path` and a sibling, a loop.
pub fn link_loop(path: &Path) {
    let other = path.with_extension("loop");
    std::os::unix::fs::symlink(&other, path).expect("loop link");
    std::os::unix::fs::symlink(path, &other).expect("loop link");
}
