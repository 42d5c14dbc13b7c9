//! The running nix is never switched away: when the `nix` on PATH comes from the profile's
//! current generation and the target has no `bin/nix`, fp-switch refuses (exit 1, profile
//! untouched) unless `--allow-removing-nix`; `--dry-run` reports it.

use fp_testkit::{Bed, Run};
use std::path::PathBuf;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_SWITCH: &str = env!("CARGO_BIN_EXE_fp-switch");

/// The real nix the tests run, links resolved.
fn real_nix() -> PathBuf {
    let path = std::env::var_os("PATH").expect("PATH");
    std::env::split_paths(&path)
        .map(|d| d.join("nix"))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .expect("nix on PATH")
}

/// A single-user install in miniature: generation 1 holds `nix` (a wrapper that runs the real
/// one) and hello; the second build has hello only. Returns the bed and the second build.
fn nix_in_the_profile() -> (Bed, String) {
    let bed = Bed::new();
    let with_nix = bed.profile_flake_with(
        "with-nix",
        1,
        &format!(
            "paths = [ pkgs.hello (pkgs.writeShellScriptBin \"nix\" ''exec {} \"$@\"'') ];",
            real_nix().display()
        ),
    );
    let first = bed.build(&with_nix);
    let second = bed.build(&bed.profile_flake("without-nix", 1, &["hello"]));
    bed.tool(FP_SWITCH)
        .arg(&first)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    (bed, second)
}

/// fp-switch to `path` with the profile's `bin` first on PATH, as a single-user install has it.
fn switch(bed: &Bed, path: &str, extra: &[&str], profile_first: bool) -> Run {
    let mut dirs = vec![];
    if profile_first {
        dirs.push(bed.profile().join("bin"));
    }
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").expect("PATH"),
    ));
    bed.tool(FP_SWITCH)
        .arg(path)
        .arg("--profile")
        .arg(bed.profile())
        .args(extra)
        .env("PATH", std::env::join_paths(dirs).expect("PATH"))
        .run()
}

#[test]
fn switching_away_the_running_nix_is_refused_with_the_fix() {
    let (bed, second) = nix_in_the_profile();
    let before = bed.nix_env_generations();
    let run = switch(&bed, &second, &[], true).code(1).no_stdout();
    assert_eq!(bed.nix_env_generations(), before);
    assert!(bed.profile().join("bin/nix").exists());
    insta::assert_snapshot!(bed.redact(&run.stderr));
}

#[test]
fn dry_run_reports_it_and_the_flag_allows_it() {
    let (bed, second) = nix_in_the_profile();
    let before = bed.nix_env_generations();
    let run = switch(&bed, &second, &["--dry-run", "--json"], true).success();
    assert_eq!(bed.nix_env_generations(), before);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["removesRunningNix"], true);
    insta::assert_snapshot!(bed.redact(&run.stderr));

    let run = switch(&bed, &second, &["--allow-removing-nix", "--json"], true).success();
    insta::assert_snapshot!("allowed", bed.redact(&run.stderr));
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["removesRunningNix"], true);
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    assert!(!bed.profile().join("bin/nix").exists());
}

#[test]
fn a_nix_from_elsewhere_or_a_target_with_nix_is_no_problem() {
    // The nix on PATH is not the profile's: the switch goes ahead.
    let (bed, second) = nix_in_the_profile();
    let run = switch(&bed, &second, &["--json"], false).success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["removesRunningNix"], false);
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    // Rolling back to the generation with nix, with the profile's bin first: no problem either
    // (the running nix is the system's now, and the target has one).
    let run = bed
        .tool("fp-rollback")
        .arg("--profile")
        .arg(bed.profile())
        .arg("--json")
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["removesRunningNix"], false);
}

#[test]
fn rollback_refuses_too() {
    // Generations 1 and 3 with nix, 2 without; from 3 with its nix running, rolling back to 2
    // loses it.
    let (bed, second) = nix_in_the_profile();
    switch(&bed, &second, &["--allow-removing-nix"], false).success();
    let with_nix = bed.path().join("profiles/profile-1-link");
    let store = std::fs::canonicalize(&with_nix).expect("generation 1");
    switch(&bed, store.to_str().expect("utf-8"), &[], false).success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2, 3], Some(3)));
    let mut dirs = vec![bed.profile().join("bin")];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").expect("PATH"),
    ));
    let run = bed
        .tool("fp-rollback")
        .arg("--profile")
        .arg(bed.profile())
        .env("PATH", std::env::join_paths(dirs).expect("PATH"))
        .run()
        .code(1);
    assert!(
        run.stderr.contains("--allow-removing-nix"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.generation_numbers(), (vec![1, 2, 3], Some(3)));
}
