//! Generations of a profile, read natively from the profile's directory the way Nix's
//! `findGenerations` does: every `<profile>-<N>-link` beside the profile link.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One generation: its number, link, target and creation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Generation {
    /// The generation number `N` of `<profile>-N-link`.
    pub generation: u64,
    /// The store path the generation link points to.
    pub store_path: String,
    /// The link's own mtime, which is what Nix calls its creation time.
    #[serde(skip)]
    pub created: SystemTime,
    /// Whether the profile link points at this generation.
    #[serde(skip)]
    pub current: bool,
}

/// A generation as reports and records name it: its number and store path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationRef {
    /// Generation number.
    pub generation: u64,
    /// Its store path.
    pub store_path: String,
}

impl From<&Generation> for GenerationRef {
    fn from(g: &Generation) -> Self {
        GenerationRef {
            generation: g.generation,
            store_path: g.store_path.clone(),
        }
    }
}

/// The file name of generation `n` of a profile named `base`: `<base>-<n>-link`.
pub fn link_name(base: &str, n: u64) -> String {
    format!("{base}-{n}-link")
}

/// Parses a generation link name back into its number exactly as Nix's `parseName` does: the
/// name must start with `<base>-`, and the number is what comes before the first `-link` after
/// it; anything after that is ignored. So `profile-7-link.tmp-123-456`, the temporary link of a
/// killed nix-env, counts as generation 7 for Nix, and for us. Anything else is `None`.
pub fn parse_link_name(base: &str, name: &str) -> Option<u64> {
    let rest = name.strip_prefix(base)?.strip_prefix('-')?;
    let digits = &rest[..rest.find("-link")?];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Lists the generations of the profile link `profile`, sorted by number, with the current one
/// marked. A profile that does not exist has none. Only symlinks are generations: anything else
/// with a generation's name (a FIFO, a directory, a plain file) is not listed.
pub fn list(profile: &Path) -> Result<Vec<Generation>> {
    let (dir, base) = split(profile)?;
    let current = current_number(profile, &base);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::failed(format!(
                "cannot read the profile directory {}: {e}",
                dir.display()
            )))
        }
    };
    let links: Vec<(u64, std::ffi::OsString)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let number = name.to_str().and_then(|n| parse_link_name(&base, n))?;
            Some((number, name))
        })
        .collect();
    let dir_handle = std::fs::File::open(&dir).map_err(|e| {
        Error::failed(format!(
            "cannot open the profile directory {}: {e}",
            dir.display()
        ))
    })?;
    // Each link costs an lstat and a readlink; relative to the open directory they skip the
    // path walk, and large histories are read by a few threads at once.
    let threads = if links.len() < 2048 {
        1 // not worth a thread (nor asking the cgroup how many cores there are)
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4)
            .min(links.len() / 1024)
    };
    let chunk = links.len().div_ceil(threads.max(1)).max(1);
    if threads <= 1 {
        let mut generations = read_links(&dir_handle, &links, current);
        generations.sort_by_key(|g| g.generation);
        return Ok(generations);
    }
    let mut generations: Vec<Generation> = std::thread::scope(|scope| {
        let workers: Vec<_> = links
            .chunks(chunk)
            .map(|part| scope.spawn(|| read_links(&dir_handle, part, current)))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    generations.sort_by_key(|g| g.generation);
    Ok(generations)
}

/// Reads the target and mtime of each named link in the directory `dir`; links that vanish
/// meanwhile are skipped.
fn read_links(
    dir: &std::fs::File,
    links: &[(u64, std::ffi::OsString)],
    current: Option<u64>,
) -> Vec<Generation> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::AsRawFd;
    let fd = dir.as_raw_fd();
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::with_capacity(links.len());
    for (number, name) in links {
        let Ok(cname) = std::ffi::CString::new(name.as_bytes()) else {
            continue;
        };
        // SAFETY: fd is an open directory for the whole call, cname a NUL-terminated string,
        // and st a plain struct that fstatat fills.
        let st = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstatat(fd, cname.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) != 0 {
                continue;
            }
            st
        };
        // Only a symlink is a generation: a file, directory or FIFO that merely has the name
        // points nowhere and is left out, not listed with an empty path.
        if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
            continue;
        }
        // SAFETY: buf is writable for buf.len() bytes; readlinkat writes at most that many.
        let len =
            unsafe { libc::readlinkat(fd, cname.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if len <= 0 {
            continue;
        }
        let target = String::from_utf8_lossy(&buf[..len as usize]).into_owned();
        let created = SystemTime::UNIX_EPOCH
            + std::time::Duration::new(
                st.st_mtime.max(0) as u64,
                st.st_mtime_nsec.clamp(0, 999_999_999) as u32,
            );
        out.push(Generation {
            generation: *number,
            store_path: target,
            created,
            current: Some(*number) == current,
        });
    }
    out
}

/// The number of the generation the profile link points to, if it points to one.
fn current_number(profile: &Path, base: &str) -> Option<u64> {
    let target = std::fs::read_link(profile).ok()?;
    let name = target.file_name()?.to_str()?;
    parse_link_name(base, name)
}

/// Splits a profile path into its directory and base name.
fn split(profile: &Path) -> Result<(PathBuf, String)> {
    let base = profile
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            Error::usage(format!(
                "{} is not a usable profile path",
                profile.display()
            ))
        })?;
    let dir = profile
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    Ok((dir, base.to_string()))
}

/// Breaks a time down into calendar fields, in local time or UTC.
fn broken_down(time: SystemTime, utc: bool) -> libc::tm {
    let secs = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as libc::time_t,
        Err(_) => 0,
    };
    // SAFETY: localtime_r/gmtime_r only write into the tm we pass; a zeroed tm is a valid value.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if utc {
            libc::gmtime_r(&secs, &mut tm);
        } else {
            libc::localtime_r(&secs, &mut tm);
        }
        tm
    }
}

/// Formats a time as local `YYYY-MM-DD HH:MM:SS`, as `nix-env --list-generations` prints it.
pub fn format_local_time(time: SystemTime) -> String {
    calendar(time, false, ' ', "")
}

/// Formats a time as RFC 3339 in UTC (`2026-11-24T18:35:04Z`), for JSON.
pub fn format_rfc3339_utc(time: SystemTime) -> String {
    calendar(time, true, 'T', "Z")
}

/// `YYYY-MM-DD<between>HH:MM:SS<suffix>`, in UTC or local time.
fn calendar(time: SystemTime, utc: bool, between: char, suffix: &str) -> String {
    let tm = broken_down(time, utc);
    format!(
        "{:04}-{:02}-{:02}{between}{:02}:{:02}:{:02}{suffix}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// The generation the profile points to, if any.
pub fn current(generations: &[Generation]) -> Option<&Generation> {
    generations.iter().find(|g| g.current)
}

/// The highest generation below the current one: what a rollback goes to (nix-env's rule).
pub fn previous(generations: &[Generation]) -> Option<&Generation> {
    let now = current(generations)?.generation;
    generations.iter().rev().find(|g| g.generation < now)
}

/// The number `nix-env --set PATH` will give: the last generation's when it already holds PATH
/// (Nix's reuse rule compares with the highest generation, not the current one), else one more
/// than the highest.
pub fn next_number(generations: &[Generation], path: &str) -> u64 {
    match generations.last() {
        Some(last) if last.store_path == path => last.generation,
        Some(last) => last.generation + 1,
        None => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn link_names_round_trip() {
        assert_eq!(link_name("profile", 7), "profile-7-link");
        assert_eq!(parse_link_name("profile", "profile-7-link"), Some(7));
        assert_eq!(parse_link_name("profile", "profile-x-link"), None);
        assert_eq!(parse_link_name("profile", "profile--link"), None);
        assert_eq!(parse_link_name("profile", "other-1-link"), None);
        // Nix's parser stops at the first `-link`: a killed nix-env's temporary link counts.
        assert_eq!(
            parse_link_name("profile", "profile-1-link.tmp-1-2"),
            Some(1)
        );
        assert_eq!(parse_link_name("profile", "profile-1-lin"), None);
        // A profile named like a prefix of another is not confused with it.
        assert_eq!(parse_link_name("pro", "profile-1-link"), None);
    }

    #[test]
    fn lists_generations_in_order_with_current() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("profile");
        for n in [10, 2, 1] {
            symlink(
                format!("/nix/store/x-{n}"),
                dir.path().join(link_name("profile", n)),
            )
            .unwrap();
        }
        symlink("/nix/store/other", dir.path().join("profile-extra")).unwrap();
        symlink("profile-2-link", &p).unwrap();
        let gens = list(&p).unwrap();
        let numbers: Vec<u64> = gens.iter().map(|g| g.generation).collect();
        assert_eq!(numbers, [1, 2, 10]);
        assert!(gens[1].current && !gens[0].current && !gens[2].current);
        assert_eq!(gens[2].store_path, "/nix/store/x-10");
    }

    #[test]
    fn only_symlinks_are_generations() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("profile");
        symlink("/nix/store/x-1", dir.path().join("profile-1-link")).unwrap();
        std::fs::write(dir.path().join("profile-9-link"), "").unwrap();
        std::fs::create_dir(dir.path().join("profile-8-link")).unwrap();
        let fifo =
            std::ffi::CString::new(dir.path().join("profile-7-link").to_str().unwrap()).unwrap();
        // SAFETY: fifo is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        symlink("profile-1-link", &p).unwrap();
        let gens = list(&p).unwrap();
        let numbers: Vec<u64> = gens.iter().map(|g| g.generation).collect();
        assert_eq!(numbers, [1]);
        assert!(gens[0].current);
    }

    #[test]
    fn missing_profile_has_no_generations() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(&dir.path().join("nope/profile")).unwrap().is_empty());
    }

    #[test]
    fn rfc3339() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_545_294);
        assert_eq!(format_rfc3339_utc(t), "2026-11-24T18:34:54Z");
    }

    fn gen(n: u64, path: &str) -> Generation {
        Generation {
            generation: n,
            store_path: path.into(),
            created: SystemTime::UNIX_EPOCH,
            current: false,
        }
    }

    #[test]
    fn next_number_follows_nix_reuse_rule() {
        assert_eq!(next_number(&[], "/a"), 1);
        assert_eq!(next_number(&[gen(1, "/a")], "/a"), 1);
        assert_eq!(next_number(&[gen(1, "/a"), gen(2, "/b")], "/a"), 3);
        assert_eq!(next_number(&[gen(1, "/a"), gen(2, "/b")], "/b"), 2);
    }
}
