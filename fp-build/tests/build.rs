//! fp-build against real Nix and the offline package set.

use fp_testkit::{Bed, Run};
use std::path::Path;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_BUILD: &str = env!("CARGO_BIN_EXE_fp-build");

const REV1: &[&str] = &["hello", "cowsay", "tree", "motd"];

fn is_store_path(s: &str) -> bool {
    s.starts_with("/nix/store/") && std::path::Path::new(s).exists()
}

#[test]
fn prints_only_the_store_path() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, REV1);
    let run = bed.tool(FP_BUILD).arg(&flake).run().success();
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(is_store_path(run.stdout_line()), "{}", run.stdout);
    assert!(run.stdout_line().ends_with("-flake-profile"));
    assert_eq!(run.stdout_line(), bed.build(&flake));
    assert!(
        run.stderr.contains("building"),
        "progress goes to stderr: {}",
        run.stderr
    );
}

#[test]
fn json_has_the_spec_fields() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, REV1);
    let run = bed.tool(FP_BUILD).arg(&flake).arg("--json").run().success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    let flake_str = flake.display().to_string();
    assert_eq!(v["flake"], flake_str);
    assert_eq!(v["installable"], format!("{flake_str}#profile"));
    assert!(is_store_path(v["storePath"].as_str().expect("storePath")));
    assert!(v["drvPath"].as_str().expect("drvPath").ends_with(".drv"));
}

#[test]
fn defaults_to_the_current_directory_and_profile_attr() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, REV1);
    let run = bed.tool(FP_BUILD).current_dir(&flake).run().success();
    assert_eq!(run.stdout_line(), bed.build(&flake));
}

#[test]
fn attr_flag_and_flake_fragment() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, REV1);
    let channels = bed
        .tool(FP_BUILD)
        .arg(&flake)
        .args(["--attr", "profile.pins.channels"])
        .run()
        .success();
    assert!(
        channels.stdout_line().ends_with("-flake-profile-channels"),
        "{}",
        channels.stdout
    );
    let fragment = bed
        .tool(FP_BUILD)
        .arg(format!("{}#profile.pins.channels", flake.display()))
        .run()
        .success();
    assert_eq!(fragment.stdout, channels.stdout);
}

#[test]
fn flake_and_attr_from_environment_and_config() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, REV1);
    let expected = bed.build(&flake);
    let env = bed
        .tool(FP_BUILD)
        .arg("-v")
        .env("FP_FLAKE", &flake)
        .run()
        .success()
        .stderr_has("(from $FP_FLAKE)");
    assert_eq!(env.stdout_line(), expected);

    std::fs::create_dir_all(bed.config_home().join("flakey-profile")).expect("dir");
    std::fs::write(
        bed.config_home().join("flakey-profile/config.toml"),
        format!(
            "flake = {:?}\nattr = \"profile\"\n",
            flake.display().to_string()
        ),
    )
    .expect("config");
    let cfg = bed
        .tool(FP_BUILD)
        .arg("-v")
        .run()
        .success()
        .stderr_has("config.toml)");
    assert_eq!(cfg.stdout_line(), expected);
}

#[test]
fn bad_config_file_names_file_line_and_key() {
    let bed = Bed::new();
    std::fs::create_dir_all(bed.config_home().join("flakey-profile")).expect("dir");
    std::fs::write(
        bed.config_home().join("flakey-profile/config.toml"),
        "flake = \".\"\nflak = \"typo\"\n",
    )
    .expect("config");
    let run = bed.tool(FP_BUILD).run().code(2).no_stdout();
    insta::assert_snapshot!(bed.redact(&run.stderr));
}

#[test]
fn override_input_is_passed_to_nix() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let pkgs2 = bed.pkgs(2);
    let run = bed
        .tool(FP_BUILD)
        .arg(&flake)
        .arg("--override-input")
        .arg("nixpkgs")
        .arg(format!("path:{}", pkgs2.display()))
        .run()
        .success();
    let hello = std::path::Path::new(run.stdout_line()).join("bin/hello");
    let out = std::process::Command::new(hello).output().expect("hello");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello 1.1\n");
}

#[test]
fn update_relocks_the_inputs() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let first = bed.tool(FP_BUILD).arg(&flake).run().success().stdout;
    assert!(flake.join("flake.lock").exists());
    // The package set moves on; the lock file keeps the old one until --update.
    std::fs::write(bed.pkgs(1).join("revision.nix"), "2\n").expect("revision");
    let locked = bed.tool(FP_BUILD).arg(&flake).run().success().stdout;
    assert_eq!(locked, first);
    let updated = bed
        .tool(FP_BUILD)
        .arg(&flake)
        .arg("--update")
        .run()
        .success()
        .stdout;
    assert_ne!(updated, first);
    let hello = std::path::Path::new(updated.trim()).join("bin/hello");
    let out = std::process::Command::new(hello).output().expect("hello");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello 1.1\n");
}

#[test]
fn arguments_after_double_dash_go_to_nix_build() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, REV1);
    bed.tool(FP_BUILD)
        .arg(&flake)
        .args(["-v", "-L", "--", "--no-write-lock-file"])
        .run()
        .success()
        .stderr_has("--print-build-logs")
        .stderr_has(".#profile --no-write-lock-file".trim_start_matches('.'));
    assert!(
        !flake.join("flake.lock").exists(),
        "--no-write-lock-file reached nix"
    );
}

#[test]
fn a_flake_that_fails_to_evaluate_is_exit_1_with_nix_error() {
    let bed = Bed::new();
    let dir = bed.path().join("broken");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("flake.nix"),
        "{ outputs = { self }: { packages.x86_64-linux.profile = throw \"this profile is broken\"; packages.aarch64-linux.profile = throw \"this profile is broken\"; }; }\n",
    )
    .expect("flake");
    let run = bed.tool(FP_BUILD).arg(&dir).run().code(1).no_stdout();
    assert!(
        run.stderr.contains("this profile is broken"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("fp-build: error: command failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("build --no-link --json"),
        "{}",
        run.stderr
    );

    // Under -q nix's stderr is not streamed, so the error carries it.
    let quiet = bed.tool(FP_BUILD).arg(&dir).arg("-q").run().code(1);
    assert!(
        quiet.stderr.contains("this profile is broken"),
        "{}",
        quiet.stderr
    );
}

#[test]
fn usage_errors_are_exit_2() {
    let bed = Bed::new();
    bed.tool(FP_BUILD)
        .arg("--bogus")
        .run()
        .code(2)
        .no_stdout()
        .stderr_has("fp-build: error:");
    bed.tool(FP_BUILD)
        .args(["--override-input", "only-one"])
        .run()
        .code(2)
        .no_stdout();
}

#[test]
fn help_documents_exit_codes() {
    let bed = Bed::new();
    let run = bed.tool(FP_BUILD).arg("--help").run().success();
    assert!(run.stdout.contains("Exit codes:"), "{}", run.stdout);
    let version = bed.tool(FP_BUILD).arg("--version").run().success();
    assert!(
        version.stdout.starts_with("fp-build "),
        "{}",
        version.stdout
    );
}

#[test]
fn first_run_without_any_flake_says_the_three_ways_on() {
    let bed = Bed::new();
    let run = bed.tool(FP_BUILD).run().code(2).no_stdout();
    insta::assert_snapshot!(bed.redact(&run.stderr));
    // A flake.nix in the directory, $FP_FLAKE or the config file's `flake` is a flake found:
    // then it is nix that says what is wrong with it.
    std::fs::write(bed.path().join("flake.nix"), "{ outputs = _: { }; }").expect("flake");
    let run = bed.tool(FP_BUILD).run().code(1);
    assert!(!run.stderr.contains("no profile flake"), "{}", run.stderr);
    std::fs::remove_file(bed.path().join("flake.nix")).expect("rm");
    let run = bed
        .tool(FP_BUILD)
        .env("FP_FLAKE", "/nonexistent")
        .run()
        .code(2);
    assert!(!run.stderr.contains("no profile flake"), "{}", run.stderr);
}

fn git(bed: &Bed, dir: &std::path::Path, args: &[&str]) {
    bed.command("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .run()
        .success();
}

/// The hint line of a failed run's stderr.
fn hint(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("hint:"))
        .unwrap_or_else(|| panic!("no hint in {stderr}"))
}

#[test]
fn untracked_flake_files_are_named_with_git_add() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    git(&bed, &flake, &["init", "-q"]);
    let run = bed.tool(FP_BUILD).arg(&flake).run().code(1).no_stdout();
    assert_eq!(
        hint(&run.stderr),
        "hint: git add flake.nix (Nix only sees files git tracks)"
    );
    // A file the flake imports, untracked; an unrelated untracked file is not named.
    let text = std::fs::read_to_string(flake.join("flake.nix")).expect("flake.nix");
    let text = text.replace(
        "paths = with pkgs; [ hello ];",
        "paths = import ./extra.nix pkgs;",
    );
    std::fs::write(flake.join("flake.nix"), text).expect("flake.nix");
    std::fs::write(flake.join("extra.nix"), "pkgs: [ pkgs.hello ]\n").expect("extra.nix");
    std::fs::write(flake.join("notes.txt"), "mine\n").expect("notes");
    git(&bed, &flake, &["add", "flake.nix"]);
    let run = bed.tool(FP_BUILD).arg(&flake).run().code(1).no_stdout();
    assert_eq!(
        hint(&run.stderr),
        "hint: git add extra.nix (Nix only sees files git tracks)"
    );
    git(&bed, &flake, &["add", "extra.nix"]);
    bed.tool(FP_BUILD).arg(&flake).run().success();
}

#[test]
fn a_dirty_git_tree_is_warned_about_at_most_once_and_explained_once() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    bed.tool(FP_BUILD).arg(&flake).run().success(); // writes flake.lock
    git(&bed, &flake, &["init", "-q"]);
    git(&bed, &flake, &["add", "flake.nix", "flake.lock"]);
    let commit = [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.org",
        "commit",
    ];
    git(&bed, &flake, &[&commit[..], &["-qm", "init"]].concat());
    let text = std::fs::read_to_string(flake.join("flake.nix")).expect("flake.nix");
    std::fs::write(flake.join("flake.nix"), format!("{text}# edited\n")).expect("flake.nix");
    // What this Nix warns about the tree, asked of it directly.
    let warnings = nix_warnings(&bed, &flake, &[]);
    // --update runs two nix commands on the tree.
    for args in [&["--refresh"][..], &["--update"]] {
        let run = bed.tool(FP_BUILD).args(args).arg(&flake).run().success();
        each_at_most_once(&warnings, &run);
        let note = "the flake's git tree";
        assert_eq!(
            run.stderr.matches(note).count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("has uncommitted changes; Nix builds them as they are"),
            "{}",
            run.stderr
        );
    }
    git(&bed, &flake, &["add", "flake.nix", "flake.lock"]);
    git(&bed, &flake, &[&commit[..], &["-qm", "edit"]].concat());
    let run = bed
        .tool(FP_BUILD)
        .arg("--refresh")
        .arg(&flake)
        .run()
        .success();
    assert!(!run.stderr.contains("uncommitted"), "{}", run.stderr);
}

#[test]
fn an_override_nix_does_not_write_into_the_lock_is_warned_about_at_most_once() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    bed.tool(FP_BUILD).arg(&flake).run().success(); // writes flake.lock
    let other = format!("path:{}", bed.pkgs(2).display());
    // What this Nix warns about the override, asked of it directly.
    let warnings = nix_warnings(&bed, &flake, &["--override-input", "nixpkgs", &other]);
    // The build, then the lock check of the cache: two nix commands with the override.
    for args in [&["--refresh"][..], &["--update"]] {
        let run = bed
            .tool(FP_BUILD)
            .args(args)
            .args(["--override-input", "nixpkgs", &other])
            .arg(&flake)
            .run()
            .success();
        each_at_most_once(&warnings, &run);
    }
}

/// The warnings the running Nix gives for `nix flake metadata ARGS FLAKE` (at least one).
fn nix_warnings(bed: &Bed, flake: &Path, args: &[&str]) -> Vec<String> {
    let by_nix = bed
        .command("nix")
        .args(["flake", "metadata"])
        .args(args)
        .arg(flake)
        .run()
        .success();
    let warnings: Vec<String> = by_nix
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(str::to_string)
        .collect();
    assert!(!warnings.is_empty(), "Nix warns: {}", by_nix.stderr);
    warnings
}

/// Asserts each of `warnings` is in `run`'s stderr at most once.
fn each_at_most_once(warnings: &[String], run: &Run) {
    for warning in warnings {
        let times = run.stderr.lines().filter(|l| l == warning).count();
        assert!(times <= 1, "{warning} {times} times:\n{}", run.stderr);
    }
}

#[test]
fn in_a_subdirectory_of_a_git_flake_the_flake_above_is_built_as_nix_does() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    git(&bed, &flake, &["init", "-q"]);
    git(&bed, &flake, &["add", "flake.nix"]);
    let sub = flake.join("sub/dir");
    std::fs::create_dir_all(&sub).expect("sub");
    let by_nix = bed
        .command("nix")
        .args(["build", "--no-link", "--json", ".#profile"])
        .current_dir(&sub)
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&by_nix.stdout).expect("json");
    let run = bed.tool(FP_BUILD).current_dir(&sub).run().success();
    assert_eq!(
        run.stdout_line(),
        v[0]["outputs"]["out"].as_str().expect("out")
    );
}

#[test]
fn a_missing_flake_directory_is_said_so() {
    let bed = Bed::new();
    let missing = bed.path().join("no-such-dir");
    let run = bed.tool(FP_BUILD).arg(&missing).run().code(2).no_stdout();
    insta::assert_snapshot!(bed.redact(&run.stderr));
}

#[test]
fn a_wrong_attribute_lists_the_flakes_packages() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let run = bed
        .tool(FP_BUILD)
        .arg(&flake)
        .args(["--attr", "nope"])
        .run()
        .code(1)
        .no_stdout();
    insta::assert_snapshot!(hint(&run.stderr).replace(&fp_testkit::system(), "[SYSTEM]"));
}

#[test]
fn update_leaves_overridden_inputs_as_locked() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    bed.tool(FP_BUILD).arg(&flake).run().success();
    let lock = |bed: &Bed| -> serde_json::Value {
        let _ = bed;
        serde_json::from_slice(&std::fs::read(flake.join("flake.lock")).expect("lock"))
            .expect("json")
    };
    let before = lock(&bed);
    let run = bed
        .tool(FP_BUILD)
        .arg(&flake)
        .arg("--update")
        .arg("--override-input")
        .arg("nixpkgs")
        .arg(format!("path:{}", bed.pkgs(2).display()))
        .run()
        .success()
        .stderr_has("not the overridden nixpkgs");
    assert_eq!(lock(&bed)["nodes"]["nixpkgs"], before["nodes"]["nixpkgs"]);
    let hello = std::path::Path::new(run.stdout_line()).join("bin/hello");
    let out = std::process::Command::new(hello).output().expect("hello");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello 1.1\n");
}

#[test]
fn ctrl_c_during_a_build_is_one_line_interrupted_and_exit_130_in_each_tool() {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let bed = Bed::new();
    let marker = bed.path().join("building");
    let flake = bed.profile_flake_with(
        "slow",
        1,
        &format!(
            "paths = [ (pkgs.runCommand \"slow\" {{ bed = \"{}\"; }} ''touch {}; sleep 120; mkdir $out'') ];",
            bed.path().display(),
            marker.display()
        ),
    );
    let build_err = std::fs::File::create(bed.path().join("build.err")).expect("file");
    let switch_err = std::fs::File::create(bed.path().join("switch.err")).expect("file");
    // `fp-build | fp-switch` as a shell runs it: one process group, which Ctrl-C signals whole.
    let mut build = bed
        .tool(FP_BUILD)
        .arg(&flake)
        .into_command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(build_err)
        .process_group(0)
        .spawn()
        .expect("fp-build");
    let group = build.id() as i32;
    let mut switch: Command = bed
        .tool("fp-switch")
        .arg("--profile")
        .arg(bed.profile())
        .into_command();
    let mut switch = switch
        .stdin(build.stdout.take().expect("pipe"))
        .stdout(Stdio::null())
        .stderr(switch_err)
        .process_group(group)
        .spawn()
        .expect("fp-switch");
    while !marker.exists() {
        assert!(
            build.try_wait().expect("wait").is_none(),
            "the build ended early"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: SIGINT to the process group this test started.
    unsafe {
        libc::kill(-group, libc::SIGINT);
    }
    let build_code = build.wait().expect("wait").code();
    let switch_code = switch.wait().expect("wait").code();
    fp_testkit::wait_for_group(group as u32);
    let ours = |file: &str| -> Vec<String> {
        std::fs::read_to_string(bed.path().join(file))
            .expect("stderr")
            .lines()
            .filter(|l| l.starts_with("fp-"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(ours("build.err"), ["fp-build: interrupted"]);
    assert_eq!(ours("switch.err"), ["fp-switch: interrupted"]);
    assert_eq!((build_code, switch_code), (Some(130), Some(130)));
    assert_eq!(bed.generation_numbers().0, Vec::<u64>::new());
}

#[test]
fn two_different_attributes_are_a_usage_error() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let run = bed
        .tool(FP_BUILD)
        .arg(format!("{}#profile", flake.display()))
        .args(["--attr", "nope"])
        .run()
        .code(2)
        .no_stdout();
    insta::assert_snapshot!(bed.redact(&run.stderr));
}

#[test]
fn a_configured_flake_that_wins_over_the_one_here_is_said_so() {
    let bed = Bed::new();
    let configured = bed.profile_flake("configured", 1, &["hello"]);
    let here = bed.profile_flake("here", 1, &["tree"]);
    let run = bed
        .tool(FP_BUILD)
        .env("FP_FLAKE", &configured)
        .current_dir(&here)
        .run()
        .success();
    assert_eq!(run.stdout_line(), bed.build(&configured));
    let note = run
        .stderr
        .lines()
        .find(|l| l.starts_with("fp-build: note:"))
        .expect("a note");
    insta::assert_snapshot!(bed.redact(note));
    // The same flake both ways: nothing to say.
    let run = bed
        .tool(FP_BUILD)
        .env("FP_FLAKE", &here)
        .current_dir(&here)
        .run()
        .success();
    assert!(!run.stderr.contains("note:"), "{}", run.stderr);
}
