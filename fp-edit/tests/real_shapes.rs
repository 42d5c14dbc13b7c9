//! fp-edit against real Nix on the shapes real profile flakes have beyond the bed's own: a
//! flake-utils `eachDefaultSystem` flake, a `let`-bound list with a `++` chain, and what
//! fp-migrate writes. Each: add and remove, the file's bytes after each edit, the profile after
//! the switch.

mod common;

use common::profile_bins;
use fp_testkit::{copy_dir, repo_root, Bed};
use std::path::{Path, PathBuf};

const FP_EDIT: &str = env!("CARGO_BIN_EXE_fp-edit");

fn read(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("flake.nix")).unwrap()
}

fn write_flake(bed: &Bed, name: &str, text: &str) -> PathBuf {
    let dir = bed.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("flake.nix"), text).unwrap();
    dir
}

/// fp-edit with `args`, on the flake `dir` and the bed's profile, with `extra` after them.
fn edit(bed: &Bed, dir: &Path, args: &[&str], extra: &[String]) -> fp_testkit::Run {
    bed.tool(FP_EDIT)
        .args(args)
        .arg("--flake")
        .arg(dir)
        .arg("--profile")
        .arg(bed.profile())
        .args(extra)
        .run()
        .success()
}

/// Adds `add` then removes `remove`, checking each edit's diff (snapshot), that nothing else of
/// the file changed, and the profile after each switch.
fn add_then_remove(
    bed: &Bed,
    dir: &Path,
    extra: &[String],
    (add, after_add): (&str, &[&str]),
    (remove, after_remove): (&str, &[&str]),
) -> (String, String) {
    let before = read(dir);
    edit(bed, dir, &["add", add], extra);
    let added = read(dir);
    assert_eq!(profile_bins(bed), after_add);
    edit(bed, dir, &["remove", remove], extra);
    let removed = read(dir);
    assert_eq!(profile_bins(bed), after_remove);
    (
        fp_edit::unified_diff("flake.nix", &before, &added),
        fp_edit::unified_diff("flake.nix", &added, &removed),
    )
}

#[test]
fn flake_utils_each_default_system() {
    let bed = Bed::new();
    let utils = bed.path().join("flake-utils");
    copy_dir(&repo_root().join("fp-testkit/fixtures/flake-utils"), &utils);
    let dir = write_flake(
        &bed,
        "utils",
        &format!(
            r#"{{
  inputs = {{
    nixpkgs.url = "path:{pkgs}";
    flake-utils.url = "path:{utils}";
    flakey-profile.url = "path:{lib}";
    flakey-profile.inputs.nixpkgs.follows = "nixpkgs";
  }};

  outputs = {{ nixpkgs, flake-utils, flakey-profile, ... }}:
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = import nixpkgs {{
          inherit system;
        }};
      in
      {{
        packages.profile = flakey-profile.lib.mkProfile {{
          inherit pkgs;
          paths = with pkgs; [
            hello
            tree
          ];
        }};
      }});
}}
"#,
            pkgs = bed.pkgs(1).display(),
            utils = utils.display(),
            lib = bed.lib_flake().display(),
        ),
    );
    let (add, remove) = add_then_remove(
        &bed,
        &dir,
        &[],
        ("cowsay", &["cowsay", "hello", "tree"]),
        ("tree", &["cowsay", "hello"]),
    );
    insta::assert_snapshot!("utils_add", add);
    insta::assert_snapshot!("utils_remove", remove);
}

#[test]
fn let_bound_list_with_a_chain() {
    let bed = Bed::new();
    let dir = write_flake(
        &bed,
        "letbound",
        &format!(
            r#"{{
  inputs.nixpkgs.url = "path:{pkgs}";
  inputs.flakey-profile.url = "path:{lib}";
  inputs.flakey-profile.inputs.nixpkgs.follows = "nixpkgs";
  outputs = {{ self, nixpkgs, flakey-profile }}:
    let
      system = "{system}";
      pkgs = nixpkgs.legacyPackages.${{system}};
      # The offline package set has no lib; this is nixpkgs' lib.optionals.
      lib.optionals = cond: list: if cond then list else [ ];
      systemPackages = with pkgs; [
        # greetings
        hello
      ] ++ lib.optionals true [
        pkgs.tree
      ];
    in {{
      packages.${{system}}.profile = flakey-profile.lib.mkProfile {{
        inherit pkgs;
        paths = systemPackages;
      }};
    }};
}}
"#,
            pkgs = bed.pkgs(1).display(),
            lib = bed.lib_flake().display(),
            system = fp_testkit::system(),
        ),
    );
    let (add, remove) = add_then_remove(
        &bed,
        &dir,
        &[],
        ("cowsay", &["cowsay", "hello", "tree"]),
        ("hello", &["cowsay", "tree"]),
    );
    insta::assert_snapshot!("let_bound_add", add);
    insta::assert_snapshot!("let_bound_remove", remove);
}

#[test]
fn what_fp_migrate_writes() {
    let bed = Bed::new();
    let nixpkgs = bed.path().join("nixpkgs");
    copy_dir(&bed.pkgs(1), &nixpkgs);
    // A nix-env profile of hello and tree, migrated as a user would.
    let old = bed.path().join("profiles/old");
    bed.command("nix-env")
        .arg("--profile")
        .arg(&old)
        .args(["-f"])
        .arg(nixpkgs.join("pkgs.nix"))
        .args(["--argstr", "system", &fp_testkit::system()])
        .args(["--arg", "revision", "1", "-iA", "hello", "tree"])
        .run()
        .success();
    let migrated = bed
        .tool("fp-migrate")
        .arg("--profile")
        .arg(&old)
        .arg("--lib-url")
        .arg(format!("path:{}", bed.lib_flake().display()))
        .run()
        .success();
    let dir = write_flake(&bed, "migrated", &migrated.stdout);
    // The nixpkgs fp-migrate guessed is the package set the profile came from.
    let extra = [
        "--override-input".to_string(),
        "nixpkgs".to_string(),
        format!("path:{}", nixpkgs.display()),
    ];
    let (add, remove) = add_then_remove(
        &bed,
        &dir,
        &extra,
        ("cowsay", &["cowsay", "hello", "tree"]),
        ("tree", &["cowsay", "hello"]),
    );
    insta::assert_snapshot!("migrated_add", bed.redact(&add));
    insta::assert_snapshot!("migrated_remove", bed.redact(&remove));
}
