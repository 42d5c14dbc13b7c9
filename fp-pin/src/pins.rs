//! What to pin: names and flake sources, from the profile's `pinned` attribute and `--pin`.

use crate::registry::is_flake_id;
use fp_common::{Error, Result, Ui};
use fp_nix::command::{NixCommand, Stderr};
use fp_nix::installable::Installable;
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

/// Reads the profile's `pinned` (`FLAKE#ATTR.pinned`, or of a file) with `nix eval --json`.
pub fn from_flake(ui: &Ui, installable: &Installable) -> Result<Pins> {
    let what = installable.describe("pinned");
    let out = NixCommand::nix()
        .args(["eval", "--json"])
        .args(installable.args("pinned"))
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

/// The `to` of each pin's registry entry, as `nix registry pin` writes it: the path with the
/// `narHash` and `lastModified` Nix locks it with (asked of Nix: `nix flake metadata --json
/// path:SOURCE`, which reads the hash the store recorded). With them Nix treats the entry as
/// locked: it checks the hash instead of trusting whatever the path holds, and can keep an
/// evaluation cache for it. A source Nix cannot lock as a flake (no flake.nix) gets the plain
/// `{"path", "type"}` entry, said under `-v`; so does one that is not in the store, which
/// [`check_valid`] then refuses (Nix is not asked, so it cannot try to download it).
pub fn locked_inputs(ui: &Ui, pins: &Pins) -> Result<BTreeMap<String, serde_json::Value>> {
    let mut inputs = BTreeMap::new();
    for (name, path) in pins {
        if !store_query::is_valid(ui, path)? {
            inputs.insert(name.clone(), crate::registry::path_input(path.as_str()));
            continue;
        }
        let locked = NixCommand::nix()
            .args(["flake", "metadata", "--json"])
            .arg(format!("path:{path}"))
            .output(ui, Stderr::Capture)
            .and_then(|text| locked_input(&text, path.as_str()));
        let to = locked.unwrap_or_else(|e| {
            ui.verbose(&format!(
                "the pin {name} is written without narHash: Nix cannot lock {path} as a flake: {}",
                e.message().lines().next().unwrap_or_default()
            ));
            crate::registry::path_input(path.as_str())
        });
        inputs.insert(name.clone(), to);
    }
    Ok(inputs)
}

/// Reads the entry's `to` from `nix flake metadata --json` output: `path` and `type` with the
/// locked `narHash` and `lastModified` (nothing else of the metadata).
pub fn locked_input(metadata: &str, path: &str) -> Result<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(metadata).map_err(|e| {
        Error::failed(format!(
            "nix flake metadata printed no JSON for {path}: {e}"
        ))
    })?;
    let locked = &v["locked"];
    let nar_hash = locked["narHash"].as_str();
    let last_modified = locked["lastModified"].as_u64();
    match (nar_hash, last_modified) {
        (Some(nar_hash), Some(last_modified)) => Ok(serde_json::json!({
            "lastModified": last_modified,
            "narHash": nar_hash,
            "path": path,
            "type": "path",
        })),
        _ => Err(Error::failed(format!(
            "nix flake metadata of {path} gave no narHash and lastModified"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source";

    #[test]
    fn locked_inputs_take_only_the_hash_and_time() {
        let metadata = format!(
            r#"{{"lastModified":0,"locked":{{"lastModified":0,"narHash":"sha256-q=","path":"{SRC}","type":"path"}},"locks":{{"nodes":{{}}}},"path":"{SRC}"}}"#
        );
        assert_eq!(
            locked_input(&metadata, SRC).unwrap().to_string(),
            format!(r#"{{"lastModified":0,"narHash":"sha256-q=","path":"{SRC}","type":"path"}}"#)
        );
        assert_eq!(locked_input("{}", SRC).unwrap_err().code(), 1);
        assert_eq!(locked_input("not json", SRC).unwrap_err().code(), 1);
    }

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
