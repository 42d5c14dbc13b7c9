//! Living beside `nix profile` and nix-env, against real Nix: envs that `nix profile list`
//! understands, `nix profile install` adding to them, and the warning before imperative
//! changes are dropped.

use fp_testkit::Bed;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_SWITCH: &str = env!("CARGO_BIN_EXE_fp-switch");

/// A bed whose profile is a flakey env of hello and tree (generation 1).
fn flakey() -> (Bed, String) {
    let bed = Bed::new();
    let path = bed.build(&bed.profile_flake("flake1", 1, &["hello", "tree"]));
    bed.tool(FP_SWITCH)
        .arg(&path)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    (bed, path)
}

fn nix_profile_install(bed: &Bed, package: &str) {
    bed.nix_profile_add(
        &bed.profile(),
        [format!("path:{}#{package}", bed.pkgs(1).display())],
    );
}

#[test]
fn nix_profile_list_shows_the_packages() {
    let (bed, _) = flakey();
    let paths = bed.nix_profile_list_paths(&bed.profile());
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths[0].ends_with("-hello-1.0"), "{paths:?}");
    assert!(paths[1].ends_with("-tree-2.1"), "{paths:?}");
}

#[test]
fn the_manifest_can_be_turned_off() {
    let bed = Bed::new();
    let path = bed.build(&bed.profile_flake_with(
        "flake1",
        1,
        "paths = [ pkgs.hello ];\n        nixProfileManifest = false;",
    ));
    assert!(!std::path::Path::new(&path).join("manifest.json").exists());
    bed.tool(FP_SWITCH)
        .arg(&path)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    assert_eq!(
        bed.nix_profile_list_paths(&bed.profile()),
        Vec::<String>::new()
    );
}

#[test]
fn nix_profile_install_adds_to_the_declared_packages() {
    let (bed, _) = flakey();
    nix_profile_install(&bed, "cowsay");
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    for tool in ["hello", "tree", "cowsay"] {
        assert!(
            bed.profile().join("bin").join(tool).exists(),
            "{tool} is gone"
        );
    }
}

#[test]
fn switching_away_from_an_imperative_generation_warns_what_it_drops() {
    let (bed, _) = flakey();
    nix_profile_install(&bed, "cowsay");
    let next = bed.build(&bed.profile_flake("flake2", 1, &["hello", "tree", "motd"]));
    let run = bed
        .tool(FP_SWITCH)
        .args([next.as_str(), "--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    insta::assert_snapshot!(bed.redact(&run.stderr));
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(
        v["madeOutside"],
        serde_json::json!({"generation": 2, "dropped": [{"name": "cowsay", "version": "3.7.0"}]})
    );
    // A flakey generation to a flakey one: no warning.
    let again = bed.build(&bed.profile_flake("flake3", 2, &["hello"]));
    let quiet = bed
        .tool(FP_SWITCH)
        .args([again.as_str(), "--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    assert!(!quiet.stderr.contains("warning"), "{}", quiet.stderr);
    let v: serde_json::Value = serde_json::from_str(&quiet.stdout).expect("json");
    assert_eq!(v["madeOutside"], serde_json::Value::Null);
}

#[test]
fn dry_run_and_rollback_warn_too() {
    let (bed, _) = flakey();
    nix_profile_install(&bed, "cowsay");
    let next = bed.build(&bed.profile_flake("flake2", 1, &["hello"]));
    bed.tool(FP_SWITCH)
        .args([next.as_str(), "--dry-run", "--no-diff", "--profile"])
        .arg(bed.profile())
        .run()
        .success()
        .stderr_has("generation 2 was made outside flakey-profile")
        .stderr_has("- cowsay 3.7.0");
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    let run = bed
        .tool("fp-rollback")
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success()
        .stderr_has("this switch drops the packages marked - below")
        .stderr_has("fp-migrate --profile");
    // The diff's `-` line is the list: once.
    assert_eq!(
        run.stderr.matches("- cowsay 3.7.0").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn a_switch_that_drops_nothing_of_a_generation_made_outside_does_not_warn() {
    let (bed, _) = flakey();
    nix_profile_install(&bed, "cowsay");
    // The flake now has what was added (as after fp-migrate): nothing is dropped.
    let next = bed.build(&bed.profile_flake("flake2", 1, &["hello", "tree", "cowsay"]));
    let run = bed
        .tool(FP_SWITCH)
        .args([next.as_str(), "--dry-run", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    bed.tool(FP_SWITCH)
        .args([next.as_str(), "-v", "--dry-run", "--profile"])
        .arg(bed.profile())
        .run()
        .success()
        .stderr_has("generation 2 was made outside flakey-profile (nix profile or nix-env); this switch drops none of its packages");
}

#[test]
fn nix_env_install_refuses_a_flakey_profile() {
    let (bed, _) = flakey();
    let before = bed.profile_target();
    let run = bed
        .command("nix-env")
        .args(["--profile"])
        .arg(bed.profile())
        .args([
            "-i",
            "-E",
            "_: derivation { name = \"x\"; system = \"x\"; builder = \"x\"; }",
        ])
        .run();
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("nix profile"), "{}", run.stderr);
    assert_eq!(bed.profile_target(), before);
}

#[test]
fn an_env_set_by_hand_counts_as_made_outside() {
    let bed = Bed::new();
    let mine = bed.build(&bed.profile_flake_with("plain", 1, "paths = [ pkgs.cowsay ];"));
    // An env without our marker: what `nix-env --set` of some other buildEnv leaves.
    let foreign = bed
        .command("nix-store")
        .args(["--query", "--references", &mine])
        .run()
        .success()
        .stdout;
    let cowsay = foreign.lines().next().expect("cowsay").to_string();
    bed.command("nix-env")
        .arg("--profile")
        .arg(bed.profile())
        .args(["--set", &cowsay])
        .run()
        .success();
    let next = bed.build(&bed.profile_flake("flake2", 1, &["hello"]));
    let run = bed
        .tool(FP_SWITCH)
        .args([next.as_str(), "--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["madeOutside"]["generation"], 1, "{}", run.stdout);
}

/// `fp-migrate --profile` of the bed's profile.
fn migrate_profile(bed: &Bed) -> fp_testkit::Run {
    bed.tool("fp-migrate")
        .arg("--profile")
        .arg(bed.profile())
        .run()
}

#[test]
fn fp_migrate_gives_only_the_imperative_additions() {
    let (bed, _) = flakey();
    nix_profile_install(&bed, "cowsay");
    let run = migrate_profile(&bed)
        .success()
        .stderr_has("2 packages of this profile are declared by your flake (generation 1)");
    assert!(
        run.stdout
            .starts_with("# Packages added to this profile outside flakey-profile"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(".cowsay"), "{}", run.stdout);
    assert!(!run.stdout.contains(".hello"), "{}", run.stdout);
    assert!(!run.stdout.contains(".tree"), "{}", run.stdout);
    // The flake it prints builds: the additions alone.
    let dir = bed.path().join("additions");
    std::fs::create_dir_all(&dir).expect("dir");
    let flake = run.stdout.replace(
        "github:flakey-profile/flakey-profile",
        &format!("path:{}", bed.lib_flake().display()),
    );
    std::fs::write(dir.join("flake.nix"), flake).expect("flake");
    let built = bed.tool("fp-build").arg(&dir).run().success();
    assert!(std::path::Path::new(built.stdout_line())
        .join("bin/cowsay")
        .exists());
    assert!(!std::path::Path::new(built.stdout_line())
        .join("bin/hello")
        .exists());
}

#[test]
fn fp_migrate_of_a_flakey_profile_with_nothing_added_says_there_is_nothing_to_migrate() {
    let (bed, _) = flakey();
    let run = migrate_profile(&bed).success().no_stdout();
    insta::assert_snapshot!(bed.redact(&run.stderr));
}
