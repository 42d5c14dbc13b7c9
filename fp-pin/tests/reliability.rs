//! Reliability of fp-pin against real Nix: kills at random moments leave the registry either
//! the old or the new file; hostile registries and names are refused cleanly.

use fp_testkit::{kill, Bed, Random};
use serde_json::Value;
use std::path::PathBuf;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_PIN: &str = env!("CARGO_BIN_EXE_fp-pin");

fn registry(bed: &Bed) -> PathBuf {
    bed.config_home().join("nix/registry.json")
}

fn pin(bed: &Bed, source: &str) -> fp_testkit::Cmd {
    bed.tool(FP_PIN)
        .args(["--registry", "user", "--no-flake", "--no-channels", "--pin"])
        .arg(format!("nixpkgs={source}"))
}

/// The nixpkgs entry of the registry, which must be valid JSON of version 2.
fn pinned_path(bed: &Bed) -> String {
    let text = std::fs::read_to_string(registry(bed)).expect("registry");
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON ({e}): {text}"));
    assert_eq!(v["version"], 2);
    let flakes = v["flakes"].as_array().expect("flakes");
    let entry = flakes
        .iter()
        .find(|f| f["from"]["id"] == "nixpkgs")
        .expect("nixpkgs entry");
    assert_eq!(flakes.len(), 2, "the other entry is kept: {text}");
    entry["to"]["path"].as_str().expect("path").to_string()
}

/// The registry before the first pin: one other entry.
const OTHER: &str = r#"{"flakes":[{"from":{"id":"other","type":"indirect"},"to":{"path":"/x","type":"path"}}],"version":2}"#;

#[test]
fn killed_at_random_moments_the_registry_is_old_or_new() {
    let bed = Bed::new();
    let sources = [bed.pkgs_source(1), bed.pkgs_source(2)];
    std::fs::create_dir_all(registry(&bed).parent().expect("dir")).expect("dir");
    std::fs::write(registry(&bed), OTHER).expect("registry");
    pin(&bed, &sources[0]).run().success();
    let mut random = Random::new(0x0dd_ba11);
    for trial in 0..100 {
        let mut child = pin(&bed, &sources[(trial + 1) % 2]).spawn_group();
        std::thread::sleep(std::time::Duration::from_micros(random.below(20_000)));
        kill(&mut child, true);
        let now = pinned_path(&bed);
        assert!(sources.contains(&now), "trial {trial}: {now}");
    }
    // Temporary files of killed runs are ignored: the next runs work, and revert still works.
    pin(&bed, &sources[1]).run().success();
    assert_eq!(pinned_path(&bed), sources[1]);
    pin(&bed, &sources[0]).run().success();
    bed.tool(FP_PIN)
        .args(["--revert", "--registry", "user"])
        .run()
        .success();
    assert_eq!(pinned_path(&bed), sources[1]);
    // Every entry, complete or left pending by a kill, reverts in turn, back to the registry
    // from before the first pin.
    let mut reverts = 0;
    loop {
        let run = bed
            .tool(FP_PIN)
            .args(["--revert", "--registry", "user"])
            .run();
        if run.stderr.contains("nothing to revert") {
            break;
        }
        assert_eq!(run.code, 0, "revert {reverts}: {}", run.stderr);
        reverts += 1;
        assert!(reverts < 1000, "reverting never ends");
    }
    assert_eq!(
        std::fs::read_to_string(registry(&bed)).expect("registry"),
        OTHER
    );
}

/// Every refused registry: exit 2, a message, and the file byte for byte as it was.
fn refused_registry(bed: &Bed, content: &[u8]) -> String {
    std::fs::create_dir_all(registry(bed).parent().expect("dir")).expect("dir");
    std::fs::write(registry(bed), content).expect("registry");
    let src = bed.pkgs_source(1);
    let run = pin(bed, &src).run().code(2).no_stdout();
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        std::fs::read(registry(bed)).expect("registry") == content,
        "registry changed"
    );
    run.stderr
}

#[test]
fn hostile_registries_are_refused_and_untouched() {
    let bed = Bed::new();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = refused_registry(&bed, deep.as_bytes());
    assert!(err.contains("registry"), "{err}");
    refused_registry(&bed, b"{\"flakes\": [], \"version\": 2, \"x\": \"\xff\"}");
    refused_registry(&bed, b"{\"flakes\": [\0], \"version\": 2}");
    let err = refused_registry(&bed, &vec![b' '; 100 * 1024 * 1024]);
    assert!(err.contains("larger than"), "{err}");
}

#[test]
fn hostile_pin_names_are_refused_and_run_nothing() {
    let bed = Bed::new();
    let src = bed.pkgs_source(1);
    for name in [
        "we ird",
        "a;touch pwned",
        "$(touch pwned)",
        "`touch pwned`",
        "x\"y",
        "",
        "-x",
    ] {
        let run = bed
            .tool(FP_PIN)
            .args(["--registry", "user", "--no-flake", "--no-channels", "--pin"])
            .arg(format!("{name}={src}"))
            .run()
            .code(2)
            .no_stdout();
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert!(!registry(&bed).exists());
    assert!(!bed.path().join("pwned").exists());
}

/// The registry's `to.path` of each flake id.
fn pinned_paths(bed: &Bed) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(registry(bed)).expect("registry");
    let v: Value = serde_json::from_str(&text).expect("registry JSON");
    v["flakes"]
        .as_array()
        .expect("flakes")
        .iter()
        .map(|f| {
            let id = f["from"]["id"].as_str().expect("id").to_string();
            (id, f["to"]["path"].as_str().expect("path").to_string())
        })
        .collect()
}

#[test]
fn two_pins_at_once_both_land() {
    let bed = Bed::new();
    let sources = [bed.pkgs_source(1), bed.pkgs_source(2)];
    for round in 0..10 {
        let wanted = [
            ("nixpkgs", &sources[round % 2]),
            ("other", &sources[(round + 1) % 2]),
        ];
        let runs: Vec<_> = wanted
            .iter()
            .map(|(name, src)| {
                let cmd = bed
                    .tool(FP_PIN)
                    .args(["--registry", "user", "--no-flake", "--no-channels", "--pin"])
                    .arg(format!("{name}={src}"));
                std::thread::spawn(move || cmd.run())
            })
            .collect();
        for run in runs {
            // The second waits for the first and then pins on top of what it left.
            run.join().expect("thread").success();
        }
        let now = pinned_paths(&bed);
        for (name, src) in wanted {
            assert_eq!(now.get(name), Some(src), "round {round}: {now:?}");
        }
    }
}
