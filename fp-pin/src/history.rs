//! fp-pin's history: one JSON file per change, `$XDG_STATE_HOME/flakey-profile/pin-history/<N>.json`,
//! holding the registry's previous content (exactly, as text) and the channels generation before
//! and after, so `fp-pin --revert` can undo the last change, then the one before, and so on.
//!
//! An entry is written before anything is changed, marked `pending`, and rewritten without the
//! mark once the pin is complete: a pin interrupted half-way leaves a pending entry, and
//! reverting it undoes whatever part had happened. (Entries without the mark, as earlier
//! versions wrote them, are complete.)
//!
//! Nothing here is trusted for where to write: the history directory and its state directory
//! are opened with `fp_nix::pin_history::open_own_dir` (no directory on the way someone else's
//! or writable by others) and must be the effective user's own, writable only by them (a
//! private group may write them), and an entry must be a regular file of theirs within the
//! size cap, read with `read_regular` (type-checked, without following a link or blocking);
//! anything else is refused before it is read.

use fp_common::{Error, Result};
use fp_nix::atomic_file;
use fp_nix::generation::GenerationRef;
use fp_nix::limits::{read_regular, Links, MAX_DOCUMENT_BYTES};
use fp_nix::locations;
use fp_nix::pin_history;
use fp_nix::safe_dir;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The format version of a history entry.
pub const ENTRY_VERSION: u32 = 1;

/// What the registry was before a change, and what fp-pin wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryState {
    /// The registry file.
    pub path: String,
    /// Its content before the change, exactly; `None` when the file did not exist.
    pub previous: Option<String>,
    /// Its permission bits before the change, when it existed.
    pub previous_mode: Option<u32>,
    /// What fp-pin wrote; `None` when the registry was not changed.
    pub written: Option<String>,
}

/// The channels profile before and after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelsState {
    /// The channels profile.
    pub profile: String,
    /// The generation current before; `None` when it had none.
    pub previous: Option<GenerationRef>,
    /// The generation fp-pin made current; `None` until nix-env has run.
    pub generation: Option<GenerationRef>,
    /// The store path fp-pin makes current (written before nix-env runs, so a revert of an
    /// interrupted pin can tell whether the switch happened); `None` in entries of earlier
    /// versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_path: Option<String>,
}

/// One change made by fp-pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// [`ENTRY_VERSION`].
    pub version: u32,
    /// When, in seconds since the Unix epoch.
    pub time: u64,
    /// The pins written.
    pub pins: BTreeMap<String, String>,
    /// The registry before and after.
    pub registry: RegistryState,
    /// The channels profile before and after; `None` when the channels were not changed.
    pub channels: Option<ChannelsState>,
    /// Whether the pin had not finished when the entry was last written (written before the
    /// first change, cleared after the last); absent, as in earlier versions' entries, is false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

/// The history directory.
#[derive(Debug, Clone)]
pub struct History {
    dir: PathBuf,
}

impl History {
    /// `$XDG_STATE_HOME/flakey-profile/pin-history` (default `~/.local/state/...`).
    pub fn new() -> History {
        History {
            dir: pin_history::dir(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of entry `n`.
    pub fn file(&self, n: u64) -> PathBuf {
        pin_history::entry_file(&self.dir, n)
    }

    /// The entry numbers, oldest first. A missing directory has none.
    pub fn numbers(&self) -> Result<Vec<u64>> {
        pin_history::numbers(&self.dir)
    }

    /// The number a new entry gets: one more than the highest.
    pub fn next_number(&self) -> Result<u64> {
        Ok(self.numbers()?.last().map_or(1, |n| n + 1))
    }

    /// Reads entry `n`.
    pub fn read(&self, n: u64) -> Result<Entry> {
        let file = self.file(n);
        let bytes = read_own_file(&file)?;
        let entry: Entry = serde_json::from_slice(&bytes).map_err(|e| {
            Error::failed(format!(
                "fp-pin's history entry {} does not parse: {e}",
                file.display()
            ))
            .with_hint(
                "it was changed by hand; fix it or remove it to revert the entries before it",
            )
        })?;
        if entry.version != ENTRY_VERSION {
            return Err(Error::failed(format!(
                "fp-pin's history entry {} has version {}, this fp-pin reads version {ENTRY_VERSION}",
                file.display(),
                entry.version
            )));
        }
        Ok(entry)
    }

    /// Makes the state directory and the history directory (mode 0700) when missing, and
    /// checks both are directories of the effective user's that nobody else can write; returns
    /// the state directory (where `pin.lock` is).
    pub fn prepare(&self) -> Result<PathBuf> {
        let state = self.dir.parent().unwrap_or(&self.dir).to_path_buf();
        for dir in [&state, &self.dir] {
            pin_history::open_own_dir(dir, true)?;
        }
        Ok(state)
    }

    /// Checks, before anything is changed, that entry `n` can be written and removed later.
    pub fn check_writable(&self, n: u64) -> Result<()> {
        atomic_file::check_replaceable(&self.file(n)).map_err(|e| {
            e.context("cannot keep fp-pin's history")
                .with_hint("make $XDG_STATE_HOME (default ~/.local/state) writable by you")
        })
    }

    /// Writes entry `n` atomically (mode 0600: it holds registry content) and returns its file.
    pub fn write(&self, n: u64, entry: &Entry) -> Result<PathBuf> {
        let file = self.file(n);
        // Never written through a link or over anything but an entry of the user's own.
        if let Ok(meta) = std::fs::symlink_metadata(&file) {
            if !meta.is_file() || meta.uid() != locations::effective_uid() {
                return Err(Error::failed(format!(
                    "cannot write fp-pin's history entry {}: something else is in its place",
                    file.display()
                ))
                .with_hint("remove it and run again"));
            }
        }
        let mut text = serde_json::to_string_pretty(entry)
            .map_err(|e| Error::failed(format!("cannot encode the history entry: {e}")))?;
        text.push('\n');
        atomic_file::write(&file, text.as_bytes(), 0o600)?;
        Ok(file)
    }

    /// Removes entry `n`.
    pub fn remove(&self, n: u64) -> Result<()> {
        atomic_file::remove(&self.file(n))
    }
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads the history entry `file`, refusing (exit 2, nothing read) anything but a regular file
/// of the effective user's within [`MAX_DOCUMENT_BYTES`]: it is read with [`read_regular`]
/// (type-checked, without following a link or blocking) and its owner checked on the opened
/// file.
fn read_own_file(file: &Path) -> Result<Vec<u8>> {
    let hint = "fp-pin writes its entries as plain files of your own; remove that one";
    let read = match read_regular(file, MAX_DOCUMENT_BYTES, Links::Refuse) {
        Ok(read) => read.map_err(|e| e.with_hint(hint))?,
        Err(e) => {
            return Err(Error::failed(format!(
                "cannot read {}: {e}",
                file.display()
            )))
        }
    };
    let euid = locations::effective_uid();
    if read.meta.uid() != euid {
        return Err(Error::usage(format!(
            "fp-pin's history entry {} is owned by {}, not by you ({}); it is not read",
            file.display(),
            safe_dir::who(read.meta.uid()),
            safe_dir::who(euid)
        ))
        .with_hint(hint));
    }
    Ok(read.bytes)
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            version: ENTRY_VERSION,
            time: 1,
            pins: BTreeMap::from([("nixpkgs".to_string(), "/nix/store/x-source".to_string())]),
            registry: RegistryState {
                path: "/r.json".into(),
                previous: Some("{ \"exact\": \"text\" }\n".into()),
                previous_mode: Some(0o644),
                written: Some("{}".into()),
            },
            channels: None,
            pending: false,
        }
    }

    #[test]
    fn entries_of_earlier_versions_are_complete_and_pending_is_kept() {
        let old = r#"{"version":1,"time":1,"pins":{},"registry":{"path":"/r.json","previous":null,"previousMode":null,"written":"{}"},"channels":{"profile":"/p","previous":null,"generation":null}}"#;
        let entry: Entry = serde_json::from_str(old).unwrap();
        assert!(!entry.pending);
        assert_eq!(entry.channels.unwrap().store_path, None);
        let mut pending = super::tests::entry();
        pending.pending = true;
        let text = serde_json::to_string(&pending).unwrap();
        assert!(text.contains("\"pending\":true"), "{text}");
        assert_eq!(serde_json::from_str::<Entry>(&text).unwrap(), pending);
        let done = serde_json::to_string(&super::tests::entry()).unwrap();
        assert!(!done.contains("pending"), "{done}");
    }

    #[test]
    fn entries_that_are_not_plain_files_of_ours_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let h = History {
            dir: dir.path().join("h"),
        };
        h.prepare().unwrap();
        std::fs::write(dir.path().join("elsewhere"), "{}").unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), h.file(1)).unwrap();
        let err = h.read(1).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.message().contains("symbolic link"), "{}", err.message());
        std::fs::create_dir(h.file(2)).unwrap();
        let err = h.read(2).unwrap_err();
        assert!(
            err.message().contains("not a regular file"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn a_history_directory_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let h = History {
            dir: dir.path().join("h"),
        };
        h.prepare().unwrap();
        std::fs::set_permissions(h.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = h.numbers().unwrap_err();
        assert!(
            err.message().contains("writable by others"),
            "{}",
            err.message()
        );
        assert!(h.prepare().is_err());
    }

    #[test]
    fn entries_round_trip_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let h = History {
            dir: dir.path().join("h"),
        };
        assert_eq!(h.numbers().unwrap(), Vec::<u64>::new());
        assert_eq!(h.next_number().unwrap(), 1);
        for n in [1, 2, 10] {
            h.write(n, &entry()).unwrap();
        }
        std::fs::write(h.dir().join("notes.txt"), "x").unwrap();
        std::fs::write(h.dir().join("x.json"), "x").unwrap();
        assert_eq!(h.numbers().unwrap(), [1, 2, 10]);
        assert_eq!(h.next_number().unwrap(), 11);
        assert_eq!(h.read(10).unwrap(), entry());
        h.remove(10).unwrap();
        assert_eq!(h.numbers().unwrap(), [1, 2]);
    }

    #[test]
    fn a_broken_entry_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let h = History {
            dir: dir.path().to_path_buf(),
        };
        std::fs::write(h.file(1), "{").unwrap();
        let err = h.read(1).unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(err.hint().is_some());
    }
}
