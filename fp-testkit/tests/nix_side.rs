//! The Nix side against real Nix, offline: lib.mkProfile, the template, the repository flake.

use fp_testkit::{system, tools, Bed};
use std::path::Path;

/// `nix` with the bed's environment, as `nix ARGS`.
fn nix(bed: &Bed) -> fp_testkit::Cmd {
    bed.command("nix")
}

fn run_bin(path: &Path) -> String {
    let out = std::process::Command::new(path).output().expect("run");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn references(bed: &Bed, path: &str) -> Vec<String> {
    let run = bed
        .command("nix-store")
        .args(["--query", "--references", path])
        .run()
        .success();
    run.stdout.lines().map(str::to_string).collect()
}

fn eval_raw(bed: &Bed, installable: String) -> String {
    nix(bed)
        .args(["eval", "--raw"])
        .arg(installable)
        .run()
        .success()
        .stdout
}

/// The repository's flake is locked (flake.lock), so `nix flake init -t` of a clone needs no
/// network: Nix reads the template without fetching the locked nixpkgs. A `git+file:` URL
/// copies only the tracked files, as of a fresh clone.
#[test]
fn template_init_from_the_repository_works_offline() {
    let bed = Bed::new();
    let dir = bed.path().join("mine");
    std::fs::create_dir_all(&dir).expect("dir");
    nix(&bed)
        .args(["flake", "init", "-t"])
        .arg(format!("git+file://{}", fp_testkit::repo_root().display()))
        .current_dir(&dir)
        .run()
        .success();
    let written = std::fs::read_to_string(dir.join("flake.nix")).expect("template flake.nix");
    let template =
        std::fs::read_to_string(fp_testkit::repo_root().join("templates/default/flake.nix"))
            .expect("templates/default/flake.nix");
    assert_eq!(written, template);
}

#[test]
fn template_end_to_end() {
    let bed = Bed::new();
    let lib = bed.lib_flake();
    let dir = bed.path().join("mine");
    std::fs::create_dir_all(&dir).expect("dir");
    nix(&bed)
        .args(["flake", "init", "-t"])
        .arg(format!("path:{}", lib.display()))
        .current_dir(&dir)
        .run()
        .success();
    let flake = std::fs::read_to_string(dir.join("flake.nix")).expect("template flake.nix");
    assert!(flake.contains("pinned.nixpkgs = nixpkgs;"));
    assert!(!flake.contains("flake-utils"));
    // The tools cargo built stand in for the flake's own packages.
    let flake = flake.replacen(
        "inherit pkgs;",
        &format!(
            "inherit pkgs;\n            fpTools = \"{}\";",
            bed.tools_dir().display()
        ),
        1,
    );
    std::fs::write(dir.join("flake.nix"), &flake).expect("write");
    let overrides = |pkgs: &Path| {
        vec![
            "--override-input".to_string(),
            "nixpkgs".to_string(),
            format!("path:{}", pkgs.display()),
            "--override-input".to_string(),
            "flakey-profile".to_string(),
            format!("path:{}", lib.display()),
        ]
    };
    let profile = bed.profile().display().to_string();

    nix(&bed)
        .args(["run", ".#profile.switch"])
        .args(overrides(&bed.pkgs(1)))
        .args(["--", "--profile", &profile])
        .current_dir(&dir)
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
    assert_eq!(run_bin(&bed.profile().join("bin/hello")), "hello 1.0\n");

    nix(&bed)
        .args(["run", ".#profile.switch"])
        .args(overrides(&bed.pkgs(2)))
        .args(["--", "--profile", &profile])
        .current_dir(&dir)
        .run()
        .success()
        .stderr_has("~ hello 1.0 -> 1.1");
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));

    nix(&bed)
        .args(["run", ".#profile.rollback"])
        .args(overrides(&bed.pkgs(2)))
        .args(["--", "--profile", &profile])
        .current_dir(&dir)
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(1)));

    // Building does not switch.
    let built = nix(&bed)
        .args(["build", "--no-link", "--json", ".#profile"])
        .args(overrides(&bed.pkgs(2)))
        .current_dir(&dir)
        .run()
        .success();
    assert!(built.stdout.contains("flake-profile"), "{}", built.stdout);
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(1)));
}

#[test]
fn extra_switch_args_reach_the_tools() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with(
        "flake1",
        1,
        &format!(
            "paths = [ pkgs.hello ];\n        extraSwitchArgs = [ \"--profile\" \"{}\" ];",
            bed.profile().display()
        ),
    );
    nix(&bed)
        .args(["run", &format!("{}#profile.switch", flake.display())])
        .args(["--", "--dry-run"])
        .run()
        .success()
        .stderr_has("(dry run)");
    assert_eq!(bed.profile_target(), None);
    nix(&bed)
        .args(["run", &format!("{}#profile.switch", flake.display())])
        .run()
        .success();
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
}

#[test]
fn buildenv_arguments_are_forwarded() {
    let bed = Bed::new();
    let plain = bed.build(&bed.profile_flake_with("plain", 1, "paths = [ pkgs.hello pkgs.tree ];"));
    assert!(Path::new(&plain).join("bin/hello").exists());
    assert!(!Path::new(&plain).join("share/man").exists());

    let man = bed.build(&bed.profile_flake_with(
        "man",
        1,
        "paths = [ pkgs.hello ];\n        extraOutputsToInstall = [ \"man\" ];",
    ));
    assert!(Path::new(&man).join("share/man/man1/hello.1").exists());

    let only = bed.build(&bed.profile_flake_with(
        "only",
        1,
        "paths = [ pkgs.hello ];\n        extraOutputsToInstall = [ \"man\" ];\n        pathsToLink = [ \"/share\" ];",
    ));
    assert!(!Path::new(&only).join("bin").exists());
    assert!(Path::new(&only).join("share/man/man1/hello.1").exists());

    let post = bed.build(&bed.profile_flake_with(
        "post",
        1,
        "paths = [ pkgs.hello ];\n        postBuild = \"echo built > $out/marker\";\n        name = \"my-env\";",
    ));
    assert!(post.ends_with("-my-env"), "{post}");
    assert_eq!(
        std::fs::read_to_string(Path::new(&post).join("marker")).expect("marker"),
        "built\n"
    );
}

#[test]
fn pins_channels_references_the_pinned_sources() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let source = eval_raw(
        &bed,
        format!("{}#profile.pinned.nixpkgs.outPath", flake.display()),
    );
    assert!(
        source.starts_with("/nix/store/") && source.ends_with("-source"),
        "{source}"
    );
    let channels = bed
        .tool("fp-build")
        .arg(format!("{}#profile.pins.channels", flake.display()))
        .run()
        .success()
        .stdout_line()
        .to_string();
    assert!(references(&bed, &channels).contains(&source));
    assert_eq!(
        std::fs::read_link(Path::new(&channels).join("nixpkgs"))
            .expect("link")
            .to_str(),
        Some(source.as_str())
    );
    assert!(Path::new(&channels).join("nixpkgs/pkgs.nix").exists());
}

#[test]
fn a_pin_that_is_not_a_flake_source_fails_evaluation() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with(
        "badpin",
        1,
        "paths = [ pkgs.hello ];\n        pinned.hello = pkgs.hello;",
    );
    let run = nix(&bed)
        .args([
            "build",
            "--no-link",
            &format!("{}#profile", flake.display()),
        ])
        .run()
        .code(1);
    assert!(
        run.stderr
            .contains("lib.mkProfile: pinned.hello is /nix/store/")
            && run
                .stderr
                .contains("which is not a flake source store path"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_library_needs_only_the_allowed_pkgs_functions() {
    let bed = Bed::new();
    let flake = bed.profile_flake_with(
        "minimal",
        1,
        "paths = [ pkgs.hello ];\n        pinned.nixpkgs = nixpkgs;",
    );
    // Replace `inherit pkgs;` with a package set holding only the functions `lib.mkProfile` may
    // use (README's list), so an offline or minimal package set works.
    let text = std::fs::read_to_string(flake.join("flake.nix")).expect("flake");
    let text = text.replacen(
        "inherit pkgs;",
        "pkgs = { inherit (pkgs) stdenv buildEnv writeText writeShellScriptBin linkFarm; };",
        1,
    );
    let text = text.replace(
        "paths = [ pkgs.hello ];",
        "paths = [ nixpkgs.legacyPackages.${pkgs.stdenv.hostPlatform.system}.hello ];",
    );
    std::fs::write(flake.join("flake.nix"), text).expect("write");
    let path = bed.build(&flake);
    assert!(Path::new(&path).join("bin/hello").exists());
    for attr in ["switch", "rollback", "pin", "pins.channels"] {
        nix(&bed)
            .args([
                "build",
                "--no-link",
                &format!("{}#profile.{attr}", flake.display()),
            ])
            .run()
            .success();
    }
}

#[test]
fn repository_flake_evaluates_offline() {
    let bed = Bed::new();
    let lib = bed.lib_flake();
    // `nix flake show` and `nix flake check` evaluate the packages, which need real nixpkgs
    // (rustPlatform); everything else must evaluate offline, and the package names must list.
    let names = nix(&bed)
        .args(["eval", "--json"])
        .arg(format!("path:{}#packages.{}", lib.display(), system()))
        .args(["--apply", "builtins.attrNames"])
        .args(bed.lib_overrides())
        .run()
        .success()
        .stdout;
    let mut expected = tools();
    expected.push("default".to_string());
    expected.sort();
    assert_eq!(
        serde_json::from_str::<Vec<String>>(&names).expect("names"),
        expected
    );
    for (attr, expected) in [
        (
            "templates.default.description",
            "\"A Nix profile declared in a flake, switched with flakey-profile\"",
        ),
        ("lib", "\"set\""),
        ("overlays.default", "\"lambda\""),
    ] {
        let value = nix(&bed)
            .args(["eval", "--json"])
            .arg(format!("path:{}#{attr}", lib.display()))
            .args([
                "--apply",
                if attr == "templates.default.description" {
                    "x: x"
                } else {
                    "builtins.typeOf"
                },
            ])
            .args(bed.lib_overrides())
            .run()
            .success()
            .stdout;
        assert_eq!(value.trim_end(), expected, "{attr}");
    }
    let app_names = nix(&bed)
        .args(["eval", "--json"])
        .arg(format!("path:{}#apps.{}", lib.display(), system()))
        .args(["--apply", "builtins.attrNames"])
        .args(bed.lib_overrides())
        .run()
        .success()
        .stdout;
    assert!(app_names.contains("fp-switch"), "{app_names}");
}

/// Evaluates nix/packages.nix of the repository at `root` with a stand-in nixpkgs that records
/// the arguments of buildRustPackage and runCommand (real nixpkgs is not available offline).
fn packages_with_stand_in(bed: &Bed, root: &Path) -> serde_json::Value {
    let expr = format!(
        r#"
let
  lib = {{ optionalString = c: s: if c then s else ""; licenses.mit = "mit"; platforms.unix = [ ]; }};
  pkgs = {{
    inherit lib;
    stdenv = {{ buildPlatform.canExecute = _: true; hostPlatform = {{ }}; }};
    installShellFiles = "installShellFiles";
    rustPlatform.buildRustPackage = args: args // {{ outPath = "/nix/store/00000000000000000000000000000000-flakey-profile"; rustBuild = true; }};
    runCommand = name: env: script: env // {{ inherit name script; }};
  }};
  packages = import {root}/nix/packages.nix {{ inherit pkgs; src = {root}; }};
in
builtins.mapAttrs (name: p: {{
  name = p.pname or p.name;
  rustBuild = p.rustBuild or false;
  build = p.cargoBuildFlags or [ ];
  source = toString (p.src or "");
  postInstall = p.postInstall or "";
  script = p.script or "";
  description = p.meta.description;
  mainProgram = p.meta.mainProgram;
}}) packages
"#,
        root = root.display()
    );
    let out = bed
        .command("nix-instantiate")
        // Read-write, so the filtered source is really added to the store.
        .args([
            "--eval",
            "--read-write-mode",
            "--strict",
            "--json",
            "--expr",
            &expr,
        ])
        .run()
        .success()
        .stdout;
    serde_json::from_str(&out).expect("json")
}

#[test]
fn one_cargo_build_serves_every_tool_package() {
    let bed = Bed::new();
    let v = packages_with_stand_in(&bed, &fp_testkit::repo_root());
    let build = &v["default"];
    assert_eq!(build["rustBuild"], true);
    assert_eq!(build["build"], serde_json::json!(["--workspace"]));
    assert_eq!(build["mainProgram"], "fp-switch");
    let descriptions = bed
        .command("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(fp_testkit::repo_root().join("nix/tools.nix"))
        .run()
        .success()
        .stdout;
    let descriptions: serde_json::Value = serde_json::from_str(&descriptions).expect("json");
    let out = "/nix/store/00000000000000000000000000000000-flakey-profile";
    for tool in tools() {
        let p = &v[&tool];
        assert_eq!(
            p["rustBuild"], false,
            "{tool} is not a cargo build of its own"
        );
        assert_eq!(p["name"], tool.as_str());
        assert_eq!(p["mainProgram"], tool.as_str());
        assert_eq!(p["description"], descriptions[&tool]);
        let script = p["script"].as_str().expect("script");
        assert!(
            script.contains(&format!("ln -s {out}/bin/{tool} $out/bin/{tool}")),
            "{tool}: {script}"
        );
        let post = build["postInstall"].as_str().expect("postInstall");
        for what in [
            format!("--cmd {tool} "),
            format!("$out/bin/{tool} --generate-man > {tool}.1"),
            format!("installManPage {tool}.1"),
        ] {
            assert!(post.contains(&what), "{what}");
        }
    }
    assert_eq!(
        v.as_object().expect("packages").len(),
        tools().len() + 1,
        "the tools and default"
    );
}

#[test]
fn the_build_source_is_what_cargo_reads() {
    let bed = Bed::new();
    // Two copies of the repository (without target/ and .git), the second with edits that
    // must not change the source, then with one that must.
    let copies = [bed.path().join("repo-a"), bed.path().join("repo-b")];
    for copy in &copies {
        for entry in std::fs::read_dir(fp_testkit::repo_root())
            .expect("repo")
            .flatten()
        {
            let name = entry.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            let to = copy.join(&name);
            if entry.path().is_dir() {
                fp_testkit::copy_dir(&entry.path(), &to);
            } else {
                std::fs::create_dir_all(copy).expect("copy dir");
                std::fs::copy(entry.path(), &to).expect("copy file");
            }
        }
    }
    let source = |root: &Path| {
        packages_with_stand_in(&bed, root)["default"]["source"]
            .as_str()
            .expect("source")
            .to_string()
    };
    let a = source(&copies[0]);
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "fp-nix/src/lib.rs",
        "fp/src/main.rs",
    ] {
        assert!(
            Path::new(&a).join(file).is_file(),
            "{file} is in the source"
        );
    }
    for left_out in [
        "README.md",
        "fp-switch/tests",
        "bench",
        "nix",
        "fp-testkit/pkgs",
    ] {
        assert!(
            !Path::new(&a).join(left_out).exists(),
            "{left_out} is left out"
        );
    }
    let b = &copies[1];
    let append = |file: &str, text: &str| {
        let path = b.join(file);
        let mut content = std::fs::read_to_string(&path).unwrap_or_default();
        content.push_str(text);
        std::fs::write(&path, content).expect("edit");
    };
    append("README.md", "\nAn edit.\n");
    append("fp-switch/tests/switch.rs", "\n// an edit\n");
    append("nix/lib.nix", "\n# an edit\n");
    assert_eq!(
        source(b),
        a,
        "edits outside what cargo reads keep the source"
    );
    append("fp-nix/src/lib.rs", "\n// an edit\n");
    assert_ne!(source(b), a, "an edit of the code changes the source");
}

#[test]
fn the_marker_lists_exactly_the_direct_references() {
    let bed = Bed::new();
    for (name, args) in [
        ("several", "paths = with pkgs; [ hello cowsay tree motd ];"),
        (
            "man",
            "paths = [ pkgs.hello ];\n        extraOutputsToInstall = [ \"man\" ];",
        ),
        (
            "only-share",
            "paths = [ pkgs.hello pkgs.tree ];\n        pathsToLink = [ \"/share\" ];",
        ),
        ("empty", "paths = [ ];"),
        (
            "no-manifest",
            "paths = [ pkgs.tree ];\n        nixProfileManifest = false;",
        ),
    ] {
        let env = bed.build(&bed.profile_flake_with(name, 1, args));
        let marker: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(&env).join(".flakey-profile.json")).expect("marker"),
        )
        .expect("marker is JSON");
        let mut listed: Vec<String> = marker["storePaths"]
            .as_array()
            .expect("storePaths")
            .iter()
            .map(|v| v.as_str().expect("string").to_string())
            .collect();
        listed.sort();
        let mut refs: Vec<String> = references(&bed, &env)
            .into_iter()
            .filter(|r| *r != env)
            .collect();
        refs.sort();
        assert_eq!(listed, refs, "{name}");
        assert_eq!(marker["version"], 1);
    }
}

#[test]
fn extra_switch_args_are_quoted_for_the_shell() {
    let bed = Bed::new();
    let dir = bed.path().join("odd");
    std::fs::create_dir_all(&dir).expect("dir");
    let profile = dir.join(format!(
        "p $(touch {0}/pwned); `touch {0}/pwned2` 'q\" x",
        bed.path().display()
    ));
    std::fs::create_dir_all(profile.parent().expect("parent")).expect("parents");
    let nix_string = fp_nix::nix_expr::string(&profile.display().to_string()).expect("no NUL");
    let flake = bed.profile_flake_with(
        "quoted",
        1,
        &format!(
            "paths = [ pkgs.hello ];\n        extraSwitchArgs = [ \"--profile\" {nix_string} ];"
        ),
    );
    nix(&bed)
        .args(["run", &format!("{}#profile.switch", flake.display())])
        .run()
        .success();
    assert!(
        std::fs::read_link(&profile).is_ok(),
        "the profile is at the literal path"
    );
    assert!(!bed.path().join("pwned").exists() && !bed.path().join("pwned2").exists());
}
