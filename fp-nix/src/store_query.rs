//! What the store knows about paths (references, NAR and closure sizes, validity), asked the
//! fastest way that gives nix's own answer: this machine's store database read directly
//! ([`store_db`](crate::store_db)) when Nix uses it, else `nix path-info` and
//! `nix-store --check-validity`. Every tool asks the store through here.
//!
//! The database is read when the store Nix uses is this machine's (the `store` setting, which
//! `$NIX_REMOTE` gives a default, is unset, `auto`, `local`, `daemon` or `unix://`, without
//! parameters), at `db/db.sqlite` in its state directory (`$NIX_STATE_DIR`, default
//! `/nix/var/nix`). Any other store (`ssh://`, a chroot store such as `local?root=...`), a
//! database that is locked, unreadable or missing, or one of an unknown schema, is asked through
//! nix instead, and `-v` says why.
//!
//! `$FP_STORE_DB` overrides where the database is: a file to read instead, or `off` to always
//! ask nix (for comparing the two, and for tests of the fallback).

use crate::error::Result;
use crate::nix_conf;
use crate::path_info::{self, PathInfo};
use crate::store_db::{StoreDb, Unreadable};
use crate::store_path::{self, StorePath};
use crate::Log;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment variable that overrides where the store database is read (`off`: never).
pub const STORE_DB_VAR: &str = "FP_STORE_DB";

/// The references and NAR size of each of `paths` (each asked once), keyed by path; closure
/// sizes are [`closure_sizes`]. A path that is not valid in the store is a usage error.
pub fn path_infos(log: &dyn Log, paths: &[&str]) -> Result<BTreeMap<String, PathInfo>> {
    ask_each(log, paths, StoreDb::path_infos, |unique| {
        path_info::query(log, unique, false)
    })
}

/// The closure size in bytes of each of `paths` (as `nix path-info --closure-size` gives it),
/// without their references. A path that is not valid is a usage error.
pub fn closure_sizes(log: &dyn Log, paths: &[&str]) -> Result<BTreeMap<String, u64>> {
    ask_each(log, paths, StoreDb::closure_sizes, |unique| {
        Ok(path_info::query(log, unique, true)?
            .into_iter()
            .map(|(path, info)| (path, info.closure_size.unwrap_or(0)))
            .collect())
    })
}

/// Asks one question about each of `paths`, each once: of the database when it can be read
/// (which answers `None` for a path that is not valid: a usage error), else of nix.
fn ask_each<T>(
    log: &dyn Log,
    paths: &[&str],
    database: impl FnOnce(
        &StoreDb,
        &[&str],
    ) -> std::result::Result<BTreeMap<String, Option<T>>, Unreadable>,
    nix: impl FnOnce(&[&str]) -> Result<BTreeMap<String, T>>,
) -> Result<BTreeMap<String, T>> {
    let mut unique: Vec<&str> = paths.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if unique.is_empty() {
        return Ok(BTreeMap::new());
    }
    match from_database(log, |db| database(db, &unique)) {
        Some(answers) => answers
            .into_iter()
            .map(|(path, answer)| match answer {
                Some(answer) => Ok((path, answer)),
                None => Err(path_info::not_valid(&path)),
            })
            .collect(),
        None => nix(&unique),
    }
}

/// Every path of the closures of `roots` with its references and NAR size, as
/// `nix path-info --recursive` gives them: what closure sizes of any path among them are summed
/// from. A root that is not valid is a usage error.
pub fn closures(log: &dyn Log, roots: &[&str]) -> Result<BTreeMap<String, PathInfo>> {
    match from_database(log, |db| db.closures(roots)) {
        Some(Ok(graph)) => Ok(graph),
        Some(Err(root)) => Err(path_info::not_valid(&root)),
        None => path_info::query_closures(log, roots),
    }
}

/// Whether `path` is valid in the store: registered, and not still being built. A path that is
/// not even on disk is not asked about.
pub fn is_valid(log: &dyn Log, path: &StorePath) -> Result<bool> {
    if std::fs::symlink_metadata(path.as_path()).is_err() {
        return Ok(false);
    }
    match from_database(log, |db| db.is_valid(path.as_str())) {
        Some(valid) => Ok(valid),
        None => store_path::check_validity(log, path),
    }
}

thread_local! {
    /// The database this thread opened last: the queries of one run (validity, references,
    /// closures, sizes) share one connection instead of opening and checking it each time.
    static OPENED: std::cell::RefCell<Option<(PathBuf, StoreDb)>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `ask` against the store database when it can be read; `None` (said under `-v`) when
/// nix must be asked instead.
fn from_database<T>(
    log: &dyn Log,
    ask: impl FnOnce(&StoreDb) -> std::result::Result<T, Unreadable>,
) -> Option<T> {
    let settings = Settings::from_environment();
    let db = match database_location(&settings) {
        Ok(db) => db,
        Err(why) => {
            log.verbose(&format!(
                "not reading the store database: {why}; asking nix"
            ));
            return None;
        }
    };
    let answer = OPENED.with(|opened| {
        let mut opened = opened.borrow_mut();
        if opened.as_ref().is_none_or(|(path, _)| *path != db) {
            *opened = Some((db.clone(), StoreDb::open(&db)?));
        }
        let (_, store) = opened.as_ref().expect("opened just now");
        ask(store)
    });
    match answer {
        Ok(answer) => {
            log.verbose(&format!("read the store database {}", db.display()));
            Some(answer)
        }
        Err(why) => {
            log.verbose(&format!(
                "cannot read the store database {}: {why}; asking nix",
                db.display()
            ));
            None
        }
    }
}

/// What decides where the store database is, as read from the environment and Nix's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    /// `$FP_STORE_DB`.
    pub store_db: Option<String>,
    /// Nix's `store` setting (from nix.conf and `$NIX_CONFIG`), else `$NIX_REMOTE`.
    pub store: Option<String>,
    /// `$NIX_STATE_DIR`.
    pub state_dir: Option<PathBuf>,
}

impl Settings {
    /// The settings of this process.
    pub fn from_environment() -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Settings {
            store_db: var(STORE_DB_VAR),
            store: nix_conf::setting("store").or_else(|| var("NIX_REMOTE")),
            state_dir: var("NIX_STATE_DIR").map(PathBuf::from),
        }
    }
}

/// Where the store database to read is, or why none is read: `$FP_STORE_DB` when set (`off`:
/// none), else `db/db.sqlite` in the state directory when the store Nix uses is this machine's
/// own store, local or through its daemon.
pub fn database_location(settings: &Settings) -> std::result::Result<PathBuf, String> {
    match settings.store_db.as_deref() {
        Some("off") => return Err(format!("{STORE_DB_VAR} is off")),
        Some(file) => return Ok(PathBuf::from(file)),
        None => {}
    }
    let store = settings.store.as_deref().unwrap_or("auto").trim();
    if !is_this_machines_store(store) {
        return Err(format!(
            "the store is {store:?}, not this machine's local store"
        ));
    }
    let state = settings
        .state_dir
        .as_deref()
        .unwrap_or(Path::new("/nix/var/nix"));
    Ok(state.join("db/db.sqlite"))
}

/// Whether a `store` setting names this machine's store in its default place: Nix's default
/// (`auto`), the local store, or the local daemon, with no parameters (which could move it).
fn is_this_machines_store(store: &str) -> bool {
    matches!(
        store,
        "" | "auto" | "local" | "daemon" | "unix://" | "unix:///nix/var/nix/daemon-socket/socket"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(
        store_db: Option<&str>,
        store: Option<&str>,
        state: Option<&str>,
    ) -> std::result::Result<PathBuf, String> {
        database_location(&Settings {
            store_db: store_db.map(str::to_string),
            store: store.map(str::to_string),
            state_dir: state.map(PathBuf::from),
        })
    }

    #[test]
    fn this_machines_store_is_read_from_its_state_directory() {
        let default = PathBuf::from("/nix/var/nix/db/db.sqlite");
        for store in [
            None,
            Some("auto"),
            Some("local"),
            Some("daemon"),
            Some("unix://"),
        ] {
            assert_eq!(
                location(None, store, None),
                Ok(default.clone()),
                "{store:?}"
            );
        }
        assert_eq!(
            location(None, Some("local"), Some("/srv/nix/var")),
            Ok(PathBuf::from("/srv/nix/var/db/db.sqlite"))
        );
    }

    #[test]
    fn other_stores_are_asked_through_nix() {
        for store in [
            "ssh://builder",
            "ssh-ng://builder",
            "local?root=/home/me/nix",
            "/home/me/nix",
            "daemon?trusted=1",
            "https://cache.nixos.org",
        ] {
            let why = location(None, Some(store), None).unwrap_err();
            assert!(why.contains(store), "{why}");
        }
    }

    #[test]
    fn the_override_wins_and_off_turns_reading_off() {
        assert_eq!(
            location(Some("/tmp/copy.sqlite"), Some("ssh://x"), None),
            Ok(PathBuf::from("/tmp/copy.sqlite"))
        );
        assert!(location(Some("off"), None, None)
            .unwrap_err()
            .contains("FP_STORE_DB is off"));
    }
}
