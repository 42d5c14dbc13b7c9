//! Rebuilt packages and closure sizes against real Nix: fp-diff --closure and fp-switch --sizes
//! agree with `nix store diff-closures` on the same pair.

use fp_testkit::Bed;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_DIFF: &str = env!("CARGO_BIN_EXE_fp-diff");

/// A package `name-version` holding `bytes` zero bytes; `build` changes its derivation (and so
/// its store path) without changing its name.
fn blob(name: &str, bytes: u32, build: u32) -> String {
    format!(
        "(pkgs.runCommand \"{name}\" {{ build = \"{build}\"; }} ''mkdir -p $out/share; head -c {bytes} /dev/zero > $out/share/{name}'')"
    )
}

/// Two envs: openssl rebuilt at the same version and grown, libfoo grown to a new version,
/// cowsay removed, jq added, tree unchanged. Returns the bed and both store paths.
fn pair() -> (Bed, String, String) {
    let bed = Bed::new();
    let old = format!(
        "paths = [ pkgs.tree {} {} {} ];",
        blob("openssl-3.0.13", 30_000, 1),
        blob("libfoo-1.0", 20_000, 1),
        blob("cowsay-3.7.0", 40_000, 1)
    );
    let new = format!(
        "paths = [ pkgs.tree {} {} {} ];",
        blob("openssl-3.0.13", 120_000, 2),
        blob("libfoo-1.1", 70_000, 1),
        blob("jq-1.7", 25_000, 1)
    );
    let a = bed.build(&bed.profile_flake_with("old", 1, &old));
    let b = bed.build(&bed.profile_flake_with("new", 1, &new));
    (bed, a, b)
}

#[test]
fn rebuilt_at_the_same_version_is_shown() {
    let (bed, a, b) = pair();
    let run = bed
        .tool(FP_DIFF)
        .args([a.as_str(), b.as_str()])
        .run()
        .success();
    insta::assert_snapshot!(bed.redact(&run.stdout));
    let json = bed
        .tool(FP_DIFF)
        .args([a.as_str(), b.as_str(), "--json"])
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(
        v["diff"]["rebuilt"],
        serde_json::json!([{"name": "openssl", "version": "3.0.13"}])
    );
}

/// `nix store diff-closures` lines as (name, size change in bytes, precision in bytes): each
/// line is `name: versions, ±N.N KiB` (in colour, maybe with other units on newer Nix); lines
/// without a size are left out.
fn diff_closures_sizes(text: &str) -> Vec<(String, f64, f64)> {
    let mut plain = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    let mut result = Vec::new();
    for line in plain.lines() {
        let Some((name, rest)) = line.split_once(": ") else {
            continue;
        };
        let words: Vec<&str> = rest.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        for pair in words.windows(2) {
            let unit = match pair[1] {
                "B" => 1.0,
                "KiB" => 1024.0,
                "MiB" => 1024.0 * 1024.0,
                "GiB" => 1024.0 * 1024.0 * 1024.0,
                _ => continue,
            };
            if let Ok(number) = pair[0].parse::<f64>() {
                let decimals = pair[0].split('.').nth(1).map_or(0, str::len) as i32;
                let precision = unit * 10f64.powi(-decimals) / 2.0;
                result.push((name.trim().to_string(), number * unit, precision));
            }
        }
    }
    result
}

#[test]
fn sizes_agree_with_nix_store_diff_closures() {
    let (bed, a, b) = pair();
    let run = bed
        .tool(FP_DIFF)
        .args([a.as_str(), b.as_str(), "--closure", "--json"])
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let mut ours = std::collections::BTreeMap::new();
    for list in ["added", "removed", "changed", "rebuilt"] {
        for entry in v["diff"][list].as_array().expect("list") {
            let change = entry["sizeChange"]
                .as_i64()
                .expect("every entry has its size");
            ours.insert(entry["name"].as_str().expect("name").to_string(), change);
        }
    }
    let theirs = bed
        .command("nix")
        .args(["store", "diff-closures", a.as_str(), b.as_str()])
        .run()
        .success();
    let theirs = diff_closures_sizes(&theirs.stdout);
    // Every package diff-closures gives a size for is ours too, with the same size.
    let mut compared = 0;
    for (name, bytes, precision) in &theirs {
        let Some(change) = ours.get(name) else {
            continue;
        };
        assert!(
            (*change as f64 - bytes).abs() <= precision + 1.0,
            "{name}: ours {change} bytes, nix store diff-closures {bytes} (±{precision})"
        );
        compared += 1;
    }
    // It shows sizes of 8 KiB and more: here libfoo, cowsay and jq, whose versions changed, and
    // (except Lix, which shows only packages whose versions changed) openssl.
    for name in ["libfoo", "cowsay", "jq"] {
        assert!(
            theirs.iter().any(|(n, ..)| n == name),
            "{name}: ours {ours:?}, theirs {theirs:?}"
        );
    }
    assert!(compared >= 3, "ours {ours:?}, theirs {theirs:?}");
    // The total is the whole closures' change: the sum of every change diff-closures shows (the
    // env itself included) within their rounding, plus ours for the packages it shows no size
    // for (changes under 8 KiB; under Lix, every package whose version stayed).
    let total = v["closureSize"]["change"].as_i64().expect("total");
    assert_eq!(
        total,
        v["diff"]["closureSize"]["change"].as_i64().expect("total")
    );
    let unshown: i64 = ours
        .iter()
        .filter(|(name, _)| !theirs.iter().any(|(n, ..)| n == *name))
        .map(|(_, change)| change)
        .sum();
    let sum: f64 = theirs.iter().map(|(_, b, _)| b).sum::<f64>() + unshown as f64;
    let slack: f64 = theirs.iter().map(|(_, _, p)| p).sum::<f64>() + 8.0 * 1024.0;
    assert!(
        (total as f64 - sum).abs() <= slack,
        "total {total}, diff-closures sum {sum}"
    );
}

#[test]
fn fp_switch_sizes_prints_them() {
    let (bed, a, b) = pair();
    for p in [&a, &b] {
        let run = bed
            .tool("fp-switch")
            .arg(p)
            .args(["--sizes", "--profile"])
            .arg(bed.profile())
            .run()
            .success();
        if p == &b {
            insta::assert_snapshot!(bed.redact(&run.stderr));
        }
    }
    let run = bed
        .tool("fp-rollback")
        .args(["--sizes", "--dry-run", "--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v["diff"]["rebuilt"][0]["name"], "openssl");
    assert!(
        v["diff"]["rebuilt"][0]["sizeChange"]
            .as_i64()
            .expect("size")
            < -80_000
    );
    assert!(v["diff"]["closureSize"]["change"].as_i64().expect("total") < 0);
}
