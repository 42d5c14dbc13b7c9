//! The main promise, against real Nix: a profile made with `nix profile add` (manifest
//! version 2 before Nix 2.20, version 3 after) or with nix-env migrates to a flake that `fp-build` builds, with
//! no edits, into an env of exactly the store paths the profile had.

mod common;

use common::{assert_parses, migrate};
use fp_testkit::{copy_dir, nix_profile_manifest_version, Bed, Run};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Copies the offline package set at `revision` to `<bed>/<rel>`, so the input is named after
/// the directory (`nixpkgs`, `extra`).
fn package_set(bed: &Bed, revision: u32, rel: &str) -> PathBuf {
    let dir = bed.path().join(rel);
    copy_dir(&bed.pkgs(revision), &dir);
    dir
}

/// The direct references of a store path (or a link to one), without itself.
fn references(bed: &Bed, path: &Path) -> BTreeSet<String> {
    let out = bed
        .command("nix-store")
        .args(["-q", "--references"])
        .arg(path)
        .run()
        .success()
        .stdout;
    let target = std::fs::canonicalize(path).expect("resolve");
    out.lines()
        .filter(|l| Path::new(l) != target)
        .map(str::to_string)
        .collect()
}

/// Writes the migrated flake to `<bed>/<name>/flake.nix` and returns the directory.
fn write_flake(bed: &Bed, name: &str, flake: &str) -> PathBuf {
    let dir = bed.path().join(name);
    std::fs::create_dir_all(&dir).expect("flake dir");
    std::fs::write(dir.join("flake.nix"), flake).expect("flake.nix");
    dir
}

/// Redacts what changes between runs beyond the bed: the `lastModified` of path inputs, and
/// their `narHash` (it changes whenever the package set does).
fn redact(bed: &Bed, text: &str) -> String {
    let text = redact_value(&bed.redact(text), "lastModified=", "[TIME]");
    redact_value(&text, "narHash=", "[NARHASH]")
}

/// Replaces what follows each `key` up to the next `&`, `"` or end of line with `with`.
fn redact_value(text: &str, key: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(key) {
        out.push_str(&rest[..i + key.len()]);
        rest = &rest[i + key.len()..];
        let end = rest.find(['&', '"', '\n']).unwrap_or(rest.len());
        out.push_str(with);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// fp-migrate `--profile PROFILE` (and `extra`) with the bed's flakey-profile library as
/// `--lib-url`; checks that it succeeds and that Nix parses the flake.
fn migrate_profile(bed: &Bed, profile: &Path, extra: &[&str]) -> Run {
    let lib = format!("path:{}", bed.lib_flake().display());
    let mut args = vec![
        "--profile",
        profile.to_str().expect("path"),
        "--lib-url",
        &lib,
    ];
    args.extend_from_slice(extra);
    let run = migrate(bed, &args, None).success();
    assert_parses(bed, &run.stdout);
    run
}

/// Builds the migrated flake with fp-build (and `extra` arguments) and returns the env it made
/// and the env's direct references.
fn build_migrated(bed: &Bed, flake: &str, extra: &[String]) -> (PathBuf, BTreeSet<String>) {
    let dir = write_flake(bed, "migrated", flake);
    let built = bed.tool("fp-build").arg(&dir).args(extra).run().success();
    let env = PathBuf::from(built.stdout_line());
    let refs = references(bed, &env);
    (env, refs)
}

#[test]
fn dotted_attribute_names_round_trip_to_the_same_store_paths() {
    let bed = Bed::new();
    let nixpkgs = package_set(&bed, 1, "nixpkgs");
    let profile = bed.path().join("profiles/dotted");
    bed.nix_profile_add(
        &profile,
        [
            format!("path:{}#\"my.tool\"", nixpkgs.display()),
            format!("path:{}#\"my.tool\".man", nixpkgs.display()),
            format!("path:{}#hello", nixpkgs.display()),
        ],
    );
    // Nix records the attribute path unquoted, whatever its version.
    let manifest = std::fs::read_to_string(profile.join("manifest.json")).expect("manifest");
    let recorded = format!("\"legacyPackages.{}.my.tool", fp_testkit::system());
    assert!(manifest.contains(&recorded), "{manifest}");

    let run = migrate_profile(&bed, &profile, &[]);
    assert!(
        run.stdout
            .contains("nixpkgs.legacyPackages.${system}.\"my.tool\"\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("(check it)"), "{}", run.stderr);

    let expected = references(&bed, &profile);
    assert!(
        expected.iter().any(|p| p.ends_with("-my.tool-0.1")),
        "{expected:?}"
    );
    assert_eq!(build_migrated(&bed, &run.stdout, &[]).1, expected);
}

#[test]
fn nix_profile_round_trip_gives_the_same_store_paths() {
    let bed = Bed::new();
    let nixpkgs = package_set(&bed, 1, "nixpkgs");
    let extra = package_set(&bed, 2, "other/extra");
    let profile = bed.path().join("profiles/np");
    bed.nix_profile_add(
        &profile,
        [
            format!("path:{}#hello", nixpkgs.display()),
            format!("path:{}#hello.man", nixpkgs.display()),
            format!("path:{}#tree", nixpkgs.display()),
            format!("path:{}#jq", extra.display()),
        ],
    );
    // The manifest is in the version this Nix writes (2 before Nix 2.20, 3 after), so the
    // round trip covers both as the suite runs on each Nix.
    let manifest = std::fs::read_to_string(profile.join("manifest.json")).expect("manifest");
    let version = nix_profile_manifest_version();
    assert!(
        manifest.ends_with(&format!(r#""version":{version}}}"#)),
        "Nix {:?} writes manifest version {version}: {manifest}",
        fp_testkit::nix_version()
    );

    let run = migrate_profile(&bed, &profile, &[]);
    // Version 3 keys elements by name (so they come sorted), version 2 keeps install order.
    // Some Nix (Determinate Nix) records `path:` inputs without their hash, unlocked; the
    // migrated flake then says so, as the manifest Nix wrote shows.
    let locked = manifest.contains("narHash");
    let suffix = if locked {
        format!("manifest-v{version}")
    } else {
        format!("manifest-v{version}-unlocked")
    };
    insta::with_settings!({ snapshot_suffix => suffix }, {
        insta::assert_snapshot!("nix_profile_flake", redact(&bed, &run.stdout));
        insta::assert_snapshot!("nix_profile_warnings", redact(&bed, &run.stderr));
    });

    let (env, built) = build_migrated(&bed, &run.stdout, &[]);
    // What this Nix installed: `#hello.man` is hello's man output on Nix 2.8, while newer
    // Nix installs the derivation's default outputs for it, so the profile has 3 or 4 paths.
    let expected = references(&bed, &profile);
    assert!(expected.len() >= 3, "{expected:?}");
    assert_eq!(built, expected);
    assert!(env.join("bin/jq").exists());
    let man = "share/man/man1/hello.1";
    assert_eq!(env.join(man).exists(), profile.join(man).exists());
}

#[test]
fn unlocked_round_trip_builds_too() {
    let bed = Bed::new();
    let nixpkgs = package_set(&bed, 1, "nixpkgs");
    let profile = bed.path().join("profiles/np");
    bed.nix_profile_add(&profile, [format!("path:{}#tree", nixpkgs.display())]);
    let run = migrate_profile(&bed, &profile, &["--unlocked"]);
    assert!(
        run.stdout.contains(&format!(
            "    nixpkgs.url = \"path:{}\";\n",
            nixpkgs.display()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        build_migrated(&bed, &run.stdout, &[]).1,
        references(&bed, &profile)
    );
}

#[test]
fn nix_env_profile_migrates_by_guessing_nixpkgs_attributes() {
    let bed = Bed::new();
    let nixpkgs = package_set(&bed, 1, "nixpkgs");
    let profile = bed.path().join("profiles/ne");
    let env = |args: &[&str]| {
        bed.command("nix-env")
            .arg("--profile")
            .arg(&profile)
            .args(args)
            .run()
            .success()
    };
    env(&[
        "-f",
        nixpkgs.join("pkgs.nix").to_str().expect("path"),
        "--argstr",
        "system",
        &fp_testkit::system(),
        "--arg",
        "revision",
        "1",
        "-iA",
        "hello",
        "tree",
        "motd",
    ]);
    env(&["--set-flag", "priority", "3", "tree"]);
    assert!(!profile.join("manifest.json").exists());

    let run = migrate_profile(&bed, &profile, &[]);
    insta::assert_snapshot!("nix_env_flake", redact(&bed, &run.stdout));
    insta::assert_snapshot!("nix_env_warnings", redact(&bed, &run.stderr));

    // The guessed nixpkgs is overridden with the package set the profile came from.
    let override_nixpkgs = [
        "--override-input".to_string(),
        "nixpkgs".to_string(),
        format!("path:{}", nixpkgs.display()),
    ];
    let (_, built) = build_migrated(&bed, &run.stdout, &override_nixpkgs);
    // nix-env's user environment also references its own manifest.nix; the packages are the rest.
    let expected: BTreeSet<String> = references(&bed, &profile)
        .into_iter()
        .filter(|p| !p.ends_with("-env-manifest.nix"))
        .collect();
    assert_eq!(
        expected.len(),
        4,
        "hello, hello-man, tree, motd: {expected:?}"
    );
    assert_eq!(built, expected);
}

#[test]
fn a_generation_link_or_store_path_is_a_profile_too() {
    let bed = Bed::new();
    let nixpkgs = package_set(&bed, 1, "nixpkgs");
    let profile = bed.path().join("profiles/np");
    bed.nix_profile_add(&profile, [format!("path:{}#tree", nixpkgs.display())]);
    let from_link = migrate(&bed, &["--profile", profile.to_str().expect("path")], None).success();
    let generation = bed.path().join("profiles/np-1-link");
    let from_generation = migrate(
        &bed,
        &["--profile", generation.to_str().expect("path")],
        None,
    )
    .success();
    let store = std::fs::canonicalize(&profile).expect("store path");
    let from_store = migrate(&bed, &["-p", store.to_str().expect("path")], None).success();
    assert_eq!(from_link.stdout, from_generation.stdout);
    assert_eq!(from_link.stdout, from_store.stdout);
}

/// `--no-flake` writes a default.nix instead: its sources are fetched without flakes (here the
/// local package set through `builtins.path`, checked against the hash Nix recorded), and
/// `fp-build -f` builds it into an env of exactly the store paths the profile had.
#[test]
fn no_flake_round_trip_gives_the_same_store_paths() {
    let bed = Bed::new();
    let nixpkgs = package_set(&bed, 1, "nixpkgs");
    let profile = bed.path().join("profiles/np");
    bed.nix_profile_add(
        &profile,
        [
            format!("path:{}#hello", nixpkgs.display()),
            format!("path:{}#tree", nixpkgs.display()),
        ],
    );
    let lib = format!("path:{}", bed.lib_flake().display());
    let run = migrate(
        &bed,
        &[
            "--profile",
            profile.to_str().expect("path"),
            "--lib-url",
            &lib,
            "--no-flake",
        ],
        None,
    )
    .success();
    let text = run.stdout.clone();
    assert!(
        !text.contains("inputs =") && !text.contains("outputs"),
        "{text}"
    );
    assert!(text.contains("# The sources are locked"), "{text}");
    assert!(
        text.contains("  profile = flakey-profile.mkProfile {"),
        "{text}"
    );
    assert!(
        text.contains("pinned = { inherit (sources) nixpkgs; };"),
        "{text}"
    );
    // Where Nix recorded the source's hash (not Determinate Nix, which records `path:` inputs
    // unlocked), it is checked on fetching; otherwise the file says the source is not locked.
    let manifest = std::fs::read_to_string(profile.join("manifest.json")).expect("manifest");
    if manifest.contains("narHash") {
        assert!(
            text.contains("name = \"source\"; sha256 = \"sha256-"),
            "{text}"
        );
    } else {
        assert!(
            text.contains("Not locked: the profile recorded no revision"),
            "{text}"
        );
    }
    let dir = bed.path().join("migrated");
    std::fs::create_dir_all(&dir).expect("dir");
    // The tools cargo built stand in for the ones the library would build with the package set.
    let text = text.replacen(
        "inherit pkgs;",
        &format!(
            "inherit pkgs;\n    fpTools = \"{}\";",
            bed.tools_dir().display()
        ),
        1,
    );
    std::fs::write(dir.join("default.nix"), &text).expect("default.nix");
    let built = bed.tool("fp-build").args(["-f"]).arg(&dir).run().success();
    let env = PathBuf::from(built.stdout_line());
    assert_eq!(references(&bed, &env), references(&bed, &profile), "{text}");
    bed.command("nix")
        .args(["run", "-f"])
        .arg(&dir)
        .args(["profile.switch", "--", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
}
