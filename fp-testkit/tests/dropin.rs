//! Profiles written for lf-/flakey-profile, run with this project: the shapes real users'
//! flakes and default.nix files have, each checked against real Nix, offline.

use fp_testkit::Bed;

/// `nix` with the bed's environment.
fn nix(bed: &Bed) -> fp_testkit::Cmd {
    bed.command("nix")
}

/// A profile whose `extraSwitchArgs` name one profile (Lix's NixOS module passes
/// `--profile /nix/var/nix/profiles/default` this way), run with a second `--profile`: the last
/// one counts, as it does for `nix-env --set`, in switch and rollback alike, and `-v` says so.
#[test]
fn the_last_profile_flag_wins_over_extra_switch_args() {
    let bed = Bed::new();
    let unused = bed.path().join("profiles").join("from-extra-args");
    let flake = bed.profile_flake_with(
        "system-profile",
        1,
        &format!(
            "paths = [ pkgs.hello ];\n        extraSwitchArgs = [ \"--profile\" \"{}\" ];",
            unused.display()
        ),
    );
    let profile = bed.profile().display().to_string();
    let run = nix(&bed)
        .args(["run", &format!("{}#profile.switch", flake.display())])
        .args(["--", "-v", "--profile", &profile])
        .run()
        .success()
        .stderr_has("--profile was given 2 times: the last one counts, as with nix-env")
        .stderr_has(&format!("profile = {profile:?} (from command line)"));
    assert_eq!(
        bed.generation_numbers(),
        (vec![1], Some(1)),
        "{}",
        run.stderr
    );
    assert!(!unused.exists() && std::fs::symlink_metadata(&unused).is_err());

    // A second generation, then roll back through the flake: the same rule.
    let second = bed.build(&bed.profile_flake("second", 2, &["hello"]));
    bed.tool("fp-switch")
        .arg(&second)
        .args(["--profile", &profile])
        .run()
        .success();
    nix(&bed)
        .args(["run", &format!("{}#profile.rollback", flake.display())])
        .args(["--", "-v", "--profile", &profile])
        .run()
        .success()
        .stderr_has("--profile was given 2 times: the last one counts, as with nix-env");
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(1)));
    assert!(std::fs::symlink_metadata(&unused).is_err());
}

/// Every flag naming one value takes the last one given, and `-v` names each repeated one;
/// a flag given once is not reported.
#[test]
fn repeated_single_value_flags_take_the_last() {
    let bed = Bed::new();
    let first = bed.build(&bed.profile_flake("first", 1, &["hello"]));
    let second = bed.build(&bed.profile_flake("second", 2, &["hello"]));
    let profile = bed.profile().display().to_string();
    for path in [&first, &second] {
        bed.tool("fp-switch")
            .arg(path)
            .args(["--profile", &profile])
            .run()
            .success();
    }
    let run = bed
        .tool("fp-switch")
        .arg(&first)
        .args([
            "--profile",
            &profile,
            "-v",
            "--dry-run",
            "--color",
            "always",
            "--color",
            "never",
        ])
        .run()
        .success();
    assert!(
        run.stderr.contains("--color was given 2 times"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("--profile was given"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
    bed.tool("fp-rollback")
        .args(["--to", "2", "--to", "1", "--profile", &profile])
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(1)));
}

/// The package set's `system` is deprecated in current nixpkgs (reading it warns, and it is to
/// become an error); the test package set warns the same way. Building a profile and its
/// commands reads nothing that warns, while reading `pkgs.system` itself does (so the check
/// can fail).
#[test]
fn the_library_causes_no_evaluation_warning() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello", "tree"]);
    let renamed = "'system' has been renamed to/replaced by 'stdenv.hostPlatform.system'";
    for attr in [
        "profile",
        "profile.switch",
        "profile.rollback",
        "profile.pin",
        "profile.pins.channels",
    ] {
        let run = nix(&bed)
            .args(["build", "--no-link", &format!("{}#{attr}", flake.display())])
            .run()
            .success();
        for said in [renamed, "evaluation warning", "trace:"] {
            assert!(!run.stderr.contains(said), "{attr}: {}", run.stderr);
        }
    }
    let control = nix(&bed)
        .args(["eval", "--impure", "--raw", "--expr"])
        .arg(format!(
            "(import {}/pkgs.nix {{ system = \"x86_64-linux\"; revision = 1; }}).system",
            bed.pkgs(1).display()
        ))
        .run()
        .success();
    assert!(control.stderr.contains(renamed), "{}", control.stderr);
    assert!(
        control.stderr.contains("evaluation warning"),
        "{}",
        control.stderr
    );
}

/// The system the default tools are picked for is `stdenv.hostPlatform.system`, and `system`
/// only in a package set without stdenv.hostPlatform. A system the flake has no tools for
/// names it in the error, which shows which one was read.
#[test]
fn the_default_tools_follow_the_host_platform() {
    let bed = Bed::new();
    let lib = bed.lib_flake();
    let expr = |pkgs: &str| {
        format!(
            "let fp = builtins.getFlake \"path:{lib}\"; base = (builtins.getFlake \"path:{pkgs_dir}\").legacyPackages.{system}; in \
             (fp.lib.mkProfile {{ pkgs = {pkgs}; paths = [ ]; }}).switch.drvPath",
            lib = lib.display(),
            pkgs_dir = bed.pkgs(1).display(),
            system = fp_testkit::system(),
        )
    };
    let fields = "inherit (base) buildEnv writeText writeShellScriptBin linkFarm;";
    let with_stdenv = nix(&bed)
        .args(["eval", "--impure", "--raw", "--expr"])
        .arg(expr(&format!(
            "{{ {fields} stdenv.hostPlatform.system = \"riscv64-linux\"; system = throw \"pkgs.system was read\"; }}"
        )))
        .run()
        .code(1);
    assert!(
        with_stdenv
            .stderr
            .contains("has no tools for riscv64-linux"),
        "{}",
        with_stdenv.stderr
    );
    let without = nix(&bed)
        .args(["eval", "--impure", "--raw", "--expr"])
        .arg(expr(&format!("{{ {fields} system = \"riscv64-linux\"; }}")))
        .run()
        .code(1);
    assert!(
        without.stderr.contains("has no tools for riscv64-linux"),
        "{}",
        without.stderr
    );
}
