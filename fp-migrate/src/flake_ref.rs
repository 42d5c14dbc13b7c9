//! What a flake reference recorded by a profile promises: whether it is locked, and whether it
//! points into the Nix store (where garbage collection removes it).

use crate::manifest::query_value;
use fp_nix::store_path::StorePath;

/// Whether `url` pins one revision: it carries a `rev` or a `narHash`, or names a commit in its
/// path (`github:owner/repo/<40 hex digits>`). A dirty `git+file:///home/u/flake` or a bare
/// `github:owner/repo` does not, and building it takes whatever it is at the time.
pub fn is_locked(url: &str) -> bool {
    if ["rev", "narHash"]
        .iter()
        .any(|key| query_value(url, key).is_some_and(|v| !v.is_empty()))
    {
        return true;
    }
    let base = url.split(['?', '#']).next().unwrap_or(url);
    base.split('/')
        .any(|segment| segment.len() == 40 && segment.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The store path a `path:` (or bare path) reference points into, such as the
/// `/nix/store/...-source` that Nix records for a flake it copied; `None` for anything else.
pub fn store_path_of(url: &str) -> Option<StorePath> {
    let base = url.split(['?', '#']).next().unwrap_or(url);
    let path = base.strip_prefix("path:").unwrap_or(base);
    if !path.starts_with('/') {
        return None;
    }
    // `/nix/store/<hash>-source/sub/dir` is inside the store path `/nix/store/<hash>-source`.
    let store = fp_nix::store_path::store_dir();
    let rest = std::path::Path::new(path).strip_prefix(&store).ok()?;
    let top = rest.components().next()?;
    StorePath::parse(&store.join(top).to_string_lossy()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REV: &str = "9693852a2070b398ee123a329e68f0dab5526681";

    #[test]
    fn locked_references() {
        assert!(is_locked(&format!("github:NixOS/nixpkgs/{REV}")));
        assert!(is_locked(&format!(
            "github:NixOS/nixpkgs/{REV}?narHash=sha256-x%3D"
        )));
        assert!(is_locked("path:/tmp/f?lastModified=1&narHash=sha256-x="));
        assert!(is_locked(&format!(
            "git+file:///home/u/flake?ref=main&rev={REV}"
        )));
        assert!(!is_locked("git+file:///home/u/flake"));
        assert!(!is_locked("github:owner/repo"));
        assert!(!is_locked("github:owner/repo/main"));
        assert!(!is_locked("path:/tmp/f?lastModified=1"));
        assert!(!is_locked("flake:nixpkgs"));
    }

    #[test]
    fn references_into_the_store() {
        let source = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source";
        assert_eq!(
            store_path_of(&format!("path:{source}?lastModified=1&narHash=x"))
                .map(|p| p.to_string()),
            Some(source.to_string())
        );
        assert_eq!(
            store_path_of(&format!("path:{source}/sub")).map(|p| p.to_string()),
            Some(source.to_string())
        );
        assert!(store_path_of("path:/home/u/flake").is_none());
        assert!(store_path_of("github:o/r").is_none());
    }
}
