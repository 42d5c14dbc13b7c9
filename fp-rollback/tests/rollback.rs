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

/// A bed whose profile has generations 1 to 5 (revisions 1 and 2 in turn), 5 current, with
/// the two store paths.
fn five_generations() -> (Bed, [String; 2]) {
    let bed = Bed::new();
    let paths = [
        bed.build(&bed.profile_flake("flake1", 1, &["hello", "cowsay"])),
        bed.build(&bed.profile_flake("flake2", 2, &["hello", "jq"])),
    ];
    add_generations(&bed, &paths, 5);
    assert_eq!(bed.generation_numbers(), (vec![1, 2, 3, 4, 5], Some(5)));
    (bed, paths)
}

/// Makes `count` new generations, alternating between `paths`, the last one current.
fn add_generations(bed: &Bed, paths: &[String; 2], count: usize) {
    let current = std::fs::read_link(bed.profile())
        .ok()
        .and_then(|t| std::fs::canonicalize(bed.profile().with_file_name(t)).ok());
    let first = usize::from(current.is_some_and(|c| c == std::path::Path::new(&paths[0])));
    for i in 0..count {
        bed.command("nix-env")
            .arg("--profile")
            .arg(bed.profile())
            .args(["--set", &paths[(first + i) % 2]])
            .run()
            .success();
    }
}

/// Runs two commands at once and returns both results.
fn at_once(a: fp_testkit::Cmd, b: fp_testkit::Cmd) -> (fp_testkit::Run, fp_testkit::Run) {
    std::thread::scope(|s| {
        let first = s.spawn(|| a.run());
        let second = s.spawn(|| b.run());
        (first.join().expect("a"), second.join().expect("b"))
    })
}

#[test]
fn two_rollbacks_at_once_go_back_two_generations() {
    let (bed, _) = five_generations();
    for round in 0..20 {
        bed.command("nix-env")
            .arg("--profile")
            .arg(bed.profile())
            .args(["--switch-generation", "5"])
            .run()
            .success();
        let (a, b) = at_once(
            rollback(&bed).arg("--no-diff"),
            rollback(&bed).arg("--no-diff"),
        );
        let (_, current) = bed.generation_numbers();
        let failed: Vec<&fp_testkit::Run> = [&a, &b].into_iter().filter(|r| r.code != 0).collect();
        match failed.as_slice() {
            [] => assert_eq!(
                current,
                Some(3),
                "round {round}: both succeeded but the profile is one step back\n{}\n{}",
                a.stderr,
                b.stderr
            ),
            [one] => {
                assert_eq!(current, Some(4), "round {round}: {}", one.stderr);
                assert!(
                    one.stderr.contains("error:"),
                    "round {round}: {}",
                    one.stderr
                );
            }
            _ => panic!("round {round}: both failed\n{}\n{}", a.stderr, b.stderr),
        }
        for run in [&a, &b] {
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        }
    }
}

#[test]
fn a_rollback_racing_a_deletion_decides_on_what_is_there() {
    let (bed, paths) = five_generations();
    for round in 0..20 {
        let (numbers, current) = bed.generation_numbers();
        let newest = *numbers.last().expect("a generation");
        assert_eq!(current, Some(newest), "round {round}");
        let delete = bed
            .tool("fp-generations")
            .arg("--profile")
            .arg(bed.profile())
            .args(["delete", "--keep", "1"]);
        let (back, deleted) = at_once(rollback(&bed).arg("--no-diff"), delete);
        let deleted = deleted.success();
        let (numbers, current) = bed.generation_numbers();
        if back.code == 0 {
            // The rollback came first: it went one step back, and the deletion kept it.
            assert_eq!(current, Some(newest - 1), "round {round}: {}", back.stderr);
        } else {
            // The deletion came first: nothing older is left, and the rollback says so.
            assert_eq!(back.code, 1, "round {round}: {}", back.stderr);
            assert!(
                back.stderr
                    .contains("no generation older than the current one"),
                "round {round}: {}\n{}",
                back.stderr,
                deleted.stderr
            );
            assert_eq!(current, Some(newest), "round {round}");
        }
        assert!(
            !back.stderr.contains("does not exist"),
            "round {round}: {}",
            back.stderr
        );
        assert!(
            numbers.contains(&current.expect("current")),
            "round {round}: the current generation exists"
        );
        add_generations(&bed, &paths, 4);
    }
}

#[test]
fn the_pin_note_comes_only_after_a_real_rollback_with_pins_made() {
    const NOTE: &str = "pins made by fp-pin";
    let (bed, _, _) = two_generations();
    // fp-pin never used: no note.
    let run = rollback(&bed).run().success();
    assert!(!run.stderr.contains(NOTE), "{}", run.stderr);
    rollback(&bed).args(["--to", "2"]).run().success();
    // After a pin: the note, but not on --dry-run.
    let source = bed
        .command("nix")
        .args(["eval", "--raw", "--impure", "--expr"])
        .arg(format!(
            "(builtins.getFlake \"path:{}\").outPath",
            bed.pkgs(1).display()
        ))
        .run()
        .success()
        .stdout;
    bed.tool("fp-pin")
        .args(["--registry", "user", "--no-channels", "--pin"])
        .arg(format!("nixpkgs={}", source.trim()))
        .run()
        .success();
    let run = rollback(&bed).arg("--dry-run").run().success();
    assert!(!run.stderr.contains(NOTE), "{}", run.stderr);
    let run = rollback(&bed).run().success();
    assert!(run.stderr.contains(NOTE), "{}", run.stderr);
}
