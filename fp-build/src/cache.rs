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
//!
//! Whoever can write an entry decides what fp-build prints (and so what `fp-switch` installs),
//! so an entry is believed only when it and its directory are the effective user's own and
//! nobody else's to write ([`load`]); anything else is a miss, and is replaced by the next
//! build, never written through.

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

/// Why an entry file owned by `uid` with mode bits `mode` is not believed by user `euid`, or
/// `None` when it is: it must be the user's own and readable and writable by nobody else (0600
/// or stricter), since whoever can write it decides what fp-build prints.
pub fn untrusted_entry(uid: u32, mode: u32, euid: u32) -> Option<String> {
    if uid != euid {
        return Some(format!(
            "is owned by {}, not by you ({})",
            fp_nix::safe_dir::who(uid),
            fp_nix::safe_dir::who(euid)
        ));
    }
    if mode & 0o077 != 0 {
        return Some(format!(
            "may be read or written by others (mode {:o}, not 600)",
            mode & 0o7777
        ));
    }
    None
}

/// Reads the entry at `path`: `Ok(None)` when there is none, `Err(why)` when the file is not a
/// usable entry (it is then treated as a miss and replaced).
///
/// An entry is believed only when its directory is the user's own and writable only by them
/// ([`fp_nix::trust`], as is every directory above it, which may also be root's), and the entry is a regular
/// file (not a link, FIFO or device) of at most 1 MiB passing [`untrusted_entry`].
pub fn load(path: &Path) -> Result<Option<Entry>, String> {
    let dir_path = path.parent().unwrap_or(Path::new("/"));
    if std::fs::symlink_metadata(dir_path).is_err() {
        return Ok(None);
    }
    let euid = fp_nix::locations::effective_uid();
    let dir = fp_nix::safe_dir::SafeDir::open(dir_path).map_err(|e| e.message().to_string())?;
    let dir_stat = dir
        .stat()
        .map_err(|e| format!("cannot examine {}: {e}", dir_path.display()))?;
    let owners = fp_nix::trust::Owners::You;
    if let Some(why) = fp_nix::trust::check(dir_stat.uid, dir_stat.gid, dir_stat.mode, owners) {
        return Err(format!(
            "the cache directory {} {}",
            dir_path.display(),
            why.why()
        ));
    }
    let limit = fp_nix::limits::MAX_SMALL_FILE_BYTES;
    let read = match fp_nix::limits::read_regular(path, limit, fp_nix::limits::Links::Refuse) {
        Ok(read) => read.map_err(|e| e.message().to_string())?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if let Some(why) = untrusted_entry(read.meta.uid(), read.meta.mode(), euid) {
        return Err(format!("{} {why}", path.display()));
    }
    let entry: Entry = serde_json::from_slice(&read.bytes)
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

/// Writes `entry` to `path` atomically, mode 0600, creating the directory (0700); whatever is at
/// `path` (a link, a FIFO) is replaced, never written through, and a directory on the way that
/// someone else controls is refused.
pub fn save(path: &Path, entry: &Entry) -> fp_common::Result<()> {
    let text = serde_json::to_string_pretty(entry)
        .map_err(|e| fp_common::Error::failed(format!("cannot encode the cache entry: {e}")))?;
    fp_nix::atomic_file::write_private(path, format!("{text}\n").as_bytes())
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
        fp_nix::atomic_file::write_private(&path, b"{\"version\": 1, \"truncated").unwrap();
        assert!(load(&path).unwrap_err().contains("is not a cache entry"));
        let mut other = serde_json::to_value(entry()).unwrap();
        other["version"] = 99.into();
        fp_nix::atomic_file::write_private(&path, other.to_string().as_bytes()).unwrap();
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

    #[test]
    fn only_private_entries_of_the_user_are_believed() {
        assert_eq!(untrusted_entry(1000, 0o100600, 1000), None);
        assert_eq!(untrusted_entry(1000, 0o100400, 1000), None);
        assert!(untrusted_entry(1001, 0o100600, 1000)
            .unwrap()
            .starts_with("is owned by"));
        assert_eq!(
            untrusted_entry(0, 0o100644, 0).unwrap(),
            "may be read or written by others (mode 644, not 600)"
        );
    }

    #[test]
    fn a_link_or_a_shared_entry_is_a_miss() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = entry_path(dir.path(), "some flake");
        save(&path, &entry()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load(&path).unwrap_err().ends_with("(mode 644, not 600)"));
        let elsewhere = dir.path().join("elsewhere.json");
        std::fs::rename(&path, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(load(&path)
            .unwrap_err()
            .ends_with("is a symbolic link, not a regular file; refusing to read it"));
        save(&path, &entry()).unwrap();
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(load(&path), Ok(Some(entry())));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(load(&path).unwrap_err().contains("is writable by others"));
    }
}
