//! Where Nix keeps things for the user running a tool: the profiles and channels directories,
//! the `~/.nix-profile` and `~/.nix-defexpr` links, the registries and `nix.conf`, for each Nix
//! implementation and version. Each rule is written once here; the deciding functions take the
//! version and the [`User`] as arguments, so they are tested without touching the machine.

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
    /// `$NIX_STATE_HOME`, when set (not empty).
    pub nix_state_home: Option<PathBuf>,
}

impl User {
    /// The effective user of this process.
    pub fn current() -> User {
        User {
            root: is_root(),
            name: user_name(),
            state_home: state_home(),
            nix_state_home: nix_state_home(),
        }
    }

    /// Nix's state directory for this user (profiles, the profile link under
    /// `use-xdg-base-directories`, defexpr): `$NIX_STATE_HOME` where `version` reads it
    /// ([`NixVersion::reads_nix_home_variables`]), else `$XDG_STATE_HOME/nix`.
    pub fn nix_state_dir(&self, version: NixVersion) -> PathBuf {
        match &self.nix_state_home {
            Some(dir) if version.reads_nix_home_variables() => dir.clone(),
            _ => self.state_home.join("nix"),
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

/// The directory where nix-env and nix-channel keep this user's profiles: `profiles` in the
/// user's Nix state directory ([`User::nix_state_dir`]) where the version keeps them there
/// ([`NixVersion::profiles_in_state_dir`]; root keeps `/nix/var/nix/profiles/per-user/root`),
/// else `/nix/var/nix/profiles/per-user/<user name>`.
pub fn profiles_dir(version: NixVersion, user: &User) -> Result<PathBuf> {
    if version.profiles_in_state_dir() && !user.root {
        return Ok(user.nix_state_dir(version).join("profiles"));
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
/// on a machine where Nix never ran), and, where profiles moved to the state directory (upstream
/// 2.14, Lix, Determinate Nix), the user's [`profiles_dir`], which nix-env makes whenever it
/// starts. Before that nix-env makes no per-user directory.
pub fn made_by_nix(dir: &Path, version: NixVersion, user: &User) -> bool {
    dir == Path::new(STORE_PROFILES)
        || (version.profiles_in_state_dir() && profiles_dir(version, user).is_ok_and(|p| p == dir))
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
/// in [`profiles_dir`], except for root where the version has no per-user default
/// ([`NixVersion::root_profile_per_user`]), whose default is `/nix/var/nix/profiles/default`.
pub fn default_profile(version: NixVersion, user: &User) -> Result<PathBuf> {
    if user.root && !version.root_profile_per_user() {
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
/// [`xdg_profile_link`] where the version has `use-xdg-base-directories` and it is on.
pub fn user_profile_link(version: NixVersion) -> PathBuf {
    if version.has_xdg_base_directories() && uses_xdg_base_directories(version) {
        current_nix_state_dir(version).join("profile")
    } else {
        home_profile_link()
    }
}

/// `~/.nix-profile`.
pub fn home_profile_link() -> PathBuf {
    home_dir().join(".nix-profile")
}

/// `profile` in the user's Nix state directory ([`User::nix_state_dir`]): the user's profile
/// link under `use-xdg-base-directories`. `version` is asked only when `$NIX_STATE_HOME` is set.
pub fn xdg_profile_link(version: impl FnOnce() -> Result<NixVersion>) -> Result<PathBuf> {
    if nix_state_home().is_none() {
        return Ok(state_home().join("nix/profile"));
    }
    Ok(current_nix_state_dir(version()?).join("profile"))
}

/// The Nix state directory of the user running the tool ([`User::nix_state_dir`]).
fn current_nix_state_dir(version: NixVersion) -> PathBuf {
    User {
        root: false,
        name: None,
        state_home: state_home(),
        nix_state_home: nix_state_home(),
    }
    .nix_state_dir(version)
}

/// `$NIX_STATE_HOME`, when set and not empty.
pub fn nix_state_home() -> Option<PathBuf> {
    std::env::var_os("NIX_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
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

/// The directory whose entries `<nixpkgs>` is looked up in: `~/.nix-defexpr`, or `defexpr`
/// in the user's Nix state directory where the version has `use-xdg-base-directories` and it
/// is on.
pub fn defexpr_dir(version: NixVersion) -> PathBuf {
    if version.has_xdg_base_directories() && uses_xdg_base_directories(version) {
        return current_nix_state_dir(version).join("defexpr");
    }
    home_dir().join(".nix-defexpr")
}

/// The user flake registry as Nix finds it: `$NIX_CONFIG_HOME/registry.json` when that variable
/// is set and the version reads it ([`NixVersion::reads_nix_home_variables`]: upstream 2.25 and
/// later, Determinate Nix, never Lix), else `$XDG_CONFIG_HOME/nix/registry.json` (default
/// `~/.config/nix/registry.json`). `version` is asked only when `$NIX_CONFIG_HOME` is set.
pub fn user_registry(version: impl FnOnce() -> Result<NixVersion>) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("NIX_CONFIG_HOME").filter(|d| !d.is_empty()) {
        if version()?.reads_nix_home_variables() {
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
/// `$NIX_CONFIG` as `version` reads them).
pub fn uses_xdg_base_directories(version: NixVersion) -> bool {
    crate::nix_conf::setting_for(version, "use-xdg-base-directories").as_deref() == Some("true")
}

/// The variables that name directories of a home (the XDG base directories and Nix's own
/// overrides of them); one pointing into an ignored `$HOME` is ignored with it.
pub const HOME_VARS: [&str; 8] = [
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "NIX_CONFIG_HOME",
    "NIX_STATE_HOME",
    "NIX_CACHE_HOME",
    "NIX_DATA_HOME",
];

/// What to do about `$HOME`, decided by [`decide_home`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeChoice {
    /// `$HOME` is used as it is: unset, missing, or owned by the effective user (or someone
    /// else's, by a user who is not root, on a Nix that uses it: nothing is written there,
    /// since no directory someone else owns is written through).
    Keep,
    /// `$HOME` (`ignored`, owned by `owner`) gives way to `home`, the password database's home of
    /// the effective user, as the running Nix does.
    Replace {
        /// The `$HOME` that is not the effective user's.
        ignored: PathBuf,
        /// Its owner.
        owner: u32,
        /// The password database's home.
        home: PathBuf,
    },
    /// Root with another user's `$HOME` on a Nix that would use it: the tools refuse rather
    /// than write there.
    Refuse {
        /// The `$HOME` that is not root's.
        home: PathBuf,
        /// Its owner.
        owner: u32,
    },
}

/// Nix's rule for `$HOME` as the tools apply it: `env_home` (`$HOME`, `None` when unset) is kept
/// when it is missing (`owner` `None`) or owned by `euid`; otherwise, when the running Nix
/// ignores a foreign home (`nix_ignores`, [`NixVersion::ignores_foreign_home`]), the password database's
/// `passwd_home` replaces it, and when it does not, root is refused. `nix_ignores` is asked only
/// for a foreign home (it costs a Nix start).
pub fn decide_home(
    env_home: Option<&Path>,
    owner: Option<u32>,
    euid: u32,
    passwd_home: Option<&Path>,
    nix_ignores: impl FnOnce() -> Result<bool>,
) -> Result<HomeChoice> {
    let (Some(home), Some(owner)) = (env_home, owner) else {
        return Ok(HomeChoice::Keep);
    };
    if owner == euid {
        return Ok(HomeChoice::Keep);
    }
    match (nix_ignores()?, passwd_home) {
        (true, Some(own)) => Ok(HomeChoice::Replace {
            ignored: home.to_path_buf(),
            owner,
            home: own.to_path_buf(),
        }),
        _ if euid == 0 => Ok(HomeChoice::Refuse {
            home: home.to_path_buf(),
            owner,
        }),
        _ => Ok(HomeChoice::Keep),
    }
}

/// Applies [`decide_home`] to this process before anything reads `$HOME`: a replaced home
/// becomes `$HOME` (for the tools and the nix they run) and the XDG variables pointing into the
/// ignored one ([`HOME_VARS`]) are removed, each said under `-v`; a refusal is exit 1 with the way out.
/// Costs one `stat` when `$HOME` is the user's own.
pub fn settle_home(log: &dyn crate::Log) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let env_home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let owner = env_home
        .as_deref()
        .and_then(|h| std::fs::metadata(h).ok())
        .map(|m| m.uid());
    let euid = effective_uid();
    let passwd = passwd_entry(euid);
    let choice = decide_home(
        env_home.as_deref(),
        owner,
        euid,
        passwd.as_ref().map(|entry| entry.home.as_path()),
        || Ok(crate::command::nix_version(log)?.ignores_foreign_home()),
    )?;
    let whose = |uid: u32| name_of_uid(uid).unwrap_or_else(|| format!("user id {uid}"));
    match choice {
        HomeChoice::Keep => Ok(()),
        HomeChoice::Replace {
            ignored,
            owner,
            home,
        } => {
            log.verbose(&format!(
                "$HOME {} is owned by {}, not by you ({}); as Nix does, using {} from the password database",
                ignored.display(),
                whose(owner),
                whose(euid),
                home.display()
            ));
            for var in HOME_VARS {
                if let Some(value) = std::env::var_os(var) {
                    if Path::new(&value).starts_with(&ignored) {
                        log.verbose(&format!(
                            "ignoring ${var} {}: it is inside the ignored $HOME",
                            Path::new(&value).display()
                        ));
                        std::env::remove_var(var);
                    }
                }
            }
            std::env::set_var("HOME", &home);
            Ok(())
        }
        HomeChoice::Refuse { home, owner } => Err(Error::failed(format!(
            "$HOME {} belongs to {}, not to you ({}); this Nix would use it, and flakey-profile does not write into another user's home as root",
            home.display(),
            whose(owner),
            whose(euid)
        ))
        .with_hint(format!(
            "run it with `sudo -H` so that HOME is root's own (to pin the system registry: `sudo -H fp-pin --registry system`), or run it as {} without sudo",
            whose(owner)
        ))),
    }
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

/// A user's entry in the password database, as far as the tools need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    /// The login name.
    pub name: String,
    /// The home directory.
    pub home: PathBuf,
    /// The primary group id.
    pub gid: u32,
}

/// The entry of user `uid` in the password database (`getpwuid_r`), `None` when it has none.
pub fn passwd_entry(uid: u32) -> Option<Passwd> {
    use std::os::unix::ffi::OsStrExt;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to fill in.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: pw and buf outlive the call and buf's length is passed; the strings read below
    // point into buf, which is still alive.
    unsafe {
        let rc = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found);
        if rc != 0 || found.is_null() || pw.pw_name.is_null() || pw.pw_dir.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(pw.pw_name)
            .to_string_lossy()
            .into_owned();
        let dir = std::ffi::OsStr::from_bytes(std::ffi::CStr::from_ptr(pw.pw_dir).to_bytes());
        Some(Passwd {
            name,
            home: PathBuf::from(dir),
            gid: pw.pw_gid,
        })
    }
}

/// The name of user `uid` in the password database, for messages.
pub fn name_of_uid(uid: u32) -> Option<String> {
    passwd_entry(uid).map(|entry| entry.name)
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
            nix_state_home: None,
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

    /// Upstream Nix from 2.25 and Determinate Nix keep a user's profiles in `$NIX_STATE_HOME`
    /// when it is set; older Nix and every Lix release use `$XDG_STATE_HOME/nix`.
    #[test]
    fn nix_state_home_is_read_where_the_implementation_reads_it() {
        let alice = User {
            nix_state_home: Some(PathBuf::from("/srv/alice-nix")),
            ..user(false, Some("alice"))
        };
        let at_state_home = Path::new("/srv/alice-nix/profiles/profile");
        let at_xdg = Path::new("/home/alice/.local/state/nix/profiles/profile");
        for (version, expected) in [
            (v(24), at_xdg),
            (v(25), at_state_home),
            (v(34), at_state_home),
            (
                NixVersion::determinate((3, 22, 2), (2, 35, 2)),
                at_state_home,
            ),
            (NixVersion::lix(2, 95, 3), at_xdg),
        ] {
            assert_eq!(
                default_profile(version, &alice).unwrap(),
                expected,
                "{version}"
            );
        }
    }

    /// Lix keeps Nix 2.18's locations although its version numbers (2.90 on) are higher than
    /// every upstream threshold: a user's profiles in `$XDG_STATE_HOME/nix/profiles`, root's
    /// in `/nix/var/nix/profiles/per-user/root`.
    #[test]
    fn lix_keeps_the_locations_of_nix_2_18() {
        let lix = NixVersion::lix(2, 95, 3);
        assert_eq!(
            default_profile(lix, &user(false, Some("alice"))).unwrap(),
            Path::new("/home/alice/.local/state/nix/profiles/profile")
        );
        assert_eq!(
            default_profile(lix, &user(true, Some("root"))).unwrap(),
            Path::new("/nix/var/nix/profiles/per-user/root/profile")
        );
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
    fn a_foreign_home_is_replaced_from_2_10_and_refused_for_root_before() {
        let home = Some(Path::new("/home/u"));
        let own = Some(Path::new("/root"));
        let unasked = || -> Result<bool> { panic!("the version is asked only for a foreign home") };
        assert_eq!(
            decide_home(home, Some(0), 0, own, unasked).unwrap(),
            HomeChoice::Keep
        );
        assert_eq!(
            decide_home(home, None, 0, own, unasked).unwrap(),
            HomeChoice::Keep
        );
        assert_eq!(
            decide_home(None, None, 0, own, unasked).unwrap(),
            HomeChoice::Keep
        );
        let new = || Ok(v(10).ignores_foreign_home());
        assert_eq!(
            decide_home(home, Some(1000), 0, own, new).unwrap(),
            HomeChoice::Replace {
                ignored: PathBuf::from("/home/u"),
                owner: 1000,
                home: PathBuf::from("/root"),
            }
        );
        let old = || Ok(v(8).ignores_foreign_home());
        assert_eq!(
            decide_home(home, Some(1000), 0, own, old).unwrap(),
            HomeChoice::Refuse {
                home: PathBuf::from("/home/u"),
                owner: 1000,
            }
        );
        assert_eq!(
            decide_home(home, Some(1000), 1001, own, old).unwrap(),
            HomeChoice::Keep
        );
        assert!(matches!(
            decide_home(home, Some(1000), 0, None, new).unwrap(),
            HomeChoice::Refuse { .. }
        ));
        assert!(!NixVersion::new(2, 9, 9).ignores_foreign_home());
        assert!(v(26).ignores_foreign_home());
    }

    #[test]
    fn the_name_comes_from_the_password_database() {
        // The test runs as a user with an entry (root in the test machines); $USER does not
        // change what is found.
        let name = user_name().expect("a password database entry");
        assert!(!name.is_empty() && !name.contains('$'), "{name}");
    }
}
