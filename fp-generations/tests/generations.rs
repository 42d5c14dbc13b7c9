//! fp-generations against real Nix: the listing equals nix-env's, deletion never takes the
//! current generation.

use fp_testkit::Bed;
use std::path::Path;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_GENERATIONS: &str = env!("CARGO_BIN_EXE_fp-generations");

/// Parses `nix-env --list-generations` or our table into (number, date, current).
fn rows(text: &str) -> Vec<(u64, String, bool)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let n = words.next()?.parse().ok()?;
            let date = format!("{} {}", words.next()?, words.next()?);
            Some((n, date, line.contains("(current)")))
        })
        .collect()
}

/// A bed with `n` generations made by real switches, alternating two envs.
fn with_switches(n: usize) -> Bed {
    let bed = Bed::new();
    let a = bed.build(&bed.profile_flake("a", 1, &["hello", "cowsay"]));
    let b = bed.build(&bed.profile_flake("b", 2, &["hello", "jq", "tree"]));
    for i in 0..n {
        let path = if i % 2 == 0 { &a } else { &b };
        bed.tool("fp-switch")
            .arg(path)
            .arg("--profile")
            .arg(bed.profile())
            .run()
            .success();
    }
    bed
}

/// A bed with `n` generations whose links are made directly (as Nix names them) to small
/// valid store paths, for sizes where switching one by one would be slow.
fn with_links(n: usize) -> Bed {
    let bed = Bed::new();
    let files: Vec<_> = (0..n)
        .map(|i| {
            let f = bed.path().join(format!("gen-{i}"));
            std::fs::write(&f, format!("{i}")).expect("file");
            f
        })
        .collect();
    let added = bed
        .command("nix-store")
        .arg("--add")
        .args(&files)
        .run()
        .success();
    let paths: Vec<&str> = added.stdout.lines().collect();
    assert_eq!(paths.len(), n);
    for (i, path) in paths.iter().enumerate() {
        let link = bed.path().join(format!("profiles/profile-{}-link", i + 1));
        std::os::unix::fs::symlink(path, link).expect("link");
    }
    std::os::unix::fs::symlink(format!("profile-{n}-link"), bed.profile()).expect("profile");
    bed
}

fn ours(bed: &Bed) -> String {
    bed.tool(FP_GENERATIONS)
        .arg("--profile")
        .arg(bed.profile())
        .env("TZ", "UTC")
        .run()
        .success()
        .stdout
}

fn nix_env(bed: &Bed) -> String {
    bed.command("nix-env")
        .arg("--profile")
        .arg(bed.profile())
        .arg("--list-generations")
        .env("TZ", "UTC")
        .run()
        .success()
        .stdout
}

#[test]
fn listing_equals_nix_env_for_1_3_and_200_generations() {
    for bed in [with_switches(1), with_switches(3), with_links(200)] {
        let (ours, theirs) = (ours(&bed), nix_env(&bed));
        assert_eq!(
            rows(&ours),
            rows(&theirs),
            "ours:\n{ours}\nnix-env:\n{theirs}"
        );
        assert!(!rows(&theirs).is_empty());
    }
}

#[test]
fn table_shows_package_counts() {
    let bed = with_switches(2);
    let table = ours(&bed);
    insta::assert_snapshot!(bed.redact(&table));
}

#[test]
fn json_has_the_spec_shape() {
    let bed = with_switches(3);
    bed.tool("fp-rollback")
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    let run = bed
        .tool(FP_GENERATIONS)
        .args(["--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["profile"], bed.profile().display().to_string());
    assert_eq!(v["current"], 2);
    let gens = v["generations"].as_array().expect("list");
    assert_eq!(gens.len(), 3);
    assert_eq!(gens[1]["generation"], 2);
    assert_eq!(gens[1]["current"], true);
    assert_eq!(gens[0]["current"], false);
    let created = gens[0]["created"].as_str().expect("created");
    assert!(
        created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );
    let target = std::fs::read_link(bed.path().join("profiles/profile-1-link")).expect("link");
    assert_eq!(gens[0]["storePath"], target.display().to_string());
    // The package counts the table shows: a (hello, cowsay) and b (hello, jq, tree).
    let counts: Vec<&serde_json::Value> = gens.iter().map(|g| &g["packages"]).collect();
    assert_eq!(counts, [2, 3, 2]);
}

#[test]
fn keep_after_a_rollback_keeps_the_current_one() {
    let bed = with_switches(3);
    bed.tool("fp-rollback")
        .args(["--to", "1", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    bed.tool(FP_GENERATIONS)
        .args(["delete", "--keep", "1", "--profile"])
        .arg(bed.profile())
        .run()
        .success()
        .stderr_has("deleted generation 2 (kept 1, 3)");
    assert_eq!(bed.generation_numbers(), (vec![1, 3], Some(1)));
}

#[test]
fn explicit_numbers_never_include_the_current_one() {
    let bed = with_switches(3);
    let run = bed
        .tool(FP_GENERATIONS)
        .args(["delete", "1", "2", "3", "--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success()
        .stderr_has("generation 3 is the current one; it is not deleted");
    assert_eq!(bed.generation_numbers(), (vec![3], Some(3)));
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["deleted"], serde_json::json!([1, 2]));
    assert_eq!(v["kept"], serde_json::json!([3]));
}

#[test]
fn missing_numbers_are_refused_and_nothing_deleted() {
    let bed = with_switches(2);
    bed.tool(FP_GENERATIONS)
        .args(["delete", "1", "9", "--profile"])
        .arg(bed.profile())
        .run()
        .code(1)
        .stderr_has("no generation 9");
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
}

#[test]
fn older_than_uses_link_times() {
    let bed = with_switches(4);
    // Generations 1-3 made 40, 35 and 31 days ago; 4 is new.
    for (n, days) in [(1, 40), (2, 35), (3, 31)] {
        let link = bed.path().join(format!("profiles/profile-{n}-link"));
        bed.command("touch")
            .args(["-h", "-d", &format!("{days} days ago")])
            .arg(&link)
            .run()
            .success();
    }
    bed.tool(FP_GENERATIONS)
        .args(["delete", "--older-than", "30d", "--dry-run", "--profile"])
        .arg(bed.profile())
        .run()
        .success()
        .stderr_has("would delete generations 1, 2 (keeping 3, 4)");
    assert_eq!(bed.generation_numbers().0, vec![1, 2, 3, 4]);
    bed.tool(FP_GENERATIONS)
        .args(["delete", "--older-than", "30d", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    // 3 was current 30 days ago, so nix-env's rule keeps it.
    assert_eq!(bed.generation_numbers(), (vec![3, 4], Some(4)));
}

#[test]
fn delete_needs_a_selection_and_numbers_go_alone() {
    let bed = with_switches(1);
    bed.tool(FP_GENERATIONS)
        .arg("delete")
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .code(2);
    bed.tool(FP_GENERATIONS)
        .args(["delete", "1", "--older-than", "3d", "--profile"])
        .arg(bed.profile())
        .run()
        .code(2);
    bed.tool(FP_GENERATIONS)
        .args(["delete", "1", "--keep", "3", "--profile"])
        .arg(bed.profile())
        .run()
        .code(2);
    bed.tool(FP_GENERATIONS)
        .args(["delete", "--older-than", "soon", "--profile"])
        .arg(bed.profile())
        .run()
        .code(2)
        .stderr_has("30d");
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
}

#[test]
fn profile_without_generations() {
    let bed = Bed::new();
    let run = bed
        .tool(FP_GENERATIONS)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    assert!(run.stdout.is_empty());
    let json = bed
        .tool(FP_GENERATIONS)
        .args(["--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    assert_eq!(
        json.stdout.trim(),
        format!(
            r#"{{"profile":"{}","current":null,"generations":[]}}"#,
            bed.profile().display()
        )
    );
    assert!(!Path::new(&bed.profile()).exists());
}
