//! Hostile input for the parsers and the Nix escaper: no panic, no hang, a clear error; and
//! the escaper's output always parses with real Nix and evaluates back to its input.
//!
//! The property tests run a fixed number of cases (`PROPTEST_CASES` raises it), so CI runs
//! the same amount of fuzzing every time.

use fp_common::nix_expr;
use fp_common::registry::Registry;
use fp_testkit::Bed;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::Value;
use std::path::Path;

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        Just(Value::String(
            "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-x-1.0".into()
        )),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("version".to_string()),
                    Just("elements".to_string()),
                    Just("storePaths".to_string()),
                    Just("active".to_string()),
                    Just("url".to_string()),
                    Just("originalUrl".to_string()),
                    Just("attrPath".to_string()),
                    Just("outputs".to_string()),
                    Just("priority".to_string()),
                    Just("flakes".to_string()),
                    Just("from".to_string()),
                    Just("to".to_string()),
                    ".{0,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn registry_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), doc in json_value()) {
        for input in [bytes, doc.to_string().into_bytes(), serde_json::json!({"version": 2, "flakes": doc}).to_string().into_bytes()] {
            if let Err(e) = Registry::parse(&input, Path::new("registry.json")) {
                prop_assert!(e.code() == 2, "{}", e.message());
            }
        }
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let doc = format!("{{\"version\": 2, \"elements\": {deep}}}");
    assert_eq!(
        Registry::parse(doc.as_bytes(), Path::new("r.json"))
            .unwrap_err()
            .code(),
        2
    );
}

#[test]
fn invalid_utf8_and_nul_are_errors() {
    assert_eq!(
        Registry::parse(b"{\"version\":2,\"flakes\":[]}\xff", Path::new("r"))
            .unwrap_err()
            .code(),
        2
    );
    assert!(nix_expr::string("a\0b").is_err());
}

/// Strings with everything Nix source treats specially, and unicode.
fn nasty_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(vec![
                "\"", "\\", "${", "$", "{", "}", "\n", "\r", "\t", "'", "''", "#", "/*", "*/", " ",
                ".", "é", "😀", "\u{2028}", "\u{1}", "\\${"
            ])
            .prop_map(str::to_string),
            "[a-z]{1,3}",
            any::<char>()
                .prop_filter("no NUL", |c| *c != '\0')
                .prop_map(String::from),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

#[test]
fn escaped_strings_and_attribute_names_evaluate_back_with_real_nix() {
    // A fixed seed, so every run checks the same 300 strings.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let cases: Vec<String> = (0..300)
        .map(|_| {
            nasty_string()
                .new_tree(&mut runner)
                .expect("case")
                .current()
        })
        .collect();
    let mut unique = cases.clone();
    unique.sort();
    unique.dedup();
    // One evaluation for all cases: a list of strings, and an attribute set with each as a name.
    let strings: Vec<String> = cases
        .iter()
        .map(|c| nix_expr::string(c).expect("no NUL"))
        .collect();
    let attrs: Vec<String> = unique
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = {i};", nix_expr::attr_name(c).expect("no NUL")))
        .collect();
    let expr = format!(
        "{{ strings = [ {} ]; names = builtins.attrNames {{ {} }}; }}",
        strings.join(" "),
        attrs.join(" ")
    );
    let bed = Bed::new();
    let file = bed.path().join("cases.nix");
    std::fs::write(&file, &expr).expect("write");
    bed.command("nix-instantiate")
        .arg("--parse")
        .arg(&file)
        .run()
        .success();
    let out = bed
        .command("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(&file)
        .run()
        .success()
        .stdout;
    let v: Value = serde_json::from_str(&out).expect("json");
    let got: Vec<String> = v["strings"]
        .as_array()
        .expect("strings")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect();
    assert_eq!(got, cases);
    let mut names: Vec<String> = v["names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|s| s.as_str().expect("name").to_string())
        .collect();
    names.sort();
    assert_eq!(names, unique);
    assert!(unique.len() > 200, "the cases should mostly differ");
}
