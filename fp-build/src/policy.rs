//! What the result cache may be used for, decided from text alone (flake references, nix
//! arguments, a lock file's contents), so every rule is unit-tested.
//!
//! A build is cached only when its result is a function of things fp-build can read without
//! Nix: local files, a lock file whose every input is pinned, and references fixed to a revision
//! or a NAR hash. Anything Nix would look up afresh (a branch, the flake registry, the network,
//! the environment under `--impure`) makes the build uncached.

use fp_nix::flake_url::percent_decode;
use std::path::{Component, Path, PathBuf};

/// Where a flake reference's source comes from, as far as the cache is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A local directory. A plain path (`.`, `/etc/profile`) is a git work tree when it or a
    /// parent holds `.git`, as Nix decides; `path:` is always the whole directory.
    Local {
        /// The directory, absolute and without `.` or `..`.
        path: PathBuf,
        /// The flake's subdirectory (`?dir=`), empty for none.
        dir: String,
        /// How Nix reads it.
        kind: LocalKind,
    },
    /// Fixed by the reference itself (a revision, a NAR hash): the text is the whole key.
    Locked(String),
}

/// How Nix reads a local flake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    /// A plain path: git if `.git` is found in it or above it, else the directory.
    Plain,
    /// `path:`: every file of the directory.
    Directory,
    /// `git+file:`: the tracked files of the work tree, edits included.
    Git,
}

/// Reads a flake reference (without `#attribute`), resolving a relative path against `cwd`.
/// The error says why the reference cannot be cached.
pub fn parse_reference(reference: &str, cwd: &Path) -> Result<Reference, String> {
    let (base, query) = match reference.split_once('?') {
        Some((b, q)) => (b, parse_query(q)),
        None => (reference, Vec::new()),
    };
    let get = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let dir = get("dir").unwrap_or_default().to_string();
    let unsupported = |allowed: &[&str]| {
        query
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
            .map(|(k, _)| {
                format!("{reference} has the parameter {k:?}, which the cache does not know")
            })
    };
    let local = |path: &str, kind| Reference::Local {
        path: absolute(path, cwd),
        dir: dir.clone(),
        kind,
    };
    let is_rev = |v: &str| v.len() == 40 && v.bytes().all(|b| b.is_ascii_hexdigit());
    let not_locked = || {
        format!("{reference} is not locked to a revision (Nix may fetch something new each time)")
    };

    if base.starts_with('/') || base.starts_with('.') {
        if let Some(why) = unsupported(&["dir"]) {
            return Err(why);
        }
        return Ok(local(base, LocalKind::Plain));
    }
    let Some((scheme, rest)) = base.split_once(':') else {
        return Err(format!(
            "{reference} is looked up in the flake registry, which can change"
        ));
    };
    match scheme {
        "path" => {
            if let Some(why) = unsupported(&["dir", "narHash", "lastModified", "rev", "revCount"]) {
                return Err(why);
            }
            Ok(local(rest, LocalKind::Directory))
        }
        "git+file" => {
            if get("rev").is_some_and(is_rev) {
                return Ok(Reference::Locked(reference.to_string()));
            }
            if get("ref").is_some() {
                return Err(not_locked());
            }
            if let Some(why) =
                unsupported(&["dir", "shallow", "narHash", "lastModified", "revCount"])
            {
                return Err(why);
            }
            Ok(local(
                rest.strip_prefix("//").unwrap_or(rest),
                LocalKind::Git,
            ))
        }
        "github" | "gitlab" | "sourcehut" => {
            let third = rest.split('/').nth(2);
            if third.is_some_and(is_rev) || get("rev").is_some_and(is_rev) {
                Ok(Reference::Locked(reference.to_string()))
            } else {
                Err(not_locked())
            }
        }
        "flake" => Err(format!(
            "{reference} is looked up in the flake registry, which can change"
        )),
        s if s.starts_with("git+") || s.starts_with("hg+") || s == "git" => {
            if get("rev").is_some_and(is_rev) {
                Ok(Reference::Locked(reference.to_string()))
            } else {
                Err(not_locked())
            }
        }
        s if s.starts_with("tarball+")
            || s.starts_with("file+")
            || matches!(s, "http" | "https" | "file") =>
        {
            if get("narHash").is_some() {
                Ok(Reference::Locked(reference.to_string()))
            } else {
                Err(format!(
                    "{reference} has no narHash, so Nix may fetch something new each time"
                ))
            }
        }
        _ => Err(format!(
            "{reference} is a kind of flake reference the cache does not know"
        )),
    }
}

/// `a=b&c=d` as decoded pairs.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `path` made absolute against `cwd` and normalised without following links, as Nix does.
fn absolute(path: &str, cwd: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in cwd.join(path).components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(c) => out.push(c),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Nix arguments after which the cache is not used, with why: they make evaluation impure, or
/// change or bypass the lock file, the store or what is built.
const UNCACHED_ARGS: &[(&str, &str)] = &[
    ("--impure", "makes evaluation impure"),
    ("--no-pure-eval", "makes evaluation impure"),
    ("--update-input", "changes the lock file"),
    ("--recreate-lock-file", "changes the lock file"),
    ("--commit-lock-file", "changes the lock file"),
    (
        "--no-write-lock-file",
        "lets Nix lock inputs afresh on every build",
    ),
    ("--reference-lock-file", "reads another lock file"),
    (
        "--output-lock-file",
        "lets Nix lock inputs afresh on every build",
    ),
    ("--override-flake", "changes the flake registry"),
    ("--inputs-from", "reads another flake's inputs"),
    ("--refresh", "asks Nix to fetch again"),
    ("--rebuild", "asks Nix to build again"),
    ("--check", "asks Nix to build again"),
    ("--dry-run", "builds nothing"),
    ("--store", "uses another store"),
    ("--eval-store", "uses another store"),
    ("--expr", "builds an expression"),
    ("--file", "builds a file"),
    ("-f", "builds a file"),
    ("--include", "changes the search path"),
    ("-I", "changes the search path"),
    ("--arg", "passes arguments"),
    ("--argstr", "passes arguments"),
];

/// The first argument for `nix build` that rules the cache out, and why; `None` when the
/// arguments are all ones whose effect the cache's key captures (they are part of it).
pub fn uncached_argument(args: &[String]) -> Option<String> {
    for (i, arg) in args.iter().enumerate() {
        let name = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
        if let Some((_, why)) = UNCACHED_ARGS.iter().find(|(a, _)| *a == name) {
            return Some(format!("the nix argument {arg} {why}"));
        }
        if name == "--option" && args.get(i + 1).is_some_and(|s| s == "pure-eval") {
            return Some("the nix argument --option pure-eval may make evaluation impure".into());
        }
    }
    None
}

/// The names of the flake's own inputs in a lock file (the root node's), empty when it does
/// not parse.
pub fn root_inputs(lock: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(lock) else {
        return Vec::new();
    };
    let root = value["root"].as_str().unwrap_or("root");
    value["nodes"][root]["inputs"]
        .as_object()
        .map(|inputs| inputs.keys().cloned().collect())
        .unwrap_or_default()
}

/// Why the lock file cannot be trusted to pin every input, if it cannot: it does not parse, or
/// an input in it has neither a revision nor a NAR hash (and is not a path inside the flake,
/// which the flake's own files cover).
pub fn unpinned_input(lock: &[u8]) -> Option<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(lock) else {
        return Some("flake.lock is not valid JSON".into());
    };
    let Some(nodes) = value.get("nodes").and_then(|n| n.as_object()) else {
        return Some("flake.lock has no nodes".into());
    };
    for (name, node) in nodes {
        let Some(locked) = node.get("locked") else {
            continue;
        };
        let has = |key: &str| locked.get(key).is_some_and(|v| v.is_string());
        let relative_path = locked.get("type").and_then(|t| t.as_str()) == Some("path")
            && locked
                .get("path")
                .and_then(|p| p.as_str())
                .is_some_and(|p| !p.starts_with('/'));
        if !(has("narHash") || has("rev") || relative_path) {
            return Some(format!(
                "the input {name:?} in flake.lock is not pinned (no rev or narHash)"
            ));
        }
    }
    None
}

/// With `--override-input`, Nix does not write the lock file, so an input that flake.nix declares
/// but flake.lock lacks is locked afresh on every build (a branch may have moved). Given the lock
/// file on disk and the lock Nix computed with the overrides (`nix flake metadata --json`'s
/// `locks`), this says which input is pinned only in Nix's memory, if one is: every node of the
/// computed lock must be pinned to a `locked` value that the file has, except the overridden
/// inputs themselves (their sources are part of the key).
pub fn unwritten_input(
    on_disk: &[u8],
    computed: &serde_json::Value,
    overridden: &[&str],
) -> Option<String> {
    let Ok(disk) = serde_json::from_slice::<serde_json::Value>(on_disk) else {
        return Some("flake.lock is not valid JSON".into());
    };
    let recorded: Vec<&serde_json::Value> = disk
        .get("nodes")
        .and_then(|n| n.as_object())
        .map(|nodes| nodes.values().filter_map(|n| n.get("locked")).collect())
        .unwrap_or_default();
    let Some(nodes) = computed.get("nodes").and_then(|n| n.as_object()) else {
        return Some("nix flake metadata printed no lock".into());
    };
    let exempt: Vec<String> = overridden
        .iter()
        .filter_map(|path| resolve_input(computed, &path.split('/').collect::<Vec<_>>(), 0))
        .collect();
    for (name, node) in nodes {
        let Some(locked) = node.get("locked") else {
            continue;
        };
        if !exempt.contains(name) && !recorded.contains(&locked) {
            return Some(format!(
                "the input {name:?} is not in flake.lock, so Nix locks it afresh on every build"
            ));
        }
    }
    None
}

/// The lock node an input path (`nixpkgs`, `home-manager/nixpkgs`) leads to from the root,
/// following `follows` (an input given as a path from the root).
fn resolve_input(lock: &serde_json::Value, path: &[&str], depth: usize) -> Option<String> {
    if depth > 32 {
        return None;
    }
    let nodes = lock.get("nodes")?;
    let mut node = lock.get("root")?.as_str()?.to_string();
    for name in path {
        let target = nodes.get(&node)?.get("inputs")?.get(*name)?;
        node = match target {
            serde_json::Value::String(n) => n.clone(),
            serde_json::Value::Array(follows) => {
                let follows: Vec<&str> = follows.iter().filter_map(|v| v.as_str()).collect();
                resolve_input(lock, &follows, depth + 1)?
            }
            _ => return None,
        };
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(r: &str) -> Result<Reference, String> {
        parse_reference(r, Path::new("/home/me/work"))
    }

    fn local(path: &str, dir: &str, kind: LocalKind) -> Result<Reference, String> {
        Ok(Reference::Local {
            path: PathBuf::from(path),
            dir: dir.into(),
            kind,
        })
    }

    #[test]
    fn local_references() {
        assert_eq!(parse("."), local("/home/me/work", "", LocalKind::Plain));
        assert_eq!(
            parse("../profile/./x/.."),
            local("/home/me/profile", "", LocalKind::Plain)
        );
        assert_eq!(
            parse("/etc/p?dir=hosts%2flaptop"),
            local("/etc/p", "hosts/laptop", LocalKind::Plain)
        );
        assert_eq!(
            parse("path:/etc/p?dir=sub"),
            local("/etc/p", "sub", LocalKind::Directory)
        );
        assert_eq!(
            parse("path:rel"),
            local("/home/me/work/rel", "", LocalKind::Directory)
        );
        assert_eq!(
            parse("git+file:///srv/p?dir=a"),
            local("/srv/p", "a", LocalKind::Git)
        );
        assert!(parse("/etc/p?rev=abc").is_err());
        assert!(parse("git+file:///srv/p?submodules=1").is_err());
    }

    #[test]
    fn locked_and_unlocked_remote_references() {
        let rev = "0123456789abcdef0123456789abcdef01234567";
        for locked in [
            format!("github:NixOS/nixpkgs/{rev}"),
            format!("github:NixOS/nixpkgs?rev={rev}"),
            format!("git+https://example.org/p.git?ref=main&rev={rev}"),
            format!("git+file:///srv/p?rev={rev}"),
            "https://example.org/p.tar.gz?narHash=sha256-abc".to_string(),
        ] {
            assert_eq!(parse(&locked), Ok(Reference::Locked(locked.clone())));
        }
        for unlocked in [
            "github:NixOS/nixpkgs",
            "github:NixOS/nixpkgs/nixos-24.05",
            "git+https://example.org/p.git?ref=main",
            "git+file:///srv/p?ref=main",
            "https://example.org/p.tar.gz",
            "nixpkgs",
            "flake:nixpkgs",
            "nixpkgs/0123456789abcdef0123456789abcdef01234567",
            "svn:whatever",
        ] {
            assert!(parse(unlocked).is_err(), "{unlocked}");
        }
        assert!(parse("github:NixOS/nixpkgs")
            .unwrap_err()
            .contains("not locked to a revision"));
        assert!(parse("nixpkgs").unwrap_err().contains("flake registry"));
    }

    #[test]
    fn impure_and_lock_changing_arguments() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(uncached_argument(&args(&[])), None);
        assert_eq!(
            uncached_argument(&args(&[
                "--keep-going",
                "-j",
                "4",
                "--option",
                "cores",
                "2"
            ])),
            None
        );
        assert_eq!(uncached_argument(&args(&["--pure-eval"])), None);
        for bad in [
            &["--impure"][..],
            &["--option", "pure-eval", "false"],
            &["--no-pure-eval"],
            &["--update-input", "nixpkgs"],
            &["--recreate-lock-file"],
            &["--no-write-lock-file"],
            &["--override-flake", "a", "b"],
            &["--rebuild"],
            &["--store=/tmp/s"],
        ] {
            assert!(uncached_argument(&args(bad)).is_some(), "{bad:?}");
        }
        assert_eq!(
            uncached_argument(&args(&["-L", "--impure"])).unwrap(),
            "the nix argument --impure makes evaluation impure"
        );
    }

    #[test]
    fn inputs_locked_only_in_nix_memory() {
        let pinned = |path: &str| serde_json::json!({"narHash": format!("sha256-{path}"), "path": path, "type": "path"});
        let disk = serde_json::json!({"nodes": {
            "nixpkgs": {"locked": pinned("/a")},
            "root": {"inputs": {"nixpkgs": "nixpkgs"}}}, "root": "root", "version": 7});
        let disk = disk.to_string().into_bytes();
        // The override replaces nixpkgs; everything else is as on disk.
        let overridden = serde_json::json!({"nodes": {
            "nixpkgs": {"locked": pinned("/b")},
            "root": {"inputs": {"nixpkgs": "nixpkgs"}}}, "root": "root"});
        assert_eq!(unwritten_input(&disk, &overridden, &["nixpkgs"]), None);
        // Without the override named, /b is pinned nowhere on disk.
        assert!(unwritten_input(&disk, &overridden, &[]).is_some());
        // An input flake.nix gained, which the lock file does not have.
        let added = serde_json::json!({"nodes": {
            "nixpkgs": {"locked": pinned("/b")},
            "extra": {"locked": pinned("/c")},
            "root": {"inputs": {"nixpkgs": "nixpkgs", "extra": "extra"}}}, "root": "root"});
        assert!(unwritten_input(&disk, &added, &["nixpkgs"])
            .unwrap()
            .contains("\"extra\""));
        // An override through `follows`.
        let follows = serde_json::json!({"nodes": {
            "nixpkgs": {"locked": pinned("/b")},
            "lib": {"locked": pinned("/a"), "inputs": {"nixpkgs": ["nixpkgs"]}},
            "root": {"inputs": {"nixpkgs": "nixpkgs", "lib": "lib"}}}, "root": "root"});
        assert_eq!(unwritten_input(&disk, &follows, &["lib/nixpkgs"]), None);
        assert!(unwritten_input(b"nope", &follows, &[]).is_some());
    }

    #[test]
    fn lock_files() {
        let pinned = br#"{"nodes":{"a":{"locked":{"narHash":"sha256-x","path":"/p","type":"path"}},
            "b":{"locked":{"rev":"r","type":"github","owner":"o","repo":"r"}},
            "c":{"locked":{"path":"./sub","type":"path"}},
            "root":{"inputs":{"a":"a","b":"b","c":"c"}}},"root":"root","version":7}"#;
        assert_eq!(unpinned_input(pinned), None);
        let loose = br#"{"nodes":{"a":{"locked":{"url":"file:///p","type":"git"}},"root":{}},"root":"root","version":7}"#;
        assert!(unpinned_input(loose).unwrap().contains("\"a\""));
        assert!(unpinned_input(b"not json").is_some());
        assert!(unpinned_input(b"{}").is_some());
    }
}
