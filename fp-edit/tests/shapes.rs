//! The editing core on the shapes real profile flakes have: each edit as a unified diff
//! (insta snapshot), every byte outside it unchanged, and the shapes fp-edit must refuse.

use fp_edit::edit::{self, Refusal};
use fp_edit::name::{self, Name};
use fp_edit::unified_diff;

/// A flake of tests/fixtures, or of the repository (the template, fp-migrate's output).
fn flake(which: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    match which {
        "template" => {
            std::fs::read_to_string(format!("{root}/templates/default/flake.nix")).unwrap()
        }
        // What fp-migrate generates, as its own snapshot test records it.
        "migrated" => {
            let snap = std::fs::read_to_string(format!(
                "{root}/fp-migrate/tests/snapshots/fixtures__list_2_24_flake.snap"
            ))
            .unwrap();
            snap.splitn(3, "---\n").nth(2).unwrap().to_string()
        }
        // A file that does not parse is .txt, so the repository's parse check skips it.
        "broken" => std::fs::read_to_string(format!(
            "{}/tests/fixtures/broken.txt",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
        other => std::fs::read_to_string(format!(
            "{}/tests/fixtures/{other}.nix",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    }
}

fn names(given: &[&str]) -> Vec<Name> {
    given.iter().map(|g| name::parse(g).unwrap()).collect()
}

/// Adds `given` to the flake `which` and returns the diff; the edit must keep what was there.
fn add(which: &str, given: &[&str]) -> String {
    let source = flake(which);
    let edited = edit::add(&source, "profile", &names(given)).unwrap();
    unified_diff("flake.nix", &source, &edited.text)
}

fn remove(which: &str, given: &[&str]) -> String {
    let source = flake(which);
    let edited = edit::remove(&source, "profile", &names(given)).unwrap();
    unified_diff("flake.nix", &source, &edited.text)
}

fn refusal(which: &str, given: &str, removing: bool) -> Refusal {
    let source = flake(which);
    let names = names(&[given]);
    let result = if removing {
        edit::remove(&source, "profile", &names)
    } else {
        edit::add(&source, "profile", &names)
    };
    result.unwrap_err()
}

#[test]
fn template_add_sorted() {
    insta::assert_snapshot!(add("template", &["ripgrep", "cowsay", "zsh"]));
}

#[test]
fn template_remove() {
    insta::assert_snapshot!(remove("template", &["hello"]));
}

#[test]
fn with_inline_list() {
    insta::assert_snapshot!(add("with_inline", &["fd"]));
    insta::assert_snapshot!(remove("with_inline", &["bat"]));
}

#[test]
fn pkgs_prefix_list_with_comments() {
    insta::assert_snapshot!(add("pkgs_prefix", &["ripgrep", "python3Packages.black"]));
    insta::assert_snapshot!(remove("pkgs_prefix", &["git", "neovim"]));
}

#[test]
fn let_bound_list_with_optionals() {
    insta::assert_snapshot!(add("let_bound", &["bat"]));
    insta::assert_snapshot!(remove("let_bound", &["strace", "zoxide"]));
}

#[test]
fn concat_chain_adds_to_the_first_nixpkgs_list() {
    insta::assert_snapshot!(add("concat", &["jq", "mytool#tool"]));
    insta::assert_snapshot!(remove("concat", &["mytool#default", "coreutils"]));
}

#[test]
fn flake_utils_each_default_system() {
    insta::assert_snapshot!(add("each_system", &["jq"]));
    insta::assert_snapshot!(remove("each_system", &["python3Packages.black"]));
}

#[test]
fn fp_migrate_output() {
    insta::assert_snapshot!(add("migrated", &["ripgrep", "mytool#other"]));
    insta::assert_snapshot!(remove("migrated", &["jq.man", "mytool#default"]));
}

#[test]
fn empty_list() {
    insta::assert_snapshot!(add("empty", &["jq"]));
}

#[test]
fn adding_what_is_declared_changes_nothing() {
    let source = flake("template");
    let edited = edit::add(&source, "profile", &names(&["hello", "nixpkgs#tree"])).unwrap();
    assert_eq!(edited.text, source);
    assert!(edited.changed.is_empty());
    assert_eq!(edited.unchanged.len(), 2);
}

#[test]
fn declared_lists_entries_as_written() {
    let entries = edit::declared(&flake("pkgs_prefix"), "profile").unwrap();
    let texts: Vec<(&str, Option<&str>)> = entries
        .iter()
        .map(|e| (e.text.as_str(), e.key.as_deref()))
        .collect();
    assert_eq!(
        texts,
        [
            ("pkgs.git", Some("git")),
            ("pkgs.htop", Some("htop")),
            ("pkgs.neovim", Some("neovim")),
            ("(pkgs.nix-direnv.override { enableFlakes = true; })", None),
        ]
    );
    let migrated = edit::declared(&flake("migrated"), "profile").unwrap();
    assert!(migrated
        .iter()
        .any(|e| e.key.as_deref() == Some("mytool#default")));
    let let_bound = edit::declared(&flake("let_bound"), "profile").unwrap();
    assert!(let_bound
        .iter()
        .any(|e| e.key.as_deref() == Some("strace") && e.conditional));
}

#[test]
fn refuses_what_it_cannot_edit_safely() {
    let computed = refusal("computed", "jq", false);
    assert_eq!(computed.line, 6);
    insta::assert_debug_snapshot!(computed);
    let mapped = refusal("mapped", "ripgrep", true);
    assert_eq!(mapped.line, 6);
    insta::assert_debug_snapshot!(mapped);
    insta::assert_debug_snapshot!(refusal("twice", "jq", false));
    insta::assert_debug_snapshot!(refusal("broken", "jq", false));
    insta::assert_debug_snapshot!(refusal("template", "cowsay", true));
    insta::assert_debug_snapshot!(
        edit::add(&flake("template"), "work", &names(&["jq"])).unwrap_err()
    );
    // A list read from another file is edited there; in a `++` chain it is refused, naming
    // the file to edit by hand.
    let chained = flake("imported").replace(
        "paths = import ./packages.nix { inherit pkgs; };",
        "paths = [ pkgs.hello ] ++ import ./packages.nix { inherit pkgs; };",
    );
    let imported = edit::add(&chained, "profile", &names(&["jq"])).unwrap_err();
    assert_eq!(imported.line, 8);
    insta::assert_debug_snapshot!("imported", imported);
}

#[test]
fn paths_imported_from_another_file_is_edited_there() {
    for which in ["imported", "imported_let"] {
        assert_eq!(
            edit::imported(&flake(which), "profile").unwrap().as_deref(),
            Some("./packages.nix"),
            "{which}"
        );
    }
    let profile_file = flake("with_inline").replace(
        "paths = with nixpkgs.legacyPackages.x86_64-linux; [ bat jq ];",
        "paths = import ./paths.nix pkgs;",
    );
    assert_eq!(
        edit::imported(&profile_file, "profile").unwrap().as_deref(),
        Some("./paths.nix")
    );
    // A list written in the flake is not imported.
    assert_eq!(edit::imported(&flake("template"), "profile").unwrap(), None);
    // An import of a path that is not relative is refused.
    let absolute = flake("imported").replace("./packages.nix", "/etc/packages.nix");
    assert!(edit::imported(&absolute, "profile").is_err());

    let list_file = |which: &str, add: &[&str], remove: &[&str]| {
        let source = flake(which);
        let added = edit::add_in(&source, edit::Target::ListFile, &names(add)).unwrap();
        let removed = edit::remove_in(&added.text, edit::Target::ListFile, &names(remove)).unwrap();
        format!(
            "{}{}",
            unified_diff("packages.nix", &source, &added.text),
            unified_diff("packages.nix", &added.text, &removed.text)
        )
    };
    insta::assert_snapshot!(
        "packages_file",
        list_file("packages", &["fd", "zsh"], &["ripgrep"])
    );
    insta::assert_snapshot!(
        "paths_file",
        list_file("paths_file", &["cowsay"], &["hello"])
    );
}

#[test]
fn inputs_are_reached_as_the_outputs_function_takes_them() {
    let at_inputs = flake("with_inline").replace(
        "outputs = { self, nixpkgs, flakey-profile }:",
        "outputs = { self, nixpkgs, ... }@inputs:",
    );
    let edited = edit::add(&at_inputs, "profile", &names(&["mytool#default"])).unwrap();
    assert!(edited
        .text
        .contains("[ bat jq inputs.mytool.packages.${pkgs.stdenv.hostPlatform.system}.default ]"));
    let refused = edit::add(
        &flake("with_inline"),
        "profile",
        &names(&["mytool#default"]),
    );
    insta::assert_debug_snapshot!(refused.unwrap_err());
}
