//! fp-pin against real Nix, offline, in a bed of its own: the registry and `<nixpkgs>` follow the
//! profile's pins, other registry content is kept, bad input is refused with nothing touched,
//! and `--revert` undoes pins one by one.
//!
//! No test touches the machine's registry or channels: every run passes `--registry user` (the
//! bed's `$XDG_CONFIG_HOME/nix/registry.json`) or a file in the bed, and either `--no-channels`,
//! `--channels-profile <bed>/profiles/channels`, or a `~/.nix-defexpr/channels` link in the
//! bed's HOME pointing there. The root-default test only reads (`--dry-run`).

use fp_testkit::{is_root, Bed, Cmd, Run};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_PIN: &str = env!("CARGO_BIN_EXE_fp-pin");

/// The bed's channels profile.
fn channels_profile(bed: &Bed) -> PathBuf {
    bed.path().join("profiles/channels")
}

/// `~/.nix-defexpr/channels -> <bed>/profiles/channels`, as nix-channel would have left it.
fn link_channels(bed: &Bed) {
    let dir = bed.home().join(".nix-defexpr");
    std::fs::create_dir_all(&dir).expect("defexpr");
    std::os::unix::fs::symlink(channels_profile(bed), dir.join("channels")).expect("link");
}

/// The bed's user registry.
fn registry(bed: &Bed) -> PathBuf {
    bed.config_home().join("nix/registry.json")
}

/// fp-pin on the bed's user registry.
fn fp_pin(bed: &Bed) -> Cmd {
    bed.tool(FP_PIN).args(["--registry", "user"])
}

/// fp-pin on the bed's user registry and channels profile, named explicitly.
fn fp_pin_here(bed: &Bed) -> Cmd {
    fp_pin(bed)
        .arg("--channels-profile")
        .arg(channels_profile(bed))
}

/// Where the channels profile points (`channels-N-link`), if anywhere.
fn channels_target(bed: &Bed) -> Option<String> {
    std::fs::read_link(channels_profile(bed))
        .ok()
        .map(|t| t.display().to_string())
}

/// The channels generation links that exist.
fn channels_generations(bed: &Bed) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(bed.path().join("profiles"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("channels-"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// How many history entries fp-pin keeps.
fn history_len(bed: &Bed) -> usize {
    std::fs::read_dir(bed.state_home().join("flakey-profile/pin-history"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// What `<nixpkgs>` resolves to with NIX_PATH unset, links followed; `None` if it does not.
fn resolve_nixpkgs(bed: &Bed) -> Option<PathBuf> {
    let run = bed
        .command("nix-instantiate")
        .args(["--eval", "-E", "<nixpkgs>"])
        .run();
    if run.code != 0 {
        return None;
    }
    std::fs::canonicalize(run.stdout.trim()).ok()
}

/// `nix eval --raw nixpkgs#hello.name` through the bed's registry.
fn registry_hello(bed: &Bed) -> Run {
    bed.command("nix")
        .args(["eval", "--raw", "nixpkgs#hello.name"])
        .run()
}

/// The store references of a path.
fn references(bed: &Bed, path: &str) -> Vec<String> {
    bed.command("nix-store")
        .args(["--query", "--references", path])
        .run()
        .success()
        .stdout
        .lines()
        .map(str::to_string)
        .collect()
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).expect("one JSON document on stdout")
}

#[test]
fn pins_the_registry_and_nix_path_to_the_profiles_nixpkgs() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    link_channels(&bed);
    let src = bed.pkgs_source(1);
    let run = fp_pin(&bed).arg(&flake).run().success().no_stdout();
    insta::assert_snapshot!(bed.redact(&run.stderr));

    assert_eq!(registry_hello(&bed).success().stdout, "hello-1.0");
    assert_eq!(resolve_nixpkgs(&bed), Some(PathBuf::from(&src)));
    let revision = bed
        .command("nix-instantiate")
        .args(["--eval", "-E", "import <nixpkgs/revision.nix>"])
        .run()
        .success();
    assert_eq!(revision.stdout.trim(), "1");

    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(registry(&bed)).expect("registry"))
            .expect("registry JSON");
    // Written as `nix registry pin` writes it: with the narHash and lastModified Nix locks the
    // source with, so Nix treats the pin as locked. A Nix that locks a store path without a
    // narHash (Determinate Nix's lazy trees) gets the entry without them.
    let metadata: Value = serde_json::from_str(
        &bed.command("nix")
            .args(["flake", "metadata", "--json", &format!("path:{src}")])
            .run()
            .success()
            .stdout,
    )
    .expect("metadata");
    let locked = &metadata["locked"];
    let to = match locked["narHash"].as_str() {
        Some(hash) => {
            assert!(hash.starts_with("sha256-"), "{metadata}");
            json!({"lastModified": locked["lastModified"], "narHash": hash, "path": src, "type": "path"})
        }
        None => json!({"path": src, "type": "path"}),
    };
    assert_eq!(
        written,
        json!({"flakes": [{"from": {"id": "nixpkgs", "type": "indirect"}, "to": to}], "version": 2})
    );
    assert_eq!(channels_target(&bed).as_deref(), Some("channels-1-link"));
    let generation = std::fs::read_link(bed.path().join("profiles/channels-1-link")).expect("gen");
    let generation = generation.display().to_string();
    assert!(
        generation.ends_with("-flake-profile-channels"),
        "{generation}"
    );
    assert!(
        references(&bed, &generation).contains(&src),
        "the source must be a reference"
    );
    assert_eq!(history_len(&bed), 1);
}

#[test]
fn creates_the_nix_defexpr_link_when_missing() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let run = fp_pin_here(&bed).arg(&flake).arg("--json").run().success();
    let link = bed.home().join(".nix-defexpr/channels");
    assert_eq!(std::fs::read_link(&link).ok(), Some(channels_profile(&bed)));
    assert!(run.stderr.contains("created "), "{}", run.stderr);
    assert_eq!(
        resolve_nixpkgs(&bed),
        Some(PathBuf::from(bed.pkgs_source(1)))
    );
    let v = json(&run);
    assert_eq!(v["action"], "pin");
    assert_eq!(v["dryRun"], false);
    assert_eq!(v["changed"], true);
    assert_eq!(v["registry"]["path"], registry(&bed).display().to_string());
    assert_eq!(v["registry"]["kind"], "user");
    assert_eq!(v["registry"]["entries"][0]["status"], "added");
    assert_eq!(v["channels"]["generation"], 1);
    assert_eq!(v["channels"]["previous"], Value::Null);
    assert_eq!(v["channels"]["createsDefexprLink"], true);
    assert_eq!(v["channels"]["links"][0]["name"], "nixpkgs");
    assert_eq!(v["history"]["entry"], 1);
}

#[test]
fn same_pins_twice_change_nothing() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    link_channels(&bed);
    fp_pin(&bed).arg(&flake).run().success();
    let before = std::fs::read(registry(&bed)).expect("registry");
    let run = fp_pin(&bed).arg(&flake).arg("--json").run().success();
    assert!(run.stderr.contains("nothing to do"), "{}", run.stderr);
    assert_eq!(std::fs::read(registry(&bed)).expect("registry"), before);
    assert_eq!(channels_generations(&bed), ["channels-1-link"]);
    assert_eq!(history_len(&bed), 1);
    let v = json(&run);
    assert_eq!(v["changed"], false);
    assert_eq!(v["registry"]["entries"][0]["status"], "unchanged");
    assert_eq!(v["channels"]["changed"], false);
    assert_eq!(v["history"], Value::Null);
}

const OTHERS: &str = r#"{
  "comment": {"kept": [1, 2.5, null, "x"]},
  "flakes": [
    {"from": {"id": "gh", "type": "indirect"},
     "to": {"owner": "NixOS", "ref": "nixos-23.05", "repo": "nixpkgs", "type": "github"},
     "exact": true},
    {"from": {"id": "local", "type": "indirect"},
     "to": {"dir": "sub", "lastModified": 1795545294, "path": "/somewhere", "type": "path"},
     "unknownField": {"nested": true}}
  ],
  "version": 2
}"#;

#[test]
fn other_entries_and_unknown_fields_are_kept() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    std::fs::create_dir_all(registry(&bed).parent().expect("dir")).expect("dir");
    std::fs::write(registry(&bed), OTHERS).expect("registry");
    std::fs::set_permissions(registry(&bed), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    fp_pin(&bed)
        .arg(&flake)
        .arg("--no-channels")
        .run()
        .success();

    let before: Value = serde_json::from_str(OTHERS).expect("json");
    let after: Value = serde_json::from_str(&std::fs::read_to_string(registry(&bed)).expect("r"))
        .expect("registry still parses");
    assert_eq!(after["comment"], before["comment"]);
    assert_eq!(after["version"], 2);
    let flakes = after["flakes"].as_array().expect("flakes");
    assert_eq!(flakes.len(), 3);
    assert_eq!(flakes[0], before["flakes"][0]);
    assert_eq!(flakes[1], before["flakes"][1]);
    assert_eq!(
        flakes[2]["from"],
        json!({"id": "nixpkgs", "type": "indirect"})
    );
    assert_eq!(
        std::fs::metadata(registry(&bed))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o600,
        "the file's mode is kept"
    );
    assert_eq!(registry_hello(&bed).success().stdout, "hello-1.0");
    // --no-channels leaves NIX_PATH alone.
    assert!(!bed.home().join(".nix-defexpr").exists());
    assert_eq!(channels_target(&bed), None);
}

#[test]
fn an_existing_entry_is_replaced_and_moves_to_the_end() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let old = bed.pkgs_source(2);
    std::fs::create_dir_all(registry(&bed).parent().expect("dir")).expect("dir");
    let text = format!(
        r#"{{"flakes": [{{"from": {{"id": "nixpkgs", "type": "indirect"}}, "to": {{"path": "{old}", "type": "path"}}}},
            {{"from": {{"id": "other", "type": "indirect"}}, "to": {{"path": "/x", "type": "path"}}}}], "version": 2}}"#
    );
    std::fs::write(registry(&bed), text).expect("registry");
    assert_eq!(registry_hello(&bed).success().stdout, "hello-1.1");
    let run = fp_pin(&bed)
        .arg(&flake)
        .arg("--no-channels")
        .run()
        .success();
    insta::assert_snapshot!(bed.redact(&run.stderr));
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(registry(&bed)).expect("r")).expect("json");
    let ids: Vec<&str> = after["flakes"]
        .as_array()
        .expect("flakes")
        .iter()
        .map(|e| e["from"]["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["other", "nixpkgs"]);
    assert_eq!(registry_hello(&bed).success().stdout, "hello-1.0");
}

/// A refused run: the exit code, a message, nothing on stdout, and nothing written.
fn refused(bed: &Bed, cmd: Cmd, code: i32, needle: &str) -> Run {
    let before = std::fs::read(registry(bed)).ok();
    let run = cmd
        .run()
        .code(code)
        .no_stdout()
        .stderr_has("fp-pin: error: ")
        .stderr_has(needle);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(
        std::fs::read(registry(bed)).ok(),
        before,
        "registry untouched"
    );
    assert_eq!(channels_target(bed), None, "channels untouched");
    assert_eq!(history_len(bed), 0, "no history");
    run
}

#[test]
fn a_registry_that_does_not_parse_is_left_alone() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    std::fs::create_dir_all(registry(&bed).parent().expect("dir")).expect("dir");
    for (text, needle) in [
        ("{\"flakes\": [\n  {\"from\": ", "is not valid JSON"),
        (r#"{"flakes": [], "version": 1}"#, "has version 1"),
        (r#"{"flakes": []}"#, "has no \"version\""),
        (r#"["not", "an", "object"]"#, "not a JSON object"),
        (r#"{"flakes": {"a": 1}, "version": 2}"#, "not a list"),
    ] {
        std::fs::write(registry(&bed), text).expect("registry");
        let run = refused(&bed, fp_pin_here(&bed).arg(&flake), 2, needle);
        assert!(run.stderr.contains("hint: "), "{}", run.stderr);
        assert_eq!(std::fs::read_to_string(registry(&bed)).expect("r"), text);
    }
}

#[test]
fn pins_that_are_not_flake_sources_are_refused() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let built = bed.build(&flake);
    let src = bed.pkgs_source(1);
    std::fs::create_dir_all(registry(&bed).parent().expect("dir")).expect("dir");
    std::fs::write(registry(&bed), OTHERS).expect("registry");
    let pin = |value: &str| fp_pin_here(&bed).arg("--no-flake").arg("--pin").arg(value);
    let run = refused(
        &bed,
        pin(&format!("nixpkgs={built}")),
        2,
        "is not a flake source",
    );
    insta::assert_snapshot!(bed.redact(&run.stderr));
    refused(&bed, pin("nixpkgs=/tmp"), 2, "not in the Nix store");
    refused(
        &bed,
        pin("nixpkgs=/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source"),
        2,
        "not a valid path in the Nix store",
    );
    refused(&bed, pin(&src), 2, "expected NAME=STOREPATH");
    refused(
        &bed,
        pin(&format!("9lives={src}")),
        2,
        "not a usable flake name",
    );
    refused(
        &bed,
        pin(&format!("nixpkgs={src}/lib")),
        2,
        "not a store path itself",
    );
    refused(
        &bed,
        fp_pin_here(&bed).arg("--no-flake"),
        2,
        "nothing to pin",
    );
    refused(
        &bed,
        fp_pin_here(&bed).arg(&flake).arg("--no-flake"),
        2,
        "cannot be used with",
    );
}

/// The store path of a profile flake's `pins.channels`, built.
fn channels_of(bed: &Bed, flake: &Path) -> String {
    let built = bed
        .command("nix")
        .args(["build", "--no-link", "--json"])
        .arg(format!("{}#profile.pins.channels", flake.display()))
        .run()
        .success();
    let built: Value = serde_json::from_str(&built.stdout).expect("json");
    built[0]["outputs"]["out"]
        .as_str()
        .expect("out")
        .to_string()
}

#[test]
fn a_channels_path_must_hold_exactly_the_pins() {
    let bed = Bed::new();
    let flake2 = bed.profile_flake("flake2", 2, &["hello"]);
    let other = channels_of(&bed, &flake2);
    let src1 = bed.pkgs_source(1);
    refused(
        &bed,
        fp_pin_here(&bed)
            .args(["--no-flake", "--pin"])
            .arg(format!("nixpkgs={src1}"))
            .arg("--channels-path")
            .arg(&other),
        2,
        "but not as a link to",
    );
    refused(
        &bed,
        fp_pin_here(&bed)
            .args(["--no-flake", "--pin"])
            .arg(format!("nixpkgs={src1}"))
            .arg("--channels-path")
            .arg(&src1),
        2,
        "which is not pinned",
    );
}

#[test]
fn pins_from_the_command_line_get_channels_of_their_own() {
    let bed = Bed::new();
    let (src1, src2) = (bed.pkgs_source(1), bed.pkgs_source(2));
    let run = fp_pin_here(&bed)
        .arg("--no-flake")
        .arg("--pin")
        .arg(format!("nixpkgs={src2}"))
        .arg("--pin")
        .arg(format!("older={src1}"))
        .arg("--json")
        .run()
        .success();
    let v = json(&run);
    let path = v["channels"]["storePath"].as_str().expect("store path");
    assert!(path.ends_with("-fp-pin-channels"), "{path}");
    let refs = references(&bed, path);
    assert!(refs.contains(&src1) && refs.contains(&src2), "{refs:?}");
    let eval = |expr: &str| {
        bed.command("nix-instantiate")
            .args(["--eval", "-E", expr])
            .run()
            .success()
            .stdout
            .trim()
            .to_string()
    };
    assert_eq!(eval("import <nixpkgs/revision.nix>"), "2");
    assert_eq!(eval("import <older/revision.nix>"), "1");
    assert_eq!(registry_hello(&bed).success().stdout, "hello-1.1");
    assert_eq!(
        bed.command("nix")
            .args(["eval", "--raw", "older#hello.name"])
            .run()
            .success()
            .stdout,
        "hello-1.0"
    );
}

#[test]
fn a_pin_flag_wins_over_the_flakes_pin() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let src2 = bed.pkgs_source(2);
    fp_pin_here(&bed)
        .arg(&flake)
        .arg("--pin")
        .arg(format!("nixpkgs={src2}"))
        .run()
        .success();
    assert_eq!(registry_hello(&bed).success().stdout, "hello-1.1");
    assert_eq!(resolve_nixpkgs(&bed), Some(PathBuf::from(src2)));
}

#[test]
fn dry_run_writes_nothing() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let run = fp_pin_here(&bed)
        .arg(&flake)
        .args(["--dry-run", "--json"])
        .run()
        .success();
    insta::assert_snapshot!(bed.redact(&run.stderr));
    let v = json(&run);
    assert_eq!(v["dryRun"], true);
    assert_eq!(v["changed"], true);
    assert_eq!(v["registry"]["entries"][0]["status"], "added");
    assert_eq!(v["channels"]["generation"], 1);
    assert_eq!(v["channels"]["createsDefexprLink"], true);
    assert_eq!(v["history"], Value::Null);
    assert!(!registry(&bed).exists());
    assert!(!bed.home().join(".nix-defexpr").exists());
    assert_eq!(channels_target(&bed), None);
    assert!(!bed.state_home().join("flakey-profile").exists());
}

#[test]
fn dry_run_shows_added_changed_and_unchanged_entries() {
    let bed = Bed::new();
    link_channels(&bed);
    let (src1, src2) = (bed.pkgs_source(1), bed.pkgs_source(2));
    fp_pin(&bed)
        .args(["--no-flake", "--pin"])
        .arg(format!("nixpkgs={src1}"))
        .arg("--pin")
        .arg(format!("same={src1}"))
        .run()
        .success();
    let before = std::fs::read(registry(&bed)).expect("registry");
    let run = fp_pin(&bed)
        .args(["--no-flake", "--dry-run", "--pin"])
        .arg(format!("nixpkgs={src2}"))
        .arg("--pin")
        .arg(format!("same={src1}"))
        .arg("--pin")
        .arg(format!("new={src2}"))
        .run()
        .success()
        .no_stdout();
    insta::assert_snapshot!(bed.redact(&run.stderr));
    assert_eq!(std::fs::read(registry(&bed)).expect("registry"), before);
    assert_eq!(channels_generations(&bed), ["channels-1-link"]);
    assert_eq!(history_len(&bed), 1);
}

#[test]
fn revert_after_one_and_two_pins_restores_each_file_exactly() {
    let bed = Bed::new();
    link_channels(&bed);
    let flake1 = bed.profile_flake("flake1", 1, &["hello"]);
    let flake2 = bed.profile_flake("flake2", 2, &["hello"]);
    // Formatted as no tool would write it, so only a byte-exact restore matches.
    std::fs::create_dir_all(registry(&bed).parent().expect("dir")).expect("dir");
    std::fs::write(registry(&bed), OTHERS).expect("registry");
    std::fs::set_permissions(registry(&bed), std::fs::Permissions::from_mode(0o640))
        .expect("chmod");
    let file0 = std::fs::read(registry(&bed)).expect("r0");

    fp_pin(&bed).arg(&flake1).run().success();
    let file1 = std::fs::read(registry(&bed)).expect("r1");
    fp_pin(&bed).arg(&flake2).run().success();
    let file2 = std::fs::read(registry(&bed)).expect("r2");
    assert!(file0 != file1 && file1 != file2);
    assert_eq!(registry_hello(&bed).success().stdout, "hello-1.1");
    assert_eq!(channels_target(&bed).as_deref(), Some("channels-2-link"));
    assert_eq!(history_len(&bed), 2);

    let run = fp_pin(&bed).arg("--revert").run().success().no_stdout();
    insta::assert_snapshot!("revert_second", bed.redact(&run.stderr));
    assert_eq!(std::fs::read(registry(&bed)).expect("r"), file1);
    assert_eq!(channels_target(&bed).as_deref(), Some("channels-1-link"));
    assert_eq!(registry_hello(&bed).success().stdout, "hello-1.0");
    assert_eq!(
        resolve_nixpkgs(&bed),
        Some(PathBuf::from(bed.pkgs_source(1)))
    );

    let run = bed
        .tool(FP_PIN)
        .args(["--revert", "--json"])
        .run()
        .success();
    assert_eq!(std::fs::read(registry(&bed)).expect("r"), file0);
    assert_eq!(
        std::fs::metadata(registry(&bed))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o640
    );
    let v = json(&run);
    assert_eq!(v["action"], "revert");
    assert_eq!(v["registry"]["restore"], "content");
    assert_eq!(v["channels"]["empty"], true);
    assert_eq!(v["remaining"], 0);
    // The first pin had made the channels profile's first generation: back to no channels.
    assert_eq!(resolve_nixpkgs(&bed), None);
    assert_eq!(history_len(&bed), 0);

    let run = bed.tool(FP_PIN).arg("--revert").run().code(1).no_stdout();
    assert!(run.stderr.contains("nothing to revert"), "{}", run.stderr);
    assert_eq!(std::fs::read(registry(&bed)).expect("r"), file0);
}

#[test]
fn revert_removes_a_registry_the_pin_created_and_dry_run_keeps_it() {
    let bed = Bed::new();
    let src = bed.pkgs_source(1);
    fp_pin(&bed)
        .args(["--no-flake", "--no-channels", "--pin"])
        .arg(format!("nixpkgs={src}"))
        .run()
        .success();
    assert!(registry(&bed).exists());
    let run = bed
        .tool(FP_PIN)
        .args(["--revert", "--dry-run"])
        .run()
        .success();
    insta::assert_snapshot!(bed.redact(&run.stderr));
    assert!(registry(&bed).exists());
    assert_eq!(history_len(&bed), 1);
    bed.tool(FP_PIN).arg("--revert").run().success();
    assert!(!registry(&bed).exists());
}

#[test]
fn revert_refuses_to_overwrite_a_registry_that_does_not_parse() {
    let bed = Bed::new();
    let src = bed.pkgs_source(1);
    fp_pin(&bed)
        .args(["--no-flake", "--no-channels", "--pin"])
        .arg(format!("nixpkgs={src}"))
        .run()
        .success();
    std::fs::write(registry(&bed), "{ broken").expect("break it");
    bed.tool(FP_PIN)
        .arg("--revert")
        .run()
        .code(2)
        .stderr_has("is not valid JSON");
    assert_eq!(
        std::fs::read_to_string(registry(&bed)).expect("r"),
        "{ broken"
    );
    assert_eq!(history_len(&bed), 1);
}

#[test]
fn the_profiles_pin_program_pins_without_reading_the_flake() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    link_channels(&bed);
    let built = bed
        .command("nix")
        .args(["build", "--no-link", "--json"])
        .arg(format!("{}#profile.pin", flake.display()))
        .run()
        .success();
    let v: Value = serde_json::from_str(&built.stdout).expect("json");
    let script = Path::new(v[0]["outputs"]["out"].as_str().expect("out")).join("bin/pin");
    let channels = bed
        .command("nix")
        .args(["eval", "--raw"])
        .arg(format!("{}#profile.pins.channels.outPath", flake.display()))
        .run()
        .success()
        .stdout;
    // Run from elsewhere: the script must not depend on the current directory's flake.
    let run = bed
        .command(&script)
        .args(["--registry", "user", "--json", "-v"])
        .current_dir(bed.home())
        .run()
        .success();
    assert!(!run.stderr.contains("nix build"), "{}", run.stderr);
    let v = json(&run);
    assert_eq!(v["channels"]["storePath"], channels);
    assert_eq!(registry_hello(&bed).success().stdout, "hello-1.0");
    assert_eq!(
        resolve_nixpkgs(&bed),
        Some(PathBuf::from(bed.pkgs_source(1)))
    );
    // `nix run .#profile.pin -- --revert`: the script's own pins are ignored.
    bed.command(&script)
        .arg("--revert")
        .current_dir(bed.home())
        .run()
        .success();
    assert!(!registry(&bed).exists());
    assert_eq!(resolve_nixpkgs(&bed), None);
}

#[test]
fn a_registry_linked_into_the_store_is_not_replaced() {
    let bed = Bed::new();
    let src = bed.pkgs_source(1);
    std::fs::create_dir_all(registry(&bed).parent().expect("dir")).expect("dir");
    // What home-manager does: the registry is a link to a file in the store.
    let reg_src = bed.path().join("reg-src");
    std::fs::create_dir_all(&reg_src).expect("dir");
    std::fs::write(
        reg_src.join("registry.json"),
        r#"{"flakes": [], "version": 2}"#,
    )
    .expect("write");
    let added = bed
        .command("nix-store")
        .arg("--add")
        .arg(reg_src.join("registry.json"))
        .run()
        .success()
        .stdout;
    std::os::unix::fs::symlink(added.trim(), registry(&bed)).expect("link");
    let run = bed
        .tool(FP_PIN)
        .arg("--registry")
        .arg(registry(&bed))
        .args(["--no-flake", "--no-channels", "--pin"])
        .arg(format!("nixpkgs={src}"))
        .run()
        .code(1)
        .stderr_has("is a link into the Nix store");
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    assert_eq!(
        std::fs::read_link(registry(&bed)).expect("still a link"),
        PathBuf::from(added.trim())
    );
}

#[test]
fn the_default_registry_is_the_system_one_for_root() {
    if !is_root() {
        eprintln!("needs root; the non-root default is checked by the next test");
        return;
    }
    let bed = Bed::new();
    let src = bed.pkgs_source(1);
    let etc = Path::new("/etc/nix/registry.json");
    let existed = std::fs::read(etc).ok();
    let run = bed
        .tool(FP_PIN)
        .args([
            "--no-flake",
            "--no-channels",
            "--dry-run",
            "--json",
            "-v",
            "--pin",
        ])
        .arg(format!("nixpkgs={src}"))
        .run()
        .success()
        .stderr_has("(system registry, from default for root)");
    let v = json(&run);
    assert_eq!(v["registry"]["path"], "/etc/nix/registry.json");
    assert_eq!(v["registry"]["kind"], "system");
    assert_eq!(std::fs::read(etc).ok(), existed, "/etc is never written");

    // With NIX_CONF_DIR the system registry is elsewhere; there a real run can write it.
    let conf = bed.path().join("etc-nix");
    std::fs::create_dir_all(&conf).expect("dir");
    bed.tool(FP_PIN)
        .args(["--no-flake", "--no-channels", "--pin"])
        .arg(format!("nixpkgs={src}"))
        .env("NIX_CONF_DIR", &conf)
        .run()
        .success();
    assert!(conf.join("registry.json").exists());
    assert!(!registry(&bed).exists());
}

/// Runs a copy of fp-pin as `nobody` (root may write anywhere, so this is how an unwritable
/// directory is tested); `None` when the machine does not allow it.
fn as_nobody(bed: &Bed, shared: &Path, args: &[&str]) -> Option<Run> {
    if !is_root()
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("needs root and setpriv to act as another user");
        return None;
    }
    let bin = shared.join("fp-pin");
    if !bin.exists() {
        std::fs::copy(FP_PIN, &bin).expect("copy binary");
    }
    Some(
        bed.command("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(args)
            .env("USER", "nobody")
            .env("HOME", shared.join("home"))
            .env("XDG_CONFIG_HOME", shared.join("config"))
            .env("XDG_STATE_HOME", shared.join("state"))
            .run(),
    )
}

/// A root-owned 0755 directory `nobody` can read but not write (but for fp-pin's state
/// directory in it, which is nobody's).
fn shared_dir() -> fp_testkit::tempfile::TempDir {
    let shared = fp_testkit::tempfile::Builder::new()
        .prefix("fp-shared-")
        .tempdir()
        .expect("tmp");
    for sub in ["", "home", "config", "state", "registry"] {
        let p = shared.path().join(sub);
        std::fs::create_dir_all(&p).expect("dir");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    // fp-pin's own state directory is nobody's, as a user's is: fp-pin keeps its lock and
    // history only in a directory of the user's own.
    let state = shared.path().join("state/flakey-profile");
    std::fs::create_dir_all(&state).expect("dir");
    std::os::unix::fs::chown(&state, Some(65534), Some(65534)).expect("chown");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    shared
}

#[test]
fn an_unwritable_registry_directory_is_exit_1_and_the_file_untouched() {
    let bed = Bed::new();
    let src = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source";
    let shared = shared_dir();
    let file = shared.path().join("registry/registry.json");
    std::fs::write(&file, OTHERS).expect("registry");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let pin = format!("nixpkgs={src}");
    let file_arg = file.display().to_string();
    let args = [
        "--no-flake",
        "--no-channels",
        "--pin",
        &pin,
        "--registry",
        &file_arg,
    ];
    let Some(run) = as_nobody(&bed, shared.path(), &args) else {
        return;
    };
    let run = run
        .code(1)
        .no_stdout()
        .stderr_has("is not writable by you")
        .stderr_has("hint: ");
    insta::assert_snapshot!(run
        .stderr
        .replace(&shared.path().display().to_string(), "[SHARED]"));
    assert_eq!(std::fs::read_to_string(&file).expect("r"), OTHERS);
    assert_eq!(
        std::fs::read_dir(shared.path().join("registry"))
            .expect("d")
            .count(),
        1
    );

    // Not root: the default is the user registry, here under the unwritable XDG_CONFIG_HOME.
    let user_default = as_nobody(&bed, shared.path(), &args[..4])
        .expect("allowed above")
        .code(1);
    let expected = shared.path().join("config/nix/registry.json");
    assert!(
        user_default
            .stderr
            .contains(&format!("cannot write {}", expected.display())),
        "{}",
        user_default.stderr
    );
}

#[test]
fn warns_when_nixpkgs_will_not_see_the_pin() {
    let bed = Bed::new();
    let src = bed.pkgs_source(1);
    link_channels(&bed);
    let other = bed.path().join("profiles/other-channels");
    fp_pin(&bed)
        .args(["--no-flake", "--dry-run", "--pin"])
        .arg(format!("nixpkgs={src}"))
        .arg("--channels-profile")
        .arg(&other)
        .env("NIX_PATH", "nixpkgs=/somewhere/else")
        .run()
        .success()
        .stderr_has(&format!(
            "points to {}, not to {}",
            channels_profile(&bed).display(),
            other.display()
        ))
        .stderr_has("NIX_PATH is set (nixpkgs=/somewhere/else)");
    assert_eq!(channels_target(&bed), None);
}

#[test]
fn a_channels_profile_in_fp_pins_state_directory_is_switched_without_waiting_for_itself() {
    // fp-pin holds its own lock file while it locks the channels profile's directory; with the
    // channels profile in fp-pin's state directory, a lock on that directory would wait forever.
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let profile = bed.state_home().join("flakey-profile/channels");
    fp_pin(&bed)
        .arg(&flake)
        .arg("--channels-profile")
        .arg(&profile)
        .run()
        .success();
    let generation = std::fs::read_link(&profile).expect("the channels profile is a link");
    assert_eq!(generation, Path::new("channels-1-link"));
}

#[test]
fn pin_arguments_without_a_flake_argument_evaluate_no_flake() {
    let bed = Bed::new();
    let src = bed.pkgs_source(1);
    // The configured flake does not even evaluate: it is not read.
    let broken = bed.path().join("broken");
    std::fs::create_dir_all(&broken).expect("dir");
    std::fs::write(broken.join("flake.nix"), "{ outputs = throw \"read\"; }").expect("flake");
    std::fs::create_dir_all(bed.config_home().join("flakey-profile")).expect("config dir");
    std::fs::write(
        bed.config_home().join("flakey-profile/config.toml"),
        format!("flake = {:?}\n", broken.display().to_string()),
    )
    .expect("config");
    let run = fp_pin_here(&bed)
        .args(["-v", "--pin"])
        .arg(format!("nixpkgs={src}"))
        .run()
        .success();
    assert!(!run.stderr.contains("#profile"), "{}", run.stderr);
    assert!(
        !run.stderr.contains(&broken.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("no flake is read"), "{}", run.stderr);
    let text = std::fs::read_to_string(registry(&bed)).expect("registry");
    assert!(text.contains(&src), "{text}");
    // Naming the flake reads it (and here fails on it).
    fp_pin_here(&bed)
        .arg(&broken)
        .arg("--pin")
        .arg(format!("nixpkgs={src}"))
        .run()
        .code(1);
}

/// `$NIX_CONFIG_HOME` names the user's config directory for the Nix that reads it (upstream
/// 2.25 and later, Determinate Nix) and is ignored by the others (older Nix, Lix): the pin goes
/// to the registry the running Nix reads, so `nixpkgs#hello` resolves through it either way.
#[test]
fn the_pin_goes_to_the_registry_nix_reads_with_nix_config_home_set() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    link_channels(&bed);
    let config_home = bed.path().join("nix-config-home");
    std::fs::create_dir_all(&config_home).expect("config home");
    fp_pin(&bed)
        .env("NIX_CONFIG_HOME", &config_home)
        .arg(&flake)
        .run()
        .success();
    let run = bed
        .command("nix")
        .env("NIX_CONFIG_HOME", &config_home)
        .args(["eval", "--raw", "nixpkgs#hello.name"])
        .run()
        .success();
    assert_eq!(run.stdout, "hello-1.0");
}

/// What the hints advise for a source not in the store, on every Nix (also where building and
/// `nix flake metadata` leave it out, as Determinate Nix with lazy trees does): the refusal
/// names `nix flake archive`, which copies the flake's sources into the store and prints the
/// store path of each, and that path is then pinned.
#[test]
fn nix_flake_archive_gives_a_source_to_pin() {
    let bed = Bed::new();
    link_channels(&bed);
    let missing = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source";
    let pin = |value: &str| fp_pin_here(&bed).arg("--no-flake").arg("--pin").arg(value);
    let run = refused(
        &bed,
        pin(&format!("nixpkgs={missing}")),
        2,
        "nix flake archive",
    );
    assert!(run.stderr.contains("not a valid path"), "{}", run.stderr);
    let archived = bed
        .command("nix")
        .args(["flake", "archive", "--json"])
        .arg(format!("path:{}", bed.pkgs(2).display()))
        .run()
        .success();
    let doc: Value = serde_json::from_str(&archived.stdout).expect("json");
    let path = doc["path"]
        .as_str()
        .expect("nix flake archive --json prints path");
    pin(&format!("nixpkgs={path}")).run().success();
    assert_eq!(registry_hello(&bed).success().stdout, "hello-1.1");
}

#[test]
fn no_flake_anywhere_is_said_as_fp_build_says_it() {
    let bed = Bed::new();
    let run = fp_pin_here(&bed).run().code(2).no_stdout();
    insta::assert_snapshot!(bed.redact(&run.stderr));
    assert!(!registry(&bed).exists(), "nothing pinned");
    assert!(!channels_profile(&bed).exists(), "no channels generation");
}

#[test]
fn a_given_channels_path_is_used_not_built() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let channels = channels_of(&bed, &flake);
    let run = fp_pin_here(&bed)
        .args(["--no-flake", "--pin"])
        .arg(format!("nixpkgs={}", bed.pkgs_source(1)))
        .arg("--channels-path")
        .arg(&channels)
        .run()
        .success()
        .stderr_has(&format!("using the channels (--channels-path {channels})"));
    assert!(!run.stderr.contains("building"), "{}", run.stderr);
}
