//! fp-switch against real Nix: the core loop, the diff, --dry-run, --json and bad input.

use fp_testkit::{is_root, Bed, Run};

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_SWITCH: &str = env!("CARGO_BIN_EXE_fp-switch");

const REV1: &[&str] = &["hello", "cowsay", "tree", "motd"];
const REV2: &[&str] = &["hello", "jq", "tree", "motd"];

/// `fp-build FLAKE | fp-switch --profile P`, as a user's script would run it.
fn build_and_switch(bed: &Bed, flake: &std::path::Path, extra: &[&str]) -> Run {
    let built = bed.tool("fp-build").arg(flake).run().success();
    bed.tool(FP_SWITCH)
        .arg("--profile")
        .arg(bed.profile())
        .args(extra)
        .stdin(built.stdout)
        .run()
}

#[test]
fn build_pipe_switch_makes_generation_one() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, REV1);
    build_and_switch(&bed, &flake, &[]).success().no_stdout();
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
    let hello = bed.profile().join("bin/hello");
    let out = std::process::Command::new(&hello)
        .output()
        .expect("run hello");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello 1.0\n");
    for tool in ["cowsay", "tree", "motd"] {
        assert!(bed.profile().join("bin").join(tool).exists(), "{tool}");
    }
}

#[test]
fn second_revision_makes_generation_two_and_prints_the_diff() {
    let bed = Bed::new();
    build_and_switch(&bed, &bed.profile_flake("flake1", 1, REV1), &[]).success();
    let run = build_and_switch(&bed, &bed.profile_flake("flake2", 2, REV2), &[]).success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    assert!(bed.profile().join("bin/jq").exists());
    assert!(!bed.profile().join("bin/cowsay").exists());
    insta::assert_snapshot!(bed.redact(&run.stderr));
}

#[test]
fn same_path_again_creates_no_generation() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, REV1);
    build_and_switch(&bed, &flake, &[]).success();
    let run = build_and_switch(&bed, &flake, &["--json"]).success();
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
    assert!(
        run.stderr.contains("already at generation 1"),
        "{}",
        run.stderr
    );
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["changed"], false);
    assert_eq!(v["generation"], 1);
}

#[test]
fn dry_run_changes_nothing() {
    let bed = Bed::new();
    build_and_switch(&bed, &bed.profile_flake("flake1", 1, REV1), &[]).success();
    let before = bed.nix_env_generations();
    let run = build_and_switch(
        &bed,
        &bed.profile_flake("flake2", 2, REV2),
        &["--dry-run", "--json"],
    )
    .success();
    assert_eq!(bed.nix_env_generations(), before);
    assert!(bed.profile().join("bin/cowsay").exists());
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["dryRun"], true);
    assert_eq!(v["changed"], true);
    assert_eq!(v["generation"], 2);
    assert_eq!(v["diff"]["added"][0]["name"], "jq");
    insta::assert_snapshot!(bed.redact(&run.stderr));
}

#[test]
fn json_has_the_spec_fields() {
    let bed = Bed::new();
    let first = bed.build(&bed.profile_flake("flake1", 1, REV1));
    let second = bed.build(&bed.profile_flake("flake2", 2, REV2));
    bed.tool(FP_SWITCH)
        .arg(&first)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    let run = bed
        .tool(FP_SWITCH)
        .args([second.as_str(), "--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(v["profile"], bed.profile().display().to_string());
    assert_eq!(v["dryRun"], false);
    assert_eq!(v["changed"], true);
    assert_eq!(v["previous"]["generation"], 1);
    assert_eq!(v["previous"]["storePath"], first);
    assert_eq!(v["generation"], 2);
    assert_eq!(v["storePath"], second);
    assert_eq!(
        v["diff"]["added"],
        serde_json::json!([{"name": "jq", "version": "1.7"}])
    );
    assert_eq!(
        v["diff"]["removed"],
        serde_json::json!([{"name": "cowsay", "version": "3.7.0"}])
    );
    assert_eq!(
        v["diff"]["changed"],
        serde_json::json!([{"name": "hello", "from": "1.0", "to": "1.1"}])
    );
}

#[test]
fn no_diff_prints_no_diff() {
    let bed = Bed::new();
    let path = bed.build(&bed.profile_flake("flake1", 1, REV1));
    let run = bed
        .tool(FP_SWITCH)
        .args([path.as_str(), "--no-diff", "--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    assert!(!run.stderr.contains("added"), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["diff"], serde_json::Value::Null);
}

#[test]
fn build_json_pipes_into_switch() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, REV1);
    let built = bed
        .tool("fp-build")
        .arg(&flake)
        .arg("--json")
        .run()
        .success();
    bed.tool(FP_SWITCH)
        .arg("--profile")
        .arg(bed.profile())
        .stdin(built.stdout)
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
}

#[test]
fn result_link_works() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, REV1);
    bed.command("nix")
        .arg("build")
        .arg(format!("{}#profile", flake.display()))
        .current_dir(&flake)
        .run()
        .success();
    bed.tool(FP_SWITCH)
        .args(["./result", "--profile"])
        .arg(bed.profile())
        .current_dir(&flake)
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
}

#[test]
fn profile_from_environment_and_config() {
    let bed = Bed::new();
    let path = bed.build(&bed.profile_flake("flake1", 1, REV1));
    bed.tool(FP_SWITCH)
        .arg(&path)
        .arg("-v")
        .env("FP_PROFILE", bed.profile())
        .run()
        .success()
        .stderr_has("(from $FP_PROFILE)");
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));

    let other = bed.path().join("profiles/other");
    std::fs::create_dir_all(bed.config_home().join("flakey-profile")).expect("config dir");
    std::fs::write(
        bed.config_home().join("flakey-profile/config.toml"),
        format!("profile = {:?}\n", other.display().to_string()),
    )
    .expect("config");
    bed.tool(FP_SWITCH).arg(&path).run().success();
    assert_eq!(
        std::fs::read_link(&other).expect("other profile").to_str(),
        Some("other-1-link")
    );
}

/// Every refused input: exit 2, a message, nothing on stdout, and no profile made.
fn refused(bed: &Bed, cmd: fp_testkit::Cmd, needle: &str) {
    let run = cmd
        .run()
        .code(2)
        .no_stdout()
        .stderr_has("fp-switch: error: ")
        .stderr_has(needle);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(bed.profile_target(), None, "profile must be untouched");
    assert_eq!(bed.generation_numbers().0, Vec::<u64>::new());
}

#[test]
fn bad_input_is_refused_and_the_profile_untouched() {
    let bed = Bed::new();
    let switch = || bed.tool(FP_SWITCH).arg("--profile").arg(bed.profile());
    refused(
        &bed,
        switch().stdin(""),
        "the command before the pipe printed nothing",
    );
    refused(
        &bed,
        switch().stdin("\n\n  \n"),
        "the command before the pipe printed nothing",
    );
    refused(&bed, switch().arg("/etc"), "not in the Nix store");
    refused(
        &bed,
        switch().arg("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-does-not-exist"),
        "not a valid path in the Nix store",
    );
    refused(
        &bed,
        switch().stdin("this is not a path\n"),
        "does not exist",
    );
    refused(&bed, switch().stdin("{\"storePath\": 3}\n"), "storePath");
    refused(
        &bed,
        switch().stdin(vec![0xff, 0xfe, b'\n']),
        "invalid UTF-8",
    );
    refused(&bed, switch().arg("--bogus-flag"), "--bogus-flag");
    refused(
        &bed,
        switch().arg("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-x/bin/hello"),
        "not a store path itself",
    );
}

#[test]
fn invalid_input_leaves_an_existing_profile_alone() {
    let bed = Bed::new();
    let path = bed.build(&bed.profile_flake("flake1", 1, REV1));
    bed.tool(FP_SWITCH)
        .arg(&path)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    let before = (bed.profile_target(), bed.nix_env_generations());
    bed.tool(FP_SWITCH)
        .arg("--profile")
        .arg(bed.profile())
        .stdin("/tmp\n")
        .run()
        .code(2);
    assert_eq!((bed.profile_target(), bed.nix_env_generations()), before);
}

#[test]
fn missing_profile_directory_prints_the_fix() {
    let bed = Bed::new();
    let path = bed.build(&bed.profile_flake("flake1", 1, REV1));
    let dir = bed.path().join("per-user/alice");
    let run = bed
        .tool(FP_SWITCH)
        .arg(&path)
        .arg("--profile")
        .arg(dir.join("profile"))
        .run()
        .code(1)
        .no_stdout();
    assert!(!dir.exists(), "nothing may be created");
    insta::assert_snapshot!(bed.redact(&run.stderr).replace(&user(), "[USER]"));
}

fn user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".into())
}

#[test]
fn unwritable_profile_directory_prints_the_fix() {
    // Root may write anywhere, so run as another user when the machine allows it.
    if !is_root()
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("needs root and setpriv to act as another user; checked by the unit test of Profile::check_writable instead");
        return;
    }
    // The fix names the user as Nix does: the password database's entry (`nobody`, uid 65534,
    // whatever $USER says), and $USER only for a uid without one (4242), so the tools linked
    // statically still find both.
    for (uid, user, named) in [(65534, "someone-else", "nobody"), (4242, "ghost", "ghost")] {
        let bed = Bed::new();
        let path = bed.build(&bed.profile_flake("flake1", 1, REV1));
        // The user must reach the binary and the bed; the profile directory stays root's.
        let shared = fp_testkit::tempfile::Builder::new()
            .prefix("fp-shared-")
            .tempdir()
            .expect("tmp");
        let bin = shared.path().join("fp-switch");
        std::fs::copy(FP_SWITCH, &bin).expect("copy binary");
        let dir = shared.path().join("per-user-root");
        std::fs::create_dir(&dir).expect("dir");
        use std::os::unix::fs::PermissionsExt;
        for p in [shared.path(), dir.as_path()] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let run = bed
            .command("setpriv")
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={uid}"))
            .arg("--clear-groups")
            .arg(&bin)
            .arg(&path)
            .arg("--profile")
            .arg(dir.join("profile"))
            .env("USER", user)
            .env("HOME", "/nonexistent")
            .run()
            .code(1)
            .no_stdout()
            .stderr_has("is not writable by you")
            .stderr_has(&format!("sudo chown {named} "));
        assert!(run.stderr.contains("sudo mkdir -p "), "{}", run.stderr);
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0);
    }
}

#[test]
fn a_store_path_that_exists_but_is_not_valid_is_refused() {
    if !is_root() {
        eprintln!("needs root to make an unregistered directory in /nix/store");
        return;
    }
    let bed = Bed::new();
    // A directory in the store that Nix never registered (as a crashed build leaves behind).
    let name = bed
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .replace(['_', '.'], "-");
    let fake = format!("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-{name}");
    std::fs::create_dir(&fake).expect("fake path");
    let run = bed
        .tool(FP_SWITCH)
        .arg(&fake)
        .arg("--profile")
        .arg(bed.profile())
        .run();
    let _ = std::fs::remove_dir(&fake);
    refused_run(&bed, run, "not a valid path in the Nix store");
}

fn refused_run(bed: &Bed, run: Run, needle: &str) {
    let run = run.code(2).no_stdout().stderr_has(needle);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(bed.profile_target(), None, "profile must be untouched");
}

#[test]
fn the_builds_stderr_in_the_pipe_or_a_failed_build_is_said_so() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let pipeline = |redirect: &str| {
        bed.command("sh")
            .arg("-c")
            .arg(format!(
                "{} {} {redirect} | {FP_SWITCH} --profile {}",
                fp_testkit::bin("fp-build").display(),
                flake.display(),
                bed.profile().display()
            ))
            .run()
    };
    let run = pipeline("2>&1").code(2);
    insta::assert_snapshot!("stderr_in_the_pipe", bed.redact(&run.stderr));
    assert_eq!(bed.generation_numbers().0, Vec::<u64>::new());
    // A build that fails prints nothing on stdout: fp-switch points at its error.
    std::fs::write(flake.join("flake.nix"), "{ outputs = _: { }; }").expect("flake.nix");
    let run = pipeline("").code(2);
    assert!(run.stderr.contains("fp-build: error:"), "{}", run.stderr);
    let ours: Vec<&str> = run
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("fp-switch:"))
        .collect();
    insta::assert_snapshot!("after_a_failed_build", ours.join("\n"));
}

#[test]
fn verbose_says_the_profile_came_from_the_users_link() {
    let bed = Bed::new();
    let path = bed.build(&bed.profile_flake("flake1", 1, &["hello"]));
    std::os::unix::fs::symlink(bed.profile(), bed.home().join(".nix-profile")).expect("link");
    let run = bed
        .tool(FP_SWITCH)
        .args(["-v", "--dry-run"])
        .arg(&path)
        .run()
        .success();
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("profile = "))
        .expect("the profile line");
    assert_eq!(
        bed.redact(line),
        "profile = \"[BED]/profiles/profile\" (from where [BED]/home/.nix-profile points)"
    );
}
