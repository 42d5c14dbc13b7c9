//! The marker `lib.mkProfile` writes into every env (`.flakey-profile.json`), which tells a
//! generation made by flakey-profile from one made by `nix profile install` or `nix-env -i`.

use serde::Deserialize;
use std::path::Path;

/// The marker's file name at the root of an env.
pub const MARKER_FILE: &str = ".flakey-profile.json";

/// What the marker says: the env's name and the store paths it declares.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    /// Format version (1).
    pub version: u32,
    /// The env's name.
    pub name: String,
    /// Every store path the flake declared.
    pub store_paths: Vec<String>,
}

/// Reads the marker of the env at `env`; `None` when there is none (or it is not ours).
pub fn read(env: &Path) -> Option<Marker> {
    let text = std::fs::read_to_string(env.join(MARKER_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether the env at `env` was made by `lib.mkProfile`.
pub fn is_flakey(env: &Path) -> bool {
    read(env).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_marker() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_flakey(dir.path()));
        std::fs::write(
            dir.path().join(MARKER_FILE),
            r#"{"name":"flake-profile","storePaths":["/nix/store/a-hello-1.0"],"version":1}"#,
        )
        .unwrap();
        let m = read(dir.path()).unwrap();
        assert_eq!(m.store_paths, ["/nix/store/a-hello-1.0"]);
        std::fs::write(dir.path().join(MARKER_FILE), "garbage").unwrap();
        assert!(!is_flakey(dir.path()));
    }
}
