//! fp-build's result cache: one small JSON file per flake, attribute, overrides and nix
//! arguments in `$XDG_CACHE_HOME/flakey-profile/`, holding the key of the last successful build
//! and what it printed.
//!
//! Files are replaced atomically (temporary file, fsync, rename), so two fp-builds at once each
//! leave a whole entry and the last one wins; a file that does not parse is a miss and is
//! rewritten by the next build, never an error.
//!
//! A recorded store path is used only while it is still the very directory Nix registered: its
//! device, inode and change time are recorded right after `nix build` returned (when Nix had
//! registered it as valid) and must match. Nix removes a path from disk when it garbage-collects
//! or deletes it, and a path built again later is a new directory (another inode and change
//! time), so a collected path is never printed, and a half-built or half-deleted one neither.
//! This costs one `lstat`, where asking Nix (`nix-store --check-validity`) costs a Nix start.

use crate::fingerprint::Fingerprint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The entry format's version; entries of another version are misses (and rewritten).
pub const ENTRY_VERSION: u32 = 1;

/// The cache directory: `$XDG_CACHE_HOME/flakey-profile` (default `~/.cache/flakey-profile`).
pub fn dir() -> PathBuf {
    fp_nix::locations::cache_home().join("flakey-profile")
}

/// The file of the entry named by `identity` (see [`crate::collect::Collection::identity`]):
/// `build-<digest>.json`, so any flake reference makes a safe file name.
pub fn entry_path(dir: &Path, identity: &str) -> PathBuf {
    let digest = blake3::hash(identity.as_bytes()).to_hex();
    dir.join(format!("build-{}.json", &digest[..32]))
}

/// Which file a path was when recorded: enough to tell it apart from a later file at the same
/// path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Change time, seconds.
    pub ctime: i64,
    /// Change time, nanoseconds.
    pub ctime_nsec: i64,
}

/// The identity of the file at `path` (not following a symlink), or `None` if nothing is there.
pub fn file_id(path: &Path) -> Option<FileId> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    Some(FileId {
        dev: meta.dev(),
        ino: meta.ino(),
        ctime: meta.ctime(),
        ctime_nsec: meta.ctime_nsec(),
    })
}

/// One recorded build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// [`ENTRY_VERSION`].
    pub version: u32,
    /// What the entry is for, in words (the flake, attribute, overrides and arguments), to make
    /// the file readable by people.
    pub identity: String,
    /// The key's parts when it was built.
    pub fingerprint: BTreeMap<String, String>,
    /// The output store path printed.
    pub store_path: String,
    /// Its derivation, for `--json`.
    pub drv_path: String,
    /// The output's identity right after the build.
    pub store_id: FileId,
    /// The derivation's identity right after the build (`None` when Nix gave no derivation).
    pub drv_id: Option<FileId>,
}

/// Reads the entry at `path`: `Ok(None)` when there is none, `Err(why)` when the file is not a
/// usable entry (it is then treated as a miss and replaced).
pub fn load(path: &Path) -> Result<Option<Entry>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let entry: Entry = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a cache entry ({e})", path.display()))?;
    if let Err(e) = fp_nix::store_path::StorePath::parse(&entry.store_path) {
        return Err(format!("{} records {}", path.display(), e.message()));
    }
    if entry.version != ENTRY_VERSION {
        return Err(format!(
            "{} is an entry of format {}, not {ENTRY_VERSION}",
            path.display(),
            entry.version
        ));
    }
    Ok(Some(entry))
}

/// Writes `entry` to `path` atomically, creating the directory.
pub fn save(path: &Path, entry: &Entry) -> fp_common::Result<()> {
    let text = serde_json::to_string_pretty(entry)
        .map_err(|e| fp_common::Error::failed(format!("cannot encode the cache entry: {e}")))?;
    fp_nix::atomic_file::write(path, format!("{text}\n").as_bytes(), 0o644)
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The recorded build is this one's, and its output is still in the store.
    Hit,
    /// Build, and why.
    Miss(String),
}

/// What the store holds now for a recorded entry: the identities of the files at its store path
/// and derivation path (read by [`file_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreNow {
    /// The file at the recorded store path.
    pub store: Option<FileId>,
    /// The file at the recorded derivation path.
    pub drv: Option<FileId>,
}

/// Decides whether the recorded entry answers this build: same key, and the output (and, when
/// the derivation is printed too, the derivation) still the files recorded.
pub fn judge(entry: Option<&Entry>, now: &Fingerprint, store: StoreNow, needs_drv: bool) -> Lookup {
    let Some(entry) = entry else {
        return Lookup::Miss("nothing recorded yet".into());
    };
    let changed = now.changed_since(&entry.fingerprint);
    if !changed.is_empty() {
        return Lookup::Miss(format!(
            "changed since the last build: {}",
            changed.join(", ")
        ));
    }
    if store.store != Some(entry.store_id) {
        let what = if store.store.is_none() {
            "was garbage-collected"
        } else {
            "was deleted and made again"
        };
        return Lookup::Miss(format!("{} {what}", entry.store_path));
    }
    if needs_drv && (entry.drv_id.is_none() || store.drv != entry.drv_id) {
        return Lookup::Miss(format!(
            "the derivation {} is no longer the one recorded",
            entry.drv_path
        ));
    }
    Lookup::Hit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ino: u64) -> FileId {
        FileId {
            dev: 1,
            ino,
            ctime: 100,
            ctime_nsec: 5,
        }
    }

    fn fp(source: &str) -> Fingerprint {
        Fingerprint {
            parts: [("the flake's files".to_string(), source.to_string())]
                .into_iter()
                .collect(),
        }
    }

    fn entry() -> Entry {
        Entry {
            version: ENTRY_VERSION,
            identity: "path:/p?dir=\0profile\0--".into(),
            fingerprint: fp("a").parts,
            store_path: "/nix/store/00000000000000000000000000000000-env".into(),
            drv_path: "/nix/store/11111111111111111111111111111111-env.drv".into(),
            store_id: id(7),
            drv_id: Some(id(8)),
        }
    }

    const PRESENT: StoreNow = StoreNow {
        store: Some(FileId {
            dev: 1,
            ino: 7,
            ctime: 100,
            ctime_nsec: 5,
        }),
        drv: Some(FileId {
            dev: 1,
            ino: 8,
            ctime: 100,
            ctime_nsec: 5,
        }),
    };

    #[test]
    fn hit_needs_same_key_and_same_files() {
        assert_eq!(judge(Some(&entry()), &fp("a"), PRESENT, true), Lookup::Hit);
        assert_eq!(
            judge(None, &fp("a"), PRESENT, false),
            Lookup::Miss("nothing recorded yet".into())
        );
        assert_eq!(
            judge(Some(&entry()), &fp("b"), PRESENT, false),
            Lookup::Miss("changed since the last build: the flake's files".into())
        );
    }

    #[test]
    fn a_collected_or_remade_output_is_a_miss() {
        let gone = StoreNow {
            store: None,
            ..PRESENT
        };
        let Lookup::Miss(why) = judge(Some(&entry()), &fp("a"), gone, false) else {
            panic!("a collected path is never a hit");
        };
        assert!(why.ends_with("was garbage-collected"), "{why}");
        let remade = StoreNow {
            store: Some(FileId {
                ctime: 200,
                ..id(7)
            }),
            ..PRESENT
        };
        assert!(matches!(
            judge(Some(&entry()), &fp("a"), remade, false),
            Lookup::Miss(_)
        ));
    }

    #[test]
    fn the_derivation_matters_only_when_printed() {
        let no_drv = StoreNow {
            drv: None,
            ..PRESENT
        };
        assert_eq!(judge(Some(&entry()), &fp("a"), no_drv, false), Lookup::Hit);
        assert!(matches!(
            judge(Some(&entry()), &fp("a"), no_drv, true),
            Lookup::Miss(_)
        ));
    }

    #[test]
    fn entries_round_trip_and_bad_files_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let path = entry_path(dir.path(), "some flake");
        assert_eq!(load(&path), Ok(None));
        save(&path, &entry()).unwrap();
        assert_eq!(load(&path), Ok(Some(entry())));
        std::fs::write(&path, "{\"version\": 1, \"truncated").unwrap();
        assert!(load(&path).unwrap_err().contains("is not a cache entry"));
        let mut other = serde_json::to_value(entry()).unwrap();
        other["version"] = 99.into();
        std::fs::write(&path, other.to_string()).unwrap();
        assert!(load(&path).unwrap_err().contains("format 99"));
        let mut elsewhere = entry();
        elsewhere.store_path = "/etc/passwd".into();
        save(&path, &elsewhere).unwrap();
        assert!(load(&path).unwrap_err().contains("not in the Nix store"));
        save(&path, &entry()).unwrap();
        assert_eq!(load(&path), Ok(Some(entry())));
    }

    #[test]
    fn entry_names_are_safe_and_distinct() {
        let a = entry_path(Path::new("/c"), "/x\0profile");
        let b = entry_path(Path::new("/c"), "/x\0laptop");
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("build-") && name.ends_with(".json"),
            "{name}"
        );
        assert_eq!(name.len(), "build-".len() + 32 + ".json".len());
    }
}
