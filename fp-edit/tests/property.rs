//! Random sequences of add and remove on generated flakes of every list shape always give a
//! flake that parses and declares exactly the expected set.

use fp_edit::edit;
use fp_edit::name::{self, Name};
use proptest::prelude::*;
use std::collections::BTreeSet;

const POOL: &[&str] = &[
    "bat",
    "fd",
    "jq",
    "ripgrep",
    "zsh",
    "python3Packages.black",
    "git-lfs",
    "hello",
];

/// A profile flake whose paths are written in shape `shape` with `initial`.
fn flake(shape: usize, initial: &[&str]) -> String {
    let body = match shape {
        0 => format!(
            "paths = with pkgs; [\n          # tools\n{}        ];",
            initial.iter().map(|n| format!("          {n}\n")).collect::<String>()
        ),
        1 => format!(
            "paths = [ {} ];",
            initial.iter().map(|n| format!("pkgs.{n}")).collect::<Vec<_>>().join(" ")
        ),
        _ => format!(
            "paths = extra ++ (with pkgs; [\n{}        ]) ++ pkgs.lib.optionals false [ pkgs.tree ];",
            initial.iter().map(|n| format!("          {n} # {n}\n")).collect::<String>()
        ),
    };
    format!(
        "{{\n  outputs = {{ self, nixpkgs, flakey-profile }}:\n    let\n      pkgs = nixpkgs.legacyPackages.x86_64-linux;\n      extra = [ ];\n    in {{\n      packages.x86_64-linux.profile = flakey-profile.lib.mkProfile {{\n        inherit pkgs;\n        {body}\n      }};\n    }};\n}}\n"
    )
}

fn declared(text: &str) -> BTreeSet<String> {
    edit::declared(text, "profile")
        .unwrap()
        .into_iter()
        .filter(|e| !e.conditional)
        .filter_map(|e| e.key)
        .collect()
}

fn nix_parses(text: &str) -> bool {
    let mut child = std::process::Command::new("nix-instantiate")
        .args(["--parse", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run nix-instantiate");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait().unwrap().success()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn add_and_remove_keep_a_valid_flake(
        shape in 0usize..3,
        initial in proptest::sample::subsequence(POOL, 0..POOL.len()),
        ops in proptest::collection::vec((any::<bool>(), 0..POOL.len()), 1..12),
    ) {
        let mut text = flake(shape, &initial);
        let mut model: BTreeSet<String> = initial.iter().map(|s| s.to_string()).collect();
        prop_assert_eq!(declared(&text), model.clone());
        for (adding, index) in &ops {
            let given = POOL[*index];
            let names: Vec<Name> = vec![name::parse(given).unwrap()];
            if *adding {
                let edited = edit::add(&text, "profile", &names).unwrap();
                text = edited.text;
                model.insert(given.to_string());
            } else {
                match edit::remove(&text, "profile", &names) {
                    Ok(edited) => {
                        prop_assert!(model.remove(given));
                        text = edited.text;
                    }
                    Err(_) => prop_assert!(!model.contains(given)),
                }
            }
            prop_assert!(rnix::Root::parse(&text).errors().is_empty(), "{}", text);
            prop_assert_eq!(declared(&text), model.clone());
        }
        // Nix itself agrees, in a few cases.
        if ops.len() % 5 == 0 {
            prop_assert!(nix_parses(&text), "{}", text);
        }
    }
}
