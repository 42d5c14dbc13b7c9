//! Reading what the result cache's key is made of: the flake's files as Nix would copy them, its
//! lock file, the overrides' sources, the Nix program and Nix's configuration. The key itself is
//! computed from this by [`crate::fingerprint`]; what may be cached at all is decided by
//! [`crate::policy`].

use crate::fingerprint::{Collected, Entries, Node, SourceState};
use crate::policy::{self, LocalKind, Reference};
use fp_common::Ui;
use fp_nix::command::{NixCommand, Stderr};
use fp_nix::flake_dir::git_root;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What one fp-build run asks for, as given on the command line.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The flake reference, without `#attribute`.
    pub flake: &'a str,
    /// The attribute.
    pub attr: &'a str,
    /// `--override-input` pairs, flattened (input, reference, input, reference, ...).
    pub overrides: &'a [String],
    /// Arguments after `--`.
    pub nix_args: &'a [String],
}

/// The collected inputs of a cacheable build, and the identity of its cache entry (the flake,
/// the attribute, the overrides and the nix arguments: what one entry is kept for).
#[derive(Debug, Clone)]
pub struct Collection {
    /// The inputs of the key.
    pub collected: Collected,
    /// What names the entry.
    pub identity: String,
}

/// Collects everything the key needs, or says why this build cannot be cached.
pub fn collect(ui: &Ui, req: &Request, cwd: &Path) -> Result<Collection, String> {
    if let Some(why) = policy::uncached_argument(req.nix_args) {
        return Err(why);
    }
    let reference = policy::parse_reference(req.flake, cwd)?;
    let (flake, lock) = match &reference {
        Reference::Locked(text) => (SourceState::Locked(text.clone()), None),
        Reference::Local { path, dir, kind } => {
            let flake_dir = path.join(dir);
            if !flake_dir.join("flake.nix").is_file() {
                return Err(format!("{} has no flake.nix", flake_dir.display()));
            }
            let lock = match std::fs::read(flake_dir.join("flake.lock")) {
                Ok(bytes) => bytes,
                Err(_) => {
                    return Err(format!(
                        "{} has no flake.lock yet (Nix is about to write one)",
                        flake_dir.display()
                    ))
                }
            };
            if let Some(why) = policy::unpinned_input(&lock) {
                return Err(why);
            }
            (local_source(ui, path, dir, *kind)?, Some(lock))
        }
    };
    let mut overrides = Vec::new();
    for pair in req.overrides.chunks(2) {
        let [input, target] = pair else { continue };
        let state = match policy::parse_reference(target, cwd)
            .map_err(|why| format!("--override-input {input}: {why}"))?
        {
            Reference::Locked(text) => SourceState::Locked(text),
            Reference::Local { path, dir, kind } => local_source(ui, &path, &dir, kind)?,
        };
        overrides.push((input.clone(), state));
    }
    let identity = identity(&flake, req);
    Ok(Collection {
        collected: Collected {
            flake,
            lock,
            attr: req.attr.to_string(),
            system: fp_nix::command::host_system(),
            overrides,
            nix_args: req.nix_args.to_vec(),
            nix_program: nix_program(),
            config: nix_configuration(),
        },
        identity,
    })
}

/// What names a cache entry: the flake's source (its place, not its contents), the attribute,
/// the overrides and the nix arguments.
fn identity(flake: &SourceState, req: &Request) -> String {
    let place = match flake {
        SourceState::Tree {
            kind, root, dir, ..
        } => format!("{kind}:{root}?dir={dir}"),
        SourceState::Locked(text) => text.clone(),
    };
    let mut words = vec![place, req.attr.to_string()];
    words.extend(req.overrides.iter().cloned());
    words.push("--".into());
    words.extend(req.nix_args.iter().cloned());
    words.join("\0")
}

/// A local flake's source as Nix copies it: for a plain path, git when `.git` is in it or one of
/// its parents (the flake's directory then being a subdirectory of the work tree).
fn local_source(ui: &Ui, path: &Path, dir: &str, kind: LocalKind) -> Result<SourceState, String> {
    let (root, dir, git) = match kind {
        LocalKind::Directory => (path.to_path_buf(), dir.to_string(), false),
        LocalKind::Git => (path.to_path_buf(), dir.to_string(), true),
        LocalKind::Plain => match git_root(path) {
            Some(root) => {
                let sub = path.strip_prefix(&root).unwrap_or(Path::new(""));
                let joined = sub.join(dir);
                let dir = joined.to_string_lossy().trim_end_matches('/').to_string();
                (root, dir, true)
            }
            None => (path.to_path_buf(), dir.to_string(), false),
        },
    };
    let (kind, head, entries, last_modified) = if git {
        let (head, entries) = git_tree(ui, &root)?;
        ("git", head, entries, 0)
    } else {
        let (entries, newest) = directory_tree(&root)?;
        ("path", String::new(), entries, newest)
    };
    Ok(SourceState::Tree {
        kind,
        root: root.to_string_lossy().into_owned(),
        dir,
        head,
        entries,
        last_modified,
    })
}

/// The tracked files of the git work tree at `root` (`git ls-files`, as Nix lists them: edits
/// and staged files included, untracked files not), with their current contents, and the
/// commit checked out. The files of submodules, nested ones too, are listed as well
/// (`--recurse-submodules`): Nix copies their work trees when the flake asks for them
/// (`inputs.self.submodules = true`, `?submodules=1`), and a key that left them out would give
/// the old result after an edit in one. Where Nix does not copy them, a change there only
/// costs a needless build.
fn git_tree(ui: &Ui, root: &Path) -> Result<(String, Entries), String> {
    let listing = NixCommand::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z", "--recurse-submodules"])
        .output(ui, Stderr::Capture)
        .map_err(|e| {
            format!(
                "cannot list the files of the git work tree: {}",
                e.message()
            )
        })?;
    // No commit yet is a valid state (Nix then sees no revision), so failure here is "none".
    let head = NixCommand::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .output(ui, Stderr::Capture)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let mut paths: Vec<Vec<u8>> = listing
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(|p| p.as_bytes().to_vec())
        .collect();
    paths.sort();
    paths.dedup();
    let mut entries = Vec::with_capacity(paths.len());
    for rel in paths {
        let full = root.join(OsString::from_vec(rel.clone()));
        let (node, _) =
            node_of(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
        entries.push((rel, node));
    }
    Ok((head, entries))
}

/// Every entry below `root` (a `path:` flake is copied whole), sorted by path, and the newest
/// modification time of them and `root` (what Nix calls the tree's `lastModified`).
fn directory_tree(root: &Path) -> Result<(Entries, i64), String> {
    let mut newest = std::fs::metadata(root)
        .map_err(|e| format!("cannot read {}: {e}", root.display()))?
        .mtime();
    let mut entries = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let dir = root.join(&rel);
        let listing =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in listing {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let rel = rel.join(entry.file_name());
            let full = root.join(&rel);
            let (node, mtime) =
                node_of(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
            newest = newest.max(mtime);
            if node == Node::Directory {
                pending.push(rel.clone());
            }
            entries.push((rel.as_os_str().as_bytes().to_vec(), node));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((entries, newest))
}

/// What one path is, without following a symlink, and its modification time; a missing path is
/// [`Node::Missing`].
fn node_of(path: &Path) -> std::io::Result<(Node, i64)> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Node::Missing, 0)),
        Err(e) => return Err(e),
    };
    let kind = meta.file_type();
    let node = if kind.is_symlink() {
        Node::Symlink(std::fs::read_link(path)?.into_os_string().into_vec())
    } else if kind.is_dir() {
        Node::Directory
    } else if kind.is_file() {
        let mut hasher = blake3::Hasher::new();
        std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
        Node::File {
            executable: meta.permissions().mode() & 0o111 != 0,
            digest: *hasher.finalize().as_bytes(),
        }
    } else {
        Node::Other
    };
    Ok((node, meta.mtime()))
}

/// The `nix` that `PATH` finds, by its real path and file identity (size, modification time,
/// device and inode): a Nix upgrade replaces the file, so another version is another key.
pub fn nix_program() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("nix");
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            continue;
        }
        let real = std::fs::canonicalize(&candidate).unwrap_or(candidate);
        return format!(
            "{} size={} mtime={}.{} dev={} ino={}",
            real.display(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.dev(),
            meta.ino()
        );
    }
    "no nix on PATH".into()
}

/// Where Nix's settings come from besides the command line: every `NIX_*` environment variable
/// (`NIX_CONFIG` among them) and every nix.conf file Nix reads, with the files they include.
///
/// The files are those any Nix version from 2.8 on may read
/// ([`fp_nix::nix_conf::candidate_files`]): one this Nix skips can only cause a needless
/// rebuild.
pub fn nix_configuration() -> Vec<(String, Option<Vec<u8>>)> {
    let mut vars: Vec<(String, Option<Vec<u8>>)> = std::env::vars_os()
        .filter(|(k, _)| k.as_bytes().starts_with(b"NIX_"))
        .map(|(k, v)| (format!("${}", k.to_string_lossy()), Some(v.into_vec())))
        .collect();
    vars.sort();
    let files = fp_nix::nix_conf::candidate_files();
    let mut seen = Vec::new();
    for file in files {
        read_config_file(&file, 0, &mut seen);
    }
    vars.extend(
        seen.into_iter()
            .map(|(path, contents)| (path.to_string_lossy().into_owned(), contents)),
    );
    vars
}

/// Reads one nix.conf file and, recursively, the files its `include` and `!include` lines name
/// (relative to its directory), each once.
fn read_config_file(path: &Path, depth: usize, seen: &mut Vec<(PathBuf, Option<Vec<u8>>)>) {
    use fp_nix::nix_conf::{included_file, MAX_INCLUDE_DEPTH};
    if depth > MAX_INCLUDE_DEPTH || seen.iter().any(|(p, _)| p == path) {
        return;
    }
    let contents = std::fs::read(path).ok();
    seen.push((path.to_path_buf(), contents.clone()));
    let Some(contents) = contents else { return };
    for line in String::from_utf8_lossy(&contents).lines() {
        if let Some(file) = included_file(line, path.parent()) {
            read_config_file(&file, depth + 1, seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::digest;

    #[test]
    fn a_directory_tree_lists_everything_sorted_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::write(root.join("flake.nix"), "x").unwrap();
        std::fs::write(root.join("sub/deeper/a"), "a").unwrap();
        std::fs::write(root.join(".hidden"), "h").unwrap();
        std::os::unix::fs::symlink("/nonexistent", root.join("link")).unwrap();
        let (tree, _) = directory_tree(root).unwrap();
        let names: Vec<_> = tree
            .iter()
            .map(|(p, _)| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert_eq!(
            names,
            [
                ".hidden",
                "flake.nix",
                "link",
                "sub",
                "sub/deeper",
                "sub/deeper/a"
            ]
        );
        assert_eq!(tree[2].1, Node::Symlink(b"/nonexistent".to_vec()));
        assert_eq!(
            tree[1].1,
            Node::File {
                executable: false,
                digest: digest(b"x")
            }
        );
    }

    #[test]
    fn config_includes_are_followed_once() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("nix.conf");
        std::fs::write(
            &main,
            "include extra.conf\n!include missing.conf\ninclude nix.conf\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("extra.conf"), "cores = 2\n").unwrap();
        let mut seen = Vec::new();
        read_config_file(&main, 0, &mut seen);
        let names: Vec<_> = seen
            .iter()
            .map(|(p, c)| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    c.is_some(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("nix.conf".to_string(), true),
                ("extra.conf".to_string(), true),
                ("missing.conf".to_string(), false)
            ]
        );
    }

    #[test]
    fn git_root_is_the_nearest_parent_with_dot_git() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("repo/.git")).unwrap();
        std::fs::create_dir_all(dir.path().join("repo/hosts/laptop")).unwrap();
        assert_eq!(
            git_root(&dir.path().join("repo/hosts/laptop")),
            Some(dir.path().join("repo"))
        );
    }
}
