//! fp-pin run as root on files someone else could plant: its history decides nothing about
//! where a revert writes, its lock is real, and nothing outside the legitimate targets changes.
//!
//! A real second user ([`USER`], made with `useradd`) owns a home and plants files in it while
//! root runs fp-pin with that HOME (as `sudo -E` does). Every such run is refused or harmless:
//! a root-owned stand-in for `/etc` (the system registry's directory, via `NIX_CONF_DIR`) and
//! `/etc` itself are byte for byte as before. Root's runs happen in a private mount namespace
//! with a tmpfs over `/root`, so a tool that ignores a foreign HOME and uses root's own writes
//! nothing that lasts. The same hostile entries and lock files in root's own state directory
//! are refused by the checks on the entry and the lock themselves.
//!
//! Needs root, `useradd` and `setpriv`; without them each test says so and returns.

use fp_testkit::as_root::{etc_digest, tree_digest, with_scratch_root_home, TestUser};
use fp_testkit::{is_root, tempfile, Bed, Cmd, Run};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_PIN: &str = env!("CARGO_BIN_EXE_fp-pin");

/// The second user, who plants files.
const USER: &str = "fp-test-planter";
/// A user whose own group also lists [`USER`].
const GROUPED: &str = "fp-test-grouped";

/// A root-owned stand-in for `/etc/nix`: the system registry's directory (`NIX_CONF_DIR`),
/// holding a registry and a file an attack would like to replace.
struct StandIn {
    dir: tempfile::TempDir,
}

impl StandIn {
    fn new() -> StandIn {
        let dir = tempfile::Builder::new()
            .prefix("fp-etc-")
            .tempdir()
            .expect("tmp");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        std::fs::write(
            dir.path().join("registry.json"),
            "{\"flakes\":[],\"version\":2}\n",
        )
        .expect("registry");
        std::fs::write(dir.path().join("crontab"), "root's own\n").expect("file");
        StandIn { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn digest(&self) -> BTreeMap<String, String> {
        tree_digest(self.path(), &[])
    }
}

/// Everything a run must leave as it was.
struct Untouched {
    stand_in: BTreeMap<String, String>,
    etc: BTreeMap<String, String>,
}

impl Untouched {
    fn now(stand_in: &StandIn) -> Untouched {
        Untouched {
            stand_in: stand_in.digest(),
            etc: etc_digest(),
        }
    }

    fn check(&self, stand_in: &StandIn, what: &str) {
        assert_eq!(
            stand_in.digest(),
            self.stand_in,
            "{what}: the stand-in changed"
        );
        assert_eq!(etc_digest(), self.etc, "{what}: /etc changed");
    }
}

/// Whether the machine can run these tests (root, the second user).
fn prerequisites() -> Option<TestUser> {
    if !is_root() {
        eprintln!("needs root: NOT RUN");
        return None;
    }
    TestUser::ensure(USER)
}

/// A bed whose HOME and XDG directories belong to `user`.
fn users_bed(user: &TestUser) -> Bed {
    let bed = Bed::new();
    std::fs::set_permissions(bed.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for sub in ["home", "config", "state", "cache", "data"] {
        user.give_tree(&bed.path().join(sub));
    }
    bed
}

/// fp-pin run by root in the bed's environment, with `NIX_CONF_DIR` the stand-in, in a
/// private mount namespace where `/root` is an empty tmpfs.
fn root_pin(bed: &Bed, stand_in: &StandIn) -> Cmd {
    with_scratch_root_home(bed.tool(FP_PIN).env("NIX_CONF_DIR", stand_in.path()))
}

/// A history entry restoring `path` to `previous` with `mode`.
fn entry(path: &Path, previous: Option<&str>, mode: Option<u32>) -> String {
    serde_json::json!({
        "version": 1,
        "time": 1,
        "pins": {"nixpkgs": "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source"},
        "registry": {
            "path": path,
            "previous": previous,
            "previousMode": mode,
            "written": "{\"flakes\":[],\"version\":2}\n"
        },
        "channels": null
    })
    .to_string()
}

/// The history directory under the bed's state directory.
fn history_dir(bed: &Bed) -> PathBuf {
    bed.state_home().join("flakey-profile/pin-history")
}

/// A refused run: exit 1 or 2, an error, no panic, no stdout.
fn refused(run: Run, what: &str) -> Run {
    assert!(
        run.code == 1 || run.code == 2,
        "{what}: exit {}\n{}",
        run.code,
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{what}: {}", run.stdout);
    assert!(run.stderr.contains("error:"), "{what}: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
    run
}

/// The hostile entries a user can plant as `1.json`, each as a shell script run in the
/// history directory. `target` is root's file they aim at.
fn planted_entries(stand_in: &StandIn) -> Vec<(&'static str, String)> {
    let anything = stand_in.path().join("anything");
    let system = stand_in.path().join("registry.json");
    let crontab = stand_in.path().join("crontab");
    let q = |text: String| text.replace('\'', "'\\''");
    vec![
        (
            "an entry naming another path, setuid",
            format!(
                "printf '%s' '{}' > 1.json",
                q(entry(
                    &anything,
                    Some("* * * * * root sh -c evil\n"),
                    Some(0o4755)
                ))
            ),
        ),
        (
            "an entry deleting the existing system registry",
            format!("printf '%s' '{}' > 1.json", q(entry(&system, None, None))),
        ),
        (
            "a symlink to root's file",
            format!("ln -s {} 1.json", crontab.display()),
        ),
        ("a FIFO", "mkfifo 1.json".to_string()),
        ("a link to a device", "ln -s /dev/zero 1.json".to_string()),
        (
            "a 100 MB entry",
            "dd if=/dev/zero of=1.json bs=1M count=100 status=none".to_string(),
        ),
        ("a symlink loop", "ln -s 1.json 1.json".to_string()),
    ]
}

#[test]
fn history_planted_in_a_users_home_is_refused_and_nothing_outside_changes() {
    let Some(user) = prerequisites() else {
        return;
    };
    let stand_in = StandIn::new();
    for (what, plant) in planted_entries(&stand_in) {
        let bed = users_bed(&user);
        let history = history_dir(&bed);
        user.run(&bed.state_home(), "mkdir -p flakey-profile/pin-history");
        user.run(&history, &plant);
        let before = Untouched::now(&stand_in);
        let planted = tree_digest(&bed.state_home(), &[]);
        for args in [&["--revert"][..], &["--revert", "--registry", "system"]] {
            let run = refused(root_pin(&bed, &stand_in).args(args).run(), what);
            before.check(&stand_in, what);
            assert_eq!(
                tree_digest(&bed.state_home(), &[]),
                planted,
                "{what}: the user's history was changed: {}",
                run.stderr
            );
        }
    }
}

/// Makes a hostile file at the path it is given.
type Plant<'a> = Box<dyn Fn(&Path) + 'a>;

#[test]
fn hostile_entries_in_roots_own_history_are_refused() {
    let Some(user) = prerequisites() else {
        return;
    };
    let stand_in = StandIn::new();
    let bed = Bed::new();
    let user_registry = bed.config_home().join("nix/registry.json");
    let other_profile = stand_in.path().join("channels");
    let mut channels =
        serde_json::from_str::<serde_json::Value>(&entry(&user_registry, Some("{}"), Some(0o644)))
            .expect("json");
    channels["registry"]["written"] = serde_json::Value::Null;
    channels["channels"] = serde_json::json!({
        "profile": other_profile, "previous": null, "generation": {"generation": 1, "storePath": "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source"}
    });
    let cases: Vec<(&str, Plant<'_>, &str)> = vec![
        (
            "another path",
            Box::new(|f: &Path| {
                std::fs::write(
                    f,
                    entry(&stand_in.path().join("anything"), Some("x"), Some(0o644)),
                )
                .expect("w")
            }),
            "not the user or system registry",
        ),
        (
            "a setuid mode",
            Box::new(|f: &Path| {
                std::fs::write(f, entry(&user_registry, Some("{}"), Some(0o4755))).expect("w")
            }),
            "beyond 0777",
        ),
        (
            "another channels profile",
            Box::new(|f: &Path| std::fs::write(f, channels.to_string()).expect("w")),
            "channels profile",
        ),
        (
            "a symlink",
            Box::new(|f: &Path| {
                std::os::unix::fs::symlink(stand_in.path().join("crontab"), f).expect("ln")
            }),
            "symbolic link",
        ),
        (
            "a symlink loop",
            Box::new(|f: &Path| std::os::unix::fs::symlink(f, f).expect("ln")),
            "symbolic link",
        ),
        (
            "a link to a device",
            Box::new(|f: &Path| std::os::unix::fs::symlink("/dev/zero", f).expect("ln")),
            "symbolic link",
        ),
        (
            "a FIFO",
            Box::new(|f: &Path| shell(&format!("mkfifo {}", f.display()))),
            "not a regular file",
        ),
        (
            "a device",
            Box::new(|f: &Path| shell(&format!("mknod {} c 1 5", f.display()))),
            "not a regular file",
        ),
        (
            "a directory",
            Box::new(|f: &Path| std::fs::create_dir(f).expect("mkdir")),
            "not a regular file",
        ),
        (
            "100 MB",
            Box::new(|f: &Path| {
                std::fs::File::create(f)
                    .and_then(|h| h.set_len(100 * 1024 * 1024))
                    .expect("big")
            }),
            "larger than",
        ),
        (
            "another user's file",
            Box::new(|f: &Path| {
                std::fs::write(f, entry(&user_registry, Some("{}"), Some(0o644))).expect("w");
                user.give(f);
            }),
            "is owned by fp-test-",
        ),
    ];
    let history = history_dir(&bed);
    for (what, plant, needle) in cases {
        std::fs::create_dir_all(&history).expect("history");
        plant(&history.join("1.json"));
        let before = Untouched::now(&stand_in);
        let run = refused(root_pin(&bed, &stand_in).arg("--revert").run(), what);
        assert_eq!(run.code, 2, "{what}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{what}: {}", run.stderr);
        assert!(run.stderr.contains("hint:"), "{what}: {}", run.stderr);
        if what == "another path" {
            let shown = bed.redact(
                &run.stderr
                    .replace(&stand_in.path().display().to_string(), "[ETC]"),
            );
            insta::assert_snapshot!("entry_naming_another_path", shown);
        }
        before.check(&stand_in, what);
        assert!(!user_registry.exists(), "{what}");
        assert!(
            std::fs::symlink_metadata(history.join("1.json")).is_ok(),
            "{what}: the entry is kept"
        );
        std::fs::remove_dir_all(&history).expect("clean");
    }
}

/// Runs a shell command as root, which must succeed.
fn shell(script: &str) {
    let status = std::process::Command::new("sh")
        .args(["-ec", script])
        .status()
        .expect("sh");
    assert!(status.success(), "{script}");
}

/// The hostile `pin.lock`s, each made by a shell script in the state directory.
fn planted_locks(stand_in: &StandIn) -> Vec<(&'static str, String, &'static str)> {
    let crontab = stand_in.path().join("crontab");
    let nologin = stand_in.path().join("nologin");
    vec![
        (
            "a symlink to root's file",
            format!("ln -s {} pin.lock", crontab.display()),
            "symbolic link",
        ),
        (
            "a dangling symlink",
            format!("ln -s {} pin.lock", nologin.display()),
            "symbolic link",
        ),
        ("a directory", "mkdir pin.lock".to_string(), "a directory"),
        ("a FIFO", "mkfifo pin.lock".to_string(), "FIFO"),
        (
            "a symlink loop",
            "ln -s pin.lock pin.lock".to_string(),
            "symbolic link",
        ),
    ]
}

/// A pin of `registry` (`user`, `system` or a file) with one `--pin` and no channels.
fn pin_args(src: &str, registry: &str) -> Vec<String> {
    [
        "--registry",
        registry,
        "--no-flake",
        "--no-channels",
        "--pin",
    ]
    .iter()
    .map(ToString::to_string)
    .chain([format!("nixpkgs={src}")])
    .collect()
}

#[test]
fn an_unusable_pin_lock_stops_fp_pin_and_creates_nothing() {
    let Some(user) = prerequisites() else {
        return;
    };
    let stand_in = StandIn::new();
    let probe = Bed::new();
    let src = probe.pkgs_source(1);

    // In root's own state directory: exit 1 with the reason, nothing pinned.
    for (what, plant, needle) in planted_locks(&stand_in) {
        let bed = Bed::new();
        let state = bed.state_home().join("flakey-profile");
        std::fs::create_dir_all(&state).expect("state");
        shell(&format!("cd {} && {plant}", state.display()));
        let before = Untouched::now(&stand_in);
        let run = refused(
            root_pin(&bed, &stand_in).args(pin_args(&src, "user")).run(),
            what,
        );
        assert_eq!(run.code, 1, "{what}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{what}: {}", run.stderr);
        assert!(run.stderr.contains("pin.lock"), "{what}: {}", run.stderr);
        assert!(
            !bed.config_home().join("nix/registry.json").exists(),
            "{what}: pinned"
        );
        before.check(&stand_in, what);
    }

    // A lock file of another user's in root's own directory is refused too.
    let bed = Bed::new();
    let state = bed.state_home().join("flakey-profile");
    std::fs::create_dir_all(&state).expect("state");
    std::fs::write(state.join("pin.lock"), "").expect("lock");
    user.give(&state.join("pin.lock"));
    let run = refused(
        root_pin(&bed, &stand_in).args(pin_args(&src, "user")).run(),
        "owner",
    );
    assert!(
        run.stderr.contains("is owned by fp-test-"),
        "{}",
        run.stderr
    );

    // Planted by the user in their own home: refused or harmless, root's files untouched.
    for (what, plant, _) in planted_locks(&stand_in) {
        let bed = users_bed(&user);
        let state = bed.state_home().join("flakey-profile");
        user.run(&bed.state_home(), "mkdir flakey-profile");
        user.run(&state, &plant);
        let before = Untouched::now(&stand_in);
        let file = bed.path().join("registry.json");
        let run = root_pin(&bed, &stand_in)
            .args(pin_args(&src, &file.display().to_string()))
            .run();
        assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
        before.check(&stand_in, what);
        assert!(!stand_in.path().join("nologin").exists(), "{what}");
    }
}

/// Makes fp-pin's state directory and history directory in `bed` with mode 0775 (the state
/// home too, as a umask of 002 leaves `~/.local/state`), owned by `owner` (root when `None`).
fn group_writable_state(bed: &Bed, owner: Option<&TestUser>) -> PathBuf {
    let history = history_dir(bed);
    std::fs::create_dir_all(&history).expect("history");
    for dir in [
        bed.state_home(),
        history.parent().unwrap().to_path_buf(),
        history,
    ] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).expect("chmod");
        if let Some(user) = owner {
            user.give(&dir);
        }
    }
    bed.state_home().join("flakey-profile")
}

/// On systems with a private group per user and umask 002, `~/.local/state` and what is made
/// in it are mode 0775 in the user's own group, which nobody else is in: fp-pin uses them (as
/// the user, and as root when root's group lists nobody else). A 0775 directory whose group
/// lists another member is refused, naming the group and the member and the `chmod g-w` to
/// run, and nothing is made in it.
#[test]
fn group_writable_state_is_used_only_in_a_private_group() {
    let Some(user) = prerequisites() else {
        return;
    };
    // The user's own group (useradd --user-group): its gid is the user's primary gid, it has
    // the user's name and lists no member.
    let bed = users_bed(&user);
    let state = group_writable_state(&bed, Some(&user));
    let run = user.tool(&bed, FP_PIN).arg("--revert").run();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("nothing to revert"), "{}", run.stderr);
    assert!(state.join("pin.lock").is_file(), "the lock was taken");

    // A user whose own group also lists another user.
    let Some(grouped) = TestUser::ensure(GROUPED) else {
        return;
    };
    TestUser::ensure_in(USER, &[GROUPED]).expect("the planter in the grouped user's group");
    let bed = users_bed(&grouped);
    let state = group_writable_state(&bed, Some(&grouped));
    let run = grouped.tool(&bed, FP_PIN).arg("--revert").run();
    assert_eq!(run.code, 1, "{run:?}");
    let said = format!(
        "{} is writable by its group {GROUPED}, which also has {USER} in it (mode 775)",
        bed.state_home().display()
    );
    assert!(
        run.stderr.contains(&said),
        "lacks {said:?}:\n{}",
        run.stderr
    );
    let chmod = format!("chmod g-w {}", bed.state_home().display());
    assert!(
        run.stderr.contains(&chmod),
        "lacks {chmod:?}:\n{}",
        run.stderr
    );
    assert!(!state.join("pin.lock").exists(), "nothing made in it");

    // Root with root's own group: used when the group database lists nobody else in it.
    let bed = Bed::new();
    let state = group_writable_state(&bed, None);
    let others = fp_nix::trust::group(0)
        .expect("group 0")
        .members
        .into_iter()
        .filter(|m| m != "root")
        .collect::<Vec<_>>();
    let run = with_scratch_root_home(bed.tool(FP_PIN).arg("--revert")).run();
    assert_eq!(run.code, 1, "{run:?}");
    if others.is_empty() {
        assert!(run.stderr.contains("nothing to revert"), "{}", run.stderr);
        assert!(state.join("pin.lock").is_file(), "the lock was taken");
    } else {
        assert!(run.stderr.contains("which also has"), "{}", run.stderr);
        assert!(!state.join("pin.lock").exists(), "nothing made in it");
    }
}

#[test]
fn concurrent_pins_never_lose_a_pin() {
    let bed = Bed::new();
    let src = bed.pkgs_source(1);
    let registry = bed.config_home().join("nix/registry.json");
    let pin = |name: &str| {
        bed.tool(FP_PIN)
            .args(["--registry", "user", "--no-flake", "--no-channels", "--pin"])
            .arg(format!("{name}={src}"))
    };
    let both = |a: &str, b: &str| -> (Run, Run) {
        std::thread::scope(|s| {
            let first = s.spawn(|| pin(a).run());
            let second = s.spawn(|| pin(b).run());
            (first.join().expect("a"), second.join().expect("b"))
        })
    };

    // pin.lock unusable (a directory): every run exits 1 and nothing is pinned.
    let lock = bed.state_home().join("flakey-profile/pin.lock");
    std::fs::create_dir_all(&lock).expect("lock dir");
    for round in 0..20 {
        let (a, b) = both(&format!("a{round}"), &format!("b{round}"));
        for run in [a, b] {
            let run = run.code(1);
            assert!(
                run.stderr.contains("pin.lock"),
                "round {round}: {}",
                run.stderr
            );
        }
        assert!(!registry.exists(), "round {round}: pinned without the lock");
    }

    // A usable lock: both pins of every round land.
    std::fs::remove_dir(&lock).expect("rm lock");
    for round in 0..20 {
        let (a, b) = both(&format!("a{round}"), &format!("b{round}"));
        a.success();
        b.success();
        let text = std::fs::read_to_string(&registry).expect("registry");
        for name in [format!("a{round}"), format!("b{round}")] {
            assert!(
                text.contains(&format!("\"{name}\"")),
                "round {round}: {name} lost: {text}"
            );
        }
    }
    // Every entry is a plain file of mode 0600, in a directory fp-pin made 0700.
    let history = history_dir(&bed);
    let mode = |p: &Path| {
        std::fs::symlink_metadata(p)
            .expect("meta")
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode(&history), 0o700);
    let entries: Vec<_> = std::fs::read_dir(&history)
        .expect("history")
        .flatten()
        .collect();
    assert_eq!(entries.len(), 40);
    for e in entries {
        let meta = std::fs::symlink_metadata(e.path()).expect("meta");
        assert!(meta.is_file(), "{}", e.path().display());
        assert_eq!(
            meta.permissions().mode() & 0o7777,
            0o600,
            "{}",
            e.path().display()
        );
    }
}
