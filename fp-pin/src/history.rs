//! fp-pin's history: one JSON file per change, `$XDG_STATE_HOME/flakey-profile/pin-history/<N>.json`,
//! holding the registry's previous content (exactly, as text) and the channels generation before
//! and after, so `fp-pin --revert` can undo the last change, then the one before, and so on.

use fp_common::{Error, Result};
use fp_nix::atomic_file;
use fp_nix::generation::GenerationRef;
use fp_nix::locations;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
            dir: locations::state_home()
                .join("flakey-profile")
                .join("pin-history"),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of entry `n`.
    pub fn file(&self, n: u64) -> PathBuf {
        self.dir.join(format!("{n}.json"))
    }

    /// The entry numbers, oldest first. A missing directory has none.
    pub fn numbers(&self) -> Result<Vec<u64>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::failed(format!(
                    "cannot read fp-pin's history {}: {e}",
                    self.dir.display()
                )))
            }
        };
        let mut numbers: Vec<u64> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let digits = name.to_str()?.strip_suffix(".json")?.to_string();
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse().ok()
            })
            .collect();
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// The number a new entry gets: one more than the highest.
    pub fn next_number(&self) -> Result<u64> {
        Ok(self.numbers()?.last().map_or(1, |n| n + 1))
    }

    /// Reads entry `n`.
    pub fn read(&self, n: u64) -> Result<Entry> {
        let file = self.file(n);
        let text = std::fs::read_to_string(&file)
            .map_err(|e| Error::failed(format!("cannot read {}: {e}", file.display())))?;
        let entry: Entry = serde_json::from_str(&text).map_err(|e| {
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

    /// Writes entry `n` atomically (mode 0600: it holds registry content) and returns its file.
    pub fn write(&self, n: u64, entry: &Entry) -> Result<PathBuf> {
        let file = self.file(n);
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
        }
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
