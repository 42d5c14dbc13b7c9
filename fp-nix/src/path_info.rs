//! What `nix path-info --json` says about paths, asked for many paths in one call. Tools ask
//! [`store_query`](crate::store_query), which reads the store's database instead when it can.

use crate::command::{NixCommand, Stderr};
use crate::error::{Error, Result};
use crate::nix_version::{nix_version, NixVersion};
use crate::Log;
use serde_json::Value;
use std::collections::BTreeMap;

/// The facts of one store path that the tools use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathInfo {
    /// Direct references (may include the path itself).
    pub references: Vec<String>,
    /// Size of the path's NAR serialisation in bytes.
    pub nar_size: u64,
    /// Size of its closure in bytes, when asked for.
    pub closure_size: Option<u64>,
}

/// Queries `paths` with one `nix path-info --json` (`-S` adds closure sizes). Duplicates are
/// asked once. The answer is keyed by path.
pub fn query(log: &dyn Log, paths: &[&str], closure: bool) -> Result<BTreeMap<String, PathInfo>> {
    if paths.is_empty() {
        return Ok(BTreeMap::new());
    }
    run(log, query_command(paths, closure, nix_version(log)?))
}

/// Queries every path of the closures of `roots` (`nix path-info --json --recursive`) in one
/// call: each path's NAR size and references, from which any closure among them is summed.
pub fn query_closures(log: &dyn Log, roots: &[&str]) -> Result<BTreeMap<String, PathInfo>> {
    if roots.is_empty() {
        return Ok(BTreeMap::new());
    }
    run(log, command(roots, &["--recursive"], nix_version(log)?))
}

/// Runs a command of [`query_command`] or [`command`] (none: nothing to ask) and parses it.
fn run(log: &dyn Log, cmd: Option<NixCommand>) -> Result<BTreeMap<String, PathInfo>> {
    match cmd {
        Some(cmd) => parse(&cmd.output(log, Stderr::Capture)?),
        None => Ok(BTreeMap::new()),
    }
}

/// The `nix path-info --json` command that asks about `paths` (each once; `--closure-size`
/// with `closure`) of Nix `version`, wherever it runs; `None` when there is nothing to ask. Its
/// output is read with [`parse`].
pub fn query_command(paths: &[&str], closure: bool, version: NixVersion) -> Option<NixCommand> {
    command(
        paths,
        if closure { &["--closure-size"] } else { &[] },
        version,
    )
}

/// `nix path-info --json FLAGS PATHS...`, each path once; `None` for no paths. Where Nix
/// `version` has `--json-format` ([`NixVersion::path_info_has_json_format`]; `--json` alone is
/// deprecated there), `--json-format 1` asks for the shape older Nix prints.
fn command(paths: &[&str], flags: &[&str], version: NixVersion) -> Option<NixCommand> {
    let mut unique: Vec<&str> = paths.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if unique.is_empty() {
        return None;
    }
    let mut cmd = NixCommand::nix().args(["path-info", "--json"]).args(flags);
    if version.path_info_has_json_format() {
        cmd = cmd.args(["--json-format", "1"]);
    }
    Some(cmd.args(&unique))
}

/// One entry of `nix path-info --json`, with only the fields the tools use (the others, such
/// as hashes and signatures, are skipped unread, which keeps large closures fast).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    path: Option<String>,
    valid: Option<bool>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    nar_size: u64,
    closure_size: Option<u64>,
}

/// The shapes of `nix path-info --json`: a list (Nix up to 2.18); an object keyed by path
/// (2.19 and later, and `--json-format 1`), whose value is `null` for an invalid path; and,
/// from `--json-format 2` on, `{"version": N, "storeDir": DIR, "info": {...}}` keyed by base
/// name.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum Shape {
    List(Vec<Entry>),
    Versioned {
        #[serde(rename = "storeDir")]
        store_dir: String,
        info: BTreeMap<String, Option<Entry>>,
    },
    Map(BTreeMap<String, Option<Entry>>),
}

/// Parses `nix path-info --json` output: a list of objects with `path` (Nix up to 2.18) or an
/// object keyed by path (2.19 and later).
pub fn parse(text: &str) -> Result<BTreeMap<String, PathInfo>> {
    let bad = |why: &str| {
        Error::failed(format!(
            "unexpected output from nix path-info --json: {why}"
        ))
    };
    let shape: Shape = serde_json::from_str(text.trim()).map_err(|e| {
        if serde_json::from_str::<Value>(text.trim()).is_ok() {
            bad("neither a list nor an object of path infos")
        } else {
            bad(&e.to_string())
        }
    })?;
    let entries: Vec<(String, Option<Entry>)> = match shape {
        Shape::List(items) => items
            .into_iter()
            .filter_map(|i| Some((i.path.clone()?, Some(i))))
            .collect(),
        Shape::Map(map) => map.into_iter().collect(),
        Shape::Versioned { store_dir, info } => info
            .into_iter()
            .map(|(name, entry)| {
                let path = if name.starts_with('/') {
                    name
                } else {
                    format!("{}/{name}", store_dir.trim_end_matches('/'))
                };
                (path, entry)
            })
            .collect(),
    };
    let store = crate::store_path::store_dir();
    let mut result = BTreeMap::new();
    for (path, info) in entries {
        let Some(info) = info.filter(|i| i.valid != Some(false)) else {
            return Err(not_valid(&path));
        };
        let references = info
            .references
            .into_iter()
            .map(|r| {
                // Newer Nix may print references as base names.
                if r.starts_with('/') {
                    r
                } else {
                    store.join(r).to_string_lossy().into_owned()
                }
            })
            .collect();
        result.insert(
            path,
            PathInfo {
                references,
                nar_size: info.nar_size,
                closure_size: info.closure_size,
            },
        );
    }
    Ok(result)
}

/// The usage error for a path the store does not know as valid, whoever answered (nix or the
/// store's database).
pub fn not_valid(path: &str) -> Error {
    Error::usage(format!(
        "{path} is not a valid path in the Nix store (it was never registered, or is being built)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_list_shape_of_nix_2_8() {
        let text = r#"[{"path":"/nix/store/a-env","narSize":10,"references":["/nix/store/b-hello-1.0"],"closureSize":30}]"#;
        let info = parse(text).unwrap();
        assert_eq!(
            info["/nix/store/a-env"].references,
            ["/nix/store/b-hello-1.0"]
        );
        assert_eq!(info["/nix/store/a-env"].closure_size, Some(30));
        assert_eq!(info["/nix/store/a-env"].nar_size, 10);
    }

    #[test]
    fn parses_the_object_shape_of_newer_nix() {
        let text = r#"{"/nix/store/a-env":{"narSize":10,"references":["/nix/store/b-hello-1.0"]}}"#;
        let info = parse(text).unwrap();
        assert_eq!(info["/nix/store/a-env"].closure_size, None);
    }

    #[test]
    fn parses_the_versioned_shape_of_json_format_2() {
        let text = r#"{"info":{"aaaa-env":{"narSize":10,"references":["bbbb-hello-1.0"],"closureSize":30}},"storeDir":"/nix/store","version":2}"#;
        let info = parse(text).unwrap();
        let env = &info["/nix/store/aaaa-env"];
        assert_eq!(env.references, ["/nix/store/bbbb-hello-1.0"]);
        assert_eq!((env.nar_size, env.closure_size), (10, Some(30)));
        assert!(parse(r#"{"info":{"a-x":null},"storeDir":"/nix/store","version":2}"#).is_err());
    }

    fn words(version: NixVersion) -> String {
        query_command(&["/nix/store/a-x"], false, version)
            .unwrap()
            .display()
    }

    /// Upstream Nix from 2.33 warns that `--json` without `--json-format` is deprecated, so the
    /// tools ask for format 1; older Nix has no such option.
    #[test]
    fn upstream_nix_gets_json_format_from_2_33() {
        assert!(!words(NixVersion::new(2, 32, 0)).contains("--json-format"));
        assert!(words(NixVersion::new(2, 33, 0)).contains("--json --json-format 1 /nix/store/a-x"));
    }

    /// Determinate Nix from 3.15 (on Nix 2.33) deprecates `--json` alone as upstream does.
    #[test]
    fn determinate_nix_gets_json_format() {
        let d = NixVersion::determinate((3, 22, 2), (2, 35, 2));
        assert!(words(d).contains("--json --json-format 1"));
        let d314 = NixVersion::determinate((3, 14, 0), (2, 32, 4));
        assert!(!words(d314).contains("--json-format"));
    }

    /// Lix has no `--json-format` in any release: `--json` alone.
    #[test]
    fn lix_gets_plain_json() {
        assert!(!words(NixVersion::lix(2, 95, 3)).contains("--json-format"));
    }

    #[test]
    fn invalid_paths_and_garbage_are_errors() {
        assert!(parse(r#"{"/nix/store/a-x":null}"#).is_err());
        assert!(parse(r#"[{"path":"/nix/store/a-x","valid":false}]"#).is_err());
        assert!(parse("not json").is_err());
    }
}
