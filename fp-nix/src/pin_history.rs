//! Where fp-pin keeps its history of changes (one `<N>.json` file per change in
//! `$XDG_STATE_HOME/flakey-profile/pin-history`) and which entries it has: fp-pin writes,
//! reads and reverts them; fp-rollback only asks whether there are any (pins a rollback
//! leaves as they are).
//!
//! The directory is never trusted for what is in it: it is opened with [`SafeDir`] (no
//! directory on the way someone else's or writable by others) and must be the effective
//! user's own and writable only by them (a private group may write it).

use crate::error::{Error, Result};
use crate::locations;
use crate::safe_dir::{self, SafeDir};
use crate::trust::{self, Owners};
use std::path::{Path, PathBuf};

/// `$XDG_STATE_HOME/flakey-profile/pin-history` (default `~/.local/state/...`).
pub fn dir() -> PathBuf {
    locations::state_home()
        .join("flakey-profile")
        .join("pin-history")
}

/// The file of entry `n` in the history directory `dir`.
pub fn entry_file(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n}.json"))
}

/// The entry numbers in the history directory `dir`, oldest first: the files named
/// `<digits>.json`. A missing directory has none; one that is not the user's own
/// ([`open_own_dir`]) is an error.
pub fn numbers(dir: &Path) -> Result<Vec<u64>> {
    if std::fs::symlink_metadata(dir).is_err() {
        return Ok(Vec::new());
    }
    let opened = open_own_dir(dir, false)?;
    let names = opened.names().map_err(|e| {
        Error::failed(format!(
            "cannot read fp-pin's history {}: {e}",
            dir.display()
        ))
    })?;
    let mut numbers: Vec<u64> = names
        .iter()
        .filter_map(|name| entry_number(name.to_str()?))
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// The number of the entry file named `name` (`12.json`); `None` for any other name.
fn entry_number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".json")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether fp-pin has pinned anything on this machine that it can revert: its history (of the
/// effective user) has an entry. A history that cannot be read counts as none.
pub fn has_entries() -> bool {
    numbers(&dir()).is_ok_and(|numbers| !numbers.is_empty())
}

/// Opens `dir` (made, mode 0700, with its missing parents when `create`) with [`SafeDir`], so
/// no directory on the way is someone else's or writable by others, and checks that `dir`
/// itself is the effective user's own and writable only by them ([`trust`]): nobody else can
/// plant or swap a file in it.
pub fn open_own_dir(dir: &Path, create: bool) -> Result<SafeDir> {
    let opened = if create {
        SafeDir::open_or_create(dir, 0o700).map_err(|e| {
            let hint = e.hint().map(str::to_string).unwrap_or_else(|| {
                "make $XDG_STATE_HOME (default ~/.local/state) writable by you".to_string()
            });
            e.with_hint(hint)
        })?
    } else {
        SafeDir::open(dir)?
    };
    let st = opened
        .stat()
        .map_err(|e| Error::failed(format!("cannot inspect {}: {e}", dir.display())))?;
    match trust::check(st.uid, st.gid, st.mode, Owners::You) {
        None => Ok(opened),
        Some(why) => Err(Error::failed(format!(
            "fp-pin keeps its history and lock only in a directory of your own, and {} {}",
            dir.display(),
            why.why()
        ))
        .with_hint(safe_dir::trust_hint(&why, dir))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_the_numbered_json_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("h");
        assert_eq!(numbers(&dir).unwrap(), Vec::<u64>::new());
        open_own_dir(&dir, true).unwrap();
        for name in [
            "10.json",
            "2.json",
            "x.json",
            ".json",
            "3.json.tmp",
            "notes.txt",
        ] {
            std::fs::write(dir.join(name), "{}").unwrap();
        }
        assert_eq!(numbers(&dir).unwrap(), [2, 10]);
        assert_eq!(entry_file(&dir, 2), dir.join("2.json"));
    }
}
