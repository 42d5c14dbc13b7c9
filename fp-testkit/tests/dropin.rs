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
        with_stdenv.stderr.contains("no tools for riscv64-linux"),
        "{}",
        with_stdenv.stderr
    );
    let without = nix(&bed)
        .args(["eval", "--impure", "--raw", "--expr"])
        .arg(expr(&format!("{{ {fields} system = \"riscv64-linux\"; }}")))
        .run()
        .code(1);
    assert!(
        without.stderr.contains("no tools for riscv64-linux"),
        "{}",
        without.stderr
    );
}

/// The no-flake template's `default.nix` with its sources pointed at the bed (the offline
/// package set at `revision`, as a `source` store path the way fetchTarball with
/// `name = "source"` makes one, and the library copy) and the workspace's tools as `fpTools`.
fn no_flake_sources(bed: &Bed, template: &str, revision: u32) -> String {
    let start = template.find("  sources = {").expect("sources block");
    let end =
        start + template[start..].find("\n  };\n").expect("end of sources") + "\n  };\n".len();
    let sources = format!(
        "  sources = {{\n    nixpkgs = builtins.path {{ path = {}; name = \"source\"; }};\n    flakey-profile = {};\n  }};\n",
        bed.pkgs(revision).display(),
        bed.lib_flake().display()
    );
    let text = format!("{}{sources}{}", &template[..start], &template[end..]);
    text.replacen(
        "inherit pkgs;",
        &format!(
            "inherit pkgs;\n    fpTools = \"{}\";",
            bed.tools_dir().display()
        ),
        1,
    )
}

/// The no-flake template, end to end as its README says: `nix flake init -t .#no-flake`
/// (offline), `nix run -f . profile.switch`, `fp-build -f . -A profile | fp-switch`,
/// `nix run -f . profile.rollback`, and the pins with `fp-pin -f . -A profile` and
/// `nix run -f . profile.pin`.
#[test]
fn no_flake_template_end_to_end() {
    let bed = Bed::new();
    let lib = bed.lib_flake();
    let dir = bed.path().join("mine");
    std::fs::create_dir_all(&dir).expect("dir");
    nix(&bed)
        .args(["flake", "init", "-t"])
        .arg(format!("path:{}#no-flake", lib.display()))
        .current_dir(&dir)
        .run()
        .success();
    for file in ["default.nix", "README.md"] {
        let written = std::fs::read_to_string(dir.join(file)).expect("template file");
        let template = std::fs::read_to_string(
            fp_testkit::repo_root()
                .join("templates/no-flake")
                .join(file),
        )
        .expect("template");
        assert_eq!(written, template, "{file}");
    }
    assert!(!dir.join("flake.nix").exists());
    let template = std::fs::read_to_string(dir.join("default.nix")).expect("default.nix");
    let profile = bed.profile().display().to_string();

    std::fs::write(
        dir.join("default.nix"),
        no_flake_sources(&bed, &template, 1),
    )
    .expect("write");
    nix(&bed)
        .args([
            "run",
            "-f",
            ".",
            "profile.switch",
            "--",
            "--profile",
            &profile,
        ])
        .current_dir(&dir)
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
    let hello = bed.profile().join("bin/hello");
    let out = std::process::Command::new(&hello).output().expect("hello");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello 1.0\n");

    std::fs::write(
        dir.join("default.nix"),
        no_flake_sources(&bed, &template, 2),
    )
    .expect("write");
    let built = bed
        .tool("fp-build")
        .args(["-f", ".", "-A", "profile", "-v"])
        .current_dir(&dir)
        .run()
        .success()
        .stderr_has("cache: not used");
    let path = built.stdout_line().to_string();
    assert!(path.starts_with("/nix/store/"), "{path}");
    bed.tool("fp-switch")
        .args(["--profile", &profile])
        .stdin(built.stdout.clone())
        .run()
        .success()
        .stderr_has("~ hello 1.0 -> 1.1");
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    let json = bed
        .tool("fp-build")
        .args(["--file", ".", "--json"])
        .current_dir(&dir)
        .run()
        .success();
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(report["storePath"], path.as_str());
    assert_eq!(report["file"], ".");
    assert_eq!(report["installable"], "profile");
    assert!(report.get("flake").is_none(), "{report}");

    nix(&bed)
        .args([
            "run",
            "-f",
            ".",
            "profile.rollback",
            "--",
            "--profile",
            &profile,
        ])
        .current_dir(&dir)
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(1)));

    // The pins: the profile's nixpkgs source, read from the file.
    let source = nix(&bed)
        .args(["eval", "--raw", "-f", ".", "profile.pinned.nixpkgs"])
        .current_dir(&dir)
        .run()
        .success()
        .stdout;
    assert!(source.ends_with("-source"), "{source}");
    let channels = bed.path().join("profiles/channels");
    let registry = bed.config_home().join("nix/registry.json");
    bed.tool("fp-pin")
        .args([
            "-f",
            ".",
            "-A",
            "profile",
            "--registry",
            "user",
            "--channels-profile",
        ])
        .arg(&channels)
        .current_dir(&dir)
        .run()
        .success();
    let text = std::fs::read_to_string(&registry).expect("registry");
    assert!(text.contains(&source), "{text}");
    assert_eq!(
        std::fs::read_link(channels.join("nixpkgs"))
            .expect("channel link")
            .to_str(),
        Some(source.as_str())
    );
    // profile.pin from the file does the same (nothing left to change).
    nix(&bed)
        .args([
            "run",
            "-f",
            ".",
            "profile.pin",
            "--",
            "--registry",
            "user",
            "--channels-profile",
        ])
        .arg(&channels)
        .current_dir(&dir)
        .run()
        .success();
    assert_eq!(std::fs::read_to_string(&registry).expect("registry"), text);
}

/// `fp-build --file` refuses what only flakes have, before running nix.
#[test]
fn file_builds_refuse_flake_only_flags() {
    let bed = Bed::new();
    for args in [
        &["-f", ".", "--update"][..],
        &["-f", ".", "--override-input", "nixpkgs", "path:/x"],
        &["-f", ".", "some-flake"],
    ] {
        bed.tool("fp-build").args(args).run().code(2).no_stdout();
    }
}

/// `import (flakey-profile + "/lib")` without flakes gives `{ mkProfile }`, whose default tools
/// are built from the same source with the profile's own `pkgs`; the root `default.nix` gives
/// the same library, the packages and the overlay. The build of the tools is a stand-in
/// (real nixpkgs is not available offline) that records it was called with this source.
#[test]
fn the_library_without_flakes() {
    let bed = Bed::new();
    let lib = bed.lib_flake();
    let fake = "/nix/store/00000000000000000000000000000000-flakey-profile";
    let expr = format!(
        r#"
let
  base = import {pkgs} {{ }};
  pkgs = base // {{
    lib = {{ optionalString = c: s: if c then s else ""; licenses.mit = "mit"; platforms.unix = [ ]; }};
    installShellFiles = "installShellFiles";
    rustPlatform.buildRustPackage = args: {{ outPath = "{fake}"; cargo = baseNameOf (toString args.cargoLock.lockFile); }};
    runCommand = name: env: script: env // {{ inherit name; outPath = "{fake}-" + name; }};
    stdenv = base.stdenv // {{ buildPlatform.canExecute = _: true; }};
  }};
  fromLib = import {lib}/lib;
  root = import {lib} {{ inherit pkgs; }};
  switchOf = fp: (fp.mkProfile {{ inherit pkgs; paths = [ base.hello ]; }}).switch.text;
in
{{
  libNames = builtins.attrNames fromLib;
  fromLib = switchOf fromLib;
  fromRoot = switchOf root.lib;
  given = (fromLib.mkProfile {{ inherit pkgs; paths = [ ]; fpTools = "/given"; }}).switch.text;
  packages = builtins.attrNames root.packages;
  cargo = root.packages.default.cargo;
  overlay = builtins.attrNames (root.overlay pkgs pkgs);
}}
"#,
        pkgs = bed.pkgs(1).display(),
        lib = lib.display(),
    );
    let out = nix(&bed)
        .args(["eval", "--impure", "--json", "--expr", &expr])
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["libNames"], serde_json::json!(["mkProfile"]));
    for key in ["fromLib", "fromRoot"] {
        let text = v[key].as_str().expect("switch text");
        assert!(
            text.contains(&format!("exec '{fake}/bin/fp-switch'"))
                || text.contains(&format!("exec {fake}/bin/fp-switch")),
            "{key}: {text}"
        );
    }
    assert!(
        v["given"]
            .as_str()
            .expect("text")
            .contains("/given/bin/fp-switch"),
        "{v}"
    );
    assert_eq!(v["cargo"], "Cargo.lock");
    let mut tools = fp_testkit::tools();
    tools.push("default".into());
    tools.sort();
    assert_eq!(v["packages"], serde_json::json!(tools));
    let overlay: Vec<String> = serde_json::from_value(v["overlay"].clone()).expect("names");
    assert!(
        overlay.contains(&"flakey-profile".to_string())
            && overlay.contains(&"fp-switch".to_string()),
        "{overlay:?}"
    );
    assert!(!overlay.contains(&"default".to_string()), "{overlay:?}");
}

/// `nix flake init -t <clone>#no-flake` works offline, as the default template does: the
/// repository flake is locked, so Nix reads the template without fetching anything.
#[test]
fn no_flake_template_init_from_the_repository_works_offline() {
    let bed = Bed::new();
    let dir = bed.path().join("mine");
    std::fs::create_dir_all(&dir).expect("dir");
    nix(&bed)
        .args(["flake", "init", "-t"])
        .arg(format!(
            "git+file://{}#no-flake",
            fp_testkit::repo_root().display()
        ))
        .current_dir(&dir)
        .run()
        .success();
    let written = std::fs::read_to_string(dir.join("default.nix")).expect("default.nix");
    let template =
        std::fs::read_to_string(fp_testkit::repo_root().join("templates/no-flake/default.nix"))
            .expect("template");
    assert_eq!(written, template);
}
