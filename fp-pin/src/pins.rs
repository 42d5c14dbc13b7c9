//! What to pin: names and flake sources, from the profile's `pinned` attribute and `--pin`.

use crate::registry::is_flake_id;
use fp_common::{Error, Result, Ui};
use fp_nix::command::{NixCommand, Stderr};
use fp_nix::store_path::StorePath;
use fp_nix::store_query;
use std::collections::BTreeMap;

/// The pins, by name (sorted, so every output and the registry order are deterministic).
pub type Pins = BTreeMap<String, StorePath>;

/// Checks one pin and returns its store path: the name must be a flake id and the value a store
/// path of a flake source, `/nix/store/<hash>-source`. `origin` says where it came from, for
/// the message (`--pin nixpkgs=...`, `.#profile.pinned.nixpkgs`).
pub fn check(name: &str, value: &str, origin: &str) -> Result<StorePath> {
    if !is_flake_id(name) {
        return Err(Error::usage(format!(
            "{origin}: {name:?} is not a usable flake name (a letter, then letters, digits, _ and -)"
        )));
    }
    let path = StorePath::parse(value).map_err(|e| e.context(origin))?;
    if path.name() != "source" {
        return Err(Error::usage(format!(
            "{origin}: {value} is not a flake source: flake sources are store paths named <hash>-source"
        ))
        .with_hint(
            "pin a flake input, as in `pinned.nixpkgs = nixpkgs;`, or its store path as `nix flake archive --json FLAKE` prints it (with Determinate Nix's `lazy-trees = true`, `nix flake metadata --json` has no `path`)",
        ));
    }
    Ok(path)
}

/// Parses the `--pin NAME=STOREPATH` arguments. The same name twice with different paths is a
/// usage error.
pub fn parse_args(args: &[String]) -> Result<Pins> {
    let mut pins = Pins::new();
    for arg in args {
        let origin = format!("--pin {arg}");
        let (name, value) = arg.split_once('=').ok_or_else(|| {
            Error::usage(format!("{origin}: expected NAME=STOREPATH"))
                .with_hint("for example --pin nixpkgs=/nix/store/<hash>-source")
        })?;
        let path = check(name, value, &origin)?;
        if let Some(other) = pins.get(name) {
            if *other != path {
                return Err(Error::usage(format!(
                    "--pin {name} is given twice, as {other} and {path}"
                )));
            }
        }
        pins.insert(name.to_string(), path);
    }
    Ok(pins)
}

/// Parses the output of `nix eval --json FLAKE#ATTR.pinned`: an object whose values are flake
/// source store paths. `what` is the attribute, for messages.
pub fn parse_pinned_json(text: &str, what: &str) -> Result<Pins> {
    let value: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| {
        Error::failed(format!(
            "unexpected output from nix eval --json {what}: {e}"
        ))
    })?;
    let object = value.as_object().ok_or_else(|| {
        Error::usage(format!(
            "{what} is not an attribute set of flake sources (it is {value})"
        ))
    })?;
    let mut pins = Pins::new();
    for (name, v) in object {
        let origin = format!("{what}.{name}");
        let text = v.as_str().ok_or_else(|| {
            Error::usage(format!("{origin} is {v}, not a flake source store path"))
        })?;
        pins.insert(name.clone(), check(name, text, &origin)?);
    }
    Ok(pins)
}

/// Reads `FLAKE#ATTR.pinned` with `nix eval --json`.
pub fn from_flake(ui: &Ui, installable: &str) -> Result<Pins> {
    let what = format!("{installable}.pinned");
    let out = NixCommand::nix()
        .args(["eval", "--json", &what])
        .output(ui, Stderr::Capture)
        .map_err(|e| {
            e.with_hint(
                "the profile must be made with flakey-profile's lib.mkProfile, which has `pinned`; or pin by hand with --no-flake --pin NAME=STOREPATH",
            )
        })?;
    parse_pinned_json(&out, &what)
}

/// Checks that every pinned source exists in the store (exit 2 when one does not).
pub fn check_valid(ui: &Ui, pins: &Pins) -> Result<()> {
    for (name, path) in pins {
        if !store_query::is_valid(ui, path)? {
            return Err(Error::usage(format!(
                "the pin {name}={path} is not a valid path in the Nix store (it does not exist or was never registered)"
            ))
            .with_hint("copy the flake's sources into the store first: `nix flake archive FLAKE` (with Determinate Nix's `lazy-trees = true`, building the profile does not copy them)"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source";

    #[test]
    fn pin_args() {
        let pins = parse_args(&[format!("nixpkgs={SRC}"), format!("b={SRC}")]).unwrap();
        assert_eq!(pins.keys().collect::<Vec<_>>(), ["b", "nixpkgs"]);
        assert_eq!(pins["nixpkgs"].as_str(), SRC);
        // The same pin twice is fine; two different paths are not.
        parse_args(&[format!("a={SRC}"), format!("a={SRC}")]).unwrap();
        let other = "/nix/store/1123456789abcdfghijklmnpqrsvwxyz-source";
        let err = parse_args(&[format!("a={SRC}"), format!("a={other}")]).unwrap_err();
        assert_eq!(err.code(), 2);
    }

    #[test]
    fn refuses_what_is_not_a_flake_source() {
        for (arg, needle) in [
            ("nixpkgs", "expected NAME=STOREPATH"),
            ("nixpkgs=/tmp/x", "not in the Nix store"),
            (
                "nixpkgs=/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-1.0",
                "is not a flake source",
            ),
            (
                "nixpkgs=/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source/lib",
                "not a store path itself",
            ),
            (
                "2bad=/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source",
                "not a usable flake name",
            ),
            (
                "=/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source",
                "not a usable flake name",
            ),
        ] {
            let err = parse_args(&[arg.to_string()]).unwrap_err();
            assert_eq!(err.code(), 2, "{arg}");
            assert!(err.message().contains(needle), "{arg}: {}", err.message());
            assert!(err.message().starts_with("--pin "), "{}", err.message());
        }
    }

    #[test]
    fn pinned_json() {
        let pins = parse_pinned_json(&format!(r#"{{"nixpkgs":"{SRC}"}}"#), ".#p.pinned").unwrap();
        assert_eq!(pins["nixpkgs"].as_str(), SRC);
        assert!(parse_pinned_json("{}", "x").unwrap().is_empty());
        for bad in [
            r#"[]"#,
            r#"{"a": 1}"#,
            r#"{"a": "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello"}"#,
        ] {
            assert_eq!(parse_pinned_json(bad, "x").unwrap_err().code(), 2, "{bad}");
        }
        assert_eq!(parse_pinned_json("nope", "x").unwrap_err().code(), 1);
    }
}
