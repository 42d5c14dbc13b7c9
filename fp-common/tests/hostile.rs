//! Hostile input for the manifest parser: no panic, no hang, a clear error.
//!
//! The property tests run a fixed number of cases (`PROPTEST_CASES` raises it), so CI runs
//! the same amount of fuzzing every time.

use fp_common::manifest;
use proptest::prelude::*;
use serde_json::Value;

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

/// A manifest-like document: a known or unknown version and arbitrary elements.
fn manifest_like() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just(1), Just(2), Just(3), any::<i64>()],
        json_value(),
    )
        .prop_map(|(v, e)| serde_json::json!({"version": v, "elements": e}))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn manifest_parser_never_panics_on_text(text in "\\PC{0,200}") {
        if let Err(e) = manifest::parse_json(&text, "fuzz") {
            prop_assert!(e.code() == 2, "{}", e.message());
        }
    }

    #[test]
    fn manifest_parser_never_panics_on_shapes(doc in manifest_like()) {
        if let Err(e) = manifest::parse_json(&doc.to_string(), "fuzz") {
            prop_assert!(e.code() == 2, "{}", e.message());
        }
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let doc = format!("{{\"version\": 2, \"elements\": {deep}}}");
    assert_eq!(manifest::parse_json(&doc, "deep").unwrap_err().code(), 2);
}

#[test]
fn nul_is_an_error() {
    assert_eq!(
        manifest::parse_json("{\"version\":2,\"elements\":[\u{0}]}", "nul")
            .unwrap_err()
            .code(),
        2
    );
}

#[test]
fn a_huge_manifest_file_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("manifest.json");
    std::fs::write(&file, vec![b' '; 100 * 1024 * 1024]).expect("write");
    let err = manifest::read_text(&file).unwrap_err();
    assert_eq!(err.code(), 2);
    assert!(err.message().contains("larger than"), "{}", err.message());
}
