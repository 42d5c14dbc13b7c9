//! The first thing a new user runs, on a machine where Nix never ran: `fp-build | fp-switch`
//! with nix-env's default profile, on a store that does not exist yet (an empty `/nix`, no
//! `nix-store --init` before it); and a profile whose directory under HOME is missing.

use fp_testkit::{is_root, Bed};

const FP_SWITCH: &str = env!("CARGO_BIN_EXE_fp-switch");

#[test]
fn the_first_build_and_switch_on_an_empty_store_just_work() {
    assert!(
        is_root(),
        "the tests run as root (scripts/test); an empty /nix needs it"
    );
    let bed = Bed::new();
    let flake = bed.profile_flake("first", 1, &["hello"]);
    // All in one namespace with an empty /nix: build, switch to nix-env's default profile
    // (no --profile, no ~/.nix-profile yet), then what nix-env and the PATH link see.
    let run = bed
        .command("sh")
        .args([
            "-ec",
            r#"test -z "$(ls -A /nix)"
"$0" "$2" | "$1"
nix-env --list-generations
"$HOME/.nix-profile/bin/hello""#,
        ])
        .arg(fp_testkit::bin("fp-build"))
        .arg(FP_SWITCH)
        .arg(&flake)
        .with_empty_nix()
        .run()
        .success()
        .stderr_has("switched to generation 1");
    assert_eq!(
        fp_testkit::parse_generation_listing(&run.stdout).0,
        [1],
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("hello 1.0"), "{}", run.stdout);
}

#[test]
fn a_missing_directory_under_home_is_yours_to_make() {
    let bed = Bed::new();
    let path = bed.build(&bed.profile_flake("one", 1, &["hello"]));
    let dir = bed.home().join("profiles/work");
    let switch = || {
        bed.tool(FP_SWITCH)
            .arg(&path)
            .arg("--profile")
            .arg(dir.join("profile"))
            .run()
    };
    let run = switch().code(1).no_stdout();
    assert!(!dir.exists(), "nothing may be created");
    insta::assert_snapshot!(bed.redact(&run.stderr));
    // The hint's command, then the same switch works.
    let fix = run
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("mkdir -p "))
        .unwrap_or_else(|| panic!("no mkdir in:\n{}", run.stderr));
    bed.command("sh")
        .args(["-c", &format!("mkdir -p {fix}")])
        .run()
        .success();
    switch().success().stderr_has("switched to generation 1");
}
