//! The flake registry file, `registry.json` version 2, read and written by fp-pin itself rather
//! than by `nix registry`: in Nix 2.8, `nix registry add` and `pin` need the network, and
//! `nix registry pin` removes the entry before it resolves the new one, so a failed resolve
//! loses it.
//!
//! Editing keeps everything it does not own: every other entry and every field it does not know
//! (at the top level, inside entries, inside `from`/`to`) stays equal as a JSON value. Updating
//! an entry removes every entry with the same `from` and appends the new one at the end, as
//! Nix's `remove(from)` + `add` does. The file is written the way Nix writes it (keys sorted,
//! two-space indentation), atomically, keeping its mode. A file that does not parse, or has
//! another version, is refused (exit 2) and never overwritten.

use fp_common::config;
use fp_common::{Error, Result};
use fp_nix::atomic_file;
use fp_nix::command::NixVersion;
use fp_nix::locations;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The only registry format version Nix reads (and so the only one written).
pub const VERSION: u64 = 2;

/// Which registry file a tool acts on, as given by `--registry user|system|FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// The user registry: `$XDG_CONFIG_HOME/nix/registry.json` (see
    /// [`locations::user_registry`]).
    User,
    /// The system registry: `$NIX_CONF_DIR/registry.json`, default `/etc/nix/registry.json`.
    System,
    /// A registry file given by path.
    File(PathBuf),
}

impl Which {
    /// Parses a `--registry` value: `user`, `system`, or anything else as a file path (write
    /// `./user` for a file named `user`).
    pub fn parse(text: &str) -> Which {
        match text {
            "user" => Which::User,
            "system" => Which::System,
            other => Which::File(PathBuf::from(config::expand_tilde(other))),
        }
    }

    /// The default when no `--registry` is given: the system registry for root (whose user
    /// registry Nix reads only when root runs nix), else the user's.
    pub fn default_for(root: bool) -> Which {
        if root {
            Which::System
        } else {
            Which::User
        }
    }

    /// The file this names, absolute. `version` is asked only when `$NIX_CONFIG_HOME` is set
    /// (Nix 2.25 and later put the user registry there).
    pub fn path(&self, version: impl FnOnce() -> Result<NixVersion>) -> Result<PathBuf> {
        let path = match self {
            Which::User => locations::user_registry(version)?,
            Which::System => locations::system_registry(),
            Which::File(p) => p.clone(),
        };
        locations::absolute(&path)
    }

    /// A short word for messages: `user`, `system` or `file`.
    pub fn kind(&self) -> &'static str {
        match self {
            Which::User => "user",
            Which::System => "system",
            Which::File(_) => "file",
        }
    }
}

/// Whether `id` is a flake id Nix accepts in `flake:ID` references: a letter, then letters,
/// digits, `_` and `-`.
pub fn is_flake_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The `from` of an entry for `flake:ID`: `{"id": ID, "type": "indirect"}`.
pub fn indirect(id: &str) -> Value {
    json!({"id": id, "type": "indirect"})
}

/// The `to` of an entry pointing at a local path: `{"path": PATH, "type": "path"}`, what
/// `nix registry add ID path:PATH` writes.
pub fn path_input(path: &str) -> Value {
    json!({"path": path, "type": "path"})
}

/// Renders an entry's `to` for people: `path:/x`, `github:owner/repo/ref`, else compact JSON.
pub fn describe_input(to: &Value) -> String {
    let field = |k: &str| to.get(k).and_then(Value::as_str);
    match field("type") {
        Some("path") if field("path").is_some() => format!("path:{}", field("path").unwrap_or("")),
        Some(kind @ ("github" | "gitlab" | "sourcehut"))
            if field("owner").is_some() && field("repo").is_some() =>
        {
            let mut s = format!(
                "{kind}:{}/{}",
                field("owner").unwrap_or(""),
                field("repo").unwrap_or("")
            );
            if let Some(r) = field("rev").or(field("ref")) {
                s.push('/');
                s.push_str(r);
            }
            s
        }
        _ => to.to_string(),
    }
}

/// What [`Registry::set`] did to one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// There was no entry with that `from`; one was appended.
    Added,
    /// Entries with that `from` were removed (their `to` values, in file order) and the new
    /// one appended.
    Changed(Vec<Value>),
    /// Exactly one entry with that `from` existed and it was already the wanted one; nothing
    /// was touched.
    Unchanged,
}

/// A registry file in memory: the parsed document and the text it was read from.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
    original: Option<String>,
    doc: Map<String, Value>,
    modified: bool,
}

impl Registry {
    /// Reads the registry at `path`. A missing file is an empty version-2 registry; a file that
    /// cannot be read is exit 1; one that does not parse, is not a version-2 registry or has a
    /// `flakes` that is not a list is exit 2.
    pub fn load(path: &Path) -> Result<Registry> {
        match fp_nix::limits::read_file(path) {
            Ok(bytes) => Self::parse(&bytes?, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::empty(path)),
            Err(e) => Err(Error::failed(format!(
                "cannot read the registry {}: {e}",
                path.display()
            ))),
        }
    }

    /// An empty registry that will be written to `path`.
    pub fn empty(path: &Path) -> Registry {
        let mut doc = Map::new();
        doc.insert("flakes".into(), Value::Array(Vec::new()));
        doc.insert("version".into(), Value::from(VERSION));
        Registry {
            path: path.to_path_buf(),
            original: None,
            doc,
            modified: false,
        }
    }

    /// Parses registry content read from `path`.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Registry> {
        let shown = path.display();
        let hint = "fix or move the file; it is left as it is";
        let text = std::str::from_utf8(bytes).map_err(|_| {
            Error::usage(format!("the registry {shown} is not text (invalid UTF-8)"))
                .with_hint(hint)
        })?;
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Error::usage(format!("the registry {shown} is not valid JSON: {e}")).with_hint(hint)
        })?;
        let Value::Object(doc) = value else {
            return Err(
                Error::usage(format!("the registry {shown} is not a JSON object")).with_hint(hint),
            );
        };
        match doc.get("version") {
            Some(v) if v.as_u64() == Some(VERSION) => {}
            Some(v) => {
                return Err(Error::usage(format!(
                    "the registry {shown} has version {v}; only version {VERSION} (Nix 2.4 and later) is understood"
                ))
                .with_hint(hint))
            }
            None => {
                return Err(Error::usage(format!(
                    "the registry {shown} has no \"version\"; only version {VERSION} is understood"
                ))
                .with_hint(hint))
            }
        }
        match doc.get("flakes") {
            None | Some(Value::Array(_)) => {}
            Some(_) => {
                return Err(Error::usage(format!(
                    "the registry {shown} has a \"flakes\" that is not a list"
                ))
                .with_hint(hint))
            }
        }
        Ok(Registry {
            path: path.to_path_buf(),
            original: Some(text.to_string()),
            doc,
            modified: false,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text the registry was read from; `None` when the file did not exist.
    pub fn original(&self) -> Option<&str> {
        self.original.as_deref()
    }

    /// Whether [`Registry::set`] changed anything since it was read.
    pub fn is_modified(&self) -> bool {
        self.modified
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[Value] {
        match self.doc.get("flakes") {
            Some(Value::Array(list)) => list,
            _ => &[],
        }
    }

    /// The entries whose `from` is exactly `from`.
    pub fn find(&self, from: &Value) -> Vec<&Value> {
        self.entries()
            .iter()
            .filter(|e| e.get("from") == Some(from))
            .collect()
    }

    /// Makes `{"from": FROM, "to": TO}` the entry for `from`: unchanged when exactly that entry
    /// is already the only one for `from`, else every entry for `from` is removed and the new
    /// one appended (Nix's order).
    pub fn set(&mut self, from: Value, to: Value) -> Change {
        let wanted = json!({"from": from, "to": to});
        let matching = self.find(&from);
        if matching.len() == 1 && *matching[0] == wanted {
            return Change::Unchanged;
        }
        let mut list = match self.doc.remove("flakes") {
            Some(Value::Array(list)) => list,
            _ => Vec::new(),
        };
        let mut removed = Vec::new();
        list.retain(|e| {
            if e.get("from") == Some(&from) {
                removed.push(e.get("to").cloned().unwrap_or(Value::Null));
                false
            } else {
                true
            }
        });
        list.push(wanted);
        self.doc.insert("flakes".into(), Value::Array(list));
        self.modified = true;
        if removed.is_empty() {
            Change::Added
        } else {
            Change::Changed(removed)
        }
    }

    /// The document as Nix writes it: keys sorted, two-space indentation, plus a final newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(&Value::Object(self.doc.clone()))
            .unwrap_or_else(|_| String::from("{}"));
        text.push('\n');
        text
    }

    /// Writes the registry atomically, keeping the file's mode (new files get 0644).
    pub fn save(&self) -> Result<()> {
        atomic_file::write(
            &self.path,
            self.to_text().as_bytes(),
            atomic_file::DEFAULT_MODE,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OTHERS: &str = r#"{
  "comment": {"kept": [1, 2.5, null]},
  "flakes": [
    {"from": {"id": "gh", "type": "indirect"},
     "to": {"owner": "NixOS", "ref": "nixos-23.05", "repo": "nixpkgs", "type": "github"},
     "exact": true},
    {"from": {"id": "nixpkgs", "type": "indirect"},
     "to": {"path": "/old", "type": "path", "lastModified": 1795545294}},
    {"from": {"id": "sub", "type": "indirect"},
     "to": {"dir": "x", "path": "/y", "type": "path"}, "unknown": "field"}
  ],
  "version": 2
}"#;

    fn parse(text: &str) -> Result<Registry> {
        Registry::parse(text.as_bytes(), Path::new("/r/registry.json"))
    }

    #[test]
    fn flake_ids() {
        for ok in ["nixpkgs", "a", "my-flake_2"] {
            assert!(is_flake_id(ok), "{ok}");
        }
        for bad in ["", "2x", "-x", "a b", "a/b", "a.b", "é"] {
            assert!(!is_flake_id(bad), "{bad}");
        }
    }

    #[test]
    fn refuses_what_nix_would_not_read() {
        for (text, needle) in [
            ("{", "not valid JSON"),
            ("[]", "not a JSON object"),
            (r#"{"flakes": [], "version": 1}"#, "has version 1"),
            (r#"{"flakes": []}"#, "no \"version\""),
            (r#"{"flakes": {}, "version": 2}"#, "not a list"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.code(), 2, "{text}");
            assert!(err.message().contains(needle), "{}", err.message());
            assert!(err.message().contains("/r/registry.json"));
        }
        let err = Registry::parse(b"\xff", Path::new("/r")).unwrap_err();
        assert_eq!(err.code(), 2);
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::load(&dir.path().join("registry.json")).unwrap();
        assert!(r.entries().is_empty());
        assert_eq!(r.original(), None);
        let v: Value = serde_json::from_str(&r.to_text()).unwrap();
        assert_eq!(v, json!({"flakes": [], "version": 2}));
    }

    #[test]
    fn add_keeps_everything_else() {
        let mut r = parse(OTHERS).unwrap();
        let change = r.set(indirect("fp"), path_input("/nix/store/x-source"));
        assert_eq!(change, Change::Added);
        let before: Value = serde_json::from_str(OTHERS).unwrap();
        let after: Value = serde_json::from_str(&r.to_text()).unwrap();
        assert_eq!(after["comment"], before["comment"]);
        assert_eq!(
            after["flakes"].as_array().unwrap()[..3],
            before["flakes"].as_array().unwrap()[..]
        );
        assert_eq!(
            after["flakes"][3],
            json!({"from": {"id": "fp", "type": "indirect"}, "to": {"path": "/nix/store/x-source", "type": "path"}})
        );
    }

    #[test]
    fn update_removes_then_appends() {
        let mut r = parse(OTHERS).unwrap();
        let change = r.set(indirect("nixpkgs"), path_input("/nix/store/x-source"));
        assert_eq!(
            change,
            Change::Changed(vec![
                json!({"path": "/old", "type": "path", "lastModified": 1795545294})
            ])
        );
        let ids: Vec<_> = r
            .entries()
            .iter()
            .map(|e| e["from"]["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["gh", "sub", "nixpkgs"]);
        assert!(r.is_modified());
        // The same again is unchanged and keeps the position.
        let mut again = parse(&r.to_text()).unwrap();
        assert_eq!(
            again.set(indirect("nixpkgs"), path_input("/nix/store/x-source")),
            Change::Unchanged
        );
        assert!(!again.is_modified());
    }

    #[test]
    fn duplicates_are_collapsed() {
        let text = r#"{"flakes": [
            {"from": {"id": "a", "type": "indirect"}, "to": {"path": "/p", "type": "path"}},
            {"from": {"id": "a", "type": "indirect"}, "to": {"path": "/p", "type": "path"}}
        ], "version": 2}"#;
        let mut r = parse(text).unwrap();
        assert!(matches!(
            r.set(indirect("a"), path_input("/p")),
            Change::Changed(v) if v.len() == 2
        ));
        assert_eq!(r.entries().len(), 1);
    }

    #[test]
    fn an_entry_with_another_from_is_not_ours() {
        let text = r#"{"flakes": [
            {"from": {"id": "nixpkgs", "ref": "stable", "type": "indirect"}, "to": {"path": "/p", "type": "path"}},
            "not even an object"
        ], "version": 2}"#;
        let mut r = parse(text).unwrap();
        assert_eq!(r.set(indirect("nixpkgs"), path_input("/q")), Change::Added);
        assert_eq!(r.entries().len(), 3);
    }

    #[test]
    fn text_is_sorted_and_indented_like_nix() {
        let mut r = Registry::empty(Path::new("/r"));
        r.set(indirect("n"), path_input("/p"));
        assert_eq!(
            r.to_text(),
            "{\n  \"flakes\": [\n    {\n      \"from\": {\n        \"id\": \"n\",\n        \"type\": \"indirect\"\n      },\n      \"to\": {\n        \"path\": \"/p\",\n        \"type\": \"path\"\n      }\n    }\n  ],\n  \"version\": 2\n}\n"
        );
    }

    #[test]
    fn describes_inputs() {
        assert_eq!(describe_input(&path_input("/x")), "path:/x");
        assert_eq!(
            describe_input(
                &json!({"owner": "NixOS", "repo": "nixpkgs", "ref": "nixos-23.05", "type": "github"})
            ),
            "github:NixOS/nixpkgs/nixos-23.05"
        );
        assert_eq!(
            describe_input(&json!({"type": "git", "url": "u"})),
            r#"{"type":"git","url":"u"}"#
        );
    }

    #[test]
    fn which_parses() {
        assert_eq!(Which::parse("user"), Which::User);
        assert_eq!(Which::parse("system"), Which::System);
        assert_eq!(Which::parse("./user"), Which::File("./user".into()));
        assert_eq!(Which::default_for(true), Which::System);
        assert_eq!(Which::default_for(false), Which::User);
    }
}
