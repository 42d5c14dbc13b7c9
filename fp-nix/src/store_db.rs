//! The local Nix store's database (`db.sqlite` in Nix's state directory), read directly and
//! read-only: what `nix path-info` would say about paths, without starting nix.
//!
//! The connection is opened with `SQLITE_OPEN_READ_ONLY` and normal locking (never
//! `immutable`, which would read half-written pages while Nix writes): it takes only shared
//! read locks, never writes the database or its write-ahead log, and never checkpoints, so a
//! running nix or nix-daemon is not disturbed. In write-ahead-log mode (newer Nix) a reader
//! shares the `-wal` and `-shm` files beside the database, making them empty when missing as
//! every nix process does; where those would belong to another user than the database's owner,
//! it is not read. All questions of one call are answered from one read transaction, one
//! consistent snapshot.
//!
//! Nix's schema (version 10 in the `schema` file beside the database, the same from Nix 2.0 to
//! at least 2.34) has the tables this reads: `ValidPaths(id, path, hash, registrationTime,
//! deriver, narSize, ultimate, sigs, ca)`, one row per valid path, and `Refs(referrer,
//! reference)`, the references between their ids. Another schema version, or tables without
//! those columns, is refused, so the caller can ask nix instead.

use crate::path_info::PathInfo;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// The schema version of Nix's store database this reader knows.
pub const KNOWN_SCHEMA: &str = "10";

/// How long a query waits for a lock Nix holds while it writes, before giving up (the caller
/// then asks nix, which waits for the same lock as long as it takes).
const BUSY_TIMEOUT: Duration = Duration::from_millis(200);

/// The path's row id and NAR size.
const PATH_ROW: &str = "SELECT id, narSize FROM ValidPaths WHERE path = ?1";

/// The direct references of a row id, by path.
const REFERENCES: &str = "SELECT v.path FROM Refs r JOIN ValidPaths v ON v.id = r.reference \
     WHERE r.referrer = ?1";

/// The sum of the NAR sizes of a row id's closure (itself and everything it refers to,
/// directly or not), each path once, as Nix computes a closure size.
const CLOSURE_SIZE: &str = "WITH RECURSIVE closure(id) AS ( \
       VALUES (?1) \
       UNION SELECT r.reference FROM Refs r JOIN closure c ON r.referrer = c.id) \
     SELECT coalesce(sum(v.narSize), 0) FROM ValidPaths v JOIN closure c ON v.id = c.id";

/// Why the database could not be read; the caller asks nix instead and says why under `-v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<rusqlite::Error> for Unreadable {
    fn from(e: rusqlite::Error) -> Self {
        Unreadable(e.to_string())
    }
}

/// An open, read-only connection to a store database whose schema is known.
pub struct StoreDb {
    conn: Connection,
}

impl StoreDb {
    /// Opens the database at `db` read-only, after checking the schema version in the
    /// `schema` file beside it and that the tables have the columns this reads.
    pub fn open(db: &Path) -> Result<StoreDb, Unreadable> {
        let schema_file = db.with_file_name("schema");
        let schema = std::fs::read_to_string(&schema_file).map_err(|e| {
            Unreadable(format!(
                "cannot read its schema version ({}): {e}",
                schema_file.display()
            ))
        })?;
        if schema.trim() != KNOWN_SCHEMA {
            return Err(Unreadable(format!(
                "its schema version is {:?}, not the {KNOWN_SCHEMA} this reader knows",
                schema.trim()
            )));
        }
        // Without this check SQLite would make an empty database file where none exists.
        let meta = std::fs::metadata(db)
            .ok()
            .filter(|m| m.is_file())
            .ok_or_else(|| Unreadable("it does not exist or is not a file".into()))?;
        leaves_no_files_of_ours(db, meta.uid(), crate::locations::effective_uid())?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(db, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Preparing checks the tables and columns (and reads the file's header).
        for sql in [PATH_ROW, REFERENCES, CLOSURE_SIZE] {
            conn.prepare(sql)?;
        }
        Ok(StoreDb { conn })
    }

    /// What the store says about each of `paths`: its references and NAR size (closure sizes
    /// are [`StoreDb::closure_sizes`]); `None` for a path that is not valid (never registered,
    /// or still being built).
    pub fn path_infos(
        &self,
        paths: &[&str],
    ) -> Result<BTreeMap<String, Option<PathInfo>>, Unreadable> {
        let tx = self.conn.unchecked_transaction()?;
        let mut row = tx.prepare(PATH_ROW)?;
        let mut refs = tx.prepare(REFERENCES)?;
        let mut result = BTreeMap::new();
        for &path in paths {
            let found: Option<(i64, Option<i64>)> = row
                .query_row([path], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let info = match found {
                None => None,
                Some((id, nar_size)) => Some(PathInfo {
                    references: sorted_references(&mut refs, id)?,
                    nar_size: non_negative(nar_size.unwrap_or(0)),
                    closure_size: None,
                }),
            };
            result.insert(path.to_string(), info);
        }
        Ok(result)
    }

    /// The closure size of each of `paths` (the NAR sizes of the path and of everything it
    /// refers to, directly or not, each once), without its references; `None` for a path that
    /// is not valid.
    pub fn closure_sizes(
        &self,
        paths: &[&str],
    ) -> Result<BTreeMap<String, Option<u64>>, Unreadable> {
        let tx = self.conn.unchecked_transaction()?;
        let mut row = tx.prepare(PATH_ROW)?;
        let mut size = tx.prepare(CLOSURE_SIZE)?;
        let mut result = BTreeMap::new();
        for &path in paths {
            let id: Option<i64> = row.query_row([path], |r| r.get(0)).optional()?;
            let bytes = match id {
                Some(id) => Some(non_negative(size.query_row([id], |r| r.get(0))?)),
                None => None,
            };
            result.insert(path.to_string(), bytes);
        }
        Ok(result)
    }

    /// Every path of the closures of `roots` (the roots, and all they refer to, directly or
    /// not) with its references and NAR size, as `nix path-info --recursive` gives them; a root
    /// that is not valid is given back as `Err(root)`. Walked path by path with two indexed
    /// lookups each, in one read transaction: fastest for the small closures of single
    /// packages that the diffs' sizes need.
    pub fn closures(
        &self,
        roots: &[&str],
    ) -> Result<Result<BTreeMap<String, PathInfo>, String>, Unreadable> {
        let tx = self.conn.unchecked_transaction()?;
        let mut row = tx.prepare(PATH_ROW)?;
        let mut refs = tx.prepare(REFERENCES)?;
        let mut result: BTreeMap<String, PathInfo> = BTreeMap::new();
        let mut todo: Vec<String> = roots.iter().map(|r| r.to_string()).collect();
        while let Some(path) = todo.pop() {
            if result.contains_key(&path) {
                continue;
            }
            let found: Option<(i64, Option<i64>)> = row
                .query_row([&path], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((id, nar_size)) = found else {
                if roots.contains(&path.as_str()) {
                    return Ok(Err(path));
                }
                // The references of a valid path are valid: this database says otherwise.
                return Err(Unreadable(format!(
                    "{path} is referred to but not registered"
                )));
            };
            let references = sorted_references(&mut refs, id)?;
            todo.extend(
                references
                    .iter()
                    .filter(|r| !result.contains_key(*r))
                    .cloned(),
            );
            result.insert(
                path,
                PathInfo {
                    references,
                    nar_size: non_negative(nar_size.unwrap_or(0)),
                    closure_size: None,
                },
            );
        }
        Ok(Ok(result))
    }

    /// Whether `path` is valid in the store: registered, and not still being built.
    pub fn is_valid(&self, path: &str) -> Result<bool, Unreadable> {
        let mut row = self.conn.prepare(PATH_ROW)?;
        Ok(row.exists([path])?)
    }
}

/// The references of the row `id`, sorted by path as nix lists them (sorted here, not by
/// SQLite, which would build a temporary index for each path).
fn sorted_references(refs: &mut rusqlite::Statement, id: i64) -> Result<Vec<String>, Unreadable> {
    let mut references = refs
        .query_map([id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    references.sort_unstable();
    Ok(references)
}

/// Refuses a database in write-ahead-log mode whose `-wal` or `-shm` file is missing when it
/// belongs to another user than `uid`: a reader, even a read-only one, makes those files, and
/// files of ours (root's, reading a single-user store) in its owner's directory could lock the
/// owner's own nix out. Nix itself makes them for every connection, so they are harmless when
/// they belong to the database's owner.
fn leaves_no_files_of_ours(db: &Path, owner: u32, uid: u32) -> Result<(), Unreadable> {
    if owner == uid || !in_wal_mode(db) {
        return Ok(());
    }
    let sibling = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    if sibling("-wal").exists() && sibling("-shm").exists() {
        return Ok(());
    }
    Err(Unreadable(format!(
        "it belongs to user {owner}, and reading it now would leave files of user {uid} beside it"
    )))
}

/// Whether the database file's header says write-ahead-log mode (its read and write format
/// versions, bytes 18 and 19, are 2).
fn in_wal_mode(db: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(db)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok_and(|()| header[18] == 2 && header[19] == 2)
}

/// A size from the database as bytes (SQLite integers are signed; Nix never writes a negative).
fn non_negative(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nix's schema, as `sqlite3 db.sqlite .schema` prints it on Nix 2.8, 2.26 and 2.34.
    const NIX_SCHEMA: &str = "
        CREATE TABLE ValidPaths (
            id integer primary key autoincrement not null, path text unique not null,
            hash text not null, registrationTime integer not null, deriver text,
            narSize integer, ultimate integer, sigs text, ca text);
        CREATE TABLE Refs (
            referrer integer not null, reference integer not null,
            primary key (referrer, reference));";

    fn path(name: &str) -> String {
        format!("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-{name}")
    }

    /// A store database in a temporary directory: env refers to itself, hello and motd; hello
    /// refers to glibc.
    fn store() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        std::fs::write(dir.path().join("schema"), "10").unwrap();
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(NIX_SCHEMA).unwrap();
        for (id, name, size) in [
            (1, "env", 100),
            (2, "hello-1.0", 20),
            (3, "motd", 3),
            (4, "glibc-2.40", 1000),
        ] {
            conn.execute(
                "INSERT INTO ValidPaths (id, path, hash, registrationTime, narSize) VALUES (?1, ?2, 'sha256:x', 0, ?3)",
                rusqlite::params![id, path(name), size],
            )
            .unwrap();
        }
        for (from, to) in [(1, 1), (1, 2), (1, 3), (2, 4)] {
            conn.execute("INSERT INTO Refs VALUES (?1, ?2)", [from, to])
                .unwrap();
        }
        (dir, db)
    }

    #[test]
    fn references_sizes_and_closures() {
        let (_dir, db) = store();
        let store = StoreDb::open(&db).unwrap();
        let (env, hello) = (path("env"), path("hello-1.0"));
        let infos = store.path_infos(&[&env, &hello]).unwrap();
        let info = infos[&env].as_ref().unwrap();
        assert_eq!(info.references, [env.clone(), hello.clone(), path("motd")]);
        assert_eq!(info.nar_size, 100);
        assert_eq!(info.closure_size, None);
        let sizes = store.closure_sizes(&[&env, &hello]).unwrap();
        assert_eq!(sizes[&env], Some(100 + 20 + 3 + 1000));
        assert_eq!(sizes[&hello], Some(20 + 1000));
    }

    #[test]
    fn unregistered_paths_are_not_valid() {
        let (_dir, db) = store();
        let store = StoreDb::open(&db).unwrap();
        let missing = path("missing-1.0");
        assert_eq!(store.path_infos(&[&missing]).unwrap()[&missing], None);
        assert_eq!(store.closure_sizes(&[&missing]).unwrap()[&missing], None);
        assert!(!store.is_valid(&missing).unwrap());
        assert!(store.is_valid(&path("motd")).unwrap());
    }

    #[test]
    fn reading_never_writes() {
        let (dir, db) = store();
        let before = std::fs::read(&db).unwrap();
        let store = StoreDb::open(&db).unwrap();
        store.path_infos(&[&path("env")]).unwrap();
        store.closure_sizes(&[&path("env")]).unwrap();
        drop(store);
        assert_eq!(std::fs::read(&db).unwrap(), before);
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 2, "only db.sqlite and schema: {files:?}");
    }

    #[test]
    fn a_writer_in_wal_mode_is_not_disturbed_and_its_commits_are_seen() {
        let (_dir, db) = store();
        let writer = Connection::open(&db).unwrap();
        writer.pragma_update(None, "journal_mode", "wal").unwrap();
        let store = StoreDb::open(&db).unwrap();
        // A write in progress (as Nix registering a build) is not seen, and does not block.
        writer.execute_batch("BEGIN IMMEDIATE; INSERT INTO ValidPaths (id, path, hash, registrationTime) VALUES (5, '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-new', 'h', 0);").unwrap();
        let new = path("new");
        assert!(!store.is_valid(&new).unwrap());
        writer.execute_batch("COMMIT").unwrap();
        assert!(store.is_valid(&new).unwrap());
        // The writer goes on writing while the reader is open.
        writer
            .execute("DELETE FROM ValidPaths WHERE id = 5", [])
            .unwrap();
        assert!(!store.is_valid(&new).unwrap());
    }

    #[test]
    fn another_users_database_in_wal_mode_is_read_only_where_its_files_exist() {
        let (dir, db) = store();
        Connection::open(&db)
            .unwrap()
            .pragma_update(None, "journal_mode", "wal")
            .unwrap();
        assert!(in_wal_mode(&db));
        // The last connection closed: no -wal or -shm file is left.
        assert!(!dir.path().join("db.sqlite-wal").exists());
        let err = leaves_no_files_of_ours(&db, 1000, 0).unwrap_err();
        assert!(err.0.contains("belongs to user 1000"), "{err}");
        assert_eq!(leaves_no_files_of_ours(&db, 0, 0), Ok(()));
        // While its owner's nix has it open, the files are there and nothing new is made.
        let owner = Connection::open(&db).unwrap();
        owner
            .execute("DELETE FROM Refs WHERE referrer = 2", [])
            .unwrap();
        assert_eq!(leaves_no_files_of_ours(&db, 1000, 0), Ok(()));
        drop(owner);
        // A database in the older rollback-journal mode makes no files for a reader.
        let (_other, plain) = store();
        assert!(!in_wal_mode(&plain));
        assert_eq!(leaves_no_files_of_ours(&plain, 1000, 0), Ok(()));
    }

    #[test]
    fn a_database_locked_by_a_writer_is_unreadable_not_waited_for() {
        let (_dir, db) = store();
        let writer = Connection::open(&db).unwrap();
        writer.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let started = std::time::Instant::now();
        let answer = StoreDb::open(&db).and_then(|s| s.path_infos(&[&path("env")]));
        assert!(answer.is_err(), "{answer:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        writer.execute_batch("COMMIT").unwrap();
    }

    #[test]
    fn unknown_schemas_and_missing_files_are_refused() {
        let (dir, db) = store();
        std::fs::write(dir.path().join("schema"), "11").unwrap();
        let err = StoreDb::open(&db).err().unwrap();
        assert!(err.0.contains("schema version is \"11\""), "{err}");

        let other = tempfile::tempdir().unwrap();
        let odd = other.path().join("db.sqlite");
        std::fs::write(other.path().join("schema"), "10").unwrap();
        Connection::open(&odd)
            .unwrap()
            .execute_batch("CREATE TABLE ValidPaths (id integer, path text);")
            .unwrap();
        let err = StoreDb::open(&odd).err().unwrap();
        assert!(err.0.contains("narSize"), "{err}");

        assert!(StoreDb::open(&other.path().join("nothing/db.sqlite")).is_err());
        let garbage = other.path().join("garbage/db.sqlite");
        std::fs::create_dir_all(garbage.parent().unwrap()).unwrap();
        std::fs::write(garbage.with_file_name("schema"), "10").unwrap();
        std::fs::write(&garbage, "not a database").unwrap();
        assert!(StoreDb::open(&garbage).is_err());
        // A directory where the database should be is refused without creating anything.
        let dir_db = other.path().join("dir");
        std::fs::create_dir_all(dir_db.join("db.sqlite")).unwrap();
        std::fs::write(dir_db.join("schema"), "10").unwrap();
        assert!(StoreDb::open(&dir_db.join("db.sqlite")).is_err());
    }
}
