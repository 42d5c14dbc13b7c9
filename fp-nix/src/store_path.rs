//! Nix store paths: parsing, validation, following `./result`-style links, and the
//! `builtins.parseDrvName` split of a name into package name and version.

use crate::command::NixCommand;
use crate::error::{Error, Result};
use crate::locations;
use crate::Log;
use std::fmt;
use std::path::{Path, PathBuf};

/// Length of the hash part of a store path name.
const HASH_LEN: usize = 32;
/// Longest allowed name after the hash (Nix's limit).
const MAX_NAME_LEN: usize = 211;

/// The store directory: `$NIX_STORE_DIR`, else `/nix/store`.
pub fn store_dir() -> PathBuf {
    std::env::var_os("NIX_STORE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/nix/store"))
}

/// A syntactically valid store path: `<store>/<32-char hash>-<name>`, nothing below it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePath {
    /// The whole path, ASCII (a valid hash and name are), so it is kept as a string.
    path: String,
}

impl StorePath {
    /// Parses an absolute store path, refusing anything that is not exactly one: outside the
    /// store, a file inside a store path, a bad hash or name.
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_in(text, &store_dir())
    }

    /// [`StorePath::parse`] against an explicit store directory.
    pub fn parse_in(text: &str, store: &Path) -> Result<Self> {
        // The common case, `<store>/<base>` exactly, without building a `Path` (diffs parse
        // thousands of references); anything else takes the general way below.
        if let Some(base) = store
            .to_str()
            .and_then(|s| text.strip_prefix(s))
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|base| !base.is_empty() && !base.contains('/') && *base != "." && *base != "..")
        {
            check_base_name(base).map_err(|why| {
                Error::usage(format!("{text:?} is not a valid store path: {why}"))
            })?;
            return Ok(StorePath {
                path: text.to_string(),
            });
        }
        let path = Path::new(text);
        let rest = path.strip_prefix(store).map_err(|_| {
            Error::usage(format!(
                "{text:?} is not in the Nix store ({})",
                store.display()
            ))
        })?;
        let mut parts = rest.components();
        let base = parts
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .ok_or_else(|| {
                Error::usage(format!("{text:?} is the store itself, not a store path"))
            })?;
        if parts.next().is_some() {
            return Err(Error::usage(format!(
                "{text:?} is inside the store path {}, not a store path itself",
                store.join(base).display()
            )));
        }
        check_base_name(base)
            .map_err(|why| Error::usage(format!("{text:?} is not a valid store path: {why}")))?;
        Ok(StorePath {
            path: store.join(base).to_string_lossy().into_owned(),
        })
    }

    /// The full path.
    pub fn as_path(&self) -> &Path {
        Path::new(&self.path)
    }

    /// The full path as a string (store paths are ASCII).
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The full path as an owned string, without copying it.
    pub fn into_string(self) -> String {
        self.path
    }

    /// The `<hash>-<name>` file name.
    pub fn base_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }

    /// The 32-character hash part.
    pub fn hash_part(&self) -> &str {
        &self.base_name()[..HASH_LEN]
    }

    /// The name after the hash (`hello-2.12.1`).
    pub fn name(&self) -> &str {
        &self.base_name()[HASH_LEN + 1..]
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether nix says `path` is valid (`nix-store --check-validity`): registered, and not still
/// being built. Tools ask [`store_query::is_valid`](crate::store_query::is_valid), which asks
/// this only when it cannot read the store's database.
pub fn check_validity(log: &dyn Log, path: &StorePath) -> Result<bool> {
    NixCommand::nix_store()
        .args(["--check-validity", path.as_str()])
        .succeeds(log)
}

/// Checks `<hash>-<name>` against Nix's rules, saying what is wrong.
fn check_base_name(base: &str) -> std::result::Result<(), String> {
    if base.len() < HASH_LEN + 2 || base.as_bytes()[HASH_LEN] != b'-' {
        return Err("it must look like <32-character hash>-<name>".into());
    }
    let (hash, name) = (&base[..HASH_LEN], &base[HASH_LEN + 1..]);
    if !hash.bytes().all(is_base32) {
        return Err(format!(
            "the hash {hash:?} has characters outside Nix's base-32"
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("the name is longer than {MAX_NAME_LEN} characters"));
    }
    if name.starts_with('.') {
        return Err("the name starts with a dot".into());
    }
    if let Some(c) = name.chars().find(|&c| !is_name_char(c)) {
        return Err(format!("the name has the character {c:?}"));
    }
    Ok(())
}

/// Whether `b` is in Nix's base-32 alphabet of store path hashes, `0-9a-z` without `e`, `o`,
/// `t` and `u`. A match of ranges, not a search of the alphabet: a diff checks thousands of
/// hashes.
fn is_base32(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'd' | b'f'..=b'n' | b'p'..=b's' | b'v'..=b'z')
}

/// Whether `c` may appear in a store path's name: ASCII letters and digits, and `+-._?=`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_' | '?' | '=')
}

/// Follows a path given by a user (`./result`, `/nix/var/nix/profiles/default`, a store path)
/// through symlinks until it reaches the store, as `nix-env --set` does, and parses the result.
pub fn resolve_to_store_path(given: &str) -> Result<StorePath> {
    let store = store_dir();
    let mut path = locations::absolute(Path::new(given))?;
    for _ in 0..64 {
        if path.starts_with(&store) {
            return StorePath::parse_in(&path.to_string_lossy(), &store);
        }
        match locations::link_target(&path) {
            Some(target) => path = target,
            None if path.exists() => {
                // Not a link: maybe a parent directory is; resolve once and look again.
                let real = std::fs::canonicalize(&path)
                    .map_err(|e| Error::usage(format!("cannot resolve {given:?}: {e}")))?;
                if real.starts_with(&store) {
                    return StorePath::parse_in(&real.to_string_lossy(), &store);
                }
                return Err(Error::usage(format!(
                    "{given:?} is not in the Nix store ({}) and is not a link to it",
                    store.display()
                )));
            }
            None => {
                return Err(Error::usage(format!("{given:?} does not exist")));
            }
        }
    }
    Err(Error::usage(format!(
        "{given:?}: too many levels of symbolic links"
    )))
}

/// Splits a derivation or store name into name and version the way `builtins.parseDrvName`
/// does: the version starts after the first `-` that is followed by something not a letter.
/// `hello-2.12.1` is (`hello`, `2.12.1`); `my-tool-1.0-man` is (`my-tool`, `1.0-man`);
/// `fortune` is (`fortune`, ``).
pub fn parse_drv_name(name: &str) -> (&str, &str) {
    let bytes = name.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'-' && bytes.get(i + 1).is_some_and(|n| !n.is_ascii_alphabetic()) {
            return (&name[..i], &name[i + 1..]);
        }
    }
    (name, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdfghijklmnpqrsvwxyz";

    #[test]
    fn parses_store_paths() {
        let p = StorePath::parse(&format!("/nix/store/{HASH}-hello-2.12.1")).unwrap();
        assert_eq!(p.hash_part(), HASH);
        assert_eq!(p.name(), "hello-2.12.1");
        assert_eq!(p.base_name(), format!("{HASH}-hello-2.12.1"));
    }

    #[test]
    fn refuses_what_is_not_a_store_path() {
        for bad in [
            "/tmp/hello".to_string(),
            "/nix/store".to_string(),
            format!("/nix/store/{HASH}-hello/bin/hello"),
            "/nix/store/short-hello".to_string(),
            "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-hello".to_string(),
            format!("/nix/store/{HASH}-"),
            format!("/nix/store/{HASH}-.hidden"),
            format!("/nix/store/{HASH}-bad name"),
            "relative".to_string(),
        ] {
            let err = StorePath::parse(&bad).unwrap_err();
            assert_eq!(err.code(), 2, "{bad}");
        }
    }

    #[test]
    fn hashes_use_exactly_nixs_base32_alphabet() {
        let alphabet = "0123456789abcdfghijklmnpqrsvwxyz";
        for b in 0..=u8::MAX {
            assert_eq!(is_base32(b), alphabet.as_bytes().contains(&b), "{b}");
        }
        for c in ['e', 'o', 't', 'u', 'A'] {
            let path = format!("/nix/store/{c}{}-x", &HASH[1..]);
            assert!(StorePath::parse(&path).is_err(), "{path}");
        }
    }

    #[test]
    fn drv_names() {
        assert_eq!(parse_drv_name("hello-2.12.1"), ("hello", "2.12.1"));
        assert_eq!(parse_drv_name("my-tool-1.0-man"), ("my-tool", "1.0-man"));
        assert_eq!(parse_drv_name("fortune"), ("fortune", ""));
        assert_eq!(parse_drv_name("foo-bar"), ("foo-bar", ""));
        assert_eq!(parse_drv_name("foo-"), ("foo-", ""));
        assert_eq!(parse_drv_name("x-_1"), ("x", "_1"));
    }

    #[test]
    fn follows_links_into_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let target = format!("/nix/store/{HASH}-hello-1.0");
        let link = dir.path().join("result");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let chained = dir.path().join("again");
        std::os::unix::fs::symlink("result", &chained).unwrap();
        assert_eq!(
            resolve_to_store_path(chained.to_str().unwrap())
                .unwrap()
                .as_str(),
            target
        );
    }

    #[test]
    fn refuses_missing_and_outside_paths() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert_eq!(
            resolve_to_store_path(missing.to_str().unwrap())
                .unwrap_err()
                .code(),
            2
        );
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = resolve_to_store_path(file.to_str().unwrap()).unwrap_err();
        assert!(
            err.message().contains("not in the Nix store"),
            "{}",
            err.message()
        );
    }
}
