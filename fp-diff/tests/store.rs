//! Where fp-diff's facts come from: the store's database when it can be read, else nix; the
//! same diff either way, and the same numbers as `nix store diff-closures`.

use fp_testkit::{repo_root, Bed};
use serde_json::Value;
use std::collections::BTreeMap;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_DIFF: &str = env!("CARGO_BIN_EXE_fp-diff");

/// A pair of envs from bench/envs.nix: `count` packages each, the second with changed
/// versions (each 10 KiB bigger), five removed and five added; with or without our marker.
fn env_pair(bed: &Bed, count: u32, marker: bool) -> (String, String) {
    let build = |changed: bool| {
        bed.command("nix-build")
            .arg("--no-out-link")
            .arg(repo_root().join("bench/envs.nix"))
            .args(["--arg", "count", &count.to_string()])
            .args(["--arg", "changed", &changed.to_string()])
            .args(["--arg", "marker", &marker.to_string()])
            .run()
            .success()
            .stdout_line()
            .to_string()
    };
    (build(false), build(true))
}

/// fp-diff --closure --json of the pair, with `FP_STORE_DB` set when given, and its stderr
/// under -v.
fn diff_json(bed: &Bed, a: &str, b: &str, store_db: Option<&str>) -> (Value, String) {
    let mut cmd = bed.tool(FP_DIFF).args(["-v", "--closure", "--json", a, b]);
    if let Some(db) = store_db {
        cmd = cmd.env("FP_STORE_DB", db);
    }
    let run = cmd.run().success();
    (serde_json::from_str(&run.stdout).expect("json"), run.stderr)
}

#[test]
fn an_unreadable_database_gives_the_same_diff_through_nix() {
    let bed = Bed::new();
    let (a, b) = env_pair(&bed, 40, false);
    let (direct, said) = diff_json(&bed, &a, &b, None);
    assert!(said.contains("read the store database"), "{said}");
    assert!(!said.contains("path-info"), "{said}");
    let not_a_database = bed.path().join("db.sqlite");
    std::fs::write(&not_a_database, "not a database").unwrap();
    std::fs::write(bed.path().join("schema"), "10").unwrap();
    for (db, why) in [
        (
            bed.path().join("missing/db.sqlite"),
            "cannot read the store database",
        ),
        (not_a_database, "cannot read the store database"),
        (
            "off".into(),
            "not reading the store database: FP_STORE_DB is off",
        ),
    ] {
        let (through_nix, said) = diff_json(&bed, &a, &b, Some(db.to_str().unwrap()));
        assert_eq!(through_nix, direct, "FP_STORE_DB={}", db.display());
        assert!(said.contains(why), "{said}");
        assert!(said.contains("asking nix"), "{said}");
        // `--closure` reads both closures in one query: `nix path-info --json --recursive`.
        assert!(said.contains("path-info --json --recursive"), "{said}");
    }
    // The diff is not empty: the comparison has something to compare.
    assert_eq!(direct["diff"]["added"].as_array().unwrap().len(), 5);
}

/// One line of `nix store diff-closures`: `name: 1.0 → 2.0, +10.0 KiB` (`∅` for a side
/// without the package; the size only when it changes by 8 KiB or more). Determinate Nix
/// writes a side without the package as `1.0 added` or `1.0 removed` (or `(absent)`) and an
/// empty version as `(no version)`, upstream's `ε`.
fn diff_closures(bed: &Bed, a: &str, b: &str) -> BTreeMap<String, (String, String, f64)> {
    let run = bed
        .command("nix")
        .args(["--extra-experimental-features", "nix-command"])
        .args(["store", "diff-closures", a, b])
        .run()
        .success();
    let mut lines = BTreeMap::new();
    for line in strip_colours(&run.stdout).lines() {
        let (name, rest) = line.split_once(": ").expect(line);
        let (versions, size) = match rest.split_once(", ") {
            Some((v, s)) => (v, s.trim_end_matches(" KiB").parse::<f64>().expect(s)),
            None => (rest, 0.0),
        };
        let (from, to) = match versions.split_once(" → ") {
            Some(pair) => pair,
            None => match versions.strip_suffix(" added") {
                Some(v) => ("∅", v),
                None => (versions.strip_suffix(" removed").expect(versions), "∅"),
            },
        };
        let side = |v: &str| match v {
            "∅" | "(absent)" => String::new(),
            "(no version)" => "ε".to_string(),
            v => v.to_string(),
        };
        lines.insert(name.to_string(), (side(from), side(to), size));
    }
    lines
}

/// Text without the terminal colour sequences (`ESC [ ... m`) nix prints sizes in.
fn strip_colours(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn numbers_match_nix_store_diff_closures() {
    let bed = Bed::new();
    for marker in [true, false] {
        let (a, b) = env_pair(&bed, 120, marker);
        let (ours, _) = diff_json(&bed, &a, &b, None);
        let theirs = diff_closures(&bed, &a, &b);
        // Every package change nix sees in the closures, and no other.
        let mut changes = BTreeMap::new();
        for p in ours["diff"]["added"].as_array().unwrap() {
            let (name, version) = (p["name"].as_str().unwrap(), p["version"].as_str().unwrap());
            changes.insert(name.to_string(), (String::new(), version.to_string()));
        }
        for p in ours["diff"]["removed"].as_array().unwrap() {
            let (name, version) = (p["name"].as_str().unwrap(), p["version"].as_str().unwrap());
            changes.insert(name.to_string(), (version.to_string(), String::new()));
        }
        for c in ours["diff"]["changed"].as_array().unwrap() {
            let (name, from, to) = (c["name"].as_str(), c["from"].as_str(), c["to"].as_str());
            changes.insert(
                name.unwrap().into(),
                (from.unwrap().into(), to.unwrap().into()),
            );
        }
        let versions: BTreeMap<_, _> = theirs
            .iter()
            .map(|(name, (from, to, _))| (name.clone(), (from.clone(), to.clone())))
            .collect();
        assert_eq!(changes, versions, "marker: {marker}");
        // pkg7 and pkg70-79 changed, pkg115-119 removed, extra0-4 added.
        assert_eq!(changes.len(), 11 + 5 + 5);
        // The closure grows by what nix shows per package, to its 0.1 KiB rounding.
        let shown: f64 = theirs.values().map(|(_, _, kib)| kib).sum();
        let change = ours["closureSize"]["change"].as_i64().unwrap() as f64 / 1024.0;
        assert!(
            (change - shown).abs() <= 0.05 * theirs.len() as f64,
            "fp-diff {change} KiB, nix store diff-closures {shown} KiB"
        );
        assert_eq!(ours["closureSize"]["change"].as_i64(), Some(11 * 10240));
    }
}
