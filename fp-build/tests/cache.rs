//! fp-build's result cache against real Nix: every change that can change the result gives the
//! new result (what `nix build` prints) and never the recorded one, and an unchanged flake is
//! answered without running nix.

use fp_testkit::{Bed, Random, Run};
use std::path::{Path, PathBuf};

/// mkProfile arguments whose result depends on the flake's files: hello joins when the file
/// `extra` is in the flake's source (a new file of a `path:` flake, not an untracked one of a
/// git flake), and `packages` (not hello; both package set revisions have tree and motd) are the
/// rest.
fn arguments(packages: &[&str]) -> String {
    format!(
        "paths = (with pkgs; [ {} ]) ++ (if builtins.pathExists ./extra then [ pkgs.hello ] else [ ]);",
        packages.join(" ")
    )
}

/// `fp-build -v ARGS...` in the bed, which must succeed.
fn fp_build(bed: &Bed, args: &[&str]) -> Run {
    bed.tool("fp-build").arg("-v").args(args).run().success()
}

/// What `nix build --no-link --json` prints as the output path for the same arguments as
/// `fp_build` (flake, `--attr`, `--override-input`, `-- NIX_ARGS`).
fn nix_build(bed: &Bed, args: &[&str]) -> String {
    nix_build_with(bed, args, bed.nix_config())
}

/// [`nix_build`] with another NIX_CONFIG.
fn nix_build_with(bed: &Bed, args: &[&str], nix_config: &str) -> String {
    let mut flake = String::new();
    let mut attr = "profile".to_string();
    let mut rest: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "--attr" => {
                attr = args[i + 1].to_string();
                i += 1;
            }
            "--override-input" => {
                rest.extend(args[i..i + 3].iter().map(|s| s.to_string()));
                i += 2;
            }
            "--" => {}
            other if flake.is_empty() => flake = other.to_string(),
            other => rest.push(other.to_string()),
        }
        i += 1;
    }
    let run = bed
        .command("nix")
        .env("NIX_CONFIG", nix_config)
        .args(["build", "--no-link", "--json"])
        .arg(format!("{flake}#{attr}"))
        .args(rest)
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("nix build --json");
    v[0]["outputs"]["out"].as_str().expect("out").to_string()
}

fn hit(run: &Run) -> bool {
    run.stderr.contains("cache: hit")
}

/// Builds until the result is recorded (a first build writes flake.lock, which is recorded
/// only by the next one), then checks the next build is a hit printing the same.
fn warm(bed: &Bed, args: &[&str]) -> String {
    for _ in 0..3 {
        let run = fp_build(bed, args);
        if hit(&run) {
            return run.stdout_line().to_string();
        }
    }
    panic!("no cache hit after three builds of {args:?}");
}

/// `git ARGS...` in `dir`.
fn git(bed: &Bed, dir: &Path, args: &[&str]) {
    bed.command("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .run()
        .success();
}

/// A profile flake that is a git repository with everything committed.
fn git_flake(bed: &Bed, name: &str, packages: &[&str]) -> PathBuf {
    let flake = bed.profile_flake_with(name, 1, &arguments(packages));
    git(bed, &flake, &["init", "-q"]);
    git(bed, &flake, &["add", "."]);
    git(bed, &flake, &["commit", "-qm", "profile"]);
    flake
}

/// A directory of links to nix's programs that log each run to `log`, first on PATH.
fn logging_path(bed: &Bed, log: &Path) -> String {
    let dir = bed.path().join("logged-bin");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = std::env::var("PATH").unwrap_or_default();
    for tool in [
        "nix",
        "nix-store",
        "nix-env",
        "nix-instantiate",
        "nix-build",
    ] {
        let Some(real) = std::env::split_paths(&path)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
        else {
            continue;
        };
        let script = dir.join(tool);
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"{tool} $*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                real.display()
            ),
        )
        .expect("wrapper");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    format!("{}:{path}", dir.display())
}

#[test]
fn an_unchanged_flake_is_answered_without_running_nix() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with("flake1", 1, &arguments(&["tree"]));
    let log = bed.path().join("nix-calls.log");
    let path = logging_path(&bed, &log);
    let args = [flake.to_str().unwrap()];
    let build = |extra: &[&str]| {
        bed.tool("fp-build")
            .env("PATH", &path)
            .arg("-v")
            .args(args)
            .args(extra)
            .run()
            .success()
    };
    let first = build(&[]);
    assert!(
        first.stderr.contains("no flake.lock yet"),
        "{}",
        first.stderr
    );
    let second = build(&[]);
    assert!(!hit(&second), "{}", second.stderr);
    let calls = std::fs::read_to_string(&log).expect("nix ran");
    let third = build(&[]);
    assert!(hit(&third), "{}", third.stderr);
    assert_eq!(
        std::fs::read_to_string(&log).expect("log"),
        calls,
        "a hit runs no nix program"
    );
    assert_eq!(third.stdout, second.stdout);
    assert_eq!(third.stdout_line(), nix_build(&bed, &args));

    // --json on a hit is the document a build prints.
    let built = build(&["--json", "--refresh"]);
    let cached = build(&["--json"]);
    assert!(hit(&cached), "{}", cached.stderr);
    assert_eq!(cached.stdout, built.stdout);
    let v: serde_json::Value = serde_json::from_str(&cached.stdout).expect("json");
    assert!(v["drvPath"].as_str().unwrap().ends_with(".drv"));

    // --refresh and --no-cache build anyway.
    for flag in ["--refresh", "--no-cache"] {
        let run = build(&[flag]);
        assert!(
            !hit(&run) && run.stderr.contains("--refresh builds anyway"),
            "{}",
            run.stderr
        );
        assert_eq!(run.stdout, second.stdout);
    }
}

#[test]
fn what_people_read_on_a_hit_and_a_miss() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with("flake1", 1, &arguments(&["tree"]));
    let args = [flake.to_str().unwrap()];
    warm(&bed, &args);
    let hit_run = fp_build(&bed, &args);
    std::fs::write(flake.join("extra"), "x").expect("extra");
    let miss_run = fp_build(&bed, &args);
    let cache_lines = |run: &Run| {
        let lines: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("cache:") || l.contains("unchanged since"))
            .collect();
        redact_entry_names(&bed.redact(&lines.join("\n")))
    };
    insta::assert_snapshot!("hit", cache_lines(&hit_run));
    insta::assert_snapshot!("miss", cache_lines(&miss_run));
    let quiet = bed.tool("fp-build").args(args).run().success();
    insta::assert_snapshot!("hit_default", bed.redact(&quiet.stderr));
}

/// Replaces the digest in cache entry file names (`build-<32 hex>.json`).
fn redact_entry_names(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("build-") {
        out.push_str(&rest[..i + "build-".len()]);
        rest = &rest[i + "build-".len()..];
        let hex = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex == 32 {
            out.push_str("[DIGEST]");
            rest = &rest[32..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn a_new_file_in_a_path_flake_gives_the_new_result() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with("flake1", 1, &arguments(&["tree"]));
    for reference in [
        flake.display().to_string(),
        format!("path:{}", flake.display()),
    ] {
        let _ = std::fs::remove_file(flake.join("extra"));
        let args = [reference.as_str()];
        let old = warm(&bed, &args);
        std::fs::write(flake.join("extra"), "x").expect("extra");
        let run = fp_build(&bed, &args);
        assert!(!hit(&run), "{}", run.stderr);
        assert_ne!(run.stdout_line(), old);
        assert_eq!(run.stdout_line(), nix_build(&bed, &args));
    }
}

#[test]
fn git_flake_edits_count_and_untracked_files_do_not() {
    let bed = Bed::new();
    let flake = git_flake(&bed, "flake1", &["tree"]);
    let args = [flake.to_str().unwrap()];
    let old = warm(&bed, &args);

    // Untracked: Nix does not see it, so the recorded result stands.
    std::fs::write(flake.join("extra"), "x").expect("extra");
    let untracked = fp_build(&bed, &args);
    assert!(hit(&untracked), "{}", untracked.stderr);
    assert_eq!(untracked.stdout_line(), old);
    assert_eq!(nix_build(&bed, &args), old);

    // Staged: now Nix copies it.
    git(&bed, &flake, &["add", "extra"]);
    let staged = fp_build(&bed, &args);
    assert!(!hit(&staged), "{}", staged.stderr);
    assert_ne!(staged.stdout_line(), old);
    assert_eq!(staged.stdout_line(), nix_build(&bed, &args));

    // An uncommitted edit of a tracked file, then the same edit committed.
    bed.profile_flake_with("flake1", 1, &arguments(&["tree", "motd"]));
    let edited = fp_build(&bed, &args);
    assert!(!hit(&edited), "{}", edited.stderr);
    assert_eq!(edited.stdout_line(), nix_build(&bed, &args));
    assert_ne!(edited.stdout_line(), staged.stdout_line());
    git(&bed, &flake, &["commit", "-qam", "tree"]);
    assert_eq!(warm(&bed, &args), nix_build(&bed, &args));
    bed.profile_flake_with("flake1", 1, &arguments(&["tree"]));
    git(&bed, &flake, &["commit", "-qam", "no tree"]);
    let committed = fp_build(&bed, &args);
    assert!(!hit(&committed), "{}", committed.stderr);
    assert_eq!(committed.stdout_line(), staged.stdout_line());
    assert_eq!(committed.stdout_line(), nix_build(&bed, &args));
}

#[test]
fn a_subdirectory_flake_of_a_git_repository() {
    let bed = Bed::new();
    let repo = bed.path().join("repo");
    std::fs::create_dir_all(&repo).expect("repo");
    let flake = bed.profile_flake_with("repo/hosts", 1, &arguments(&["tree"]));
    git(&bed, &repo, &["init", "-q"]);
    git(&bed, &repo, &["add", "."]);
    git(&bed, &repo, &["commit", "-qm", "hosts"]);
    let plain = [flake.to_str().unwrap()];
    let old = warm(&bed, &plain);
    // A tracked file elsewhere in the repository is part of the flake's source.
    std::fs::write(repo.join("README"), "x").expect("readme");
    git(&bed, &repo, &["add", "README"]);
    let run = fp_build(&bed, &plain);
    assert!(!hit(&run), "{}", run.stderr);
    assert_eq!(run.stdout_line(), old);
    // The same flake spelt as a git URL with `?dir=` shares the entry.
    let with_dir = format!("git+file://{}?dir=hosts", repo.display());
    let run = fp_build(&bed, &[with_dir.as_str()]);
    assert!(hit(&run), "{}", run.stderr);
    assert_eq!(run.stdout_line(), nix_build(&bed, &[with_dir.as_str()]));
}

#[test]
fn a_changed_lock_file_gives_the_new_result() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with("flake1", 1, &arguments(&["hello"]));
    let args = [flake.to_str().unwrap()];
    let old = warm(&bed, &args);
    // The package set moves on; the lock file keeps the old one, for Nix and for the cache.
    std::fs::write(bed.pkgs(1).join("revision.nix"), "2\n").expect("revision");
    let run = fp_build(&bed, &args);
    assert!(hit(&run), "{}", run.stderr);
    assert_eq!(run.stdout_line(), nix_build(&bed, &args));
    // Relocking one input, spelt as the running Nix spells it.
    let relock = if fp_testkit::nix_version().flake_update_has_flake_option() {
        ["flake", "update", "nixpkgs", "--flake"]
    } else {
        ["flake", "lock", "--update-input", "nixpkgs"]
    };
    bed.command("nix").args(relock).arg(&flake).run().success();
    let run = fp_build(&bed, &args);
    assert!(!hit(&run), "{}", run.stderr);
    assert!(run.stderr.contains("flake.lock"), "{}", run.stderr);
    assert_ne!(run.stdout_line(), old);
    assert_eq!(run.stdout_line(), nix_build(&bed, &args));
}

#[test]
fn overrides_attributes_and_nix_config_are_part_of_the_key() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with("flake1", 1, &arguments(&["hello"]));
    let flake_arg = flake.display().to_string();
    let plain = warm(&bed, &[&flake_arg]);

    // Another override, and an unlocked local override whose contents change.
    let moving = bed.path().join("moving-pkgs");
    fp_testkit::copy_dir(&bed.pkgs(1), &moving);
    let over = format!("path:{}", moving.display());
    let args = [
        flake_arg.as_str(),
        "--override-input",
        "nixpkgs",
        over.as_str(),
    ];
    let first = warm(&bed, &args);
    assert_eq!(first, plain);
    std::fs::write(moving.join("revision.nix"), "2\n").expect("revision");
    let moved = fp_build(&bed, &args);
    assert!(!hit(&moved), "{}", moved.stderr);
    assert_ne!(moved.stdout_line(), first);
    assert_eq!(moved.stdout_line(), nix_build(&bed, &args));
    let pkgs2 = format!("path:{}", bed.pkgs(2).display());
    let other = [
        flake_arg.as_str(),
        "--override-input",
        "nixpkgs",
        pkgs2.as_str(),
    ];
    let run = fp_build(&bed, &other);
    assert!(!hit(&run), "{}", run.stderr);
    assert_eq!(run.stdout_line(), nix_build(&bed, &other));
    // Without the override, the first entry still answers.
    assert_eq!(warm(&bed, &[&flake_arg]), plain);

    // Another attribute.
    let channels = [flake_arg.as_str(), "--attr", "profile.pins.channels"];
    let run = fp_build(&bed, &channels);
    assert!(!hit(&run), "{}", run.stderr);
    assert_ne!(run.stdout_line(), plain);
    assert_eq!(run.stdout_line(), nix_build(&bed, &channels));

    // Another NIX_CONFIG.
    let config = format!("{}keep-outputs = true\n", bed.nix_config());
    let run = bed
        .tool("fp-build")
        .arg("-v")
        .arg(&flake)
        .env("NIX_CONFIG", &config)
        .run()
        .success();
    assert!(!hit(&run), "{}", run.stderr);
    assert!(run.stderr.contains("NIX_CONFIG"), "{}", run.stderr);
    assert_eq!(
        run.stdout_line(),
        nix_build_with(&bed, &[&flake_arg], &config)
    );
}

#[test]
fn a_collected_output_is_built_again() {
    let bed = Bed::new();
    // A name of its own, so that no other test's profile keeps the same path alive.
    let unique = bed
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_lowercase();
    let flake = bed.profile_flake_with(
        "flake1",
        1,
        &format!("{}\n        name = \"gc-{unique}\";", arguments(&["tree"])),
    );
    let args = [flake.to_str().unwrap()];
    let old = warm(&bed, &args);
    bed.command("nix-store")
        .args(["--delete", &old])
        .run()
        .success();
    assert!(!Path::new(&old).exists());
    let run = fp_build(&bed, &args);
    assert!(!hit(&run), "{}", run.stderr);
    assert!(run.stderr.contains("garbage-collected"), "{}", run.stderr);
    assert_eq!(run.stdout_line(), old);
    assert!(Path::new(&old).exists(), "built again");
    bed.command("nix-store")
        .args(["--check-validity", &old])
        .run()
        .success();
}

#[test]
fn never_cached_builds() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with("flake1", 1, &arguments(&["tree"]));
    let flake_arg = flake.display().to_string();
    warm(&bed, &[&flake_arg]);
    let impure = fp_build(&bed, &[&flake_arg, "--", "--impure"]);
    assert!(
        impure
            .stderr
            .contains("cache: not used: the nix argument --impure"),
        "{}",
        impure.stderr
    );
    let update = fp_build(&bed, &[&flake_arg, "--update"]);
    assert!(!hit(&update), "{}", update.stderr);
    assert!(
        update.stderr.contains("cache: not looked up: --update"),
        "{}",
        update.stderr
    );
    // Nix cannot resolve it here (no registry), but the cache has said no before that.
    let registry = bed
        .tool("fp-build")
        .args(["-v", &flake_arg, "--override-input", "nixpkgs", "nixpkgs"])
        .run()
        .stderr;
    assert!(
        registry.contains("is looked up in the flake registry"),
        "{registry}"
    );
}

#[test]
fn a_corrupt_entry_is_ignored_and_rewritten_and_two_builds_at_once_are_fine() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with("flake1", 1, &arguments(&["tree"]));
    let args = [flake.to_str().unwrap()];
    let expected = warm(&bed, &args);
    let dir = bed.path().join("cache/flakey-profile");
    let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(entries.len(), 1, "one entry per flake and attribute");
    std::fs::write(&entries[0], "{\"version\": 1, \"sto").expect("corrupt");
    let run = fp_build(&bed, &args);
    assert!(run.stderr.contains("unusable entry"), "{}", run.stderr);
    assert_eq!(run.stdout_line(), expected);
    assert!(hit(&fp_build(&bed, &args)), "rewritten");

    std::fs::write(&entries[0], "").expect("empty");
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2).map(|_| s.spawn(|| fp_build(&bed, &args))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for run in runs {
        assert_eq!(run.stdout_line(), expected);
    }
    let names: Vec<_> = std::fs::read_dir(&dir)
        .expect("cache dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    assert!(hit(&fp_build(&bed, &args)));
}

#[test]
fn random_edits_and_builds_always_print_what_nix_build_prints() {
    let bed = Bed::new();
    let choices = ["tree", "motd"];
    let flake = git_flake(&bed, "flake1", &["tree"]);
    let pkgs2 = format!("path:{}", bed.pkgs(2).display());
    let flake_arg = flake.display().to_string();
    let mut random = Random::new(16);
    let mut overridden = false;
    let mut attr = "profile";
    let mut hits = 0;
    for step in 0..14 {
        match random.below(6) {
            0 => {
                let packages: Vec<&str> = choices
                    .iter()
                    .copied()
                    .filter(|_| random.below(2) == 0)
                    .collect();
                bed.profile_flake_with("flake1", 1, &arguments(&packages));
            }
            1 => {
                let extra = flake.join("extra");
                if extra.exists() {
                    std::fs::remove_file(extra).expect("rm");
                } else {
                    std::fs::write(extra, step.to_string()).expect("extra");
                }
            }
            2 => git(&bed, &flake, &["add", "-A"]),
            3 => overridden = !overridden,
            4 => {
                attr = if attr == "profile" {
                    "profile.pins.channels"
                } else {
                    "profile"
                }
            }
            _ => {}
        }
        let mut args = vec![flake_arg.as_str(), "--attr", attr];
        if overridden {
            args.extend(["--override-input", "nixpkgs", pkgs2.as_str()]);
        }
        let ours = fp_build(&bed, &args);
        if hit(&ours) {
            hits += 1;
        }
        assert_eq!(
            ours.stdout_line(),
            nix_build(&bed, &args),
            "step {step} ({args:?}):\n{}",
            ours.stderr
        );
    }
    assert!(hits > 0, "the sequence exercised the cache");
}

#[test]
fn with_an_override_an_input_missing_from_the_lock_file_is_never_cached() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with("flake1", 1, &arguments(&["hello"]));
    let flake_arg = flake.display().to_string();
    warm(&bed, &[&flake_arg]);
    // The lock file loses nixpkgs (as when flake.nix gains an input): with an override, Nix
    // locks it afresh on every build and writes nothing.
    let lock_path = flake.join("flake.lock");
    let mut lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lock_path).expect("lock")).expect("json");
    lock["nodes"]
        .as_object_mut()
        .expect("nodes")
        .remove("nixpkgs");
    lock["nodes"]["root"]["inputs"]
        .as_object_mut()
        .expect("root inputs")
        .remove("nixpkgs");
    std::fs::write(&lock_path, lock.to_string()).expect("lock");
    let lib = format!("path:{}", bed.lib_flake().display());
    let args = [
        flake_arg.as_str(),
        "--override-input",
        "flakey-profile",
        lib.as_str(),
    ];
    let first = fp_build(&bed, &args);
    let second = fp_build(&bed, &args);
    assert!(!hit(&second), "{}", second.stderr);
    assert!(
        second.stderr.contains("\"nixpkgs\" is not in flake.lock"),
        "{}",
        second.stderr
    );
    assert_eq!(second.stdout, first.stdout);
    // What Nix locks afresh moves on; the build follows it.
    std::fs::write(bed.pkgs(1).join("revision.nix"), "2\n").expect("revision");
    let moved = fp_build(&bed, &args);
    assert_ne!(moved.stdout, first.stdout);
    assert_eq!(moved.stdout_line(), nix_build(&bed, &args));
    // A complete lock file with the same override is cached.
    let complete = bed.profile_flake_with("flake2", 2, &arguments(&["hello"]));
    let complete_arg = complete.display().to_string();
    warm(&bed, &[&complete_arg]);
    let args = [
        complete_arg.as_str(),
        "--override-input",
        "flakey-profile",
        lib.as_str(),
    ];
    assert_eq!(warm(&bed, &args), nix_build(&bed, &args));
}

/// A git repository at `dir` holding `packages.json` (a JSON list of package names), committed.
fn package_list_repo(bed: &Bed, dir: &Path, packages: &[&str]) {
    std::fs::create_dir_all(dir).expect("repo dir");
    write_package_list(dir, packages);
    git(bed, dir, &["init", "-q"]);
    git(bed, dir, &["add", "."]);
    git(bed, dir, &["commit", "-qm", "packages"]);
}

/// Writes `packages.json` in `dir`.
fn write_package_list(dir: &Path, packages: &[&str]) {
    let list = serde_json::to_string(packages).expect("json");
    std::fs::write(dir.join("packages.json"), list).expect("packages.json");
}

/// `git -c protocol.file.allow=always ARGS...` in `dir`: adding a local repository as a
/// submodule needs it.
fn git_submodule(bed: &Bed, dir: &Path, args: &[&str]) {
    let mut all = vec!["-c", "protocol.file.allow=always"];
    all.extend_from_slice(args);
    git(bed, dir, &all);
}

/// Makes the flake at `flake` ask Nix for its submodules (`inputs.self.submodules = true`)
/// where the running Nix accepts that, with the extra experimental feature some Nix needs for
/// it; returns the NIX_CONFIG to build with. Nix that knows no such attribute gets the flake as
/// it was (it copies no submodule then, which the flake's result shows as well).
fn ask_for_submodules(bed: &Bed, flake: &Path) -> String {
    let file = flake.join("flake.nix");
    let plain = std::fs::read_to_string(&file).expect("flake.nix");
    let asking = plain.replacen("{\n", "{\n  inputs.self.submodules = true;\n", 1);
    std::fs::write(&file, &asking).expect("flake.nix");
    let extra = format!(
        "{}experimental-features = nix-command flakes flake-self-attrs\n",
        bed.nix_config()
    );
    for config in [bed.nix_config().to_string(), extra] {
        let run = bed
            .command("nix")
            .env("NIX_CONFIG", &config)
            .args(["flake", "metadata", "--json"])
            .arg(format!("path:{}", flake.display()))
            .run();
        if run.code == 0 {
            return config;
        }
    }
    std::fs::write(&file, plain).expect("flake.nix");
    bed.nix_config().to_string()
}

/// fp-build with `nix_config`, checked against `nix build` after a change: it prints what
/// `nix build` prints (or fails where `nix build` fails), and a result other than `before` is
/// never a cache hit. Returns the result (empty when Nix failed) and the run.
fn same_as_nix_build(bed: &Bed, flake: &Path, nix_config: &str, before: &str) -> (String, Run) {
    let installable = format!("{}#profile", flake.display());
    let run = bed
        .tool("fp-build")
        .env("NIX_CONFIG", nix_config)
        .arg("-v")
        .arg(flake)
        .run();
    let nix = bed
        .command("nix")
        .env("NIX_CONFIG", nix_config)
        .args(["build", "--no-link", "--json", &installable])
        .run();
    if nix.code != 0 {
        assert_ne!(
            run.code, 0,
            "fp-build printed a result where nix build failed: {}\n{}",
            run.stdout, nix.stderr
        );
        return (String::new(), run);
    }
    let v: serde_json::Value = serde_json::from_str(&nix.stdout).expect("nix build --json");
    let out = v[0]["outputs"]["out"].as_str().expect("out").to_string();
    assert_eq!(run.stdout_line(), out, "{}", run.stderr);
    if out != before {
        assert!(!hit(&run), "a stale cache hit: {}", run.stderr);
    }
    (out, run)
}

/// A git flake with a submodule, later with a submodule of its own, whose result depends on
/// files in both: an edit in the submodule under a clean parent, the same committed in the
/// submodule, then in the parent, and an edit in the nested submodule always give what
/// `nix build` gives (or fail where it fails), never the recorded result.
#[test]
fn submodule_changes_never_give_a_stale_result() {
    let bed = Bed::new();
    let leaf = bed.path().join("leaf");
    let middle = bed.path().join("middle");
    package_list_repo(&bed, &leaf, &["motd"]);
    package_list_repo(&bed, &middle, &[]);
    let flake = bed.profile_flake_with(
        "flake1",
        1,
        "paths = let read = f: if builtins.pathExists f then builtins.fromJSON (builtins.readFile f) else [ ]; in [ pkgs.tree ] ++ map (n: pkgs.${n}) (read ./sub/packages.json ++ read ./sub/leaf/packages.json);",
    );
    let config = ask_for_submodules(&bed, &flake);
    git(&bed, &flake, &["init", "-q"]);
    git_submodule(
        &bed,
        &flake,
        &["submodule", "-q", "add", middle.to_str().unwrap(), "sub"],
    );
    git(&bed, &flake, &["add", "."]);
    git(&bed, &flake, &["commit", "-qm", "profile"]);
    let sub = flake.join("sub");
    let mut result = String::new();
    let mut warmed = false;
    for _ in 0..3 {
        let (out, run) = same_as_nix_build(&bed, &flake, &config, &result);
        warmed = hit(&run);
        result = out;
    }
    assert!(warmed, "no cache hit for the unchanged flake");

    // An edit in the submodule; the parent's files are as committed.
    write_package_list(&sub, &["hello"]);
    result = same_as_nix_build(&bed, &flake, &config, &result).0;
    // The same edit committed in the submodule, then the new submodule commit in the parent.
    git(&bed, &sub, &["commit", "-qam", "hello"]);
    result = same_as_nix_build(&bed, &flake, &config, &result).0;
    git(&bed, &flake, &["commit", "-qam", "sub"]);
    result = same_as_nix_build(&bed, &flake, &config, &result).0;
    // A parent with an uncommitted edit of its own (Nix copies its work tree then), and an
    // edit in the submodule.
    std::fs::write(flake.join("notes"), "1").expect("notes");
    git(&bed, &flake, &["add", "notes"]);
    git(&bed, &flake, &["commit", "-qm", "notes"]);
    std::fs::write(flake.join("notes"), "2").expect("notes");
    result = same_as_nix_build(&bed, &flake, &config, &result).0;
    write_package_list(&sub, &["hello", "motd"]);
    result = same_as_nix_build(&bed, &flake, &config, &result).0;
    git(&bed, &sub, &["commit", "-qam", "motd"]);
    git(&bed, &flake, &["commit", "-qam", "sub"]);
    result = same_as_nix_build(&bed, &flake, &config, &result).0;
    // A nested submodule, then an edit in it (under a dirty parent), then that committed all
    // the way up.
    git_submodule(
        &bed,
        &sub,
        &["submodule", "-q", "add", leaf.to_str().unwrap(), "leaf"],
    );
    git(&bed, &sub, &["commit", "-qm", "leaf"]);
    git(&bed, &flake, &["commit", "-qam", "sub"]);
    result = same_as_nix_build(&bed, &flake, &config, &result).0;
    std::fs::write(flake.join("notes"), "3").expect("notes");
    write_package_list(&sub.join("leaf"), &[]);
    result = same_as_nix_build(&bed, &flake, &config, &result).0;
    git(&bed, &sub.join("leaf"), &["commit", "-qam", "none"]);
    git(&bed, &sub, &["commit", "-qam", "leaf"]);
    git(&bed, &flake, &["commit", "-qam", "sub"]);
    same_as_nix_build(&bed, &flake, &config, &result);
}
