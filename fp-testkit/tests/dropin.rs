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
    let env = std::fs::canonicalize(bed.profile()).expect("profile");
    assert_is_build_env(&bed, &env.display().to_string(), "flake-profile", "hello");

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
    // How the warning is introduced is the running Nix's own ("evaluation warning:" upstream,
    // "warning:" in Lix, "trace:" where builtins.warn is missing); its text is the package set's.
    assert!(control.stderr.contains(renamed), "{}", control.stderr);
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

    std::fs::write(dir.join("default.nix"), bed.no_flake_sources(&template, 1)).expect("write");
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

    std::fs::write(dir.join("default.nix"), bed.no_flake_sources(&template, 2)).expect("write");
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

/// A copy of the stand-in flake `fp-testkit/fixtures/<name>` in the bed, as a flake input.
fn fixture(bed: &Bed, name: &str) -> std::path::PathBuf {
    let dir = bed.path().join(format!("fixture-{name}"));
    fp_testkit::copy_dir(
        &fp_testkit::repo_root()
            .join("fp-testkit/fixtures")
            .join(name),
        &dir,
    );
    dir
}

/// Every entry below `root`: a link's target, or `dir`, or `file`.
fn tree(root: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let rel = path
                .strip_prefix(root)
                .expect("below")
                .display()
                .to_string();
            let meta = std::fs::symlink_metadata(&path).expect("lstat");
            let what = if meta.file_type().is_symlink() {
                std::fs::read_link(&path)
                    .expect("link")
                    .display()
                    .to_string()
            } else if meta.is_dir() {
                todo.push(path);
                "dir".to_string()
            } else {
                "file".to_string()
            };
            out.insert(rel, what);
        }
    }
    out
}

/// Asserts `env` (a mkProfile env) holds exactly what `pkgs.buildEnv { name; paths = PATHS; }`
/// of the offline package set makes, plus the two files mkProfile adds.
fn assert_is_build_env(bed: &Bed, env: &str, name: &str, paths: &str) {
    let expr = format!(
        "let pkgs = (builtins.getFlake \"path:{}\").legacyPackages.{}; in pkgs.buildEnv {{ name = \"{name}\"; paths = with pkgs; [ {paths} ]; }}",
        bed.pkgs(1).display(),
        fp_testkit::system()
    );
    let run = nix(bed)
        .args(["build", "--no-link", "--json", "--impure", "--expr", &expr])
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let plain = v[0]["outputs"]["out"].as_str().expect("out").to_string();
    let mut ours = tree(std::path::Path::new(env));
    assert_eq!(
        ours.remove("manifest.json").as_deref(),
        Some("file"),
        "{env}"
    );
    assert_eq!(
        ours.remove(".flakey-profile.json").as_deref(),
        Some("file"),
        "{env}"
    );
    assert_eq!(
        ours,
        tree(std::path::Path::new(&plain)),
        "{env} against {plain}"
    );
}

/// The inputs of a real-world profile flake: the offline package set as nixpkgs, the library
/// copy as flakey-profile, and the stand-ins it names.
fn inputs_block(bed: &Bed, stand_ins: &[&str]) -> String {
    let mut text = format!(
        "    nixpkgs.url = \"path:{}\";\n    flakey-profile.url = \"path:{}\";\n",
        bed.pkgs(1).display(),
        bed.lib_flake().display()
    );
    for name in stand_ins {
        text += &format!(
            "    {name}.url = \"path:{}\";\n",
            fixture(bed, name).display()
        );
    }
    text
}

/// Nothing of a real-world flake says what the library's own nixpkgs input is, so commands
/// point it at the offline package set (the flake itself unchanged).
fn lib_nixpkgs(bed: &Bed) -> Vec<String> {
    vec![
        "--override-input".into(),
        "flakey-profile/nixpkgs".into(),
        format!("path:{}", bed.pkgs(1).display()),
    ]
}

/// The shape of a flake-utils profile flake written for lf-/flakey-profile (rhinofi's shared
/// developer profile, rhinofi/nix-profile): `eachDefaultSystem`, `import nixpkgs { inherit
/// system; }`, `pinned = { nixpkgs = toString nixpkgs; }`, no fpTools, no follows. Only the
/// input URLs differ. Its env is what buildEnv alone makes; fp-build | fp-switch switches to it.
#[test]
fn flake_utils_profile_unchanged_but_for_the_url() {
    let bed = Bed::new();
    let dir = bed.path().join("rhino");
    std::fs::create_dir_all(&dir).expect("dir");
    let flake = format!(
        r#"{{
  description = "flakey-profile with system level deps";

  inputs = {{
{inputs}  }};

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
          pinned = {{ nixpkgs = toString nixpkgs; }};
          paths = with pkgs; [
            hello
            tree
          ];
        }};
      }});
}}
"#,
        inputs = inputs_block(&bed, &["flake-utils"])
    );
    std::fs::write(dir.join("flake.nix"), flake).expect("flake.nix");
    let built = bed
        .tool("fp-build")
        .arg(&dir)
        .args(lib_nixpkgs(&bed))
        .run()
        .success();
    let env = built.stdout_line().to_string();
    assert_is_build_env(&bed, &env, "flake-profile", "hello tree");
    bed.tool("fp-switch")
        .args(["--profile", &bed.profile().display().to_string()])
        .stdin(built.stdout.clone())
        .run()
        .success()
        .stderr_has("+ hello 1.0");
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
    let pinned = nix(&bed)
        .args([
            "eval",
            "--raw",
            &format!("{}#profile.pinned.nixpkgs", dir.display()),
        ])
        .args(lib_nixpkgs(&bed))
        .run()
        .success()
        .stdout;
    assert!(pinned.ends_with("-source"), "{pinned}");
}

/// The shape of a flake-parts profile flake that keeps only `rollback` of the commands
/// (`removeAttrs ... [ "switch" "pin" ]`) under `packages.dev`: it still builds the env buildEnv
/// alone makes, and the attributes are as the flake says.
#[test]
fn flake_parts_profile_with_switch_and_pin_removed() {
    let bed = Bed::new();
    let dir = bed.path().join("parts");
    std::fs::create_dir_all(&dir).expect("dir");
    let flake = format!(
        r#"{{
  inputs = {{
{inputs}  }};

  outputs = inputs@{{ flake-parts, flakey-profile, ... }}:
    flake-parts.lib.mkFlake {{ inherit inputs; }} {{
      systems = [ "x86_64-linux" "aarch64-linux" ];
      perSystem = {{ pkgs, ... }}: {{
        packages.dev = removeAttrs
          (flakey-profile.lib.mkProfile {{
            inherit pkgs;
            name = "dev-profile";
            paths = [ pkgs.hello pkgs.motd ];
          }}) [ "switch" "pin" ];
      }};
    }};
}}
"#,
        inputs = inputs_block(&bed, &["flake-parts"])
    );
    std::fs::write(dir.join("flake.nix"), flake).expect("flake.nix");
    let env = bed
        .tool("fp-build")
        .arg(format!("{}#dev", dir.display()))
        .args(lib_nixpkgs(&bed))
        .run()
        .success()
        .stdout_line()
        .to_string();
    assert!(env.ends_with("-dev-profile"), "{env}");
    assert_is_build_env(&bed, &env, "dev-profile", "hello motd");
    let has = nix(&bed)
        .args([
            "eval",
            "--json",
            &format!("{}#packages.{}.dev", dir.display(), fp_testkit::system()),
        ])
        .args([
            "--apply",
            "p: [ (p ? switch) (p ? pin) (p ? rollback) (p ? pinned) ]",
        ])
        .args(lib_nixpkgs(&bed))
        .run()
        .success()
        .stdout;
    assert_eq!(has.trim(), "[false,false,true,true]");
}

/// A profile extended with `//` (a description added) keeps its commands: `nix run
/// .#profile.switch` switches to the env buildEnv alone would make.
#[test]
fn extended_profile_keeps_its_commands() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with("extended", 1, "paths = [ pkgs.hello pkgs.tree ];");
    let text = std::fs::read_to_string(flake.join("flake.nix")).expect("flake");
    let text = text
        .replacen(
            "profile = flakey-profile.lib.mkProfile {",
            "profile = (flakey-profile.lib.mkProfile {",
            1,
        )
        .replacen(
            "};\n    };\n}",
            "}) // { meta.description = \"my profile\"; };\n    };\n}",
            1,
        );
    std::fs::write(flake.join("flake.nix"), &text).expect("write");
    let description = nix(&bed)
        .args([
            "eval",
            "--raw",
            &format!("{}#profile.meta.description", flake.display()),
        ])
        .run()
        .success()
        .stdout;
    assert_eq!(description, "my profile", "{text}");
    nix(&bed)
        .args(["run", &format!("{}#profile.switch", flake.display())])
        .args(["--", "--profile", &bed.profile().display().to_string()])
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
    let env = std::fs::canonicalize(bed.profile()).expect("profile");
    assert_is_build_env(
        &bed,
        &env.display().to_string(),
        "flake-profile",
        "hello tree",
    );
}

/// `paths = [ ]` (a profile that starts empty) builds the env buildEnv alone makes, and
/// switching to it works.
#[test]
fn empty_profile() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with("empty", 1, "paths = [ ];");
    let env = bed.build(&flake);
    assert_is_build_env(&bed, &env, "flake-profile", "");
    bed.tool("fp-switch")
        .arg(&env)
        .args(["--profile", &bed.profile().display().to_string()])
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
}

/// A build of a Nix file is never answered from fp-build's result cache: what the file reads
/// (here a list of packages in another directory) is not something fp-build can list, so a
/// change there gives the new result at once, and `-v` says the cache was not used.
#[test]
fn file_builds_are_never_served_from_the_cache() {
    let bed = Bed::new();
    let elsewhere = bed.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    std::fs::write(elsewhere.join("list.nix"), "pkgs: [ pkgs.hello ]\n").expect("list");
    let dir = bed.path().join("profile");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("default.nix"),
        format!(
            "let pkgs = import {pkgs} {{ }}; fp = import {lib}/lib; in\n\
             {{ profile = fp.mkProfile {{ inherit pkgs; fpTools = \"{tools}\"; paths = import {list} pkgs; }}; }}\n",
            pkgs = bed.pkgs(1).display(),
            lib = bed.lib_flake().display(),
            tools = bed.tools_dir().display(),
            list = elsewhere.join("list.nix").display(),
        ),
    )
    .expect("default.nix");
    let build = || {
        bed.tool("fp-build")
            .args(["-f", "default.nix", "-v"])
            .current_dir(&dir)
            .run()
            .success()
            .stderr_has("cache: not used")
    };
    let first = build().stdout_line().to_string();
    assert_eq!(build().stdout_line(), first);
    std::fs::write(
        elsewhere.join("list.nix"),
        "pkgs: [ pkgs.hello pkgs.tree ]\n",
    )
    .expect("list");
    let second = build().stdout_line().to_string();
    assert_ne!(second, first);
    assert!(std::path::Path::new(&second).join("bin/tree").exists());
}

/// fp-build with no flake anywhere, in a directory with a default.nix, says how to build that
/// without flakes first; nothing is run.
#[test]
fn first_run_in_a_directory_with_default_nix_names_fp_build_f() {
    let bed = Bed::new();
    std::fs::write(bed.path().join("default.nix"), "{ }\n").expect("default.nix");
    bed.tool("fp-build")
        .run()
        .code(2)
        .no_stdout()
        .stderr_has("no profile flake to build")
        .stderr_has("hint: this directory has a default.nix: build it without flakes with fp-build -f . [-A ATTR]");
}
