//! The tools run as root with another user's files in reach: every attack that user could plant
//! (links to root's files, a linked cache directory, a poisoned cache entry, writable
//! directories, FIFOs, devices, huge files, link loops, a foreign `$HOME`) is refused or
//! harmless, with the error saying what happened.
//!
//! The user is a real account ([`PLANTER`], made with `useradd`); what it plants is made by the
//! test and given to it with `lchown`, which leaves exactly what the user could have left. The
//! links point into `<bed>/etc`, a directory standing in for `/etc` with a root file, a root
//! directory and a device node of the test's own; its digest before and after shows that
//! nothing there changed.
//!
//! Needs root (it creates the user and acts as root); without it, it says so and returns.

use fp_testkit::as_root::{link_loop, mkfifo, mknod_null, sparse_file, tree_digest, TestUser};
use fp_testkit::{Bed, Run};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The user who plants the attacks.
const PLANTER: &str = "fp-test-planter";

/// The places of the real `/etc` where a planted write would give a user root or stop logins
/// (the whole of `/etc` also changes under package installs and account changes other tests
/// and engineers make at the same time, so it is not compared as a whole).
const REAL_ETC: [&str; 5] = [
    "/etc/nix",
    "/etc/cron.d",
    "/etc/sudoers.d",
    "/etc/sudoers",
    "/etc/nologin",
];

/// The digest of [`REAL_ETC`] (a missing entry is an empty digest).
fn real_etc() -> Vec<std::collections::BTreeMap<String, String>> {
    REAL_ETC
        .iter()
        .map(|p| tree_digest(Path::new(p), &[]))
        .collect()
}

/// One test's bed, its planter and its stand-in for `/etc`.
struct World {
    bed: Bed,
    user: TestUser,
    etc: PathBuf,
    /// [`real_etc`] when the world was made.
    real_etc: Vec<std::collections::BTreeMap<String, String>>,
}

impl World {
    /// The bed with `<bed>/etc` (a root file `victim`, a root directory `somedir`, a device
    /// node `null`), or `None` (said) when the test cannot act as root.
    fn new() -> Option<World> {
        let Some(user) = TestUser::ensure(PLANTER) else {
            eprintln!("as-root test NOT RUN");
            return None;
        };
        let bed = Bed::new();
        let etc = bed.path().join("etc");
        std::fs::create_dir_all(etc.join("somedir")).expect("etc");
        std::fs::write(etc.join("victim"), "root's own file\n").expect("victim");
        std::fs::write(etc.join("somedir/inside"), "root's\n").expect("inside");
        mknod_null(&etc.join("null"));
        Some(World {
            bed,
            user,
            etc,
            real_etc: real_etc(),
        })
    }

    /// Asserts that nothing in [`REAL_ETC`] changed since the world was made.
    fn real_etc_unchanged(&self) {
        assert_eq!(real_etc(), self.real_etc, "the real /etc changed");
    }

    /// A root-owned directory `name` in the bed with `mode`.
    fn root_dir(&self, name: &str, mode: u32) -> PathBuf {
        let dir = self.bed.path().join(name);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
        dir
    }

    /// A directory `name` in the bed owned by the planter.
    fn user_dir(&self, name: &str) -> PathBuf {
        let dir = self.root_dir(name, 0o755);
        self.user.give(&dir);
        dir
    }
}

/// Empties `dir` (as root) for the next case.
fn clear(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let is_dir = std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir());
            let _ = if is_dir {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
}

/// `fp-build -v FLAKE` as root, with `$XDG_CACHE_HOME` = `cache`.
fn fp_build(bed: &Bed, flake: &Path, cache: &Path, extra: &[&str]) -> Run {
    bed.tool("fp-build")
        .arg("-v")
        .args(extra)
        .arg(flake)
        .env("XDG_CACHE_HOME", cache)
        .run()
}

/// The one cache entry in `dir`.
fn the_entry(dir: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("cache dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("build-") && name.ends_with(".json")
        })
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

/// The permission bits of `path` (not following a link).
fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).expect("exists").mode() & 0o7777
}

/// fp-build as root never writes through, or believes, what the planter left in the cache:
/// each case is a miss (said under `-v`), the real result is printed, `<bed>/etc` is unchanged,
/// and nothing root-owned is left in the planter's directories. Entries are written 0600 in a
/// 0700 directory, and temporary files of killed writes are removed on the next write (only
/// regular files of the effective user, of dead processes).
#[test]
fn cache_attacks_are_misses_and_change_nothing() {
    let Some(w) = World::new() else { return };
    let bed = &w.bed;
    let flake = bed.profile_flake("flake", 1, &["hello"]);
    let rcache = w.root_dir("rcache", 0o755);
    // The first build writes the flake's lock file (and so records nothing); the second records.
    fp_build(bed, &flake, &rcache, &[]).success();
    let first = fp_build(bed, &flake, &rcache, &[])
        .success()
        .stderr_has("cache: recorded in");
    let out = first.stdout.clone();
    let entries_dir = rcache.join("flakey-profile");
    let entry = the_entry(&entries_dir);
    assert_eq!(mode(&entry), 0o600);
    assert_eq!(mode(&entries_dir), 0o700);
    fp_build(bed, &flake, &rcache, &[])
        .success()
        .stderr_has("cache: hit");
    let name = entry.file_name().expect("name").to_os_string();
    let text = std::fs::read_to_string(&entry).expect("entry");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    // Another valid store path with its real identity: what a poisoner would write.
    let other = doc["drvPath"].as_str().expect("drvPath").to_string();
    let meta = std::fs::symlink_metadata(&other).expect("drv exists");
    let mut poisoned = doc.clone();
    poisoned["storePath"] = other.clone().into();
    poisoned["storeId"] = serde_json::json!({
        "dev": meta.dev(), "ino": meta.ino(), "ctime": meta.ctime(), "ctimeNsec": meta.ctime_nsec()
    });
    let poisoned = poisoned.to_string();
    let etc_before = tree_digest(&w.etc, &[]);

    // The planter's own cache directory (outside HOME, as $XDG_CACHE_HOME may be).
    let ucache = w.user_dir("ucache");
    let udir = ucache.join("flakey-profile");
    // A root-owned cache directory holding what the planter left (a link, an entry).
    let mixed = w.root_dir("mixed", 0o755);
    let mdir = mixed.join("flakey-profile");
    type Plant<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, &Path, Plant, &str)> = vec![
        (
            "entry: link to a root file, in the planter's directory",
            &ucache,
            Box::new(|| {
                std::fs::create_dir(&udir).unwrap();
                w.user.give(&udir);
                symlink(w.etc.join("victim"), udir.join(&name)).unwrap();
                w.user.give(&udir.join(&name));
            }),
            "ucache is owned by fp-test-planter, not by you (root)",
        ),
        (
            "entry: link to a device node, in the planter's directory",
            &ucache,
            Box::new(|| {
                std::fs::create_dir(&udir).unwrap();
                w.user.give(&udir);
                symlink(w.etc.join("null"), udir.join(&name)).unwrap();
                w.user.give(&udir.join(&name));
            }),
            "ucache is owned by fp-test-planter, not by you (root)",
        ),
        (
            "entry: the planter's link to a root file, in root's directory",
            &mixed,
            Box::new(|| {
                std::fs::create_dir(&mdir).unwrap();
                symlink(w.etc.join("victim"), mdir.join(&name)).unwrap();
                w.user.give(&mdir.join(&name));
            }),
            "is a symbolic link, not a regular file; refusing to read it",
        ),
        (
            "cache directory: the planter's link to a root directory",
            &mixed,
            Box::new(|| {
                symlink(w.etc.join("somedir"), &mdir).unwrap();
                w.user.give(&mdir);
            }),
            "flakey-profile is a symbolic link owned by fp-test-planter, not by you (root)",
        ),
        (
            "poisoned entry of the planter's, in root's directory",
            &mixed,
            Box::new(|| {
                std::fs::create_dir(&mdir).unwrap();
                std::fs::write(mdir.join(&name), &poisoned).unwrap();
                std::fs::set_permissions(mdir.join(&name), std::fs::Permissions::from_mode(0o600))
                    .unwrap();
                w.user.give(&mdir.join(&name));
            }),
            "is owned by fp-test-planter, not by you (root)",
        ),
        (
            "poisoned entry in the planter's directory",
            &ucache,
            Box::new(|| {
                std::fs::create_dir(&udir).unwrap();
                w.user.give(&udir);
                std::fs::write(udir.join(&name), &poisoned).unwrap();
                std::fs::set_permissions(udir.join(&name), std::fs::Permissions::from_mode(0o600))
                    .unwrap();
                w.user.give(&udir.join(&name));
            }),
            "ucache is owned by fp-test-planter, not by you (root)",
        ),
        (
            "root's entry readable by others",
            &mixed,
            Box::new(|| {
                std::fs::create_dir(&mdir).unwrap();
                std::fs::set_permissions(&mdir, std::fs::Permissions::from_mode(0o700)).unwrap();
                std::fs::write(mdir.join(&name), &text).unwrap();
                std::fs::set_permissions(mdir.join(&name), std::fs::Permissions::from_mode(0o644))
                    .unwrap();
            }),
            "may be read or written by others (mode 644, not 600)",
        ),
        (
            "group-writable cache directory",
            &mixed,
            Box::new(|| {
                std::fs::create_dir(&mdir).unwrap();
                std::fs::set_permissions(&mdir, std::fs::Permissions::from_mode(0o770)).unwrap();
                std::os::unix::fs::chown(&mdir, None, Some(w.user.gid)).unwrap();
                std::fs::write(mdir.join(&name), &text).unwrap();
                std::fs::set_permissions(mdir.join(&name), std::fs::Permissions::from_mode(0o600))
                    .unwrap();
            }),
            "flakey-profile is writable by its group fp-test-planter, which is not your primary group (mode 770)",
        ),
        (
            "entry: a FIFO",
            &mixed,
            Box::new(|| {
                std::fs::create_dir(&mdir).unwrap();
                mkfifo(&mdir.join(&name));
            }),
            "is a FIFO (named pipe), not a regular file; refusing to read it",
        ),
        (
            "entry: a device node",
            &mixed,
            Box::new(|| {
                std::fs::create_dir(&mdir).unwrap();
                mknod_null(&mdir.join(&name));
            }),
            "is a device, not a regular file; refusing to read it",
        ),
        (
            "entry: 100 MB",
            &mixed,
            Box::new(|| {
                std::fs::create_dir(&mdir).unwrap();
                sparse_file(&mdir.join(&name), 100 * 1024 * 1024);
                std::fs::set_permissions(mdir.join(&name), std::fs::Permissions::from_mode(0o600))
                    .unwrap();
            }),
            "is larger than 1 MiB; that is not a file flakey-profile reads",
        ),
        (
            "entry: a symlink loop",
            &mixed,
            Box::new(|| {
                std::fs::create_dir(&mdir).unwrap();
                link_loop(&mdir.join(&name));
            }),
            "is a symbolic link, not a regular file; refusing to read it",
        ),
    ];
    for (what, cache, plant, said) in cases {
        clear(&ucache);
        clear(&mixed);
        plant();
        let run = fp_build(bed, &flake, cache, &[]);
        assert_eq!(run.code, 0, "{what}: {run:?}");
        assert_eq!(
            run.stdout, out,
            "{what}: the real result, not the planted one"
        );
        assert!(
            run.stderr.contains("cache: ignoring an unusable entry") && run.stderr.contains(said),
            "{what}: stderr lacks {said:?}:\n{}",
            run.stderr
        );
        assert!(!run.stderr.contains("cache: hit"), "{what}: {}", run.stderr);
        if cache == ucache.as_path() {
            // Nothing can be recorded in the planter's directory, and the user is told.
            assert!(
                run.stderr
                    .contains("fp-build: warning: results are not cached: cannot write")
                    && run.stderr.contains("ucache is owned by fp-test-planter"),
                "{what}: {}",
                run.stderr
            );
        }
        assert_eq!(
            tree_digest(&w.etc, &[]),
            etc_before,
            "{what}: <bed>/etc changed"
        );
        // (`ucache/nix` is Nix's own evaluation cache, which nix writes wherever
        // $XDG_CACHE_HOME points, as `sudo nix build` run the same way does.)
        assert_eq!(
            w.user.foreign_entries(&udir),
            Vec::<String>::new(),
            "{what}: root left files in the planter's directory"
        );
    }

    // Temporary files of a killed write: the dead writer's regular file of root's goes on the
    // next write; the planter's file, a FIFO and a live process's file stay.
    let tmp = |pid: &str| entries_dir.join(format!(".{}.tmp-{pid}-0", name.to_string_lossy()));
    std::fs::write(tmp("999999999"), "partial").unwrap();
    std::fs::write(tmp("999999998"), "planted").unwrap();
    w.user.give(&tmp("999999998"));
    mkfifo(&tmp("999999997"));
    std::fs::write(tmp("1"), "init's").unwrap();
    fp_build(bed, &flake, &rcache, &["--refresh"])
        .success()
        .stderr_has("cache: recorded in");
    assert!(
        !tmp("999999999").exists(),
        "the dead writer's temporary file is removed"
    );
    for kept in ["999999998", "999999997", "1"] {
        assert!(std::fs::symlink_metadata(tmp(kept)).is_ok(), "{kept} kept");
    }
    w.real_etc_unchanged();
}

/// fp-pin as root on a user registry the planter tampered with: a dangling link of the
/// planter's is not followed (the file it names is not created), a FIFO, a device, 100 MB and
/// a link loop are refused without hanging, a group-writable directory is refused; each with
/// the reason, and `<bed>/etc` unchanged.
#[test]
fn registry_attacks_are_refused() {
    let Some(w) = World::new() else { return };
    let bed = &w.bed;
    let pin = format!("nixpkgs={}", bed.pkgs_source(1));
    let nix_dir = bed.config_home().join("nix");
    let registry = nix_dir.join("registry.json");
    let etc_before = tree_digest(&w.etc, &[]);
    type Plant<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Plant, i32, &str)> = vec![
        (
            "dangling link of the planter's",
            Box::new(|| {
                symlink(w.etc.join("new-registry.json"), &registry).unwrap();
                w.user.give(&registry);
            }),
            1,
            "is a symbolic link owned by fp-test-planter, not by you (root)",
        ),
        (
            "a FIFO",
            Box::new(|| mkfifo(&registry)),
            2,
            "is a FIFO (named pipe), not a regular file; refusing to read it",
        ),
        (
            "a link to a device",
            Box::new(|| symlink(w.etc.join("null"), &registry).unwrap()),
            2,
            "is a device, not a regular file; refusing to read it",
        ),
        (
            "100 MB",
            Box::new(|| sparse_file(&registry, 100 * 1024 * 1024)),
            2,
            "is larger than 64 MiB",
        ),
        (
            "a link loop",
            Box::new(|| link_loop(&registry)),
            1,
            "symbolic links",
        ),
        (
            "a group-writable directory",
            Box::new(|| {
                std::fs::write(&registry, "{\"version\": 2, \"flakes\": []}").unwrap();
                std::fs::set_permissions(&nix_dir, std::fs::Permissions::from_mode(0o775)).unwrap();
                std::os::unix::fs::chown(&nix_dir, None, Some(w.user.gid)).unwrap();
            }),
            1,
            "nix is writable by its group fp-test-planter, which is not your primary group (mode 775)",
        ),
    ];
    for (what, plant, code, said) in cases {
        let _ = std::fs::remove_dir_all(&nix_dir);
        std::fs::create_dir_all(&nix_dir).unwrap();
        plant();
        let before = tree_digest(&nix_dir, &[]);
        let run = bed
            .tool("fp-pin")
            .args(["--registry", "user", "--no-channels", "--pin", &pin])
            .run();
        assert_eq!(run.code, code, "{what}: {run:?}");
        assert!(
            run.stderr.contains(said),
            "{what}: lacks {said:?}:\n{}",
            run.stderr
        );
        assert_eq!(
            tree_digest(&w.etc, &[]),
            etc_before,
            "{what}: <bed>/etc changed"
        );
        assert_eq!(
            tree_digest(&nix_dir, &[]),
            before,
            "{what}: the registry changed"
        );
    }
    w.real_etc_unchanged();
}

/// A config.toml that cannot be read safely or trusted is refused before anything is done:
/// a FIFO, a link to a device, 100 MB and a link loop (exit 2), and one the planter owns or
/// others may write (exit 1); each error names the file and what is wrong with it.
#[test]
fn config_attacks_are_refused() {
    let Some(w) = World::new() else { return };
    let bed = &w.bed;
    let dir = bed.config_home().join("flakey-profile");
    let config = dir.join("config.toml");
    type Plant<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Plant, i32, &str)> = vec![
        (
            "a FIFO",
            Box::new(|| mkfifo(&config)),
            2,
            "config.toml is a FIFO (named pipe), not a regular file; refusing to read it",
        ),
        (
            "a link to a device",
            Box::new(|| symlink(w.etc.join("null"), &config).unwrap()),
            2,
            "config.toml is a device, not a regular file; refusing to read it",
        ),
        (
            "100 MB",
            Box::new(|| sparse_file(&config, 100 * 1024 * 1024)),
            2,
            "config.toml is larger than 1 MiB",
        ),
        (
            "a link loop",
            Box::new(|| link_loop(&config)),
            2,
            "symbolic links",
        ),
        (
            "the planter's",
            Box::new(|| {
                std::fs::write(&config, "profile = \"/etc/victim\"\n").unwrap();
                w.user.give(&config);
            }),
            1,
            "config.toml is owned by fp-test-planter, not by you (root); its settings decide which profile is changed, so it is not used",
        ),
        (
            "writable by others",
            Box::new(|| {
                std::fs::write(&config, "profile = \"/etc/victim\"\n").unwrap();
                std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666))
                    .unwrap();
            }),
            1,
            "config.toml is writable by others (mode 666)",
        ),
        (
            "writable by the planter's group",
            Box::new(|| {
                std::fs::write(&config, "profile = \"/etc/victim\"\n").unwrap();
                std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o664))
                    .unwrap();
                std::os::unix::fs::chown(&config, None, Some(w.user.gid)).unwrap();
            }),
            1,
            "config.toml is writable by its group fp-test-planter, which is not your primary group (mode 664)",
        ),
    ];
    let etc_before = tree_digest(&w.etc, &[]);
    for (what, plant, code, said) in cases {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        plant();
        let run = bed.tool("fp-generations").run();
        assert_eq!(run.code, code, "{what}: {run:?}");
        assert!(
            run.stderr.contains(said),
            "{what}: lacks {said:?}:\n{}",
            run.stderr
        );
        assert_eq!(
            tree_digest(&w.etc, &[]),
            etc_before,
            "{what}: <bed>/etc changed"
        );
    }
    w.real_etc_unchanged();
}

/// Whether the running Nix ignores a `$HOME` the effective user does not own, asked of Nix: run
/// with such a HOME (and no XDG_CONFIG_HOME, so Nix looks for its config there), it warns that
/// it falls back to the password database's home.
fn nix_ignores_foreign_home(bed: &Bed, home: &Path) -> bool {
    let run = bed
        .command("nix-instantiate")
        .args(["--eval", "--expr", "1"])
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .run()
        .success();
    run.stderr.contains("is not owned by you")
}

/// Root's home in the password database.
fn root_home() -> PathBuf {
    fp_nix::locations::passwd_entry(0)
        .expect("root has an entry")
        .home
}

/// Root with the planter's `$HOME` (and XDG directories inside it, as `sudo -E` keeps them),
/// where the planter left a linked cache directory and a dangling registry link: where the
/// running Nix ignores such a HOME, the tools do too (`-v` says so) and take the profile and
/// channels `nix-env` run the same way takes; where it does not, they refuse with the `sudo -H` hint.
/// Either way `<bed>/etc` is unchanged and nothing of root's is left in the planter's home.
#[test]
fn a_foreign_home_is_ignored_as_nix_does_or_refused() {
    let Some(w) = World::new() else { return };
    let bed = &w.bed;
    let home = bed.home();
    w.user.give(&home);
    for sub in [".config/nix", ".cache", ".local/state"] {
        std::fs::create_dir_all(home.join(sub)).unwrap();
    }
    symlink(w.etc.join("somedir"), home.join(".cache/flakey-profile")).unwrap();
    symlink(
        w.etc.join("new.json"),
        home.join(".config/nix/registry.json"),
    )
    .unwrap();
    w.user.give_tree(&home);
    let etc_before = tree_digest(&w.etc, &[]);
    let flake = bed.profile_flake("flake", 1, &["hello"]);
    let rstate = w.root_dir("rstate", 0o755);
    let ignores = nix_ignores_foreign_home(bed, &home);
    eprintln!("this Nix ignores a HOME root does not own: {ignores}");
    let with_home = |tool: &str| {
        bed.tool(tool)
            .arg("-v")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
    };
    let generations = with_home("fp-generations").arg("--json").run();
    let build = with_home("fp-build").arg(&flake).run();
    let pin = with_home("fp-pin")
        .env("XDG_STATE_HOME", &rstate)
        .args(["--registry", "user", "--dry-run"])
        .args(["--pin", &format!("nixpkgs={}", bed.pkgs_source(1))])
        .run();
    if ignores {
        let said = format!(
            "$HOME {} is owned by fp-test-planter, not by you (root); as Nix does, using {} from the password database",
            home.display(),
            root_home().display()
        );
        let generations = generations.success().stderr_has(&said);
        let build = build
            .success()
            .stderr_has(&said)
            .stderr_has("ignoring $XDG_CACHE_HOME");
        let pin = pin.success().stderr_has("ignoring $XDG_CONFIG_HOME");
        // The profile and channels nix-env takes run the same way: the ~/.nix-profile and
        // ~/.nix-defexpr/channels links in the home it uses (made by nix-env when missing;
        // removed again then).
        let link = root_home().join(".nix-profile");
        let defexpr = root_home().join(".nix-defexpr");
        let existed = std::fs::symlink_metadata(&link).is_ok();
        let defexpr_existed = std::fs::symlink_metadata(&defexpr).is_ok();
        bed.command("nix-env")
            .arg("-q")
            .env("HOME", &home)
            .run()
            .success();
        let theirs = std::fs::read_link(&link).expect("nix-env's profile link");
        let their_channels =
            std::fs::read_link(defexpr.join("channels")).expect("nix-env's channels link");
        if !existed {
            let _ = std::fs::remove_file(&link);
        }
        if !defexpr_existed {
            let _ = std::fs::remove_dir_all(&defexpr);
        }
        assert!(
            pin.stderr.contains(&format!(
                "channels profile = {} (from ",
                their_channels.display()
            )),
            "fp-pin and nix-env take the same channels ({}):\n{}",
            their_channels.display(),
            pin.stderr
        );
        let doc: serde_json::Value = serde_json::from_str(&generations.stdout).expect("json");
        assert_eq!(
            Path::new(doc["profile"].as_str().expect("profile")),
            theirs,
            "fp-generations and nix-env take the same profile"
        );
        // The entry fp-build recorded is root's, in root's home: removed again.
        if let Some(line) = build
            .stderr
            .lines()
            .find(|l| l.contains("cache: recorded in "))
        {
            let path = line.rsplit("cache: recorded in ").next().unwrap().trim();
            assert!(Path::new(path).starts_with(root_home()), "{path}");
            let _ = std::fs::remove_file(path);
        }
    } else {
        let said = format!(
            "$HOME {} belongs to fp-test-planter, not to you (root); this Nix would use it, and flakey-profile does not write into another user's home as root",
            home.display()
        );
        for run in [generations, build, pin] {
            run.code(1)
                .stderr_has(&said)
                .stderr_has("run it with `sudo -H` so that HOME is root's own");
        }
    }
    assert_eq!(tree_digest(&w.etc, &[]), etc_before, "<bed>/etc changed");
    assert_eq!(
        w.user.foreign_entries(&home),
        Vec::<String>::new(),
        "root left files in the planter's home"
    );
    w.real_etc_unchanged();
}

/// Only symlinks are generations: a FIFO, a directory and a plain file named like generations
/// are not listed, and the real generation keeps its package count.
#[test]
fn only_links_are_generations() {
    let bed = Bed::new();
    let out = bed.build(&bed.profile_flake("flake", 1, &["hello"]));
    bed.tool("fp-switch")
        .arg(&out)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    let dir = bed.profile().parent().unwrap().to_path_buf();
    mkfifo(&dir.join("profile-9-link"));
    std::fs::create_dir(dir.join("profile-8-link")).unwrap();
    std::fs::write(dir.join("profile-7-link"), "").unwrap();
    let json = bed
        .tool("fp-generations")
        .arg("--json")
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let numbers: Vec<u64> = doc["generations"]
        .as_array()
        .expect("generations")
        .iter()
        .map(|g| g["generation"].as_u64().expect("number"))
        .collect();
    assert_eq!(numbers, [1]);
    let table = bed
        .tool("fp-generations")
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    assert!(!table.stdout.contains('?'), "{}", table.stdout);
    let rows = table
        .stdout
        .lines()
        .filter(|l| l.contains("(current)"))
        .count();
    assert_eq!(
        table.stdout.lines().count(),
        2,
        "a header and one row: {}",
        table.stdout
    );
    assert_eq!(rows, 1, "{}", table.stdout);
}
