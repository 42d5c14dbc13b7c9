//! Tests of a tool run as root on another user's files: a real second user (made with
//! `useradd`) who plants files in a home of theirs, commands run as that user (`setpriv`), a
//! digest of a directory tree to show nothing outside changed, and mounts (a small tmpfs, a
//! read-only bind) that are undone when dropped.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A second user of the machine, for files someone else owns.
pub struct OtherUser {
    /// The login name.
    pub name: String,
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
}

impl OtherUser {
    /// The system user `name` (created without a home when missing); `None`, after saying why
    /// on stderr, when the tests are not root or `useradd` / `setpriv` are missing.
    pub fn ensure(name: &str) -> Option<OtherUser> {
        if !crate::is_root() {
            eprintln!("needs root to create and act as another user: NOT RUN");
            return None;
        }
        for program in ["useradd", "setpriv", "id"] {
            if Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .stdout(Stdio::null())
                .status()
                .map_or(true, |s| !s.success())
            {
                eprintln!("{program} is not on PATH: NOT RUN");
                return None;
            }
        }
        let exists = Command::new("id")
            .arg(name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            let out = Command::new("useradd")
                .args([
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    name,
                ])
                .output()
                .expect("spawn useradd");
            // A parallel test may have made it meanwhile; `id` below decides.
            if !out.status.success() {
                eprintln!("useradd {name}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        let id = |flag: &str| -> u32 {
            let out = Command::new("id")
                .args([flag, name])
                .output()
                .expect("spawn id");
            assert!(out.status.success(), "id {flag} {name}");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("numeric id")
        };
        Some(OtherUser {
            name: name.to_string(),
            uid: id("-u"),
            gid: id("-g"),
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

    /// Gives `path` and everything under it to this user (`chown -R`, links themselves).
    pub fn give(&self, path: &Path) {
        let status = Command::new("chown")
            .args(["-hR", &format!("{}:{}", self.uid, self.gid)])
            .arg(path)
            .status()
            .expect("spawn chown");
        assert!(status.success(), "chown {}", path.display());
    }
}

/// A digest of the tree at `root` (each entry's path, type, mode, owner, size and content or
/// link target), not following links, skipping entries whose name is in `skip`. Two equal
/// digests mean nothing in the tree changed.
pub fn tree_digest(root: &Path, skip: &[&str]) -> u64 {
    let mut hash = Fnv::default();
    digest_into(&mut hash, root, skip);
    hash.0
}

/// [`tree_digest`] of `/etc`, without the user database files (`passwd`, `group`, `shadow`,
/// ... and their backups), which tests running at the same time change with `useradd`.
pub fn etc_digest() -> u64 {
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

/// FNV-1a, 64 bits: a digest stable within a test run.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn digest_into(hash: &mut Fnv, path: &Path, skip: &[&str]) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        hash.add(b"missing");
        return;
    };
    hash.add(path.as_os_str().as_bytes());
    let t = meta.file_type();
    hash.add(
        format!(
            "{} {:o} {} {} {}",
            kind(&t),
            meta.mode(),
            meta.uid(),
            meta.gid(),
            if t.is_dir() { 0 } else { meta.len() }
        )
        .as_bytes(),
    );
    if t.is_symlink() {
        if let Ok(target) = std::fs::read_link(path) {
            hash.add(target.as_os_str().as_bytes());
        }
    } else if t.is_file() {
        if let Ok(bytes) = std::fs::read(path) {
            hash.add(&bytes);
        }
    } else if t.is_dir() {
        let mut names: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        names.sort();
        for child in names {
            let name = child.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !skip.contains(&name) {
                digest_into(hash, &child, skip);
            }
        }
    }
}

fn kind(t: &std::fs::FileType) -> &'static str {
    if t.is_symlink() {
        "link"
    } else if t.is_dir() {
        "dir"
    } else if t.is_file() {
        "file"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else {
        "device"
    }
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
