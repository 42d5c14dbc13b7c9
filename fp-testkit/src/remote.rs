//! A second machine for tests: a real sshd with its own Nix store, started per test in about a
//! second and stopped when the [`Remote`] is dropped (also when the test panics).
//!
//! The machine is one of the Debian root filesystems the version matrix already makes (under
//! `$FP_ROOTS_DIR`, default `/var/cache/flakey-profile/roots`, each with Nix and
//! openssh-server), seen through an overlay whose writable layer is the test's own, with an
//! empty `/nix` of its own. Its Nix is another version than the one running the test (sid's
//! 2.34, or trixie's 2.26 when the test runs on 2.34), so every remote test also crosses
//! versions. sshd runs chrooted into the overlay, in a mount namespace of its own (so the mounts
//! vanish with it), on a free port of 127.0.0.1, and lets in root with a key made for this test.
//! The tools reach it through an ssh config file with a `Host` alias, given as
//! `NIX_SSHOPTS="-F FILE"` ([`Remote::nix_sshopts`]; ssh reads the config of the passwd home,
//! not `$HOME`'s, so the file is named on the command line).

use crate::{nix_version, Run};
use fp_nix::nix_version::Implementation;
use std::ffi::CString;
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running second machine; dropping it stops sshd and unmounts everything.
pub struct Remote {
    dir: tempfile::TempDir,
    alias: String,
    port: u16,
    sshd: Child,
    root: PathBuf,
}

/// The directory holding the Debian root filesystems.
fn roots_dir() -> PathBuf {
    std::env::var_os("FP_ROOTS_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/flakey-profile/roots"))
}

/// The root filesystem of the remote: sid (upstream Nix 2.34), or trixie (2.26) when the
/// running Nix is sid's own, so the remote's Nix is never the one running the test (under Lix
/// and Determinate Nix the remote runs upstream Nix). Panics, saying how to make it, when it
/// is missing.
pub fn remote_root() -> PathBuf {
    let running = nix_version();
    let sids_own =
        running.implementation == Implementation::Nix && (running.major, running.minor) >= (2, 34);
    let suite = if sids_own { "trixie" } else { "sid" };
    let root = roots_dir().join(suite);
    assert!(
        root.join("usr/sbin/sshd").exists() && root.join("usr/bin/nix-env").exists(),
        "the remote machine's root filesystem {} (Debian {suite} with Nix and openssh-server) is missing: run the tests with scripts/test, which makes it",
        root.display()
    );
    root
}

/// A port on 127.0.0.1 that nothing listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs a command that must succeed.
fn must(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {out:?}");
}

/// The `Host` block of an ssh config that reaches `alias` as root on `127.0.0.1:port` with the
/// key `key`, trusting any host key (each test's host key is new).
pub fn ssh_config_entry(alias: &str, port: u16, key: &Path) -> String {
    format!(
        "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  ConnectTimeout 10\n",
        key.display()
    )
}

impl Remote {
    /// Starts a fresh machine reached as `alias` and waits until its sshd answers. Its `/nix`
    /// is an empty directory.
    pub fn start(alias: &str) -> Remote {
        Remote::start_with(alias, true)
    }

    /// Starts a machine where Nix is installed but never ran: no `/nix` at all (the first
    /// `nix copy` there makes the store).
    pub fn start_never_used(alias: &str) -> Remote {
        Remote::start_with(alias, false)
    }

    /// Starts the machine; `nix_dir`: with an empty `/nix` (else none).
    fn start_with(alias: &str, nix_dir: bool) -> Remote {
        let root = remote_root();
        let dir = tempfile::Builder::new()
            .prefix("fp-remote-")
            .tempdir()
            .expect("remote dir");
        let d = dir.path();
        for sub in ["upper", "work", "merged", "nix"] {
            std::fs::create_dir_all(d.join(sub)).expect("remote dirs");
        }
        for key in ["client_key", "host_key"] {
            must(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-C", "fp-test", "-f"])
                    .arg(d.join(key)),
            );
        }
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nPermitRootLogin prohibit-password\nHostKey /etc/ssh/fp_host_key\nUsePAM no\nStrictModes no\nAuthorizedKeysFile /root/.ssh/authorized_keys\nPidFile none\n"
            ),
        )
        .expect("sshd_config");
        std::fs::write(
            d.join("nix.conf"),
            "build-users-group =\nsandbox = false\nexperimental-features = nix-command flakes\nsubstituters =\n",
        )
        .expect("nix.conf");
        std::fs::write(
            d.join("ssh_config"),
            ssh_config_entry(alias, port, &d.join("client_key")),
        )
        .expect("ssh_config");
        // What the machine needs besides the root filesystem goes into the overlay's writable
        // layer before it is mounted.
        let upper = d.join("upper");
        for (path, from) in [
            ("etc/ssh/fp_host_key", d.join("host_key")),
            ("etc/ssh/fp_sshd_config", d.join("sshd_config")),
            ("etc/nix/nix.conf", d.join("nix.conf")),
            ("root/.ssh/authorized_keys", d.join("client_key.pub")),
        ] {
            let to = upper.join(path);
            std::fs::create_dir_all(to.parent().expect("parent")).expect("upper dirs");
            std::fs::copy(&from, &to).expect("copy into the overlay");
        }
        std::fs::create_dir_all(upper.join("run/sshd")).expect("privilege separation dir");
        if nix_dir {
            // The mount point of the machine's own /nix: a root fresh from mmdebstrap has none
            // until a test run of its own Nix version made one.
            std::fs::create_dir_all(upper.join("nix")).expect("mount point of /nix");
        } else {
            // An overlay whiteout (a character device 0:0) hides the root filesystem's /nix.
            let whiteout = CString::new(upper.join("nix").as_os_str().as_bytes()).expect("path");
            // SAFETY: a plain system call with a NUL-terminated path that outlives it.
            let made = unsafe { libc::mknod(whiteout.as_ptr(), libc::S_IFCHR, 0) };
            assert_eq!(
                made,
                0,
                "whiteout of /nix: {}",
                std::io::Error::last_os_error()
            );
        }
        let log = std::fs::File::create(d.join("sshd.log")).expect("sshd log");
        let mounts = Mounts::new(&root, d, nix_dir);
        use std::os::unix::process::CommandExt;
        let mut command = Command::new("/usr/sbin/sshd");
        command
            .args(["-D", "-e", "-f", "/etc/ssh/fp_sshd_config"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and makes only system calls
        // (no allocation, no locks) on C strings built before the fork.
        unsafe {
            command.pre_exec(move || mounts.enter());
        }
        let sshd = command.spawn().expect("start sshd in the remote root");
        let mut remote = Remote {
            dir,
            alias: alias.to_string(),
            port,
            sshd,
            root,
        };
        remote.wait_until_up();
        remote
    }

    /// Waits (up to 20 s) until sshd accepts connections; panics with its log otherwise.
    fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            let exited = self.sshd.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default();
                panic!(
                    "the remote machine ({}) did not start (exit {exited:?}):\n{log}",
                    self.root.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The ssh alias that reaches this machine.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The key that logs in as root there.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// The `Host` block that reaches this machine, to combine several in one ssh config.
    pub fn ssh_config_entry(&self) -> String {
        ssh_config_entry(&self.alias, self.port, &self.client_key())
    }

    /// `-F FILE` with an ssh config that reaches this machine alone: the `NIX_SSHOPTS` of the
    /// tools in a test with one remote.
    pub fn nix_sshopts(&self) -> String {
        format!("-F {}", self.dir.path().join("ssh_config").display())
    }

    /// Runs the shell command line `command` there as root.
    pub fn ssh(&self, command: &str) -> Run {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(self.dir.path().join("ssh_config"))
            .args([self.alias.as_str(), command])
            .stdin(Stdio::null())
            .output()
            .expect("run ssh");
        Run::new(format!("ssh {} {command:?}", self.alias), out)
    }

    /// The remote's Nix version, as `nix --version` prints it there.
    pub fn nix_version(&self) -> String {
        self.ssh("nix --version")
            .success()
            .stdout
            .trim()
            .to_string()
    }

    /// Whether `path` is a valid path of the remote's store.
    pub fn has_store_path(&self, path: &str) -> bool {
        self.ssh(&format!("nix-store --check-validity '{path}'"))
            .code
            == 0
    }

    /// Where the link `path` points there (`readlink`), or `None`.
    pub fn read_link(&self, path: &Path) -> Option<String> {
        let run = self.ssh(&format!("readlink '{}'", path.display()));
        (run.code == 0).then(|| run.stdout.trim().to_string())
    }

    /// `nix-env --list-generations` of `profile` there, read into numbers and the current one.
    pub fn generation_numbers(&self, profile: &Path) -> (Vec<u64>, Option<u64>) {
        let run = self
            .ssh(&format!(
                "nix-env --profile '{}' --list-generations",
                profile.display()
            ))
            .success();
        crate::parse_generation_listing(&run.stdout)
    }
}

/// The mounts of a remote machine, as C strings made before the fork that uses them.
struct Mounts {
    merged: CString,
    overlay_options: CString,
    /// The machine's own empty `/nix` and where it goes, if it has one.
    nix: Option<(CString, CString)>,
    proc_mount: CString,
    dev_mount: CString,
}

impl Mounts {
    /// The mounts of the machine in `dir` over the root filesystem `root`, with an empty `/nix`
    /// of its own when `nix_dir`.
    fn new(root: &Path, dir: &Path, nix_dir: bool) -> Mounts {
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).expect("no NUL in paths");
        let merged = dir.join("merged");
        Mounts {
            overlay_options: CString::new(format!(
                "lowerdir={},upperdir={},workdir={}",
                root.display(),
                dir.join("upper").display(),
                dir.join("work").display()
            ))
            .expect("no NUL in paths"),
            nix: nix_dir.then(|| (c(&dir.join("nix")), c(&merged.join("nix")))),
            proc_mount: c(&merged.join("proc")),
            dev_mount: c(&merged.join("dev")),
            merged: c(&merged),
        }
    }

    /// In the child: a mount namespace of its own whose mounts reach no other namespace; the
    /// overlay, its own empty `/nix`, `/proc` and `/dev`; then the overlay becomes `/`.
    /// Inside a chroot (the newer Nix versions' tests) `/` is no mount point and cannot be made
    /// private, but the namespace the chroot runs in is private already.
    fn enter(&self) -> std::io::Result<()> {
        let check = |r: libc::c_int| {
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        let none = std::ptr::null::<libc::c_char>();
        // SAFETY: plain system calls with NUL-terminated strings that outlive them.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS))?;
            let _ = libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            );
            check(libc::mount(
                c"overlay".as_ptr(),
                self.merged.as_ptr(),
                c"overlay".as_ptr(),
                0,
                self.overlay_options.as_ptr().cast(),
            ))?;
            if let Some((nix_dir, nix_mount)) = &self.nix {
                check(libc::mount(
                    nix_dir.as_ptr(),
                    nix_mount.as_ptr(),
                    none,
                    libc::MS_BIND,
                    std::ptr::null(),
                ))?;
            }
            check(libc::mount(
                c"proc".as_ptr(),
                self.proc_mount.as_ptr(),
                c"proc".as_ptr(),
                0,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                c"/dev".as_ptr(),
                self.dev_mount.as_ptr(),
                none,
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ))?;
            check(libc::chroot(self.merged.as_ptr()))?;
            check(libc::chdir(c"/".as_ptr()))?;
        }
        Ok(())
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let pgid = self.sshd.id();
        crate::kill(&mut self.sshd, true);
        crate::wait_for_group(pgid);
    }
}
