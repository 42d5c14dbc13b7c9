//! Tests of a tool run as root on another user's files: a real second user (made with
//! `useradd`) who plants files (made by the test and given to the user with `lchown`, which
//! leaves exactly what the user could have left, or made by the user through `setpriv`), a
//! digest of a directory tree to show nothing in it changed, makers of the awkward files a
//! tool must refuse (FIFO, device, sparse 100 MB file, symlink loop), and mounts (a small
//! tmpfs, a read-only bind) that are undone when dropped.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// A user account of the machine, for files someone else owns.
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
    /// does not run as root or `useradd`, `setpriv` or `id` is missing: the caller then says
    /// what it did not run.
    pub fn ensure(name: &str) -> Option<TestUser> {
        Self::ensure_in(name, &[])
    }

    /// [`TestUser::ensure`], the user also made a member of each of `groups` that exists (made
    /// so when created, added with `usermod -a -G` when it already was without it).
    pub fn ensure_in(name: &str, groups: &[&str]) -> Option<TestUser> {
        static MADE: Mutex<()> = Mutex::new(());
        if !crate::is_root() {
            eprintln!("needs root to create the user {name} and act for it: NOT RUN");
            return None;
        }
        for program in ["useradd", "usermod", "setpriv", "id"] {
            if !on_path(program) {
                eprintln!("{program} is not on PATH: NOT RUN");
                return None;
            }
        }
        let _one_at_a_time = MADE.lock().unwrap_or_else(|e| e.into_inner());
        let groups: Vec<&str> = groups.iter().copied().filter(|g| group_exists(g)).collect();
        if id(name, "-u").is_none() {
            let mut cmd = Command::new("useradd");
            cmd.args(["--system", "--user-group", "--no-create-home"])
                .args(["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"])
                .args(["--comment", "flakey-profile test user"]);
            if !groups.is_empty() {
                cmd.args(["--groups", &groups.join(",")]);
            }
            let out = cmd.arg(name).output().expect("spawn useradd");
            // Another test binary may have made it meanwhile; the lookup below decides.
            if !out.status.success() {
                eprintln!("useradd {name}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        for group in groups {
            let member = Command::new("id")
                .args(["-nG", name])
                .output()
                .is_ok_and(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .split_whitespace()
                        .any(|g| g == group)
                });
            if !member {
                let status = Command::new("usermod")
                    .args(["-a", "-G", group, name])
                    .status()
                    .expect("spawn usermod");
                assert!(status.success(), "usermod -a -G {group} {name}");
            }
        }
        Some(TestUser {
            name: name.to_string(),
            uid: id(name, "-u")?,
            gid: id(name, "-g")?,
        })
    }

    /// Runs the shell `script` as this user (in `dir`), which must succeed.
    pub fn run(&self, dir: &Path, script: &str) {
        let out = Command::new("setpriv")
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--clear-groups")
            .args(["sh", "-ec", script])
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .expect("spawn setpriv");
        assert!(
            out.status.success(),
            "as {}: {script}\n{}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The tool `program` (as [`crate::Bed::tool`] takes it) run as this user, with its groups,
    /// in `bed`'s environment (`setpriv`).
    pub fn tool(&self, bed: &crate::Bed, program: &str) -> crate::Cmd {
        let program = if Path::new(program).is_absolute() {
            PathBuf::from(program)
        } else {
            crate::bin(program)
        };
        bed.command("setpriv")
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg(program)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
    }

    /// Gives `path` (not following a symlink) to this user, as if the user had made it.
    pub fn give(&self, path: &Path) {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))
            .unwrap_or_else(|e| panic!("lchown {}: {e}", path.display()));
    }

    /// Gives `dir` and everything under it (not following symlinks) to this user.
    pub fn give_tree(&self, dir: &Path) {
        walk(dir, &[], &mut |path, _| self.give(path));
    }

    /// Every entry under `dir` (itself included) that is not this user's, by path.
    pub fn foreign_entries(&self, dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        walk(dir, &[], &mut |path, meta| {
            if meta.uid() != self.uid {
                found.push(format!("{} (uid {})", path.display(), meta.uid()));
            }
        });
        found
    }
}

/// Whether `program` is on PATH.
fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the group database has `group`.
fn group_exists(group: &str) -> bool {
    Command::new("getent")
        .args(["group", group])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `id FLAG NAME` as a number.
fn id(name: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, name]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Calls `visit` for `dir` and every entry below it (not following symlinks), in name order,
/// leaving out entries whose name is in `skip` (and what is below them).
fn walk(dir: &Path, skip: &[&str], visit: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    visit(dir, &meta);
    if meta.is_dir() {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        names.sort();
        for path in names {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !skip.contains(&name) {
                walk(&path, skip, visit);
            }
        }
    }
}

/// A description of every entry under `dir` (itself included), leaving out names in `skip`:
/// type, mode, owner, and a hash of a file's contents or a link's target. Equal before and
/// after means nothing under `dir` changed (FIFOs and devices are described, never opened).
pub fn tree_digest(dir: &Path, skip: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(dir, skip, &mut |path, meta| {
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
        } else if t.is_socket() {
            "socket".to_string()
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

/// [`tree_digest`] of `/etc`, without the user database files (`passwd`, `group`, `shadow`,
/// ... and their backups), which tests running at the same time change with `useradd`.
pub fn etc_digest() -> BTreeMap<String, String> {
    tree_digest(
        Path::new("/etc"),
        &[
            "passwd",
            "passwd-",
            "group",
            "group-",
            "shadow",
            "shadow-",
            "gshadow",
            "gshadow-",
            "subuid",
            "subuid-",
            "subgid",
            "subgid-",
            ".pwd.lock",
        ],
    )
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

/// Makes `path` and a sibling (`path` with the extension `loop`) symlinks to each other, a loop.
pub fn link_loop(path: &Path) {
    let other = path.with_extension("loop");
    std::os::unix::fs::symlink(&other, path).expect("loop link");
    std::os::unix::fs::symlink(path, &other).expect("loop link");
}

/// A mount made by a test, lazily unmounted when dropped (also when the test fails).
pub struct Mount {
    at: PathBuf,
}

impl Mount {
    /// A tmpfs of `size` (as `mount -o size=` takes it, e.g. `256k`) at `at`, mode 0700.
    pub fn tmpfs(at: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(at).expect("mount point");
        let options = format!("size={size},mode=0700");
        mount(Some("tmpfs"), at, Some("tmpfs"), 0, Some(&options));
        Mount {
            at: at.to_path_buf(),
        }
    }

    /// `at` made read-only (a read-only bind mount over itself).
    pub fn read_only(at: &Path) -> Mount {
        let source = at.to_str().expect("UTF-8 path");
        mount(Some(source), at, None, libc::MS_BIND, None);
        let made = Mount {
            at: at.to_path_buf(),
        };
        let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
        mount(None, at, None, flags, None);
        made
    }
}

/// mount(2), which must succeed (a syscall, so no `mount` program is needed: the Debian roots
/// the suites of newer Nix versions run in may have none).
fn mount(
    source: Option<&str>,
    at: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) {
    let c = |s: &str| std::ffi::CString::new(s).expect("no NUL");
    let source = source.map(c);
    let target = c(at.to_str().expect("UTF-8 path"));
    let fstype = fstype.map(c);
    let data = data.map(c);
    let ptr = |s: &Option<std::ffi::CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is null or a NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            ptr(&source),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    assert_eq!(
        rc,
        0,
        "mount at {}: {}",
        at.display(),
        std::io::Error::last_os_error()
    );
}

/// Runs `cmd` in a mount namespace of its own in which `/root` is an empty tmpfs, so a tool run
/// as root that falls back to root's own home writes nothing that lasts. The namespace's mounts
/// are made private first (in a chroot, where `/` is no mount point, they are already private:
/// the suites of newer Nix versions run in one inside a private namespace).
pub fn with_scratch_root_home(mut cmd: crate::Cmd) -> crate::Cmd {
    use std::os::unix::process::CommandExt;
    let root = c"/";
    let home = c"/root";
    let tmpfs = c"tmpfs";
    // SAFETY: between fork and exec the child only makes syscalls (unshare, mount) on
    // NUL-terminated constants; nothing allocates or takes a lock.
    unsafe {
        cmd.cmd.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let private = libc::MS_REC | libc::MS_PRIVATE;
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                private,
                std::ptr::null(),
            ) != 0
                && *libc::__errno_location() != libc::EINVAL
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::mount(
                tmpfs.as_ptr(),
                home.as_ptr(),
                tmpfs.as_ptr(),
                0,
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Ok(at) = std::ffi::CString::new(self.at.to_str().unwrap_or_default()) {
            // SAFETY: a NUL-terminated path that outlives the call.
            unsafe { libc::umount2(at.as_ptr(), libc::MNT_DETACH) };
        }
    }
}
