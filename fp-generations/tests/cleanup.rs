//! Clean-up you can trust, against real Nix: `--keep` and `--older-than` together keep what
//! either keeps, `--dry-run` says the space only the deleted generations hold, `--gc` collects
//! exactly those store paths, and `--ask` asks on the terminal.

use fp_testkit::{Bed, Run};

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_GENERATIONS: &str = env!("CARGO_BIN_EXE_fp-generations");

/// A package holding `bytes` zero bytes under a name of its own. Its derivation names the
/// bed, so no other test (they share the store) holds the same path alive.
fn blob(bed: &Bed, name: &str, bytes: u32) -> String {
    format!(
        "(pkgs.runCommand \"{name}\" {{ bed = \"{}\"; }} ''mkdir -p $out/share; head -c {bytes} /dev/zero > $out/share/{name}'')",
        bed.path().display()
    )
}

/// Generations 1-4, each with a blob of its own (`only-N`, N×10,000 bytes) and `shared`, a
/// blob all of them have; 4 is current. Returns the bed and each generation's store path.
fn four_generations() -> (Bed, Vec<String>) {
    let bed = Bed::new();
    let mut paths = Vec::new();
    for n in 1..=4u32 {
        let flake = bed.profile_flake_with(
            &format!("gen{n}"),
            1,
            &format!(
                "paths = [ {} {} ];",
                blob(&bed, &format!("only-{n}"), n * 10_000),
                blob(&bed, "shared", 50_000)
            ),
        );
        let path = bed.build(&flake);
        switch_to(&bed, &path);
        paths.push(path);
    }
    (bed, paths)
}

/// Switches the bed's profile to the env `path`.
fn switch_to(bed: &Bed, path: &str) {
    bed.tool("fp-switch")
        .arg(path)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
}

/// Sets the time of generation `n`'s link to `days` days ago.
fn age(bed: &Bed, n: u64, days: u32) {
    let link = bed.path().join(format!("profiles/profile-{n}-link"));
    bed.command("touch")
        .args(["-h", "-d", &format!("{days} days ago")])
        .arg(&link)
        .run()
        .success();
}

fn delete(bed: &Bed, args: &[&str]) -> Run {
    bed.tool(FP_GENERATIONS)
        .arg("delete")
        .args(args)
        .arg("--profile")
        .arg(bed.profile())
        .run()
}

/// The store path of the package `name` in the env `env` (a direct reference).
fn package_path(env: &str, name: &str) -> std::path::PathBuf {
    let share = std::path::Path::new(env).join("share").join(name);
    let target = std::fs::canonicalize(share).expect("package link");
    target
        .parent()
        .and_then(|p| p.parent())
        .expect("store path")
        .to_path_buf()
}

#[test]
fn keep_and_older_than_together_keep_what_either_keeps() {
    let (bed, _) = four_generations();
    // 1, 2, 3 are 40, 35, 31 days old; 4 is new.
    for (n, days) in [(1, 40), (2, 35), (3, 31)] {
        age(&bed, n, days);
    }
    // --older-than 30d alone deletes 1 and 2 (3 was current 30 days ago); --keep 3 alone
    // deletes 1; together only 1 goes.
    let run = delete(&bed, &["--keep", "3", "--older-than", "30d", "--json"]).success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["deleted"], serde_json::json!([1]));
    assert_eq!(bed.generation_numbers(), (vec![2, 3, 4], Some(4)));
    // --keep 1 alone would delete 2 and 3; with --older-than 30d, 3 stays.
    delete(&bed, &["--keep", "1", "--older-than", "30d"]).success();
    assert_eq!(bed.generation_numbers(), (vec![3, 4], Some(4)));
}

#[test]
fn dry_run_shows_the_space_only_the_deleted_generations_hold() {
    let (bed, paths) = four_generations();
    let before = bed.nix_env_generations();
    let run = delete(&bed, &["--keep", "2", "--dry-run", "--json"]).success();
    assert_eq!(bed.nix_env_generations(), before);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["deleted"], serde_json::json!([1, 2]));
    // What only 1 and 2 hold: their envs and their own blobs, never `shared` — as the store
    // measures them, asked here one path at a time.
    let only: Vec<String> = [
        paths[0].clone(),
        paths[1].clone(),
        package_path(&paths[0], "only-1").display().to_string(),
        package_path(&paths[1], "only-2").display().to_string(),
    ]
    .to_vec();
    let mut expected = 0;
    for p in &only {
        let out = bed
            .command("nix")
            .args(["path-info", "--json", p])
            .run()
            .success();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("path-info");
        let entry = if v.is_array() { &v[0] } else { &v[p.as_str()] };
        expected += entry["narSize"].as_u64().expect("narSize");
    }
    // Besides those, the text files that list their store paths (no generation holds them):
    // the upper bound counts them too.
    let reclaimable = v["reclaimableBytes"].as_u64().expect("reclaimableBytes");
    assert!(reclaimable > expected, "{reclaimable} vs {expected}");
    let text = delete(&bed, &["--keep", "2", "--dry-run"]).success();
    insta::assert_snapshot!(bed.redact(&text.stderr));
}

#[test]
fn up_to_is_an_upper_bound_of_what_gc_frees() {
    let (bed, _) = four_generations();
    let dry = delete(&bed, &["--keep", "2", "--dry-run", "--json"]).success();
    let dry: serde_json::Value = serde_json::from_str(&dry.stdout).expect("json");
    let gc = delete(&bed, &["--keep", "2", "--gc", "--json"]).success();
    let gc: serde_json::Value = serde_json::from_str(&gc.stdout).expect("json");
    let estimate = dry["reclaimableBytes"].as_u64().expect("estimate");
    let freed = gc["collected"]["bytes"].as_u64().expect("freed");
    // Nothing else holds these paths, so the bound is reached exactly.
    assert_eq!(estimate, freed);
    assert_eq!(gc["reclaimableBytes"].as_u64(), Some(estimate));
}

#[test]
fn one_generation_and_nothing_to_free_are_said_plainly() {
    let bed = Bed::new();
    let a = bed.build(&bed.profile_flake("a", 1, &["hello"]));
    let b = bed.build(&bed.profile_flake("b", 1, &["tree"]));
    // Generations 1, 2, 3: a, b, a again, so 3 holds everything 1 holds.
    for path in [&a, &b, &a] {
        switch_to(&bed, path);
    }
    let run = delete(&bed, &["1", "--dry-run"]).success();
    insta::assert_snapshot!(bed.redact(&run.stderr));
}

#[test]
fn gc_collects_exactly_the_paths_only_the_deleted_generations_held() {
    let (bed, paths) = four_generations();
    let only1 = package_path(&paths[0], "only-1");
    let only2 = package_path(&paths[1], "only-2");
    let shared = package_path(&paths[0], "shared");
    // Something outside the profile keeps only-2 alive: a GC root of its own.
    let root = bed.path().join("keep-only-2");
    bed.command("nix-store")
        .args(["--add-root"])
        .arg(&root)
        .args(["--indirect", "--realise"])
        .arg(&only2)
        .run()
        .success();
    // An unrelated dead path is not collected: this is no whole-store garbage collection.
    let stray = bed.path().join("stray");
    std::fs::write(&stray, "not referenced by anything").expect("stray");
    let stray = bed
        .command("nix-store")
        .arg("--add")
        .arg(&stray)
        .run()
        .success()
        .stdout
        .trim()
        .to_string();
    let run = delete(&bed, &["--keep", "2", "--gc", "--json"]).success();
    assert_eq!(bed.generation_numbers(), (vec![3, 4], Some(4)));
    assert!(!only1.exists(), "only-1 collected");
    assert!(!std::path::Path::new(&paths[0]).exists(), "env 1 collected");
    assert!(only2.exists(), "only-2 is alive through its root");
    assert!(shared.exists(), "shared is held by the kept generations");
    assert!(
        std::path::Path::new(&stray).exists(),
        "unrelated garbage stays"
    );
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let collected = &v["collected"];
    let gone: Vec<&str> = collected["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    for p in [
        paths[0].as_str(),
        paths[1].as_str(),
        only1.to_str().expect("utf-8"),
    ] {
        assert!(gone.contains(&p), "{p} in {gone:?}");
    }
    // Besides those, only garbage that referred to them (lists of store paths a build wrote).
    for p in &gone {
        assert!(!std::path::Path::new(p).exists(), "{p} is gone");
    }
    assert_eq!(
        collected["stillAlive"],
        serde_json::json!([only2.display().to_string()])
    );
    assert!(collected["bytes"].as_u64().expect("bytes") > 10_000);
    insta::assert_snapshot!(bed.redact(&run.stderr));
}

#[test]
fn ask_shows_the_space_and_deletes_only_on_yes() {
    let (bed, _) = four_generations();
    let before = bed.nix_env_generations();
    // No terminal: refused, nothing deleted.
    bed.command("setsid")
        .args([
            "-w",
            FP_GENERATIONS,
            "delete",
            "--keep",
            "1",
            "--ask",
            "--profile",
        ])
        .arg(bed.profile())
        .run()
        .code(2)
        .stderr_has("--ask needs a terminal");
    assert_eq!(bed.nix_env_generations(), before);
    let line = |answer: &str| {
        bed.command("script")
            .args([
                "-qec",
                // No echo once the shell runs (it could land inside the output).
                &format!(
                    "stty -echo; {FP_GENERATIONS} delete --keep 1 --ask --profile {}",
                    bed.profile().display()
                ),
                "/dev/null",
            ])
            .stdin(answer)
            .run()
            .success()
    };
    let run = line("n\n");
    // What the terminal showed, without the echo of the answer (which comes whenever the
    // terminal gets it).
    let shown = fp_testkit::terminal_transcript(&run.stdout, "n\n");
    insta::assert_snapshot!(bed.redact(&shown));
    assert_eq!(bed.nix_env_generations(), before);
    line("y\n");
    assert_eq!(bed.generation_numbers(), (vec![4], Some(4)));
}

/// `--gc` and `--ask` act on this machine's store and terminal only: with `--target-host` they
/// are refused as usage errors before any host is reached (the host here does not exist).
#[test]
fn gc_and_ask_are_refused_for_other_machines() {
    let bed = Bed::new();
    for flag in ["--gc", "--ask"] {
        bed.tool(FP_GENERATIONS)
            .args([
                "--target-host",
                "no-such-host.invalid",
                "delete",
                "--keep",
                "1",
                flag,
            ])
            .run()
            .code(2)
            .no_stdout()
            .stderr_has("--gc and --ask work on this machine's profiles only");
    }
}
