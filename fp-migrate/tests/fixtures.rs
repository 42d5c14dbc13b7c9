//! fp-migrate on fixtures imitating each Nix version's manifest and `nix profile list --json`:
//! the generated flake.nix and the warnings are snapshots, and real Nix parses every flake.

mod common;

use common::{assert_parses, fixture, migrate};
use fp_testkit::Bed;

/// Migrates a fixture and returns (flake.nix, stderr), both redacted, after checking that the
/// run succeeded and that Nix parses the flake.
fn migrate_fixture(bed: &Bed, name: &str, extra: &[&str]) -> (String, String) {
    let path = fixture(name);
    let mut args = vec![path.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let run = migrate(bed, &args, None).success();
    assert_parses(bed, &run.stdout);
    (bed.redact(&run.stdout), bed.redact(&run.stderr))
}

#[test]
fn version_1_of_nix_2_4() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_fixture(&bed, "v1-nix-2.4.json", &[]);
    insta::assert_snapshot!("v1_flake", flake);
    insta::assert_snapshot!("v1_warnings", warnings);
}

#[test]
fn version_2_as_nix_2_8_writes_it() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_fixture(&bed, "v2-nix-2.8.json", &[]);
    insta::assert_snapshot!("v2_nix_2_8_flake", flake);
    insta::assert_snapshot!("v2_nix_2_8_warnings", warnings);
}

#[test]
fn list_json_of_nix_2_18() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_fixture(&bed, "list-json-nix-2.18.json", &[]);
    insta::assert_snapshot!("list_2_18_flake", flake);
    insta::assert_snapshot!("list_2_18_warnings", warnings);
}

#[test]
fn list_json_of_nix_2_24() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_fixture(&bed, "list-json-nix-2.24.json", &[]);
    insta::assert_snapshot!("list_2_24_flake", flake);
    insta::assert_snapshot!("list_2_24_warnings", warnings);
}

#[test]
fn unlocked_uses_the_original_references() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_fixture(&bed, "list-json-nix-2.18.json", &["--unlocked"]);
    // The two revisions of flake:nixpkgs become one input.
    assert!(
        flake.contains("    nixpkgs.url = \"flake:nixpkgs\";\n"),
        "{flake}"
    );
    assert!(!flake.contains("nixpkgs-2"), "{flake}");
    assert!(!warnings.contains("different revisions"), "{warnings}");
    insta::assert_snapshot!("list_2_18_unlocked_flake", flake);
}

#[test]
fn system_flag_chooses_the_system() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_fixture(
        &bed,
        "list-json-nix-2.24.json",
        &["--system", "aarch64-darwin"],
    );
    assert!(
        flake.contains("      system = \"aarch64-darwin\";\n"),
        "{flake}"
    );
    assert!(
        warnings.contains(
            "fp-migrate: warning: 5 elements were installed for \"x86_64-linux\"; the flake builds them for \"aarch64-darwin\""
        ),
        "{warnings}"
    );
}

#[test]
fn file_dash_and_stdin_give_the_same_flake() {
    let bed = Bed::new();
    let path = fixture("list-json-nix-2.24.json");
    let text = std::fs::read_to_string(&path).expect("fixture");
    let from_file = migrate(&bed, &[path.to_str().expect("path")], None).success();
    let from_dash = migrate(&bed, &["-"], Some(&text)).success();
    let from_stdin = migrate(&bed, &[], Some(&text)).success();
    assert_eq!(from_file.stdout, from_dash.stdout);
    assert_eq!(from_file.stdout, from_stdin.stdout);
    assert_eq!(from_file.stderr, from_stdin.stderr);
    // Deterministic: the same input gives the same bytes.
    let again = migrate(&bed, &[], Some(&text)).success();
    assert_eq!(from_stdin.stdout, again.stdout);
}

#[test]
fn quiet_keeps_the_warnings_and_drops_the_note() {
    let bed = Bed::new();
    let run = migrate(
        &bed,
        &["-q", fixture("v2-nix-2.8.json").to_str().expect("path")],
        None,
    )
    .success();
    assert!(
        run.stderr.contains("fp-migrate: warning:"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("note:"), "{}", run.stderr);
}

#[test]
fn help_documents_the_exit_codes() {
    let bed = Bed::new();
    let run = migrate(&bed, &["--help"], None).success();
    for needle in [
        "--profile",
        "--unlocked",
        "--system",
        "--lib-url",
        "Exit codes",
        "  2  ",
    ] {
        assert!(run.stdout.contains(needle), "{needle}: {}", run.stdout);
    }
}
