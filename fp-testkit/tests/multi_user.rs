//! Multi-user Nix (issue 7): the core loop run by a non-root user through `nix-daemon`
//! (`NIX_REMOTE=daemon`), with the per-user profile directory present, missing, and owned by
//! someone else.
//!
//! Needs root (it starts `nix-daemon`, creates the test user and the per-user directory) and
//! `nix-daemon`, `setpriv`, `useradd`, `usermod` and `id`; without them it says why and returns.
//! It creates the system user [`USER`] (in the `nix-users` group, which Debian requires for
//! the daemon socket) when missing and keeps it for later runs; everything else it makes outside
//! its temporary directory (`/nix/var/nix/profiles/per-user/<user>`, the daemon's
//! `gcroots/per-user/<user>`, the `gcroots/auto` links to the user's generations, and the
//! daemon socket when it started the daemon) is removed at the end, also when it fails.
//!
//! What Nix 2.8's daemon does matters here: on every connection it creates
//! `per-user/<user>` (mode 0755) and chowns it to the connecting user (`LocalStore::createUser`,
//! verified on this machine). So `fp-switch` sees a missing or foreign directory only when
//! nothing of the user's has talked to the daemon since the directory broke; `fp-build` does, so
//! in `fp-build | fp-switch` the daemon has already repaired the directory. The test checks both:
//! `fp-switch` on a broken directory stops with the fix (`sudo mkdir -p DIR && sudo chown USER
//! DIR`) and creates nothing, and the whole loop afterwards ends in a working profile.

use fp_testkit::as_root::TestUser;
use fp_testkit::{Bed, Cmd, Run};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The non-root user the test runs the tools as.
const USER: &str = "fp-test-user";
/// The daemon socket (Nix's default `NIX_DAEMON_SOCKET_PATH`).
const SOCKET: &str = "/nix/var/nix/daemon-socket/socket";
/// Where multi-user Nix keeps per-user profile directories.
const PER_USER: &str = "/nix/var/nix/profiles/per-user";
/// The profile's packages from revision 1 of the offline package set.
const REV1: &[&str] = &["hello", "cowsay"];
/// The profile's packages from revision 2 (hello 1.1, jq added, cowsay gone).
const REV2: &[&str] = &["hello", "jq"];

/// A non-root user in `nix-users`, with `NIX_REMOTE=daemon`, runs `fp-build | fp-switch` into
/// `/nix/var/nix/profiles/per-user/<user>/profile`: with the directory the user's, generation 1,
/// a second revision with its diff, and `fp-rollback` all work and `nix-env` (as that user)
/// agrees; with it missing or root's, fp-switch exits 1 with the `sudo mkdir -p ... && sudo
/// chown ...` fix and creates nothing, and the loop run afterwards ends in a working profile.
#[test]
fn core_loop_as_a_non_root_user_through_nix_daemon() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("multi-user test NOT RUN: {why}");
        return;
    }
    let _serial = SerialLock::take();
    // In `nix-users` when that group exists: Debian's daemon socket directory is that group's.
    let user = TestUser::ensure_in(USER, &["nix-users"]).expect("the test user");
    let bed = Bed::new();
    let _daemon = Daemon::start_or_reuse(&bed);
    let per_user = PerUserDir::new();
    let world = UserWorld::new(&bed, &user);
    let dir = per_user.dir.clone();
    let profile = dir.join("profile");
    let fix = format!(
        "sudo mkdir -p {d} && sudo chown {USER} {d}",
        d = dir.display()
    );

    // The user reaches the daemon (socket group nix-users, NIX_REMOTE=daemon).
    let ping = world.command("nix").args(["store", "ping"]).run().success();
    assert!(
        format!("{}{}", ping.stdout, ping.stderr).contains("Store URL: daemon"),
        "{ping:?}"
    );

    // 0. In a fresh HOME the tools take the profile this Nix's nix-env takes for a user
    // (`per-user/<user>/profile` before Nix 2.14, `~/.local/state/nix/profiles/profile` after).
    let report = world.tool("fp-generations").arg("--json").run().success();
    let doc: serde_json::Value = serde_json::from_str(&report.stdout).expect("json");
    let ours = PathBuf::from(doc["profile"].as_str().expect("profile"));
    let _ = world.command("nix-env").arg("-q").run();
    let home_link = bed.home().join(".nix-profile");
    let theirs = std::fs::read_link(&home_link).expect("nix-env made ~/.nix-profile");
    assert_eq!(ours, theirs, "Nix {:?}", fp_testkit::nix_version());
    std::fs::remove_file(&home_link).expect("remove ~/.nix-profile");

    // 1. Present and the user's (as after the fix): the loop works end to end.
    per_user.reset();
    per_user.make(Some(&user));
    let flake1 = world.flake("flake1", 1, REV1);
    let flake2 = world.flake("flake2", 2, REV2);
    let first = world.build(&flake1);
    world.switch(&profile, &first).success().no_stdout();
    assert_eq!(world.generations(&profile), (vec![1], Some(1)));
    assert_eq!(
        owner(&dir.join("profile-1-link")),
        Some(user.uid),
        "the generation is the user's"
    );
    assert!(
        per_user
            .auto_roots()
            .iter()
            .any(|t| t.ends_with("profile-1-link")),
        "the user's generation is a GC root (gcroots/auto)"
    );
    assert_eq!(world.run_bin(&profile.join("bin/hello")), "hello 1.0\n");
    assert!(profile.join("bin/cowsay").exists());

    let second = world.build(&flake2);
    world
        .switch(&profile, &second)
        .success()
        .stderr_has(&format!(
            "profile {}: generation 1 -> generation 2",
            profile.display()
        ))
        .stderr_has("+ jq 1.7")
        .stderr_has("- cowsay 3.7.0")
        .stderr_has("~ hello 1.0 -> 1.1");
    assert_eq!(world.generations(&profile), (vec![1, 2], Some(2)));
    assert_eq!(world.run_bin(&profile.join("bin/hello")), "hello 1.1\n");

    // No --profile: with `~/.nix-profile` pointing at the per-user profile, as Debian's
    // user-tmpfiles.d/nix-daemon.conf makes it, the tools' default is that profile.
    std::os::unix::fs::symlink(&profile, &home_link).expect("~/.nix-profile");
    std::os::unix::fs::lchown(&home_link, Some(user.uid), Some(user.gid)).expect("chown link");
    world
        .tool("fp-rollback")
        .run()
        .success()
        .stderr_has(&format!(
            "profile {}: generation 2 -> generation 1",
            profile.display()
        ));
    assert_eq!(world.generations(&profile), (vec![1, 2], Some(1)));
    assert!(profile.join("bin/cowsay").exists());
    assert_eq!(world.run_bin(&profile.join("bin/hello")), "hello 1.0\n");

    // 2. Missing: fp-switch stops with the fix and creates nothing.
    per_user.reset();
    world
        .switch(&profile, &first)
        .code(1)
        .no_stdout()
        .stderr_has(&format!("its directory {} does not exist", dir.display()))
        .stderr_has(&fix);
    assert!(
        std::fs::symlink_metadata(&dir).is_err(),
        "fp-switch created {}",
        dir.display()
    );
    world.loop_after_broken_dir(&per_user, &flake1, &profile, &fix);

    // 3. Owned by someone else (root, 0755): the same fix, nothing created.
    per_user.reset();
    per_user.make(None);
    world
        .switch(&profile, &first)
        .code(1)
        .no_stdout()
        .stderr_has(&format!(
            "its directory {} is not writable by you",
            dir.display()
        ))
        .stderr_has(&fix);
    assert_eq!(owner(&dir), Some(0), "the directory is still root's");
    assert_eq!(
        std::fs::read_dir(&dir).expect("per-user dir").count(),
        0,
        "fp-switch created something in {}",
        dir.display()
    );
    world.loop_after_broken_dir(&per_user, &flake1, &profile, &fix);
}

/// Why the test cannot run here, if it cannot: not root, or a program it needs is missing.
fn missing_prerequisite() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some(
            "needs root to start nix-daemon, create the test user and its per-user directory"
                .into(),
        );
    }
    let missing: Vec<&str> = ["nix-daemon", "nix", "setpriv", "useradd", "usermod", "id"]
        .into_iter()
        .filter(|program| !on_path(program))
        .collect();
    if !missing.is_empty() {
        return Some(format!("{} not on PATH", missing.join(", ")));
    }
    None
}

/// Whether an executable `name` is on `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The owner's uid of `path` (not following a last symlink), if it exists.
fn owner(path: &Path) -> Option<u32> {
    std::fs::symlink_metadata(path).ok().map(|m| m.uid())
}

/// An exclusive lock held for the whole test, so two runs of it (two work trees, two
/// `cargo test`s) never share the test user's per-user directory or kill each other's daemon.
struct SerialLock {
    /// The locked file; closing it releases the lock.
    _file: std::fs::File,
}

impl SerialLock {
    /// Waits for and takes the lock (`flock` on a file in the temp directory).
    fn take() -> SerialLock {
        let path = std::env::temp_dir().join("fp-testkit-multi-user.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        // SAFETY: the descriptor is open for the duration of the call.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(locked, 0, "flock {}", path.display());
        SerialLock { _file: file }
    }
}

/// The nix-daemon the test talks to: started by it (and stopped when dropped, also on panic),
/// or one that was already listening (left alone).
struct Daemon {
    child: Option<Child>,
    /// Remove the socket file after stopping: it did not exist before the test.
    remove_socket: bool,
    log: PathBuf,
}

impl Daemon {
    /// Reuses a daemon that accepts connections on [`SOCKET`], or starts one with the bed's
    /// NIX_CONFIG (no build users, no sandbox, no substituters, no global registry) and waits
    /// until it accepts connections.
    fn start_or_reuse(bed: &Bed) -> Daemon {
        let log = bed.path().join("nix-daemon.log");
        if UnixStream::connect(SOCKET).is_ok() {
            eprintln!("reusing the nix-daemon already listening on {SOCKET}");
            return Daemon {
                child: None,
                remove_socket: false,
                log,
            };
        }
        let remove_socket = std::fs::symlink_metadata(SOCKET).is_err();
        let home = bed.path().join("daemon-home");
        std::fs::create_dir_all(&home).expect("daemon home");
        let out = std::fs::File::create(&log).expect("daemon log");
        let mut cmd = Command::new("nix-daemon");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("NIX_CONFIG", bed.nix_config())
            .env("TMPDIR", std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log fd"))
            .stderr(out);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe; it makes the daemon die with the test
            // thread even when the test process is killed and no destructor runs.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().expect("start nix-daemon");
        let mut daemon = Daemon {
            child: Some(child),
            remove_socket,
            log,
        };
        daemon.wait_for_socket();
        daemon
    }

    /// Waits (up to 20 s) until the daemon we started accepts connections.
    fn wait_for_socket(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(SOCKET).is_err() {
            let child = self.child.as_mut().expect("our daemon");
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nix-daemon exited ({status}):\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "nix-daemon does not accept connections on {SOCKET}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the daemon wrote so far.
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: kill has no memory preconditions; pid is our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.remove_socket {
            let _ = std::fs::remove_file(SOCKET);
        }
    }
}

/// The test user's per-user profile directory and what Nix makes for it outside it; all of
/// it is removed by [`PerUserDir::reset`], at the start, between cases and when dropped.
struct PerUserDir {
    dir: PathBuf,
}

impl PerUserDir {
    /// The state of a user that never used Nix.
    fn new() -> PerUserDir {
        let dir = PerUserDir {
            dir: Path::new(PER_USER).join(USER),
        };
        dir.reset();
        dir
    }

    /// Makes the directory (0755), owned by `user`, or left root's when `None`.
    fn make(&self, user: Option<&TestUser>) {
        // `per-user` itself is Nix's (its first use as root or the daemon makes it).
        std::fs::create_dir_all(PER_USER).expect("per-user");
        std::fs::create_dir(&self.dir).expect("per-user dir");
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o755))
            .expect("chmod per-user dir");
        if let Some(user) = user {
            std::os::unix::fs::chown(&self.dir, Some(user.uid), None).expect("chown");
        }
    }

    /// The targets of the `gcroots/auto` links that point into the directory.
    fn auto_roots(&self) -> Vec<PathBuf> {
        self.auto_links().into_iter().map(|(_, t)| t).collect()
    }

    /// `(link, target)` of the `gcroots/auto` links that point into the directory.
    fn auto_links(&self) -> Vec<(PathBuf, PathBuf)> {
        let Ok(entries) = std::fs::read_dir("/nix/var/nix/gcroots/auto") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let target = std::fs::read_link(e.path()).ok()?;
                target.starts_with(&self.dir).then(|| (e.path(), target))
            })
            .collect()
    }

    /// Removes the directory, the daemon's `gcroots/per-user/<user>` and the `gcroots/auto`
    /// links to the user's generations.
    fn reset(&self) {
        for (link, _) in self.auto_links() {
            let _ = std::fs::remove_file(link);
        }
        for dir in [
            self.dir.clone(),
            Path::new("/nix/var/nix/gcroots/per-user").join(USER),
        ] {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("remove {}: {e}", dir.display()),
            }
        }
    }
}

impl Drop for PerUserDir {
    fn drop(&mut self) {
        self.reset();
    }
}

/// The bed as the test user sees it: the bed's directory opened to it (the bed is 0700 root),
/// its HOME and XDG directories and flakes made its own, the tools copied beside them.
struct UserWorld<'a> {
    bed: &'a Bed,
    uid: u32,
    gid: u32,
    bin: PathBuf,
    /// The client's NIX_CONFIG: what a daemon client itself uses (the daemon has the rest).
    nix_config: String,
}

impl<'a> UserWorld<'a> {
    /// Opens the bed to `user` and copies fp-build, fp-switch, fp-rollback and fp-generations
    /// into it.
    fn new(bed: &'a Bed, user: &TestUser) -> UserWorld<'a> {
        std::fs::set_permissions(bed.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod bed");
        for sub in ["home", "config", "state", "cache", "data"] {
            std::os::unix::fs::chown(bed.path().join(sub), Some(user.uid), Some(user.gid))
                .expect("chown bed dir");
        }
        let bin = bed.path().join("bin");
        std::fs::create_dir(&bin).expect("bin dir");
        for tool in ["fp-build", "fp-switch", "fp-rollback", "fp-generations"] {
            std::fs::copy(fp_testkit::bin(tool), bin.join(tool)).expect("copy tool");
        }
        let nix_config = format!(
            "experimental-features = nix-command flakes\nflake-registry = {}\n",
            bed.path().join("no-global-registry.json").display()
        );
        UserWorld {
            bed,
            uid: user.uid,
            gid: user.gid,
            bin,
            nix_config,
        }
    }

    /// `program` run as the test user (with its groups, so `nix-users`) through the daemon.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.bed
            .command("setpriv")
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg(program)
            .env("USER", USER)
            .env("LOGNAME", USER)
            .env("NIX_REMOTE", "daemon")
            .env("NIX_CONFIG", &self.nix_config)
    }

    /// One of the copied tools, run as the test user.
    fn tool(&self, name: &str) -> Cmd {
        self.command(self.bin.join(name))
    }

    /// A profile flake of the bed, owned by the user (nix writes its flake.lock).
    fn flake(&self, name: &str, revision: u32, packages: &[&str]) -> PathBuf {
        let dir = self.bed.profile_flake(name, revision, packages);
        for path in [dir.clone(), dir.join("flake.nix")] {
            std::os::unix::fs::chown(&path, Some(self.uid), Some(self.gid)).expect("chown flake");
        }
        dir
    }

    /// `fp-build FLAKE` as the user: its stdout, the store path line.
    fn build(&self, flake: &Path) -> String {
        self.tool("fp-build").arg(flake).run().success().stdout
    }

    /// `fp-switch --profile PROFILE` as the user, with `input` (fp-build's output) on stdin.
    fn switch(&self, profile: &Path, input: &str) -> Run {
        self.tool("fp-switch")
            .arg("--profile")
            .arg(profile)
            .stdin(input)
            .run()
    }

    /// The generation numbers `nix-env --list-generations`, run as the user, lists, and the
    /// current one.
    fn generations(&self, profile: &Path) -> (Vec<u64>, Option<u64>) {
        let listing = self
            .command("nix-env")
            .arg("--profile")
            .arg(profile)
            .arg("--list-generations")
            .run()
            .success()
            .stdout;
        fp_testkit::parse_generation_listing(&listing)
    }

    /// What a program of the profile prints, run as the user.
    fn run_bin(&self, program: &Path) -> String {
        self.command(program).run().success().stdout
    }

    /// After fp-switch refused a broken per-user directory: the whole loop, `fp-build` then
    /// `fp-switch` on its output. fp-build talks to the daemon, and what fp-switch then sees
    /// decides what it must do: a directory the daemon made the user's (Nix 2.8 does, on every
    /// connection) gives generation 1; a directory still broken gives the fix again.
    fn loop_after_broken_dir(
        &self,
        per_user: &PerUserDir,
        flake: &Path,
        profile: &Path,
        fix: &str,
    ) {
        let built = self.build(flake);
        let repaired = std::fs::metadata(&per_user.dir)
            .is_ok_and(|m| m.is_dir() && m.uid() == self.uid && m.mode() & 0o200 != 0);
        let run = self.switch(profile, &built);
        if repaired {
            eprintln!(
                "the daemon made {} the user's when fp-build connected; the loop went through",
                per_user.dir.display()
            );
            run.success();
            assert_eq!(self.generations(profile), (vec![1], Some(1)));
            assert_eq!(self.run_bin(&profile.join("bin/hello")), "hello 1.0\n");
        } else {
            eprintln!(
                "{} is still unusable after fp-build; fp-switch must refuse again",
                per_user.dir.display()
            );
            run.code(1).no_stdout().stderr_has(fix);
            assert!(std::fs::symlink_metadata(profile).is_err());
        }
    }
}
