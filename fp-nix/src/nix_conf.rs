//! Reading one of Nix's settings the way Nix itself resolves it, without starting nix: the
//! system `nix.conf`, then the user's `nix.conf` files, then `$NIX_CONFIG`, a later value
//! replacing an earlier one, `include` and `!include` followed.

use crate::locations::{config_home, nix_conf_dir};
use crate::nix_version::NixVersion;
use std::path::{Path, PathBuf};

/// How deep `include` lines are followed (Nix has no limit; a loop must still end).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// The value of the setting `name` as Nix would see it, or `None` when nothing sets it, without
/// asking which Nix runs (`$NIX_CONFIG_HOME` taken as upstream Nix from 2.25 takes it).
pub fn setting(name: &str) -> Option<String> {
    setting_in(&files(), name)
}

/// The value of the setting `name` as Nix `version` sees it ([`files_for`]), or `None`.
pub fn setting_for(version: NixVersion, name: &str) -> Option<String> {
    setting_in(&files_for(version), name)
}

/// The value of the setting `name` in `files`, then `$NIX_CONFIG`.
fn setting_in(files: &[PathBuf], name: &str) -> Option<String> {
    let mut value = None;
    for file in files {
        read_file(file, name, &mut value, 0);
    }
    if let Ok(text) = std::env::var("NIX_CONFIG") {
        apply(&text, None, name, &mut value, 0);
    }
    value
}

/// The `nix.conf` files Nix reads, in the order it applies them: the system one
/// (`$NIX_CONF_DIR/nix.conf`), then the user's: `$NIX_USER_CONF_FILES` (colon-separated, the
/// first one winning) when set, else `nix/nix.conf` in each of `$XDG_CONFIG_DIRS` (default
/// `/etc/xdg`) and then the user's own, which wins: `$NIX_CONFIG_HOME/nix.conf` when that is
/// set (Nix 2.25 and later read it instead), else `$XDG_CONFIG_HOME/nix/nix.conf`.
pub fn files() -> Vec<PathBuf> {
    files_reading_config_home(true)
}

/// The `nix.conf` files Nix `version` reads: [`files`], with `$NIX_CONFIG_HOME` only where the
/// version reads it ([`NixVersion::reads_nix_home_variables`]; Lix never does).
pub fn files_for(version: NixVersion) -> Vec<PathBuf> {
    files_reading_config_home(version.reads_nix_home_variables())
}

/// [`files`], taking `$NIX_CONFIG_HOME` when `config_home_var` says so.
fn files_reading_config_home(config_home_var: bool) -> Vec<PathBuf> {
    let var = |name: &str| {
        if name == "NIX_CONFIG_HOME" && !config_home_var {
            return None;
        }
        std::env::var(name).ok().filter(|v| !v.is_empty())
    };
    std::iter::once(nix_conf_dir().join("nix.conf"))
        .chain(user_files(&var, &config_home()))
        .collect()
}

/// Every `nix.conf` file some Nix version from 2.8 on reads: [`files`], and also
/// `$XDG_CONFIG_HOME/nix/nix.conf` where `$NIX_CONFIG_HOME` is set (which only Nix 2.25 and
/// later read instead). For keys that must change whenever any of them does.
pub fn candidate_files() -> Vec<PathBuf> {
    let mut all = files();
    let xdg = config_home().join("nix/nix.conf");
    if !all.contains(&xdg) {
        all.push(xdg);
    }
    all
}

/// The file a nix.conf line includes: `include FILE` or `!include FILE` (the latter ignores
/// a missing file), relative to `dir`, the directory of the file the line is in; `None` for
/// any other line. A `#` starts a comment.
pub fn included_file(line: &str, dir: Option<&Path>) -> Option<PathBuf> {
    let line = line.split('#').next().unwrap_or_default();
    match line.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["include" | "!include", file] => Some(match dir {
            Some(dir) => dir.join(file),
            None => PathBuf::from(file),
        }),
        _ => None,
    }
}

/// The user's `nix.conf` files in the order Nix applies them, from the environment `var` gives
/// and the XDG config home.
fn user_files(var: &dyn Fn(&str) -> Option<String>, config_home: &Path) -> Vec<PathBuf> {
    let mut user: Vec<PathBuf> = match var("NIX_USER_CONF_FILES") {
        Some(list) => list
            .split(':')
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
            .collect(),
        None => {
            let own = match var("NIX_CONFIG_HOME") {
                Some(dir) => PathBuf::from(dir).join("nix.conf"),
                None => config_home.join("nix/nix.conf"),
            };
            let dirs = var("XDG_CONFIG_DIRS").unwrap_or_else(|| "/etc/xdg".to_string());
            std::iter::once(own)
                .chain(
                    dirs.split(':')
                        .filter(|d| !d.is_empty())
                        .map(|d| Path::new(d).join("nix/nix.conf")),
                )
                .collect()
        }
    };
    // Nix applies the user's files last to first, so the first one listed has the last word.
    user.reverse();
    user
}

/// Applies the file at `path`, when it can be read, to `value`. Only a regular file of at most
/// 1 MiB is read ([`crate::limits::read_regular`]), so a FIFO or device named as a nix.conf
/// (or included by one) is skipped instead of waited on.
fn read_file(path: &Path, name: &str, value: &mut Option<String>, depth: usize) {
    let limit = crate::limits::MAX_SMALL_FILE_BYTES;
    let Ok(Ok(read)) = crate::limits::read_regular(path, limit, crate::limits::Links::Follow)
    else {
        return;
    };
    if let Ok(text) = String::from_utf8(read.bytes) {
        apply(&text, path.parent(), name, value, depth);
    }
}

/// Applies nix.conf `text` to `value`: each `name = value` line for `name` replaces it (the
/// value's words joined by one space, as Nix splits them), `#` starts a comment, and
/// `include FILE` / `!include FILE` (relative to `dir`, the directory of the file the text
/// came from) apply that file at that point.
pub fn apply(text: &str, dir: Option<&Path>, name: &str, value: &mut Option<String>, depth: usize) {
    for line in text.lines() {
        if let Some(file) = included_file(line, dir) {
            if depth < MAX_INCLUDE_DEPTH {
                read_file(&file, name, value, depth + 1);
            }
            continue;
        }
        let line = line.split('#').next().unwrap_or_default();
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [key, "=", rest @ ..] = words.as_slice() {
            if *key == name {
                *value = Some(rest.join(" "));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_included_as_nix_conf_is_skipped_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.conf");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let mut value = None;
        apply(
            "store = a\ninclude fifo.conf\n",
            Some(dir.path()),
            "store",
            &mut value,
            0,
        );
        assert_eq!(value.as_deref(), Some("a"));
    }

    fn value_of(text: &str, dir: Option<&Path>) -> Option<String> {
        let mut value = None;
        apply(text, dir, "store", &mut value, 0);
        value
    }

    #[test]
    fn the_last_line_wins_and_comments_are_ignored() {
        let text =
            "store = daemon\n# store = ssh://x\nsandbox = false\nstore   =   local   # here\n";
        assert_eq!(value_of(text, None).as_deref(), Some("local"));
        assert_eq!(value_of("stores = x\nstore-x = y\n", None), None);
        assert_eq!(value_of("store =\n", None).as_deref(), Some(""));
    }

    #[test]
    fn includes_apply_where_they_stand() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("more.conf"), "store = ssh://builder\n").unwrap();
        let before = "store = local\ninclude more.conf\n";
        assert_eq!(
            value_of(before, Some(dir.path())).as_deref(),
            Some("ssh://builder")
        );
        let after = "include more.conf\nstore = local\n!include missing.conf\n";
        assert_eq!(value_of(after, Some(dir.path())).as_deref(), Some("local"));
    }

    #[test]
    fn the_users_own_file_is_applied_last() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let home = Path::new("/home/me/.config");
        let paths = |list: &[&str]| list.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(
            user_files(&env(&[]), home),
            paths(&["/etc/xdg/nix/nix.conf", "/home/me/.config/nix/nix.conf"])
        );
        assert_eq!(
            user_files(
                &env(&[("XDG_CONFIG_DIRS", "/a:/b"), ("NIX_CONFIG_HOME", "/c")]),
                home
            ),
            paths(&["/b/nix/nix.conf", "/a/nix/nix.conf", "/c/nix.conf"])
        );
        assert_eq!(
            user_files(
                &env(&[("NIX_USER_CONF_FILES", "/first.conf:/second.conf")]),
                home
            ),
            paths(&["/second.conf", "/first.conf"])
        );
    }

    #[test]
    fn an_include_loop_ends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.conf"),
            "include a.conf\nstore = daemon\n",
        )
        .unwrap();
        assert_eq!(
            value_of("include a.conf\n", Some(dir.path())).as_deref(),
            Some("daemon")
        );
    }
}
