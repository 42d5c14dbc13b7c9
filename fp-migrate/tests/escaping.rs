//! No element name, url or attribute can break the generated flake or inject code: real Nix
//! parses and evaluates the output, and every string and attribute comes back exactly.

mod common;

use common::{evaluate, fixture, stub_tree, Installed};
use fp_migrate::manifest::{self, Element, Manifest, Outputs};
use fp_migrate::{migrate, Options, DEFAULT_NIXPKGS_URL};
use fp_nix::store_path::parse_drv_name;
use fp_testkit::Bed;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_MIGRATE: &str = env!("CARGO_BIN_EXE_fp-migrate");

const LIB_URL: &str = "path:/tmp/lib \"${x}\" \\ ünï\n";

fn options() -> Options {
    Options {
        system: None,
        host_system: "x86_64-linux".to_string(),
        unlocked: false,
        lib_url: LIB_URL.to_string(),
        existing: None,
        no_flake: false,
    }
}

/// What the flake must install, computed from the manifest independently of the generator:
/// each active element with a source, the first of several with the same url, attribute and
/// outputs; every output named (`out` and `man` for `*`, which the stubs have). An active
/// element with only store paths is the nixpkgs attribute named by its first store path's
/// package name, from the input that provides `pkgs` (`pkgs_url`).
fn expected(manifest: &Manifest, pkgs_url: &str) -> (BTreeSet<String>, Vec<Installed>) {
    let mut urls = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut installed = Vec::new();
    for element in manifest.elements.iter().filter(|e| e.active) {
        // A source-less element's outputs are those of its store paths: here always `out`.
        let (url, path, outputs) = match &element.source {
            Some(source) => (
                source.url.clone(),
                source.attr_path_components(),
                element.outputs.clone(),
            ),
            None => match guessed_path(element) {
                Some(path) => (pkgs_url.to_string(), path, Outputs::Default),
                None => continue,
            },
        };
        if !seen.insert((url.clone(), path.clone(), format!("{outputs:?}"))) {
            continue;
        }
        urls.insert(url.clone());
        let priority = element.priority.filter(|p| *p != 5);
        let mut add = |extra: Option<&str>| {
            let mut path = path.clone();
            path.extend(extra.map(str::to_string));
            installed.push(Installed {
                url: url.clone(),
                path,
                priority,
            });
        };
        match &outputs {
            Outputs::Default => add(None),
            Outputs::Names(names) => names.iter().for_each(|n| add(Some(n))),
            Outputs::All => ["out", "man"].iter().for_each(|n| add(Some(n))),
        }
    }
    (urls, installed)
}

/// The attribute path a source-less element is guessed to be: `legacyPackages.x86_64-linux.`
/// and the package name of its first store path (every store path here is an `out` output).
fn guessed_path(element: &Element) -> Option<Vec<String>> {
    let first = element.store_paths.first()?;
    let name = parse_drv_name(first.name()).0;
    Some(vec![
        "legacyPackages".to_string(),
        "x86_64-linux".to_string(),
        name.to_string(),
    ])
}

/// The stub tree for a manifest: every element's attribute path, with its outputs.
fn tree_for(manifest: &Manifest) -> Value {
    stub_tree(manifest.elements.iter().filter_map(|e| {
        let outputs = match &e.outputs {
            Outputs::Names(names) => names.clone(),
            _ => vec![],
        };
        match &e.source {
            Some(source) => Some((source.attr_path_components(), outputs)),
            None => Some((guessed_path(e)?, outputs)),
        }
    }))
}

/// Migrates, evaluates with real Nix and compares with [`expected`]; returns the evaluation.
fn check(bed: &Bed, manifest: &Manifest) -> Result<Value, String> {
    let migration = migrate(manifest, &options()).map_err(|e| e.message().to_string())?;
    let (value, installed) = evaluate(bed, &migration.flake, &tree_for(manifest));
    let pkgs_input = value["follows"].as_str().expect("follows");
    let pkgs_url = value["urls"][pkgs_input].as_str().expect("pkgs url");
    let (want_urls, mut want) = expected(manifest, pkgs_url);
    let mut got = installed;
    got.sort();
    want.sort();
    if got != want {
        return Err(format!(
            "installed {got:#?}\nexpected {want:#?}\n{}",
            migration.flake
        ));
    }
    let urls: BTreeSet<String> = value["urls"]
        .as_object()
        .expect("urls")
        .iter()
        .filter(|(name, url)| {
            // The nixpkgs added for pkgs alone installs nothing, so it is not expected.
            *name != "flakey-profile"
                && (*url != DEFAULT_NIXPKGS_URL || want_urls.contains(DEFAULT_NIXPKGS_URL))
        })
        .map(|(_, url)| url.as_str().expect("url").to_string())
        .collect();
    if urls != want_urls {
        return Err(format!(
            "urls {urls:?}, expected {want_urls:?}\n{}",
            migration.flake
        ));
    }
    if value["urls"]["flakey-profile"] != json!(LIB_URL) {
        return Err(format!("lib url {}", value["urls"]["flakey-profile"]));
    }
    if value["attrs"] != json!(["description", "inputs", "outputs"]) {
        return Err(format!("top-level attributes {}", value["attrs"]));
    }
    Ok(value)
}

#[test]
fn tricky_names_and_urls_come_back_exactly() {
    let bed = Bed::new();
    let text = std::fs::read_to_string(fixture("escaping.json")).expect("fixture");
    let manifest = manifest::parse_json(&text, "escaping.json").expect("parses");
    let value = check(&bed, &manifest).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        value["description"],
        "My Nix profile, migrated by fp-migrate"
    );
    // The binary gives the same flake, and warns with the names escaped on one line each.
    let run = bed
        .tool(FP_MIGRATE)
        .args(["--lib-url", LIB_URL])
        .arg(fixture("escaping.json"))
        .run()
        .success();
    assert_eq!(
        run.stdout,
        migrate(&manifest, &options()).expect("migrates").flake
    );
    for line in run.stderr.lines() {
        assert!(line.starts_with("fp-migrate: "), "{line:?}");
    }
    insta::assert_snapshot!("escaping_flake", run.stdout);
    insta::assert_snapshot!("escaping_warnings", run.stderr);
}

/// Characters that matter to Nix's lexer and to comments, plus anything else.
fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            '"', '\\', '$', '{', '}', '\n', '\r', '\t', ' ', '.', '#', '\'', '/', '?', '&', '=',
            '%', '*', ':', '@', ';', '`', 'é', '☃', '\u{2028}', '\u{7f}', '\u{1b}', '\u{85}',
        ]),
        3 => proptest::char::range('a', 'z'),
        1 => any::<char>().prop_filter("NUL cannot be written in Nix", |c| *c != '\0'),
    ]
}

fn nasty(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(nasty_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// An attribute name that an attribute path string can carry (no `"`), and that is not one of
/// the stub's own keys.
fn attr() -> impl Strategy<Value = String> {
    nasty(8).prop_filter("stub keys", |s| {
        !s.contains('"') && !["__leaf", "outputs", "meta"].contains(&s.as_str())
    })
}

/// A random element as JSON for manifest `version`.
fn element(version: u64) -> impl Strategy<Value = Value> {
    let outputs = prop_oneof![
        Just(Value::Null),
        Just(json!(["*"])),
        proptest::collection::vec(attr().prop_filter("not *", |s| s != "*"), 1..3)
            .prop_map(|v| json!(v)),
    ];
    (
        proptest::collection::vec(attr(), 1..3),
        nasty(10),
        nasty(10),
        outputs,
        -3i64..12,
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
    )
        .prop_map(
            move |(attrs, original, rest, outputs, priority, active, sourced)| {
                let quoted: Vec<String> = attrs
                    .iter()
                    .map(|a| {
                        if a.contains('.') {
                            format!("\"{a}\"")
                        } else {
                            a.clone()
                        }
                    })
                    .collect();
                let attr_path = format!("legacyPackages.x86_64-linux.{}", quoted.join("."));
                let original = format!("path:/{original}");
                let url = format!("{original}?{rest}");
                let (url_key, original_key) = if version == 1 {
                    ("uri", "originalUri")
                } else {
                    ("url", "originalUrl")
                };
                let mut e = json!({
                    "active": active,
                    "storePaths": ["/nix/store/0123456789abcdfghijklmnpqrsvwxyz-p-1.0"],
                    "priority": priority,
                    "outputs": outputs,
                });
                if sourced {
                    e[url_key] = json!(url);
                    e[original_key] = json!(original);
                    e["attrPath"] = json!(attr_path);
                }
                e
            },
        )
}

/// A random manifest of version 1, 2 or 3 with up to 5 elements.
fn manifest_json() -> impl Strategy<Value = Value> {
    (1u64..=3).prop_flat_map(|version| {
        (
            proptest::collection::vec(element(version), 0..5),
            proptest::collection::vec(nasty(10), 5),
        )
            .prop_map(move |(elements, names)| {
                let elements = if version == 3 {
                    let map: BTreeMap<String, Value> = names.into_iter().zip(elements).collect();
                    json!(map)
                } else {
                    json!(elements)
                };
                json!({"version": version, "elements": elements})
            })
    })
}

#[test]
fn random_names_and_urls_always_give_a_flake_nix_reads_back() {
    let bed = Bed::new();
    // 64 cases by default; FP_PROPTEST_CASES=N for a longer hunt.
    let cases = std::env::var("FP_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&manifest_json(), |doc| {
            let manifest = manifest::parse_json(&doc.to_string(), "random")
                .map_err(|e| TestCaseError::fail(e.message().to_string()))?;
            check(&bed, &manifest).map_err(TestCaseError::fail)?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
