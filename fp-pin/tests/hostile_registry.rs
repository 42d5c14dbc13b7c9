//! Hostile registry files for the registry parser: any bytes and any JSON shape give a value or
//! a clear usage error (exit 2), never a panic or a hang.
//!
//! The property tests run a fixed number of cases (`PROPTEST_CASES` raises it), so CI runs the
//! same amount of fuzzing every time.

use fp_pin::registry::Registry;
use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;

/// JSON values shaped like registry entries (`from`, `to`, `type`, `id`, `path`), nested a few
/// levels, with unknown keys and every kind of leaf among them.
fn registry_like() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        Just(Value::String("indirect".into())),
        Just(Value::String(
            "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source".into()
        )),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        let key = prop_oneof![
            Just("version".to_string()),
            Just("flakes".to_string()),
            Just("from".to_string()),
            Just("to".to_string()),
            Just("type".to_string()),
            Just("id".to_string()),
            Just("path".to_string()),
            ".{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Parses `input` and checks the result: a registry, or a usage error.
fn parses_or_refuses(input: &[u8]) -> Result<(), TestCaseError> {
    if let Err(e) = Registry::parse(input, Path::new("registry.json")) {
        prop_assert!(e.code() == 2, "{}", e.message());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn registry_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), doc in registry_like()) {
        parses_or_refuses(&bytes)?;
        parses_or_refuses(doc.to_string().as_bytes())?;
        parses_or_refuses(serde_json::json!({"version": 2, "flakes": doc}).to_string().as_bytes())?;
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let doc = format!("{{\"version\": 2, \"flakes\": {deep}}}");
    assert_eq!(
        Registry::parse(doc.as_bytes(), Path::new("r.json"))
            .unwrap_err()
            .code(),
        2
    );
}

#[test]
fn invalid_utf8_is_an_error() {
    assert_eq!(
        Registry::parse(b"{\"version\":2,\"flakes\":[]}\xff", Path::new("r"))
            .unwrap_err()
            .code(),
        2
    );
}
