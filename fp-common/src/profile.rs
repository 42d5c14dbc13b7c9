//! Which profile a tool acts on, and whether its directory lets us make generations there.

use crate::config::{self, Config, Setting, Source};
use crate::error::{Error, Result};
use crate::generation::{self, Generation};
use crate::nix::{shell_quote, NixVersion};
use crate::ui::Ui;
use std::path::{Path, PathBuf};

/// A profile link (`/nix/var/nix/profiles/per-user/alice/profile`), absolute, links not resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    path: PathBuf,
    /// `~/.nix-profile` (or its XDG twin) when it is missing and nix-env would create it.
    user_link: Option<PathBuf>,
}

impl Profile {
    /// A profile at `path`, made absolute against the current directory.
    pub fn new(path: &Path) -> Result<Self> {
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| Error::failed(format!("cannot read the current directory: {e}")))?
                .join(path)
        };
        if path.file_name().is_none() {
            return Err(Error::usage(format!(
                "{} is not a usable profile path",
                path.display()
            )));
        }
        Ok(Profile {
            path,
            user_link: None,
        })
    }

    /// Resolves the profile as SPEC section 2 says: `--profile`, `$FP_PROFILE`, the config
    /// file, then nix-env's own default. Says under `-v` where it came from.
    pub fn resolve(
        ui: &Ui,
        config: &Config,
        flag: Option<PathBuf>,
        version: impl FnOnce() -> Result<NixVersion>,
    ) -> Result<Profile> {
        let profile = match config.profile(flag) {
            Some(setting) => {
                config::explain(ui, "profile", &setting);
                Profile::new(&setting.value)?
            }
            None => {
                let (setting, user_link) = nix_env_default(version)?;
                config::explain(ui, "profile", &setting);
                let mut profile = Profile::new(&setting.value)?;
                profile.user_link = user_link;
                profile
            }
        };
        Ok(profile)
    }

    /// The profile link's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory that holds the profile link and its generations.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }

    /// All generations, oldest first.
    pub fn generations(&self) -> Result<Vec<Generation>> {
        generation::list(&self.path)
    }

    /// Checks, before anything is changed, that generations can be made here: the directory
    /// exists and is writable. Otherwise says exactly what fixes it (the per-user profile
    /// problem of multi-user installs and macOS).
    pub fn check_writable(&self) -> Result<()> {
        let dir = self.dir();
        let problem = if !dir.is_dir() {
            format!("its directory {} does not exist", dir.display())
        } else if !is_writable(dir) {
            format!("its directory {} is not writable by you", dir.display())
        } else {
            return Ok(());
        };
        let user = current_user();
        let quoted = shell_quote(&dir.to_string_lossy());
        Err(Error::failed(format!(
            "cannot make generations of the profile {}: {problem}",
            self.path.display()
        ))
        .with_hint(format!(
            "this is the per-user profile problem of multi-user Nix; create the directory and make it yours, then run this again:\n  sudo mkdir -p {quoted} && sudo chown {user} {quoted}"
        )))
    }

    /// Creates `~/.nix-profile` pointing to this profile when nix-env would have (it was
    /// missing and this profile is nix-env's default), so the profile's `bin/` is on PATH.
    pub fn ensure_user_link(&self, ui: &Ui) -> Result<()> {
        let Some(link) = &self.user_link else {
            return Ok(());
        };
        if std::fs::symlink_metadata(link).is_ok() {
            return Ok(());
        }
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::failed(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::os::unix::fs::symlink(&self.path, link).map_err(|e| {
            Error::failed(format!("cannot create the link {}: {e}", link.display()))
        })?;
        ui.info(&format!(
            "created {} -> {}",
            link.display(),
            self.path.display()
        ));
        Ok(())
    }
}

/// An exclusive lock on a profile's directory, held while a tool reads and changes its
/// generations, so flakey-profile's tools never change one profile directory at the same time.
///
/// Needed because `nix-env --set` of Nix 2.8 is not safe against itself: Nix counts a
/// generation link that another nix-env is still creating (`profile-N-link.tmp-…`) as the
/// newest generation, and when it points at the same store path, points the profile at that
/// temporary link, which is gone a moment later (found by the concurrency test). The lock is a
/// `flock` on the directory itself: no file is created, and the kernel drops it when the process
/// dies, so a killed tool never leaves it behind. (Nix's own profile lock is another file, so
/// the nix-env commands run under this lock do not wait for it.)
#[derive(Debug)]
pub struct ProfileLock {
    _dir: std::fs::File,
}

impl ProfileLock {
    /// Waits for and takes the lock of `profile`'s directory; says so when it has to wait.
    pub fn acquire(ui: &Ui, profile: &Profile) -> Result<ProfileLock> {
        use std::os::unix::io::AsRawFd;
        let dir = std::fs::File::open(profile.dir()).map_err(|e| {
            Error::failed(format!(
                "cannot open the profile directory {}: {e}",
                profile.dir().display()
            ))
        })?;
        let fd = dir.as_raw_fd();
        // SAFETY: flock on a descriptor we own; it only changes the lock state.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            ui.info(&format!(
                "waiting for another flakey-profile tool to finish with {}",
                profile.dir().display()
            ));
            // SAFETY: as above, blocking this time.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } != 0 {
                return Err(Error::failed(format!(
                    "cannot lock the profile directory {}: {}",
                    profile.dir().display(),
                    std::io::Error::last_os_error()
                )));
            }
        }
        Ok(ProfileLock { _dir: dir })
    }
}

/// nix-env's default profile: `$NIX_PROFILE`, else the target of `~/.nix-profile` (or
/// `$XDG_STATE_HOME/nix/profile` under `use-xdg-base-directories`), else the per-version
/// default. Also returns the user link when it is missing (nix-env would create it).
fn nix_env_default(
    version: impl FnOnce() -> Result<NixVersion>,
) -> Result<(Setting<PathBuf>, Option<PathBuf>)> {
    if let Some(p) = std::env::var_os("NIX_PROFILE").filter(|p| !p.is_empty()) {
        return Ok((
            Setting {
                value: PathBuf::from(p),
                source: Source::Env("NIX_PROFILE"),
            },
            None,
        ));
    }
    let xdg_link = config::state_home().join("nix").join("profile");
    let home_link = config::home_dir().join(".nix-profile");
    for link in [&home_link, &xdg_link] {
        if let Ok(target) = std::fs::read_link(link) {
            let base = link.parent().unwrap_or(Path::new("/"));
            return Ok((
                Setting {
                    value: base.join(target),
                    source: Source::Default,
                },
                None,
            ));
        }
    }
    let version = version()?;
    let root = is_root();
    let value = if root && version.at_least(2, 15) {
        PathBuf::from("/nix/var/nix/profiles/per-user/root/profile")
    } else if root {
        PathBuf::from("/nix/var/nix/profiles/default")
    } else if version.at_least(2, 14) {
        config::state_home().join("nix/profiles/profile")
    } else {
        PathBuf::from(format!(
            "/nix/var/nix/profiles/per-user/{}/profile",
            current_user()
        ))
    };
    let link = if version.at_least(2, 14) && uses_xdg_base_directories() {
        xdg_link
    } else {
        home_link
    };
    Ok((
        Setting {
            value,
            source: Source::Default,
        },
        Some(link),
    ))
}

/// Whether `use-xdg-base-directories = true` is set in `$NIX_CONFIG` or a nix.conf.
pub fn uses_xdg_base_directories() -> bool {
    let mut texts: Vec<String> = std::env::var("NIX_CONFIG").into_iter().collect();
    let conf_dir = std::env::var_os("NIX_CONF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/nix"));
    for file in [
        conf_dir.join("nix.conf"),
        config::config_home().join("nix/nix.conf"),
    ] {
        if let Ok(text) = std::fs::read_to_string(file) {
            texts.push(text);
        }
    }
    texts.iter().flat_map(|t| t.lines()).any(|line| {
        let mut kv = line.splitn(2, '=');
        kv.next().map(str::trim) == Some("use-xdg-base-directories")
            && kv.next().map(str::trim) == Some("true")
    })
}

/// Whether the effective user is root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The current user's name: `$USER`, `$LOGNAME`, else `$(id -un)` for the shell to fill in.
pub fn current_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "\"$(id -un)\"".to_string())
}

/// Whether the effective user may create entries in `dir` (`access(2)` with `W_OK`).
fn is_writable(dir: &Path) -> bool {
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

    #[test]
    fn missing_directory_gets_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::new(&dir.path().join("per-user/alice/profile")).unwrap();
        let err = p.check_writable().unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(
            err.message().contains("does not exist"),
            "{}",
            err.message()
        );
        let hint = err.hint().unwrap();
        assert!(hint.contains("sudo mkdir -p "), "{hint}");
        assert!(hint.contains("sudo chown "), "{hint}");
    }

    #[test]
    fn existing_directory_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::new(&dir.path().join("profile")).unwrap();
        p.check_writable().unwrap();
    }

    #[test]
    fn relative_profiles_become_absolute() {
        let p = Profile::new(Path::new("some/profile")).unwrap();
        assert!(p.path().is_absolute());
    }
}
