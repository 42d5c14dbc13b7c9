//! fp-rollback against real Nix: back, --to, the oldest generation, --dry-run, --json.

use fp_testkit::Bed;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_ROLLBACK: &str = env!("CARGO_BIN_EXE_fp-rollback");

/// A bed whose profile has generations 1 (revision 1) and 2 (revision 2), 2 current.
fn two_generations() -> (Bed, String, String) {
    let bed = Bed::new();
    let first = bed.build(&bed.profile_flake("flake1", 1, &["hello", "cowsay", "tree"]));
    let second = bed.build(&bed.profile_flake("flake2", 2, &["hello", "jq", "tree"]));
    for path in [&first, &second] {
        bed.tool("fp-switch")
            .arg(path)
            .arg("--profile")
            .arg(bed.profile())
            .run()
            .success();
    }
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    (bed, first, second)
}

fn rollback(bed: &Bed) -> fp_testkit::Cmd {
    bed.tool(FP_ROLLBACK).arg("--profile").arg(bed.profile())
}

#[test]
fn goes_back_one_generation_and_shows_the_diff() {
    let (bed, _, _) = two_generations();
    let run = rollback(&bed).run().success().no_stdout();
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(1)));
    assert!(bed.profile().join("bin/cowsay").exists());
    insta::assert_snapshot!(bed.redact(&run.stderr));
}

#[test]
fn to_n_switches_to_that_generation() {
    let (bed, _, second) = two_generations();
    rollback(&bed).run().success();
    let run = rollback(&bed).args(["--to", "2", "--json"]).run().success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["generation"], 2);
    assert_eq!(v["storePath"], second);
    assert_eq!(v["previous"]["generation"], 1);
    assert_eq!(v["changed"], true);
    assert_eq!(v["dryRun"], false);
    assert_eq!(v["diff"]["added"][0]["name"], "jq");
}

#[test]
fn from_the_oldest_fails_and_lists_generations() {
    let (bed, _, _) = two_generations();
    rollback(&bed).run().success();
    let run = rollback(&bed).run().code(1).no_stdout();
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(1)));
    insta::assert_snapshot!(bed.redact(&run.stderr));
}

#[test]
fn to_a_missing_generation_fails_and_lists_generations() {
    let (bed, _, _) = two_generations();
    let run = rollback(&bed).args(["--to", "9"]).run().code(1).no_stdout();
    assert!(
        run.stderr.contains("generation 9 does not exist"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("(current)"), "{}", run.stderr);
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
}

#[test]
fn no_profile_is_exit_1() {
    let bed = Bed::new();
    rollback(&bed)
        .run()
        .code(1)
        .no_stdout()
        .stderr_has("has no generations");
}

#[test]
fn dry_run_changes_nothing() {
    let (bed, first, _) = two_generations();
    let run = rollback(&bed).args(["--dry-run", "--json"]).run().success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["dryRun"], true);
    assert_eq!(v["generation"], 1);
    assert_eq!(v["storePath"], first);
    assert!(run.stderr.contains("dry run"), "{}", run.stderr);
}

#[test]
fn switching_after_a_rollback_makes_a_new_generation() {
    let (bed, first, _) = two_generations();
    rollback(&bed).run().success();
    // Nix compares with the newest generation (2), not the current one, so this is 3.
    let third = bed.build(&bed.profile_flake("flake3", 2, &["hello", "motd"]));
    bed.tool("fp-switch")
        .arg(&third)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2, 3], Some(3)));
    rollback(&bed).run().success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2, 3], Some(2)));
    let _ = first;
}

#[test]
fn agrees_with_nix_env_rollback() {
    let (bed, _, _) = two_generations();
    rollback(&bed).run().success();
    let ours = bed.profile_target();
    bed.command("nix-env")
        .arg("--profile")
        .arg(bed.profile())
        .arg("--switch-generation")
        .arg("2")
        .run()
        .success();
    bed.command("nix-env")
        .arg("--profile")
        .arg(bed.profile())
        .arg("--rollback")
        .run()
        .success();
    assert_eq!(bed.profile_target(), ours);
}

#[test]
fn a_profile_with_no_generations_says_so_once() {
    let bed = Bed::new();
    let run = rollback(&bed).run().code(1).no_stdout();
    insta::assert_snapshot!(bed.redact(&run.stderr));
    assert!(!bed.profile().exists());
}
