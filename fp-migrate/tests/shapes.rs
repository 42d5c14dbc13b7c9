//! The shapes real profiles have, one fixture each (named after the Nix version that writes
//! it): dotted attribute names, store-path-only elements, home-manager's env, unlocked sources,
//! urls into the store, the system anywhere in the path, missing or misspelt fields, the text
//! of `nix profile list` before 2.17, and a local nixpkgs checkout. For each, the flake and the
//! warnings are snapshots, and real Nix evaluates the flake with stub inputs to exactly the
//! profile's packages.

mod common;

use common::{assert_parses, evaluate, fixture, migrate, stub_tree, Installed};
use fp_testkit::Bed;

/// Output names a wanted path may end with; the stub package is the path before it.
const OUTPUTS: &[&str] = &["out", "man", "bin", "info"];

/// Migrates a fixture, checks that Nix parses the flake and that, evaluated with stub inputs,
/// it installs exactly `want`: each a piece of the input's url and the attribute path under
/// it. Returns the flake and the warnings, redacted.
fn migrate_and_check(bed: &Bed, name: &str, want: &[(&str, &[&str])]) -> (String, String) {
    let path = fixture(name);
    let run = migrate(bed, &[path.to_str().expect("utf-8 path")], None).success();
    assert_parses(bed, &run.stdout);
    let tree = stub_tree(want.iter().map(|(_, path)| {
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        match path.split_last() {
            Some((last, package)) if OUTPUTS.contains(&last.as_str()) => {
                (package.to_vec(), vec![last.clone()])
            }
            _ => (path, vec![]),
        }
    }));
    let (_, installed) = evaluate(bed, &run.stdout, &tree);
    let mut got: Vec<(String, Vec<String>)> = installed
        .into_iter()
        .map(
            |Installed {
                 url,
                 path,
                 priority,
             }| {
                assert_eq!(priority, None, "{url} {path:?}");
                (url, path)
            },
        )
        .collect();
    got.sort();
    let mut unmatched = got.clone();
    for (url_part, path) in want {
        let at = unmatched
            .iter()
            .position(|(url, p)| url.contains(url_part) && p == path)
            .unwrap_or_else(|| {
                panic!(
                    "{url_part} {path:?} is not installed; installed: {got:#?}\n{}",
                    run.stdout
                )
            });
        unmatched.remove(at);
    }
    assert!(
        unmatched.is_empty(),
        "installed but not in the profile: {unmatched:#?}\n{}",
        run.stdout
    );
    // Messages name the fixture by its path, which depends on the checkout.
    let shown = path.to_str().expect("utf-8 path");
    (
        bed.redact(&run.stdout),
        bed.redact(&run.stderr.replace(shown, &format!("[FIXTURES]/{name}"))),
    )
}

#[test]
fn dotted_attribute_names_of_nix_2_24() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_and_check(
        &bed,
        "dotted-nix-2.24.json",
        &[
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "x86_64-linux", "hello"],
            ),
            (
                "github:NixOS/nixpkgs/",
                &[
                    "legacyPackages",
                    "x86_64-linux",
                    "python3Packages",
                    "requests",
                ],
            ),
            (
                "github:me/tools/",
                &["legacyPackages", "x86_64-linux", "my.tool", "out"],
            ),
            (
                "github:me/tools/",
                &["legacyPackages", "x86_64-linux", "my.tool", "man"],
            ),
            (
                "github:me/tools/",
                &[
                    "packages",
                    "x86_64-linux",
                    "nodePackages",
                    "prettier.plugin.go",
                ],
            ),
        ],
    );
    assert!(
        flake.contains("tools.legacyPackages.${system}.\"my.tool\".man\n"),
        "{flake}"
    );
    insta::assert_snapshot!("dotted_flake", flake);
    insta::assert_snapshot!("dotted_warnings", warnings);
}

#[test]
fn store_path_only_elements_of_nix_2_8_are_guessed_from_nixpkgs() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_and_check(
        &bed,
        "store-paths-nix-2.8.json",
        &[
            (
                "nixpkgs-unstable",
                &["legacyPackages", "x86_64-linux", "hello"],
            ),
            (
                "nixpkgs-unstable",
                &["legacyPackages", "x86_64-linux", "openssl", "bin"],
            ),
            (
                "nixpkgs-unstable",
                &["legacyPackages", "x86_64-linux", "openssl", "man"],
            ),
            (
                "nixpkgs-unstable",
                &["legacyPackages", "x86_64-linux", "ripgrep"],
            ),
        ],
    );
    assert!(
        warnings.contains("guessed to be the nixpkgs attribute \"openssl\" by its name"),
        "{warnings}"
    );
    insta::assert_snapshot!("store_paths_flake", flake);
    insta::assert_snapshot!("store_paths_warnings", warnings);
}

#[test]
fn home_managers_env_is_named_and_nothing_is_installed_silently() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_and_check(&bed, "home-manager-list-text-nix-2.7.txt", &[]);
    assert!(warnings.contains("is home-manager's env"), "{warnings}");
    assert!(
        warnings.contains("switching to the migrated flake drops them all"),
        "{warnings}"
    );
    assert!(
        warnings.contains("the flake installs no package: none of the profile's 1 element"),
        "{warnings}"
    );
    insta::assert_snapshot!("home_manager_flake", flake);
    insta::assert_snapshot!("home_manager_warnings", warnings);
}

#[test]
fn a_profile_of_inactive_elements_says_the_flake_installs_nothing() {
    let bed = Bed::new();
    let input = r#"{"version":2,"elements":[{"active":false,"attrPath":"legacyPackages.x86_64-linux.hello","originalUrl":"flake:nixpkgs","storePaths":[],"url":"github:NixOS/nixpkgs/895747542690d408428ed48b7fdbda3b8e4ee596"}]}"#;
    let run = migrate(&bed, &[], Some(input)).success();
    assert!(run.stdout.contains("        paths = [\n"), "{}", run.stdout);
    assert!(
        run.stderr.contains("fp-migrate: warning: the flake installs no package: none of the profile's 1 element could be carried over"),
        "{}",
        run.stderr
    );
    let empty = migrate(&bed, &[], Some(r#"{"version":3,"elements":{}}"#)).success();
    assert!(
        empty
            .stderr
            .contains("the flake installs no package: the profile has no elements"),
        "{}",
        empty.stderr
    );
}

#[test]
fn unlocked_sources_of_nix_2_18_are_not_promised() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_and_check(
        &bed,
        "unlocked-nix-2.18.json",
        &[
            (
                "git+file:///home/u/flake",
                &["packages", "x86_64-linux", "default"],
            ),
            (
                "github:owner/repo",
                &["packages", "x86_64-linux", "default"],
            ),
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "x86_64-linux", "hello"],
            ),
        ],
    );
    assert!(!flake.contains("very same store paths"), "{flake}");
    assert!(
        !flake.contains("# git+file:///home/u/flake, locked"),
        "{flake}"
    );
    for input in ["flake", "repo"] {
        assert!(
            warnings.contains(&format!("the input {input} (")),
            "{input}: {warnings}"
        );
    }
    insta::assert_snapshot!("unlocked_flake", flake);
    insta::assert_snapshot!("unlocked_warnings", warnings);
}

#[test]
fn inputs_in_the_store_of_nix_2_24_prefer_the_original_reference() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_and_check(
        &bed,
        "store-source-nix-2.24.json",
        &[
            (
                "flake:nixpkgs",
                &["legacyPackages", "x86_64-linux", "hello"],
            ),
            ("-source?", &["packages", "x86_64-linux", "tool"]),
        ],
    );
    assert!(
        flake.contains("    nixpkgs.url = \"flake:nixpkgs\";\n"),
        "{flake}"
    );
    assert!(warnings.contains("garbage collection"), "{warnings}");
    insta::assert_snapshot!("store_source_flake", flake);
    insta::assert_snapshot!("store_source_warnings", warnings);
}

#[test]
fn the_system_anywhere_in_the_path_of_nix_2_24() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_and_check(
        &bed,
        "systems-nix-2.24.json",
        &[
            (
                "nixpkgs-flox",
                &["evalCatalog", "aarch64-darwin", "stable", "ripgrep"],
            ),
            (
                "me/dotfiles",
                &["profileConfigurations", "aarch64-darwin", "gui"],
            ),
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "aarch64-darwin", "jq"],
            ),
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "aarch64-darwin", "hello"],
            ),
        ],
    );
    assert!(
        flake.contains("      system = \"aarch64-darwin\";\n"),
        "{flake}"
    );
    assert!(
        warnings.contains("1 element was installed for \"x86_64-linux\""),
        "{warnings}"
    );
    insta::assert_snapshot!("systems_flake", flake);
    insta::assert_snapshot!("systems_warnings", warnings);
}

#[test]
fn missing_and_misspelt_original_urls_are_read_and_told() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_and_check(
        &bed,
        "v1-original-url-nix-2.8pre.json",
        &[(
            "github:NixOS/nixpkgs/",
            &["legacyPackages", "x86_64-linux", "zoom-us"],
        )],
    );
    assert!(flake.contains("# flake:nixpkgs, locked"), "{flake}");
    insta::assert_snapshot!("v1_original_url_warnings", warnings);
    let (flake, warnings) = migrate_and_check(
        &bed,
        "no-original-url-nix-2.24.json",
        &[(
            "github:NixOS/nixpkgs/",
            &["legacyPackages", "x86_64-linux", "hello"],
        )],
    );
    insta::assert_snapshot!("no_original_url_flake", flake);
    insta::assert_snapshot!("no_original_url_warnings", warnings);
}

#[test]
fn text_list_of_nix_2_8() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_and_check(
        &bed,
        "list-text-nix-2.8.txt",
        &[
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "x86_64-linux", "hello"],
            ),
            (
                "path:/home/u/pkgs?",
                &["legacyPackages", "x86_64-linux", "my.tool"],
            ),
            ("nixpkgs", &["legacyPackages", "x86_64-linux", "foo"]),
        ],
    );
    insta::assert_snapshot!("list_text_2_8_flake", flake);
    insta::assert_snapshot!("list_text_2_8_warnings", warnings);
}

#[test]
fn text_list_of_nix_2_12_with_outputs() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_and_check(
        &bed,
        "list-text-nix-2.12.txt",
        &[
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "x86_64-linux", "hello"],
            ),
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "x86_64-linux", "openssl", "bin"],
            ),
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "x86_64-linux", "openssl", "man"],
            ),
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "x86_64-linux", "coreutils", "out"],
            ),
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "x86_64-linux", "coreutils", "man"],
            ),
        ],
    );
    // The same text on stdin gives the same flake.
    let text = std::fs::read_to_string(fixture("list-text-nix-2.12.txt")).expect("fixture");
    let from_stdin = migrate(&bed, &[], Some(&text)).success();
    assert_eq!(bed.redact(&from_stdin.stdout), flake);
    insta::assert_snapshot!("list_text_2_12_flake", flake);
    insta::assert_snapshot!("list_text_2_12_warnings", warnings);
}

#[test]
fn a_local_nixpkgs_checkout_does_not_take_the_name_of_most_packages_nixpkgs() {
    let bed = Bed::new();
    let (flake, warnings) = migrate_and_check(
        &bed,
        "local-nixpkgs-nix-2.18.json",
        &[
            (
                "git+file:///home/u/nixpkgs",
                &["legacyPackages", "x86_64-linux", "mypatched"],
            ),
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "x86_64-linux", "hello"],
            ),
            (
                "github:NixOS/nixpkgs/",
                &["legacyPackages", "x86_64-linux", "ripgrep"],
            ),
        ],
    );
    assert!(
        flake.contains("    nixpkgs.url = \"github:NixOS/nixpkgs/"),
        "{flake}"
    );
    assert!(
        flake.contains(
            "# pkgs (for buildEnv) is the input nixpkgs, the source of 2 of the 3 packages"
        ),
        "{flake}"
    );
    insta::assert_snapshot!("local_nixpkgs_flake", flake);
    insta::assert_snapshot!("local_nixpkgs_warnings", warnings);
}

/// A manifest with one element from the flake at `url` whose recorded attribute path can be
/// read two ways: the package `"a.b"` appears twice in `legacyPackages.<system>.a.b.a.b`.
fn ambiguous_manifest(url: &str) -> String {
    serde_json::json!({
        "version": 2,
        "elements": [{
            "active": true,
            "attrPath": format!("legacyPackages.{}.a.b.a.b", fp_testkit::system()),
            "originalUrl": url,
            "url": url,
            "storePaths": ["/nix/store/0123456789abcdfghijklmnpqrsvwxyz-a.b-1.0"],
        }],
    })
    .to_string()
}

#[test]
fn an_ambiguous_dotted_path_is_settled_by_asking_nix() {
    let bed = Bed::new();
    // A flake where only the less likely reading exists: `"a.b".a.b`, not `a.b."a.b"`.
    let dir = bed.path().join("ambiguous");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("flake.nix"),
        format!(
            "{{ outputs = {{ self }}: {{ legacyPackages.{}.\"a.b\".a.b = {{ }}; }}; }}\n",
            fp_testkit::system()
        ),
    )
    .expect("flake.nix");
    let url = format!("path:{}", dir.display());
    let run = migrate(&bed, &[], Some(&ambiguous_manifest(&url))).success();
    assert!(
        run.stdout
            .contains("ambiguous.legacyPackages.${system}.\"a.b\".a.b\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("check it"), "{}", run.stderr);

    // A flake Nix cannot fetch: the likeliest reading, said aloud.
    let gone = format!("path:{}", bed.path().join("gone").display());
    let run = migrate(&bed, &[], Some(&ambiguous_manifest(&gone))).success();
    assert!(
        run.stdout
            .contains("gone.legacyPackages.${system}.a.b.\"a.b\"\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("can be read 2 ways and Nix could not be asked which exists; took the likeliest, legacyPackages."),
        "{}",
        run.stderr
    );
}
