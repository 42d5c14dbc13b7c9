//! What a profile holds, read from any of the forms Nix writes it in, into one model.
//!
//! - `manifest.json` of a `nix profile` profile, versions 1 (Nix 2.4-2.7: `uri`/`originalUri`),
//!   2 (2.8, and 2.9-2.19 with `priority` and `outputs`) and 3 (2.20+, elements keyed by name);
//! - the output of `nix profile list --json` (2.17+), which is the same document;
//! - the text of `nix profile list` before 2.17 ([`parse_list_text`]), one line per element;
//! - a nix-env profile's `manifest.nix`, evaluated with `nix-instantiate` ([`read_profile`]).
//!
//! The rules follow Nix's own reader (`ProfileManifest` in `src/nix/profile.cc`): `active`
//! and `storePaths` are required, `priority` and `outputs` optional; an element has a flake
//! source only when its locked url is a non-empty string, and then needs the attribute path;
//! array elements are named the way Nix names them (`getNameFromURL`), with `-1`, `-2`, ... on
//! collisions. Unknown keys are ignored. Every problem is an [`Error::usage`] (exit 2) saying
//! where: the line and column for a JSON syntax error, the JSON path for a wrong shape.
//!
//! Real profiles are read more leniently than Nix reads them where the meaning is still clear:
//! an element with a locked url but no original url takes the locked one, and a version 1
//! element spelling the original url `originalUrl` (as some Nix of that era wrote it) is read.
//! Each such case is told in [`Manifest::warnings`], never a refusal of the whole profile.

use fp_common::{Error, Result, Ui};
use fp_nix::command::{NixCommand, Stderr};
use fp_nix::flake_url::percent_decode;
use fp_nix::store_path::{parse_drv_name, StorePath};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::Path;

/// The priority an element has when none is recorded (Nix's `defaultPriority`).
pub const DEFAULT_PRIORITY: i64 = 5;

/// The manifest versions this module reads.
pub const SUPPORTED_VERSIONS: &[u64] = &[1, 2, 3];

/// Where a manifest came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A `manifest.json` (or `nix profile list --json`) of this version.
    Json {
        /// 1, 2 or 3.
        version: u64,
    },
    /// A nix-env profile's `manifest.nix`: no flake sources at all.
    NixEnv,
    /// The text of `nix profile list` of Nix 2.4-2.16: one line per element, no priorities.
    ListText,
}

/// A profile's contents: its elements in the manifest's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The form it was read from.
    pub format: Format,
    /// The elements, in the order of the file (for version 3, sorted by name as Nix writes it).
    pub elements: Vec<Element>,
    /// What was read leniently (a missing or misspelt field), one line each.
    pub warnings: Vec<String>,
}

/// One installed element of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Its name: the key in a version 3 manifest, else the name Nix derives from its source or
    /// store paths (unique within the manifest).
    pub name: String,
    /// Whether it is linked into the profile (`false` keeps it in the manifest only).
    pub active: bool,
    /// The recorded priority (lower wins), or `None` when the manifest has none (Nix 2.8,
    /// nix-env without a priority flag): then [`DEFAULT_PRIORITY`] applies.
    pub priority: Option<i64>,
    /// Which outputs of the package were installed.
    pub outputs: Outputs,
    /// The store paths installed for it.
    pub store_paths: Vec<StorePath>,
    /// The flake it was installed from, when it was.
    pub source: Option<Source>,
}

impl Element {
    /// The priority in effect: the recorded one or [`DEFAULT_PRIORITY`].
    pub fn effective_priority(&self) -> i64 {
        self.priority.unwrap_or(DEFAULT_PRIORITY)
    }
}

/// The outputs of an element (Nix's `ExtendedOutputsSpec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outputs {
    /// The package's default outputs (`meta.outputsToInstall`): `null` or missing.
    Default,
    /// Every output: `["*"]`.
    All,
    /// These outputs, in the manifest's order.
    Names(Vec<String>),
}

/// The flake an element was installed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The reference as the user gave it (`flake:nixpkgs`, `github:NixOS/nixpkgs`).
    pub original_url: String,
    /// The locked reference (`github:NixOS/nixpkgs/<rev>`, `path:/x?lastModified=..&narHash=..`).
    pub url: String,
    /// The attribute path inside the flake (`legacyPackages.x86_64-linux.hello`).
    pub attr_path: String,
}

impl Source {
    /// The attribute path split into its attribute names ([`split_attr_path`]).
    pub fn attr_path_components(&self) -> Vec<String> {
        split_attr_path(&self.attr_path)
    }
}

/// Splits an attribute path at its dots the way Nix does: a double-quoted part may contain dots
/// (`a."b.c".d` is `a`, `b.c`, `d`); the quotes themselves are dropped.
pub fn split_attr_path(path: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    if !current.is_empty() || !parts.is_empty() || path.is_empty() {
        parts.push(current);
    }
    if path.is_empty() {
        parts.clear();
    }
    parts
}

/// The value of `key` in the query of a flake reference (`...?dir=sub&ref=x#attr`), decoded.
pub fn query_value(url: &str, key: &str) -> Option<String> {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let (_, query) = without_fragment.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

/// The name Nix gives an element installed from `original_url#attr_path` (`getNameFromURL`):
/// a `dir=` query value; else the last attribute unless it is `default` or the path starts
/// with `defaultPackage.`; else the repository of a github/gitlab/sourcehut reference; else the
/// last path segment.
pub fn name_from_source(original_url: &str, attr_path: &str) -> String {
    if let Some(dir) = query_value(original_url, "dir").filter(|d| !d.is_empty()) {
        return dir;
    }
    if let Some(last) = split_attr_path(attr_path).last() {
        if last != "default" && !attr_path.starts_with("defaultPackage.") && !last.is_empty() {
            return last.clone();
        }
    }
    let base = original_url
        .split(['?', '#'])
        .next()
        .unwrap_or(original_url);
    let (scheme, rest) = base.split_once(':').unwrap_or(("", base));
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match scheme {
        "github" | "gitlab" | "sourcehut" if segments.len() >= 2 => segments[1].to_string(),
        _ => segments
            .last()
            .map(|s| percent_decode(s))
            .unwrap_or_else(|| base.to_string()),
    }
}

/// The name of an element with no flake source (Nix's `identifier()`): the package names of
/// its store paths, each once, joined with `, `.
pub fn name_from_store_paths(paths: &[StorePath]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for path in paths {
        let name = parse_drv_name(path.name()).0;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(", ")
}

/// Reads a manifest from the text of a `manifest.json` or of `nix profile list --json`.
/// `origin` names the input in error messages (a file name, `stdin`).
pub fn parse_json(text: &str, origin: &str) -> Result<Manifest> {
    let value: Value = serde_json::from_str(text).map_err(|e| json_error(origin, &e))?;
    let shape = |path: &str, what: &str| Error::usage(format!("{origin}: {path}: {what}"));
    let top = value.as_object().ok_or_else(|| {
        shape(
            "the document",
            "expected a JSON object with \"version\" and \"elements\"",
        )
    })?;
    let version = match top.get("version") {
        None => {
            return Err(Error::usage(format!(
                "{origin}: unsupported manifest: it has no \"version\" (supported: 1, 2 and 3)"
            )))
        }
        Some(v) => v.as_u64().ok_or_else(|| {
            shape(
                ".version",
                &format!("expected an integer, found {}", kind(v)),
            )
        })?,
    };
    if !SUPPORTED_VERSIONS.contains(&version) {
        return Err(Error::usage(format!(
            "{origin}: unsupported manifest version {version} (supported: 1, 2 and 3)"
        )));
    }
    let (url_key, original_key, other_original) = if version == 1 {
        ("uri", "originalUri", "originalUrl")
    } else {
        ("url", "originalUrl", "originalUri")
    };
    let mut keys = Keys {
        origin,
        url: url_key,
        original: original_key,
        other_original,
        warnings: Vec::new(),
    };
    let mut elements = Vec::new();
    match top.get("elements") {
        Some(Value::Array(items)) => {
            let mut taken = HashSet::new();
            for (i, item) in items.iter().enumerate() {
                let mut element = keys.element(item, &format!(".elements[{i}]"))?;
                element.name = unique_name(&mut taken, &element.name);
                elements.push(element);
            }
        }
        Some(Value::Object(items)) => {
            for (name, item) in items {
                let mut element = keys.element(item, &format!(".elements[{name:?}]"))?;
                element.name = name.clone();
                elements.push(element);
            }
        }
        Some(other) => {
            return Err(shape(
                ".elements",
                &format!("expected an array or an object, found {}", kind(other)),
            ))
        }
        None => return Err(shape(".elements", "missing")),
    }
    Ok(Manifest {
        format: Format::Json { version },
        elements,
        warnings: keys.warnings,
    })
}

/// Reads a manifest from text that is either JSON (a `manifest.json`, `nix profile list
/// --json`) or the text of `nix profile list` of Nix 2.4-2.16, told apart by the first
/// character: a digit starts a text line (its index), anything else is read as JSON.
pub fn parse_document(text: &str, origin: &str) -> Result<Manifest> {
    let start = text.trim_start();
    if start.starts_with(|c: char| c.is_ascii_digit()) {
        parse_list_text(text, origin)
    } else if start.starts_with('{') || start.starts_with('[') {
        parse_json(text, origin)
    } else if text.contains("Flake attribute:") || text.contains("Store paths:") {
        // Nix 2.17+ prints blocks (`Name:`, `Flake attribute:`, ...) with terminal escapes
        // even into a pipe, and has `--json` for reading it.
        Err(Error::usage(format!(
            "{origin}: this is the text `nix profile list` prints since Nix 2.17, which fp-migrate does not read"
        ))
        .with_hint("nix profile list --json | fp-migrate > flake.nix"))
    } else {
        parse_json(text, origin)
    }
}

/// Reads the text `nix profile list` printed before it had `--json` (Nix 2.4-2.16): one line
/// per element, `INDEX ORIGINAL#ATTR LOCKED#ATTR STORE-PATH...`, where 2.9-2.16 append the
/// outputs to both attribute paths (`^*`, `^bin,man`; nothing for the default ones) and an
/// element with no flake source has `-` for both references. Every element is active (the
/// text does not say otherwise) and has no recorded priority.
pub fn parse_list_text(text: &str, origin: &str) -> Result<Manifest> {
    let mut elements = Vec::new();
    let mut taken = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let at = |what: &str| {
            Error::usage(format!(
                "{origin}: line {}: {what} (expected `INDEX ORIGINAL#ATTR LOCKED#ATTR STORE-PATH...`, as `nix profile list` prints)",
                i + 1
            ))
        };
        let mut words = line.split_whitespace();
        let Some(index) = words.next() else {
            continue;
        };
        if !index.bytes().all(|b| b.is_ascii_digit()) {
            return Err(at(&format!("{index:?} is not an index")));
        }
        let (Some(original), Some(locked)) = (words.next(), words.next()) else {
            return Err(at("too few columns"));
        };
        let store_paths = words
            .map(|w| StorePath::parse(w).map_err(|e| at(e.message())))
            .collect::<Result<Vec<_>>>()?;
        let (source, outputs) = match (original, locked) {
            ("-", "-") => (None, Outputs::Default),
            _ => {
                let (original_url, _) = split_installable(original)
                    .ok_or_else(|| at(&format!("{original:?} has no `#` attribute path")))?;
                let (url, (attr_path, outputs)) = split_installable(locked)
                    .ok_or_else(|| at(&format!("{locked:?} has no `#` attribute path")))?;
                let source = Source {
                    original_url: original_url.to_string(),
                    url: url.to_string(),
                    attr_path: attr_path.to_string(),
                };
                (Some(source), outputs)
            }
        };
        let name = match &source {
            Some(s) => name_from_source(&s.original_url, &s.attr_path),
            None => name_from_store_paths(&store_paths),
        };
        elements.push(Element {
            name: unique_name(&mut taken, &name),
            active: true,
            priority: None,
            outputs,
            store_paths,
            source,
        });
    }
    if elements.is_empty() {
        return Err(Error::usage(format!(
            "{origin}: no elements: the text of `nix profile list` has one line per element"
        )));
    }
    Ok(Manifest {
        format: Format::ListText,
        elements,
        warnings: Vec::new(),
    })
}

/// Splits `URL#ATTR^OUTPUTS` of a `nix profile list` line into the url, the attribute path
/// and the outputs (`^*` all, `^a,b` those, none the default ones); `None` without a `#`.
fn split_installable(text: &str) -> Option<(&str, (&str, Outputs))> {
    let (url, fragment) = text.split_once('#')?;
    let (attr, outputs) = match fragment.rsplit_once('^') {
        Some((attr, "*")) => (attr, Outputs::All),
        Some((attr, "")) => (attr, Outputs::Default),
        Some((attr, names)) => (
            attr,
            Outputs::Names(names.split(',').map(str::to_string).collect()),
        ),
        None => (fragment, Outputs::Default),
    };
    Some((url, (attr, outputs)))
}

/// The keys of one manifest version, the origin for messages, and what was read leniently.
struct Keys<'a> {
    origin: &'a str,
    url: &'a str,
    original: &'a str,
    /// The original url's key of the other versions, read when `original` is missing.
    other_original: &'a str,
    warnings: Vec<String>,
}

impl Keys<'_> {
    fn error(&self, path: &str, what: &str) -> Error {
        Error::usage(format!("{}: {path}: {what}", self.origin))
    }

    /// Reads one element at JSON path `path`; its name is Nix's derived name (the caller makes
    /// it unique or replaces it with the object key).
    fn element(&mut self, item: &Value, path: &str) -> Result<Element> {
        let obj = item.as_object().ok_or_else(|| {
            self.error(
                path,
                &format!("expected an element object, found {}", kind(item)),
            )
        })?;
        let active = match obj.get("active") {
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(self.error(
                    &format!("{path}.active"),
                    &format!("expected true or false, found {}", kind(other)),
                ))
            }
            None => return Err(self.error(&format!("{path}.active"), "missing")),
        };
        let store_paths = self.store_paths(obj, path)?;
        let priority = match obj.get("priority") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64().ok_or_else(|| {
                self.error(
                    &format!("{path}.priority"),
                    &format!("expected an integer, found {}", kind(v)),
                )
            })?),
        };
        let outputs = self.outputs(obj.get("outputs"), &format!("{path}.outputs"))?;
        let url = match obj.get(self.url) {
            None | Some(Value::Null) => "",
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(self.error(
                    &format!("{path}.{}", self.url),
                    &format!("expected a string, found {}", kind(other)),
                ))
            }
        };
        let source = if url.is_empty() {
            None
        } else {
            Some(Source {
                original_url: self.original_url(obj, url, path)?,
                url: url.to_string(),
                attr_path: self.string(obj, "attrPath", path)?,
            })
        };
        let name = match &source {
            Some(s) => name_from_source(&s.original_url, &s.attr_path),
            None => name_from_store_paths(&store_paths),
        };
        Ok(Element {
            name,
            active,
            priority,
            outputs,
            store_paths,
            source,
        })
    }

    /// The original url: its own key, else the other versions' spelling, else the locked `url`
    /// itself; the last two are told in the warnings.
    fn original_url(&mut self, obj: &Map<String, Value>, url: &str, path: &str) -> Result<String> {
        if obj.contains_key(self.original) {
            return self.string(obj, self.original, path);
        }
        let (found, how) = if obj.contains_key(self.other_original) {
            (
                self.string(obj, self.other_original, path)?,
                format!("spelt {:?}: read as it", self.other_original),
            )
        } else {
            (
                url.to_string(),
                format!("missing: the locked {:?} stands in for it", self.url),
            )
        };
        self.warnings
            .push(format!("{}: {path}.{} {how}", self.origin, self.original));
        Ok(found)
    }

    fn string(&self, obj: &Map<String, Value>, key: &str, path: &str) -> Result<String> {
        match obj.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(self.error(
                &format!("{path}.{key}"),
                &format!("expected a string, found {}", kind(other)),
            )),
            None => Err(self.error(
                &format!("{path}.{key}"),
                &format!("missing (an element with \"{}\" needs it)", self.url),
            )),
        }
    }

    fn store_paths(&self, obj: &Map<String, Value>, path: &str) -> Result<Vec<StorePath>> {
        let at = format!("{path}.storePaths");
        let list = match obj.get("storePaths") {
            Some(Value::Array(list)) => list,
            Some(other) => {
                return Err(self.error(
                    &at,
                    &format!("expected an array of store paths, found {}", kind(other)),
                ))
            }
            None => return Err(self.error(&at, "missing")),
        };
        list.iter()
            .enumerate()
            .map(|(i, v)| {
                let text = v.as_str().ok_or_else(|| {
                    self.error(
                        &format!("{at}[{i}]"),
                        &format!("expected a store path string, found {}", kind(v)),
                    )
                })?;
                StorePath::parse(text).map_err(|e| self.error(&format!("{at}[{i}]"), e.message()))
            })
            .collect()
    }

    fn outputs(&self, value: Option<&Value>, at: &str) -> Result<Outputs> {
        let list = match value {
            None | Some(Value::Null) => return Ok(Outputs::Default),
            Some(Value::Array(list)) => list,
            Some(other) => {
                return Err(self.error(
                    at,
                    &format!(
                        "expected null or an array of output names, found {}",
                        kind(other)
                    ),
                ))
            }
        };
        let names = list
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    self.error(
                        &format!("{at}[{i}]"),
                        &format!("expected an output name, found {}", kind(v)),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if names.is_empty() {
            Err(self.error(at, "an empty list of outputs"))
        } else if names.iter().any(|n| n == "*") {
            Ok(Outputs::All)
        } else {
            Ok(Outputs::Names(names))
        }
    }
}

/// `name`, or `name-1`, `name-2`, ... when an earlier element already has it (Nix's rule);
/// the name returned is added to `taken`.
fn unique_name(taken: &mut HashSet<String>, name: &str) -> String {
    let mut candidate = name.to_string();
    let mut i = 0;
    while taken.contains(&candidate) {
        i += 1;
        candidate = format!("{name}-{i}");
    }
    taken.insert(candidate.clone());
    candidate
}

/// A JSON syntax error as `origin: not valid JSON at line L, column C: what`.
fn json_error(origin: &str, err: &serde_json::Error) -> Error {
    let text = err.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map(|(what, _)| what.to_string())
        .unwrap_or(text);
    if err.line() == 0 {
        Error::usage(format!("{origin}: not valid JSON: {what}"))
    } else {
        Error::usage(format!(
            "{origin}: not valid JSON at line {}, column {}: {what}",
            err.line(),
            err.column()
        ))
    }
}

/// What kind of JSON value this is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The Nix function that turns a nix-env `manifest.nix` (given as `file`) into plain JSON data:
/// each element's name, installed outputs and their store paths, priority and active flag as
/// nix-env stored them (`meta.priority`, `meta.active`, possibly as strings).
pub const NIX_ENV_EXPR: &str = r#"{ file }:
builtins.map
  (e: {
    name = e.name or null;
    outputs = e.outputs or null;
    paths = builtins.map (o: (e.${o} or { }).outPath or null) (e.outputs or [ "out" ]);
    path = e.outPath or null;
    priority = (e.meta or { }).priority or null;
    active = (e.meta or { }).active or null;
  })
  (import file)"#;

/// `nix-instantiate --eval --strict --json` of [`NIX_ENV_EXPR`] for this `manifest.nix`.
pub fn nix_env_command(manifest_nix: &Path) -> NixCommand {
    NixCommand::nix_instantiate()
        .args(["--eval", "--strict", "--json", "--argstr", "file"])
        .arg(manifest_nix)
        .args(["--expr", NIX_ENV_EXPR])
}

/// Reads the JSON that [`nix_env_command`] prints into a manifest of source-less elements, named
/// by their package name (`hello` for `hello-2.12.1`).
pub fn parse_nix_env_json(text: &str, origin: &str) -> Result<Manifest> {
    let value: Value = serde_json::from_str(text).map_err(|e| json_error(origin, &e))?;
    let bad = |path: &str, what: &str| Error::usage(format!("{origin}: {path}: {what}"));
    let items = value
        .as_array()
        .ok_or_else(|| bad("the manifest", "expected a list of packages"))?;
    let mut elements: Vec<Element> = Vec::new();
    let mut taken = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("element {i}");
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(&at, "has no name"))?;
        let mut paths: Vec<&str> = item
            .get("paths")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if paths.is_empty() {
            paths.extend(item.get("path").and_then(Value::as_str));
        }
        let store_paths = paths
            .iter()
            .map(|p| StorePath::parse(p).map_err(|e| bad(&at, e.message())))
            .collect::<Result<Vec<_>>>()?;
        let outputs = match item.get("outputs").and_then(Value::as_array) {
            Some(list) => {
                let names: Vec<String> = list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
                if names.is_empty() || names == ["out"] {
                    Outputs::Default
                } else {
                    Outputs::Names(names)
                }
            }
            None => Outputs::Default,
        };
        let priority = match item.get("priority") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let active = match item.get("active") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s != "false",
            _ => true,
        };
        let element = Element {
            name: unique_name(&mut taken, parse_drv_name(name).0),
            active,
            priority,
            outputs,
            store_paths,
            source: None,
        };
        elements.push(element);
    }
    Ok(Manifest {
        format: Format::NixEnv,
        elements,
        warnings: Vec::new(),
    })
}

/// Reads the manifest of the profile at `profile` (a profile link, a generation link or the
/// store path it points to): `manifest.json` when there is one, else a nix-env `manifest.nix`
/// (evaluated with nix-instantiate). A path that does not exist, or holds neither, is exit 2.
pub fn read_profile(ui: &Ui, profile: &Path) -> Result<Manifest> {
    let shown = profile.display();
    if std::fs::metadata(profile).is_err() {
        return Err(Error::usage(format!("the profile {shown} does not exist")));
    }
    if !profile.is_dir() {
        return Err(Error::usage(format!(
            "{shown} is not a profile (a profile is a directory with manifest.json or manifest.nix)"
        )));
    }
    let json = profile.join("manifest.json");
    if json.exists() {
        let text = read_text(&json)?;
        return parse_json(&text, &json.display().to_string());
    }
    let nix = profile.join("manifest.nix");
    if nix.exists() {
        let absolute = std::fs::canonicalize(&nix)
            .map_err(|e| Error::failed(format!("cannot resolve {}: {e}", nix.display())))?;
        let out = nix_env_command(&absolute)
            .output(ui, Stderr::Capture)
            .map_err(|e| unreadable_manifest_nix(&nix, e))?;
        return parse_nix_env_json(&out, &nix.display().to_string());
    }
    Err(Error::usage(format!(
        "{shown} has no manifest.json or manifest.nix, so it is not a nix profile"
    )))
}

/// The error for a `manifest.nix` that nix-instantiate could not evaluate: bad input (exit 2),
/// naming the file and with nix's message. Nix that cannot be run at all stays a failure
/// (exit 1): the file may be fine.
fn unreadable_manifest_nix(file: &Path, err: Error) -> Error {
    if err.code() != 1 || err.message().starts_with("cannot run ") {
        return err;
    }
    Error::usage(format!(
        "{}: not a manifest.nix that Nix can read: {}",
        file.display(),
        err.message()
    ))
}

/// Reads a file as UTF-8 text; unreadable is exit 1, not UTF-8 is exit 2.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = fp_nix::limits::read_file(path)
        .map_err(|e| Error::failed(format!("cannot read {}: {e}", path.display())))??;
    String::from_utf8(bytes)
        .map_err(|e| Error::usage(format!("{} is not UTF-8 text: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-1.0";
    const H2: &str = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-1.0-man";

    #[test]
    fn attr_paths_split_like_nix() {
        assert_eq!(split_attr_path("a.b.c"), ["a", "b", "c"]);
        assert_eq!(split_attr_path(r#"a."b.c".d"#), ["a", "b.c", "d"]);
        assert_eq!(split_attr_path("a..b"), ["a", "", "b"]);
        assert!(split_attr_path("").is_empty());
    }

    #[test]
    fn percent_decoding_is_lenient() {}

    #[test]
    fn names_follow_get_name_from_url() {
        let n = name_from_source;
        assert_eq!(
            n("flake:nixpkgs", "legacyPackages.x86_64-linux.hello"),
            "hello"
        );
        assert_eq!(
            n("path:/tmp/flake1", "packages.x86_64-linux.default"),
            "flake1"
        );
        assert_eq!(
            n("github:NixOS/nix/2.8.0", "defaultPackage.x86_64-linux"),
            "nix"
        );
        assert_eq!(n("github:me/repo?dir=sub", "packages.x.default"), "sub");
        assert_eq!(
            n("git+https://x.org/a/b.git", "packages.x.default"),
            "b.git"
        );
    }

    #[test]
    fn version_2_of_nix_2_8() {
        let text = format!(
            r#"{{"elements":[{{"active":true,"attrPath":"legacyPackages.x86_64-linux.hello","originalUrl":"path:/tmp/p","storePaths":["{H1}"],"url":"path:/tmp/p?narHash=sha256-x%2fy"}},{{"active":true,"storePaths":["{H1}","{H2}"]}},{{"active":false,"attrPath":"legacyPackages.x86_64-linux.hello","originalUrl":"path:/tmp/p","storePaths":[],"url":"path:/tmp/p"}}],"version":2}}"#
        );
        let m = parse_json(&text, "t").unwrap();
        assert_eq!(m.format, Format::Json { version: 2 });
        let names: Vec<_> = m.elements.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["hello", "hello-1", "hello-2"]);
        assert_eq!(m.elements[0].priority, None);
        assert_eq!(m.elements[0].effective_priority(), 5);
        assert_eq!(m.elements[0].outputs, Outputs::Default);
        assert!(m.elements[1].source.is_none());
        assert!(!m.elements[2].active);
    }

    #[test]
    fn version_1_and_3() {
        let v1 = format!(
            r#"{{"elements":[{{"active":true,"attrPath":"a.b","originalUri":"flake:x","storePaths":["{H1}"],"uri":"github:o/x/r"}}],"version":1}}"#
        );
        let m = parse_json(&v1, "t").unwrap();
        assert_eq!(m.elements[0].source.as_ref().unwrap().url, "github:o/x/r");
        let v3 = format!(
            r#"{{"elements":{{"z":{{"active":true,"priority":4,"outputs":["*"],"storePaths":["{H1}"]}},"a":{{"active":true,"outputs":["out","man"],"storePaths":["{H2}"]}}}},"version":3}}"#
        );
        let m = parse_json(&v3, "t").unwrap();
        assert_eq!(m.elements[0].name, "a");
        assert_eq!(
            m.elements[0].outputs,
            Outputs::Names(vec!["out".into(), "man".into()])
        );
        assert_eq!(m.elements[1].outputs, Outputs::All);
        assert_eq!(m.elements[1].priority, Some(4));
    }

    #[test]
    fn errors_say_where() {
        let msg = |t: &str| parse_json(t, "in").unwrap_err().message().to_string();
        assert_eq!(
            msg("{\n  \"version\": 2,\n  oops"),
            "in: not valid JSON at line 3, column 3: key must be a string"
        );
        assert!(msg(r#"{"version":4,"elements":[]}"#).contains("unsupported manifest version 4"));
        assert!(msg(r#"{"elements":[]}"#).contains("no \"version\""));
        assert_eq!(
            msg(r#"{"version":2,"elements":[{"active":true}]}"#),
            "in: .elements[0].storePaths: missing"
        );
        assert!(
            msg(r#"{"version":2,"elements":[{"active":true,"storePaths":["/tmp/x"]}]}"#)
                .starts_with("in: .elements[0].storePaths[0]: ")
        );
        assert!(msg(r#"[1]"#).contains("expected a JSON object"));
        assert!(msg(&format!(
            r#"{{"version":3,"elements":{{"a b":{{"active":true,"storePaths":["{H1}"],"url":"x"}}}}}}"#
        ))
        .contains(r#".elements["a b"].attrPath: missing"#));
        assert_eq!(parse_json("", "in").unwrap_err().code(), 2);
    }

    #[test]
    fn missing_or_misspelt_original_urls_are_read_and_told() {
        let m = parse_json(
            &format!(
                r#"{{"version":3,"elements":{{"a":{{"active":true,"attrPath":"x","storePaths":["{H1}"],"url":"github:o/r/1"}}}}}}"#
            ),
            "in",
        )
        .unwrap();
        assert_eq!(
            m.elements[0].source.as_ref().unwrap().original_url,
            "github:o/r/1"
        );
        assert_eq!(
            m.warnings,
            [r#"in: .elements["a"].originalUrl missing: the locked "url" stands in for it"#]
        );
        let m = parse_json(
            &format!(
                r#"{{"version":1,"elements":[{{"active":true,"attrPath":"x","originalUrl":"flake:n","storePaths":["{H1}"],"uri":"github:o/n/1"}}]}}"#
            ),
            "in",
        )
        .unwrap();
        assert_eq!(
            m.elements[0].source.as_ref().unwrap().original_url,
            "flake:n"
        );
        assert_eq!(m.elements[0].name, "x");
        assert_eq!(
            m.warnings,
            [r#"in: .elements[0].originalUri spelt "originalUrl": read as it"#]
        );
    }

    #[test]
    fn list_text_of_nix_2_4_to_2_16() {
        let text = format!(
            "0 flake:nixpkgs#legacyPackages.x86_64-linux.hello github:NixOS/nixpkgs/abc#legacyPackages.x86_64-linux.hello {H1}\n1 flake:nixpkgs#legacyPackages.x86_64-linux.hello^man,out github:NixOS/nixpkgs/abc#legacyPackages.x86_64-linux.hello^man,out {H2} {H1}\n\n2 - - {H1}\n3 path:/p#packages.x86_64-linux.default^* path:/p?narHash=x#packages.x86_64-linux.default^* \n"
        );
        let m = parse_document(&text, "t").unwrap();
        assert_eq!(m.format, Format::ListText);
        let names: Vec<_> = m.elements.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["hello", "hello-1", "hello-2", "p"]);
        let s = m.elements[1].source.as_ref().unwrap();
        assert_eq!(s.url, "github:NixOS/nixpkgs/abc");
        assert_eq!(s.original_url, "flake:nixpkgs");
        assert_eq!(s.attr_path, "legacyPackages.x86_64-linux.hello");
        assert_eq!(
            m.elements[1].outputs,
            Outputs::Names(vec!["man".into(), "out".into()])
        );
        assert_eq!(m.elements[1].store_paths.len(), 2);
        assert!(m.elements[2].source.is_none());
        assert_eq!(m.elements[3].outputs, Outputs::All);
        assert!(m.elements[3].store_paths.is_empty());
        let err = |t: &str| parse_document(t, "t").unwrap_err();
        assert!(err("0 flake:nixpkgs#x\n")
            .message()
            .contains("line 1: too few columns"));
        assert!(err("0 - - /tmp/x\n").message().contains("line 1: "));
        assert!(err("0 a b\n")
            .message()
            .contains("\"a\" has no `#` attribute path"));
        assert!(err("0 - - \nx - -")
            .message()
            .contains("line 2: \"x\" is not an index"));
        assert_eq!(err("0 a b\n").code(), 2);
    }

    #[test]
    fn nix_env_json() {
        let text = format!(
            r#"[{{"active":"false","name":"hello-1.0","outputs":["man","out"],"path":"{H1}","paths":["{H2}","{H1}"],"priority":null}},{{"active":null,"name":"hello-1.0","outputs":["out"],"path":"{H1}","paths":["{H1}"],"priority":"3"}}]"#
        );
        let m = parse_nix_env_json(&text, "t").unwrap();
        assert_eq!(m.format, Format::NixEnv);
        assert_eq!(m.elements[0].name, "hello");
        assert!(!m.elements[0].active);
        assert_eq!(m.elements[0].store_paths.len(), 2);
        assert_eq!(m.elements[1].name, "hello-1");
        assert_eq!(m.elements[1].priority, Some(3));
        assert_eq!(m.elements[1].outputs, Outputs::Default);
    }
}
