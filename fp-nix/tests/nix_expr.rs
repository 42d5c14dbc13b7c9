//! The Nix escaper against real Nix: its output always parses and evaluates back to its input,
//! for strings with everything Nix source treats specially; and a NUL is refused.

use fp_nix::nix_expr;
use fp_testkit::Bed;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::Value;

#[test]
fn nul_cannot_be_written() {
    assert!(nix_expr::string("a\0b").is_err());
    assert!(nix_expr::attr_name("a\0b").is_err());
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
