//! The result cache's key: a digest of everything that can change what `nix build` prints for a
//! flake attribute, computed from inputs collected beforehand, so it is a pure function that is
//! tested without Nix.
//!
//! The key is kept as named parts (the flake's files, `flake.lock`, the attribute, ...), so that
//! `-v` can say which of them changed since the recorded build.

use std::collections::BTreeMap;

/// One entry of a source tree, as Nix copies it into the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A regular file: whether it is executable (the only mode bit Nix keeps) and the digest of
    /// its contents.
    File {
        /// Whether any execute bit is set.
        executable: bool,
        /// BLAKE3 digest of the contents.
        digest: [u8; 32],
    },
    /// A symbolic link: Nix copies the link itself, so its target text is what counts.
    Symlink(Vec<u8>),
    /// A directory (its entries are listed on their own).
    Directory,
    /// Tracked by git but absent from the work tree, which Nix leaves out of the copy.
    Missing,
    /// Anything else (a socket, a device), which Nix refuses to copy.
    Other,
}

/// A source tree's entries: path relative to the root, and what is there.
pub type Entries = Vec<(Vec<u8>, Node)>;

/// What a flake reference's source is, as collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceState {
    /// A local tree: every file of a `path:` flake, or the tracked files of a git work tree.
    Tree {
        /// `path` or `git`: the two copy the same files differently, so they never share a key.
        kind: &'static str,
        /// The tree's root directory.
        root: String,
        /// The flake's subdirectory (`?dir=`), empty for the root.
        dir: String,
        /// For git, the commit checked out (empty without commits): Nix exposes its revision
        /// and time to the flake (`self.rev`, `self.lastModified`).
        head: String,
        /// Every entry, by path relative to the root, in a fixed order.
        entries: Entries,
        /// For a directory, the newest modification time in it (seconds): Nix gives it to the
        /// flake as `self.lastModified`, so a touched file can change the result. Zero for git,
        /// where the commit stands for it.
        last_modified: i64,
    },
    /// A reference fixed by itself (a revision or a NAR hash): its text is the whole key.
    Locked(String),
}

/// Everything collected about one build, the input of [`fingerprint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// The flake's source.
    pub flake: SourceState,
    /// The contents of the flake's `flake.lock` (absent for a locked remote flake, whose lock
    /// file is part of the source).
    pub lock: Option<Vec<u8>>,
    /// The attribute built.
    pub attr: String,
    /// The system fp-build runs on (Nix's default `system`).
    pub system: String,
    /// Each `--override-input`: the input's name and its source.
    pub overrides: Vec<(String, SourceState)>,
    /// The arguments passed on to `nix build`, in order.
    pub nix_args: Vec<String>,
    /// What identifies the Nix that builds: its program's resolved path and file identity, so
    /// another Nix version (another file) gives another key.
    pub nix_program: String,
    /// The Nix settings' sources: `NIX_*` environment variables and nix.conf files (with their
    /// includes), each by name with its contents (`None` when absent).
    pub config: Vec<(String, Option<Vec<u8>>)>,
}

/// The names of the key's parts, as `-v` shows them.
pub mod part {
    /// The flake's files.
    pub const SOURCE: &str = "the flake's files";
    /// `flake.lock`.
    pub const LOCK: &str = "flake.lock";
    /// The attribute.
    pub const ATTR: &str = "the attribute";
    /// The system.
    pub const SYSTEM: &str = "the system";
    /// The overrides.
    pub const OVERRIDES: &str = "--override-input";
    /// The extra nix arguments.
    pub const NIX_ARGS: &str = "the nix arguments";
    /// The Nix program.
    pub const NIX: &str = "the Nix program";
    /// Nix's configuration.
    pub const CONFIG: &str = "NIX_CONFIG, NIX_* variables or nix.conf";
}

/// The key of one build: a hex digest per named part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Part name to hex digest.
    pub parts: BTreeMap<String, String>,
}

impl Fingerprint {
    /// The parts of `recorded` that differ from this fingerprint's (a part present on one side
    /// only counts as changed), in name order.
    pub fn changed_since(&self, recorded: &BTreeMap<String, String>) -> Vec<String> {
        let mut names: Vec<&String> = self.parts.keys().chain(recorded.keys()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter(|name| self.parts.get(*name) != recorded.get(*name))
            .cloned()
            .collect()
    }
}

/// Computes the key of a build from what was collected.
pub fn fingerprint(c: &Collected) -> Fingerprint {
    let mut parts = BTreeMap::new();
    let mut put = |name: &str, hasher: Framed| {
        parts.insert(name.to_string(), hasher.hex());
    };
    put(part::SOURCE, {
        let mut h = Framed::new();
        source(&mut h, &c.flake);
        h
    });
    put(part::LOCK, {
        let mut h = Framed::new();
        optional(&mut h, c.lock.as_deref());
        h
    });
    put(part::ATTR, Framed::new().field(c.attr.as_bytes()));
    put(part::SYSTEM, Framed::new().field(c.system.as_bytes()));
    put(part::OVERRIDES, {
        let mut h = Framed::new().count(c.overrides.len());
        for (input, state) in &c.overrides {
            h = h.field(input.as_bytes());
            source(&mut h, state);
        }
        h
    });
    put(part::NIX_ARGS, {
        let mut h = Framed::new().count(c.nix_args.len());
        for arg in &c.nix_args {
            h = h.field(arg.as_bytes());
        }
        h
    });
    put(part::NIX, Framed::new().field(c.nix_program.as_bytes()));
    put(part::CONFIG, {
        let mut h = Framed::new().count(c.config.len());
        for (name, contents) in &c.config {
            h = h.field(name.as_bytes());
            optional(&mut h, contents.as_deref());
        }
        h
    });
    Fingerprint { parts }
}

/// Feeds a source's state into `h`.
fn source(h: &mut Framed, state: &SourceState) {
    match state {
        SourceState::Locked(reference) => {
            h.put(b"locked");
            h.put(reference.as_bytes());
        }
        SourceState::Tree {
            kind,
            root,
            dir,
            head,
            entries,
            last_modified,
        } => {
            for field in [
                kind.as_bytes(),
                root.as_bytes(),
                dir.as_bytes(),
                head.as_bytes(),
            ] {
                h.put(field);
            }
            h.put(&last_modified.to_le_bytes());
            h.put(&(entries.len() as u64).to_le_bytes());
            for (path, node) in entries {
                h.put(path);
                match node {
                    Node::File { executable, digest } => {
                        h.put(if *executable { b"x" } else { b"f" });
                        h.put(digest);
                    }
                    Node::Symlink(target) => {
                        h.put(b"l");
                        h.put(target);
                    }
                    Node::Directory => h.put(b"d"),
                    Node::Missing => h.put(b"-"),
                    Node::Other => h.put(b"?"),
                }
            }
        }
    }
}

/// Feeds an optional byte string into `h`, absent and empty told apart.
fn optional(h: &mut Framed, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => {
            h.put(b"some");
            h.put(b);
        }
        None => h.put(b"none"),
    }
}

/// A BLAKE3 hasher fed length-prefixed fields, so no two different sequences of fields hash
/// the same bytes (`["ab", "c"]` is not `["a", "bc"]`).
struct Framed(blake3::Hasher);

impl Framed {
    fn new() -> Framed {
        Framed(blake3::Hasher::new())
    }

    fn put(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    fn field(mut self, bytes: &[u8]) -> Framed {
        self.put(bytes);
        self
    }

    fn count(self, n: usize) -> Framed {
        self.field(&(n as u64).to_le_bytes())
    }

    fn hex(&self) -> String {
        self.0.finalize().to_hex().to_string()
    }
}

/// The BLAKE3 digest of a byte string, for file contents.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Node {
        Node::File {
            executable: false,
            digest: digest(text.as_bytes()),
        }
    }

    fn sample() -> Collected {
        Collected {
            flake: SourceState::Tree {
                kind: "git",
                root: "/home/me/profile".into(),
                dir: String::new(),
                head: "0123456789abcdef0123456789abcdef01234567".into(),
                entries: vec![
                    (b"flake.lock".to_vec(), file("{}")),
                    (b"flake.nix".to_vec(), file("{ outputs = _: {}; }")),
                ],
                last_modified: 0,
            },
            lock: Some(b"{}".to_vec()),
            attr: "profile".into(),
            system: "x86_64-linux".into(),
            overrides: vec![],
            nix_args: vec![],
            nix_program: "/nix/store/aaaa-nix-2.8.0/bin/nix size=1 mtime=1 dev=1 ino=1".into(),
            config: vec![("NIX_CONFIG".into(), Some(b"sandbox = false".to_vec()))],
        }
    }

    /// The parts whose digest differs between `sample()` and `sample()` changed by `edit`.
    fn changed_by(edit: impl FnOnce(&mut Collected)) -> Vec<String> {
        let before = fingerprint(&sample());
        let mut c = sample();
        edit(&mut c);
        fingerprint(&c).changed_since(&before.parts)
    }

    #[test]
    fn same_inputs_same_key() {
        assert_eq!(fingerprint(&sample()), fingerprint(&sample()));
        assert!(changed_by(|_| {}).is_empty());
    }

    #[test]
    fn another_nix_version_is_another_key() {
        assert_eq!(
            changed_by(|c| {
                c.nix_program =
                    "/nix/store/bbbb-nix-2.26.3/bin/nix size=1 mtime=1 dev=1 ino=1".into()
            }),
            [part::NIX]
        );
    }

    #[test]
    fn each_input_changes_its_own_part() {
        let edit_file = |c: &mut Collected| {
            if let SourceState::Tree { entries, .. } = &mut c.flake {
                entries[1].1 = file("{ outputs = _: { x = 1; }; }");
            }
        };
        assert_eq!(changed_by(edit_file), [part::SOURCE]);
        let exec_bit = |c: &mut Collected| {
            if let SourceState::Tree { entries, .. } = &mut c.flake {
                entries[1].1 = Node::File {
                    executable: true,
                    digest: digest(b"{ outputs = _: {}; }"),
                };
            }
        };
        assert_eq!(changed_by(exec_bit), [part::SOURCE]);
        let new_file = |c: &mut Collected| {
            if let SourceState::Tree { entries, .. } = &mut c.flake {
                entries.push((b"new.nix".to_vec(), file("1")));
            }
        };
        assert_eq!(changed_by(new_file), [part::SOURCE]);
        let commit = |c: &mut Collected| {
            if let SourceState::Tree { head, .. } = &mut c.flake {
                *head = "1".repeat(40);
            }
        };
        assert_eq!(changed_by(commit), [part::SOURCE]);
        let subdir = |c: &mut Collected| {
            if let SourceState::Tree { dir, .. } = &mut c.flake {
                *dir = "hosts/laptop".into();
            }
        };
        assert_eq!(changed_by(subdir), [part::SOURCE]);
        let as_path = |c: &mut Collected| {
            if let SourceState::Tree { kind, .. } = &mut c.flake {
                *kind = "path";
            }
        };
        assert_eq!(changed_by(as_path), [part::SOURCE]);
        let touched = |c: &mut Collected| {
            if let SourceState::Tree { last_modified, .. } = &mut c.flake {
                *last_modified = 1_800_000_000;
            }
        };
        assert_eq!(changed_by(touched), [part::SOURCE]);
        assert_eq!(changed_by(|c| c.lock = Some(b"{ }".to_vec())), [part::LOCK]);
        assert_eq!(changed_by(|c| c.lock = None), [part::LOCK]);
        assert_eq!(changed_by(|c| c.attr = "laptop".into()), [part::ATTR]);
        assert_eq!(
            changed_by(|c| c.system = "aarch64-linux".into()),
            [part::SYSTEM]
        );
        assert_eq!(
            changed_by(|c| c.overrides.push((
                "nixpkgs".into(),
                SourceState::Locked("github:NixOS/nixpkgs/x".into())
            ))),
            [part::OVERRIDES]
        );
        assert_eq!(
            changed_by(|c| c.nix_args.push("--keep-going".into())),
            [part::NIX_ARGS]
        );
        assert_eq!(
            changed_by(|c| c.config[0].1 = Some(b"sandbox = true".to_vec())),
            [part::CONFIG]
        );
        assert_eq!(
            changed_by(|c| c.config.push(("/etc/nix/nix.conf".into(), None))),
            [part::CONFIG]
        );
    }

    #[test]
    fn fields_are_framed() {
        let split = |a: &str, b: &str| {
            let mut c = sample();
            c.nix_args = vec![a.into(), b.into()];
            fingerprint(&c)
        };
        assert_ne!(split("ab", "c"), split("a", "bc"));
        let empty_or_absent = |contents: Option<Vec<u8>>| {
            let mut c = sample();
            c.config = vec![("f".into(), contents)];
            fingerprint(&c)
        };
        assert_ne!(empty_or_absent(None), empty_or_absent(Some(Vec::new())));
    }

    #[test]
    fn a_recorded_part_missing_now_counts_as_changed() {
        let now = fingerprint(&sample());
        let mut recorded = now.parts.clone();
        recorded.insert("an old part".into(), "0".into());
        assert_eq!(now.changed_since(&recorded), ["an old part"]);
    }
}
