//! Where Nix keeps things for the user running a tool: the profiles and channels directories,
//! the `~/.nix-profile` and `~/.nix-defexpr` links, the registries and `nix.conf`, for each Nix
//! version. Each rule is written once here; the deciding functions take the version and the
//! [`User`] as arguments, so they are tested without touching the machine.

use crate::command::NixVersion;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The directory of the store's own profiles, which Nix makes when it opens the store.
pub const STORE_PROFILES: &str = "/nix/var/nix/profiles";

/// The profiles directory every user shares before Nix 2.14, and root's from 2.14 on.
pub const PER_USER: &str = "/nix/var/nix/profiles/per-user";

/// Who runs the tool, as far as Nix's default paths depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Whether the effective user is root.
    pub root: bool,
    /// The user's name as Nix finds it ([`user_name`]); `None` when it cannot be found.
    pub name: Option<String>,
    /// `$XDG_STATE_HOME` (default `~/.local/state`).
    pub state_home: PathBuf,
}

impl User {
    /// The effective user of this process.
    pub fn current() -> User {
        User {
            root: is_root(),
            name: user_name(),
            state_home: state_home(),
        }
    }

    /// The name, or the error Nix gives when it has none.
    fn require_name(&self) -> Result<&str> {
        self.name.as_deref().ok_or_else(|| {
            Error::failed(format!(
                "cannot figure out the user name: user id {} has no entry in the password database and $USER is not set",
                effective_uid()
            ))
        })
    }
}

/// The directory where nix-env and nix-channel keep this user's profiles: from Nix 2.14 on
/// `$XDG_STATE_HOME/nix/profiles` (root keeps `/nix/var/nix/profiles/per-user/root`), before
/// that `/nix/var/nix/profiles/per-user/<user name>`.
pub fn profiles_dir(version: NixVersion, user: &User) -> Result<PathBuf> {
    if version.at_least(2, 14) && !user.root {
        return Ok(user.state_home.join("nix/profiles"));
    }
    let name = if user.root {
        "root"
    } else {
        user.require_name()?
    };
    Ok(Path::new(PER_USER).join(name))
}

/// Whether nix-env makes the profile directory `dir` itself, so that a missing one is no
/// problem: the store's profiles directory, made when the store is opened (also the first time,
/// on a machine where Nix never ran), and from Nix 2.14 on the user's [`profiles_dir`], which
/// nix-env makes whenever it starts. Before 2.14 nix-env makes no per-user directory.
pub fn made_by_nix(dir: &Path, version: NixVersion, user: &User) -> bool {
    dir == Path::new(STORE_PROFILES)
        || (version.at_least(2, 14) && profiles_dir(version, user).is_ok_and(|p| p == dir))
}

/// Whether the directory `dir` is a per-user profiles directory of the store
/// (`/nix/var/nix/profiles/per-user/NAME`), the one a multi-user install makes for each user.
pub fn is_per_user_dir(dir: &Path) -> bool {
    dir.parent() == Some(Path::new(PER_USER))
}

/// Whether Nix talks to a daemon (multi-user Nix), and the socket it would use:
/// `NIX_REMOTE=daemon` (or `unix://PATH`), or, with `NIX_REMOTE` unset, a user who is not root
/// on a machine with the daemon's socket. The socket is `$NIX_DAEMON_SOCKET_PATH` or Nix's
/// default.
pub fn daemon_socket() -> (bool, PathBuf) {
    let default = std::env::var_os("NIX_DAEMON_SOCKET_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/nix/var/nix/daemon-socket/socket"));
    match std::env::var("NIX_REMOTE").ok().filter(|v| !v.is_empty()) {
        Some(remote) if remote == "daemon" => (true, default),
        Some(remote) => match remote.strip_prefix("unix://") {
            Some(path) => (true, PathBuf::from(path)),
            None => (false, default),
        },
        None => (!is_root() && default.exists(), default),
    }
}

/// Whether the effective user could create the directory `dir`: the nearest directory above it
/// that exists is writable by them (`false` when `dir` exists).
pub fn can_create_dir(dir: &Path) -> bool {
    dir.ancestors()
        .skip(1)
        .find(|a| a.is_dir())
        .is_some_and(|a| !dir.exists() && is_writable_dir(a))
}

/// The profile nix-env uses when none is named and no `~/.nix-profile` link exists: `profile`
/// in [`profiles_dir`], except for root before Nix 2.15, whose default is
/// `/nix/var/nix/profiles/default`.
pub fn default_profile(version: NixVersion, user: &User) -> Result<PathBuf> {
    if user.root && !version.at_least(2, 15) {
        return Ok(PathBuf::from("/nix/var/nix/profiles/default"));
    }
    Ok(profiles_dir(version, user)?.join("profile"))
}

/// The channels profile nix-channel uses when no `~/.nix-defexpr/channels` link exists:
/// `channels` in [`profiles_dir`].
pub fn default_channels(version: NixVersion, user: &User) -> Result<PathBuf> {
    Ok(profiles_dir(version, user)?.join("channels"))
}

/// The link nix-env makes to the user's profile: [`home_profile_link`], or
/// [`xdg_profile_link`] on Nix 2.14 and later with `use-xdg-base-directories`.
pub fn user_profile_link(version: NixVersion) -> PathBuf {
    if version.at_least(2, 14) && uses_xdg_base_directories() {
        xdg_profile_link()
    } else {
        home_profile_link()
    }
}

/// `~/.nix-profile`.
pub fn home_profile_link() -> PathBuf {
    home_dir().join(".nix-profile")
}

/// `$XDG_STATE_HOME/nix/profile`, the user's profile link under `use-xdg-base-directories`.
pub fn xdg_profile_link() -> PathBuf {
    state_home().join("nix/profile")
}

/// Where the symlink `link` points, a relative target taken from the link's directory; `None`
/// when `link` is not a symlink.
pub fn link_target(link: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(link).ok()?;
    Some(resolve_link_target(link, &target))
}

/// Where a symlink at `link` whose text is `target` points: a relative target is taken from
/// the link's directory. The rule of [`link_target`], for links read elsewhere (on another
/// machine).
pub fn resolve_link_target(link: &Path, target: &Path) -> PathBuf {
    link.parent().unwrap_or(Path::new("/")).join(target)
}

/// The directory whose entries `<nixpkgs>` is looked up in: `~/.nix-defexpr`, or
/// `$XDG_STATE_HOME/nix/defexpr` on Nix 2.14 and later with `use-xdg-base-directories`.
/// `version` is asked only when that setting is on.
pub fn defexpr_dir(version: impl FnOnce() -> Result<NixVersion>) -> Result<PathBuf> {
    if uses_xdg_base_directories() && version()?.at_least(2, 14) {
        return Ok(state_home().join("nix/defexpr"));
    }
    Ok(home_dir().join(".nix-defexpr"))
}

/// The user flake registry as Nix finds it: `$NIX_CONFIG_HOME/registry.json` on Nix 2.25 and
/// later when that variable is set, else `$XDG_CONFIG_HOME/nix/registry.json` (default
/// `~/.config/nix/registry.json`). `version` is asked only when `$NIX_CONFIG_HOME` is set.
pub fn user_registry(version: impl FnOnce() -> Result<NixVersion>) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("NIX_CONFIG_HOME").filter(|d| !d.is_empty()) {
        if version()?.at_least(2, 25) {
            return Ok(PathBuf::from(dir).join("registry.json"));
        }
    }
    Ok(config_home().join("nix").join("registry.json"))
}

/// The system flake registry: `registry.json` in [`nix_conf_dir`].
pub fn system_registry() -> PathBuf {
    nix_conf_dir().join("registry.json")
}

/// The directory of the system `nix.conf`: `$NIX_CONF_DIR`, default `/etc/nix`.
pub fn nix_conf_dir() -> PathBuf {
    std::env::var_os("NIX_CONF_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/nix"))
}

/// Whether Nix's setting `use-xdg-base-directories` is `true` (read from nix.conf and
/// `$NIX_CONFIG` as Nix reads them).
pub fn uses_xdg_base_directories() -> bool {
    crate::nix_conf::setting("use-xdg-base-directories").as_deref() == Some("true")
}

/// The user's home directory (`$HOME`), or `/` when unset.
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn config_home() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config")
}

/// `$XDG_STATE_HOME`, else `~/.local/state`.
pub fn state_home() -> PathBuf {
    xdg("XDG_STATE_HOME", ".local/state")
}

/// `$XDG_CACHE_HOME`, else `~/.cache`: where tools keep what they can recompute.
pub fn cache_home() -> PathBuf {
    xdg("XDG_CACHE_HOME", ".cache")
}

/// An XDG base directory: the variable when set to an absolute path, else `~/<fallback>`.
fn xdg(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home_dir().join(fallback))
}

/// Makes a path absolute against the current directory, without resolving links.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| Error::failed(format!("cannot read the current directory: {e}")))?;
    Ok(cwd.join(path))
}

/// Whether the effective user is root.
pub fn is_root() -> bool {
    effective_uid() == 0
}

/// The effective user id.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The user's name as Nix's `getUserName` finds it: the password database entry of the
/// effective user (`getpwuid(geteuid())`); only when there is no entry (a container without
/// one), `$USER`. `None` when neither gives a name, where Nix stops with "cannot figure out
/// user name".
pub fn user_name() -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or null; the name is copied out
    // at once and the pointer not kept.
    let from_db = unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            None
        } else {
            Some(
                std::ffi::CStr::from_ptr((*pw).pw_name)
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    };
    match from_db {
        Some(name) => Some(name).filter(|n| !n.is_empty()),
        None => std::env::var("USER").ok().filter(|u| !u.is_empty()),
    }
}

/// Whether the effective user may create entries in `dir` (`access(2)` with `W_OK | X_OK`).
pub fn is_writable_dir(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: c is a valid NUL-terminated string that outlives the call.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(root: bool, name: Option<&str>) -> User {
        User {
            root,
            name: name.map(str::to_string),
            state_home: PathBuf::from("/home/alice/.local/state"),
        }
    }

    fn v(minor: u32) -> NixVersion {
        NixVersion::new(2, minor, 0)
    }

    #[test]
    fn nix_env_makes_the_stores_profiles_and_from_2_14_the_users_own() {
        let root = user(true, Some("root"));
        let alice = user(false, Some("alice"));
        let store = Path::new("/nix/var/nix/profiles");
        let roots = Path::new("/nix/var/nix/profiles/per-user/root");
        let alices = Path::new("/nix/var/nix/profiles/per-user/alice");
        let xdg = Path::new("/home/alice/.local/state/nix/profiles");
        for minor in [8, 14, 26, 34] {
            assert!(made_by_nix(store, v(minor), &root));
            assert!(made_by_nix(store, v(minor), &alice));
        }
        assert!(!made_by_nix(roots, v(8), &root));
        assert!(made_by_nix(roots, v(14), &root));
        assert!(made_by_nix(roots, v(34), &root));
        assert!(!made_by_nix(alices, v(8), &alice));
        assert!(!made_by_nix(alices, v(34), &alice));
        assert!(made_by_nix(xdg, v(26), &alice));
        assert!(!made_by_nix(xdg, v(26), &root));
        assert!(!made_by_nix(
            Path::new("/home/alice/profiles"),
            v(34),
            &alice
        ));
    }

    #[test]
    fn per_user_directories_are_the_ones_under_per_user() {
        assert!(is_per_user_dir(Path::new(
            "/nix/var/nix/profiles/per-user/alice"
        )));
        assert!(!is_per_user_dir(Path::new(
            "/nix/var/nix/profiles/per-user"
        )));
        assert!(!is_per_user_dir(Path::new("/nix/var/nix/profiles")));
        assert!(!is_per_user_dir(Path::new(
            "/home/alice/.local/state/nix/profiles"
        )));
    }

    #[test]
    fn a_directory_can_be_made_where_its_nearest_existing_parent_is_writable() {
        let dir = tempfile::tempdir().unwrap();
        assert!(can_create_dir(&dir.path().join("a/b/c")));
        assert!(!can_create_dir(dir.path()), "it exists already");
    }

    #[test]
    fn profiles_and_channels_of_a_user_follow_the_version() {
        let alice = user(false, Some("alice"));
        assert_eq!(
            default_profile(v(8), &alice).unwrap(),
            Path::new("/nix/var/nix/profiles/per-user/alice/profile")
        );
        assert_eq!(
            default_channels(v(13), &alice).unwrap(),
            Path::new("/nix/var/nix/profiles/per-user/alice/channels")
        );
        assert_eq!(
            default_profile(v(14), &alice).unwrap(),
            Path::new("/home/alice/.local/state/nix/profiles/profile")
        );
        assert_eq!(
            default_channels(v(26), &alice).unwrap(),
            Path::new("/home/alice/.local/state/nix/profiles/channels")
        );
    }

    #[test]
    fn root_keeps_the_shared_directories() {
        let root = user(true, Some("root"));
        assert_eq!(
            default_profile(v(8), &root).unwrap(),
            Path::new("/nix/var/nix/profiles/default")
        );
        assert_eq!(
            default_profile(v(14), &root).unwrap(),
            Path::new("/nix/var/nix/profiles/default")
        );
        assert_eq!(
            default_profile(v(15), &root).unwrap(),
            Path::new("/nix/var/nix/profiles/per-user/root/profile")
        );
        for minor in [8, 14, 26] {
            assert_eq!(
                default_channels(v(minor), &root).unwrap(),
                Path::new("/nix/var/nix/profiles/per-user/root/channels")
            );
        }
    }

    #[test]
    fn a_missing_name_is_an_error_only_where_the_name_is_needed() {
        let nameless = user(false, None);
        let err = default_profile(v(8), &nameless).unwrap_err();
        assert!(
            err.message().contains("cannot figure out the user name"),
            "{}",
            err.message()
        );
        assert!(default_profile(v(14), &nameless).is_ok());
    }

    #[test]
    fn the_name_comes_from_the_password_database() {
        // The test runs as a user with an entry (root in the test machines); $USER does not
        // change what is found.
        let name = user_name().expect("a password database entry");
        assert!(!name.is_empty() && !name.contains('$'), "{name}");
    }
}
