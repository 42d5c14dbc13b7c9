//! A profile: the link Nix switches between generations, its directory, and the nix-env
//! commands that move it. Which profile a tool acts on when none is named is nix-env's rule,
//! [`Profile::nix_env_default`].

use crate::command::{shell_quote, NixCommand, NixVersion, Stderr};
use crate::error::{Error, Result};
use crate::generation::{self, Generation, GenerationRef};
use crate::locations::{self, User};
use crate::lock::Lock;
use crate::store_path::StorePath;
use crate::Log;
use std::path::{Path, PathBuf};

/// A profile link (`/nix/var/nix/profiles/per-user/alice/profile`), absolute, links not resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    path: PathBuf,
    /// `~/.nix-profile` (or its XDG twin) when it is missing and nix-env would create it.
    user_link: Option<PathBuf>,
}

/// Where a profile switches to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A store path: a new generation with `nix-env --set` (or the last one, if it is the same).
    StorePath(StorePath),
    /// An existing generation, by number: `nix-env --switch-generation`.
    Generation(u64),
}

impl Profile {
    /// A profile at `path`, made absolute against the current directory.
    pub fn new(path: &Path) -> Result<Self> {
        let path = locations::absolute(path)?;
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

    /// nix-env's default profile: `$NIX_PROFILE`, else the target of `~/.nix-profile` (or of
    /// `profile` in Nix's state directory under `use-xdg-base-directories`,
    /// [`locations::xdg_profile_link`]), else the default of this Nix and user. Also says which
    /// of these chose it. `version` is asked only when the links are missing or
    /// `$NIX_STATE_HOME` is set; then the profile remembers the link nix-env would create, for
    /// [`Profile::ensure_user_link`].
    pub fn nix_env_default(
        version: impl Fn() -> Result<NixVersion>,
    ) -> Result<(Profile, ChosenBy)> {
        let nix_profile = std::env::var_os("NIX_PROFILE").map(PathBuf::from);
        let links = [
            locations::home_profile_link(),
            locations::xdg_profile_link(&version)?,
        ]
        .map(|link| {
            let target = std::fs::read_link(&link).ok();
            (link, target)
        });
        if let Some((path, env)) = chosen_by_user(nix_profile, &links) {
            let by = match env {
                Some(var) => ChosenBy::Env(var),
                None => links
                    .iter()
                    .find(|(_, target)| target.is_some())
                    .map_or(ChosenBy::Default, |(link, _)| ChosenBy::Link(link.clone())),
            };
            return Ok((Profile::new(&path)?, by));
        }
        let version = version()?;
        let mut profile = Profile::new(&locations::default_profile(version, &User::current())?)?;
        profile.user_link = Some(locations::user_profile_link(version));
        Ok((profile, ChosenBy::Default))
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

    /// Takes the lock of the profile's directory (see [`crate::lock`]), waiting for another
    /// flakey-profile tool that holds it.
    pub fn lock(&self, log: &dyn Log) -> Result<Lock> {
        Lock::directory(log, self.dir())
    }

    /// Checks, before anything is changed, that generations can be made here: the directory
    /// exists and is writable, or is missing where nix-env makes it itself. Otherwise says
    /// exactly what fixes it ([`dir_fix`]).
    pub fn check_writable(&self) -> Result<()> {
        let owner = locations::user_name()
            .map(|name| shell_quote(&name))
            .unwrap_or_else(|| locations::effective_uid().to_string());
        match unwritable_error(&self.path, &self.dir_facts(), &owner, None) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// What this machine says about the profile's directory and the user ([`DirFacts`]). Nix
    /// is asked its version only when the directory is missing.
    fn dir_facts(&self) -> DirFacts {
        let dir = self.dir();
        let state = if !dir.is_dir() {
            DirState::Missing
        } else if !locations::is_writable_dir(dir) {
            DirState::ReadOnly
        } else {
            DirState::Writable
        };
        let user = User::current();
        let made_by_nix = state == DirState::Missing
            && crate::command::nix_version(&crate::Silent)
                .is_ok_and(|v| locations::made_by_nix(dir, v, &user));
        DirFacts {
            state,
            root: user.root,
            creatable: locations::can_create_dir(dir),
            made_by_nix,
            multi_user: locations::daemon_socket().0 && locations::is_per_user_dir(dir),
        }
    }

    /// Creates `~/.nix-profile` pointing to this profile when nix-env would have (it was
    /// missing and this profile is nix-env's default), so the profile's `bin/` is on PATH.
    pub fn ensure_user_link(&self, log: &dyn Log) -> Result<()> {
        let Some(link) = &self.user_link else {
            return Ok(());
        };
        if std::fs::symlink_metadata(link).is_ok() {
            return Ok(());
        }
        if let Some(parent) = link.parent() {
            // Made (when missing) and checked component by component, never through a link or
            // a directory someone else controls; the link is then made in a directory only its
            // owner and root can change.
            crate::safe_dir::SafeDir::open_or_create(parent, 0o755)?;
        }
        std::os::unix::fs::symlink(&self.path, link).map_err(|e| {
            Error::failed(format!("cannot create the link {}: {e}", link.display()))
        })?;
        log.info(&format!(
            "created {} -> {}",
            link.display(),
            self.path.display()
        ));
        Ok(())
    }

    /// The nix-env command that makes `target` this profile's current generation:
    /// `nix-env --profile P --set PATH` or `nix-env --profile P --switch-generation N`.
    pub fn switch_command(&self, target: &Target) -> NixCommand {
        let cmd = NixCommand::nix_env().arg("--profile").arg(&self.path);
        match target {
            Target::StorePath(p) => cmd.args(["--set", p.as_str()]),
            Target::Generation(n) => cmd.args(["--switch-generation", &n.to_string()]),
        }
    }

    /// The nix-env command that deletes the generations `numbers`.
    pub fn delete_command(&self, numbers: &[u64]) -> NixCommand {
        NixCommand::nix_env()
            .arg("--profile")
            .arg(&self.path)
            .arg("--delete-generations")
            .args(numbers.iter().map(u64::to_string))
    }

    /// Switches to `target` with nix-env, then reads the generations again and returns the one
    /// the profile now points to (an error if nix-env left it pointing at none).
    pub fn switch(&self, log: &dyn Log, target: &Target) -> Result<Generation> {
        self.switch_command(target).output(log, Stderr::Capture)?;
        let after = self.generations()?;
        generation::current(&after).cloned().ok_or_else(|| {
            Error::failed(format!(
                "nix-env finished but {} points to no generation",
                self.path.display()
            ))
        })
    }
}

/// What chose nix-env's default profile ([`Profile::nix_env_default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChosenBy {
    /// An environment variable (`NIX_PROFILE`).
    Env(&'static str),
    /// Where the user's profile link (`~/.nix-profile`, or its XDG twin) points.
    Link(PathBuf),
    /// This Nix version's default for the user.
    Default,
}

/// The profile nix-env uses when none is named, as far as the user chose it: `$NIX_PROFILE`
/// when set and not empty (and the variable's name), else where the first of the user's
/// profile links (`~/.nix-profile`, then `$XDG_STATE_HOME/nix/profile`) that exists points, a
/// relative target taken from the link's directory. `None`: neither, so the version's default
/// applies ([`locations::default_profile`]). `links` pairs each link with its text, if it is one.
pub fn chosen_by_user(
    nix_profile: Option<PathBuf>,
    links: &[(PathBuf, Option<PathBuf>)],
) -> Option<(PathBuf, Option<&'static str>)> {
    if let Some(p) = nix_profile.filter(|p| !p.as_os_str().is_empty()) {
        return Some((p, Some("NIX_PROFILE")));
    }
    links.iter().find_map(|(link, target)| {
        let target = target.as_ref()?;
        Some((locations::resolve_link_target(link, target), None))
    })
}

/// Whether a profile's directory exists and the user may make generations in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirState {
    /// It does not exist.
    Missing,
    /// It exists but the user cannot write in it.
    ReadOnly,
    /// Generations can be made here.
    Writable,
}

/// What decides whether generations can be made in a profile's directory, and what fixes it
/// when they cannot: read on this machine, or over ssh on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirFacts {
    /// Whether the directory exists and is writable by the user.
    pub state: DirState,
    /// Whether the user is root.
    pub root: bool,
    /// Whether the user could create the directory: the nearest directory above it that
    /// exists is writable by them.
    pub creatable: bool,
    /// Whether nix-env makes this directory itself ([`locations::made_by_nix`]).
    pub made_by_nix: bool,
    /// Whether the store is a daemon's (multi-user Nix) and the directory one of its per-user
    /// profile directories, which that install makes for each user (or forgot to).
    pub multi_user: bool,
}

/// What a profile's directory needs before generations can be made in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirFix {
    /// Nothing: it takes generations, or it is missing where nix-env makes it itself.
    Ready,
    /// The user creates it (`mkdir -p DIR`): they may, as nix-env would not.
    Create,
    /// Someone with root's rights creates it (if missing) and gives it to the user: `sudo
    /// mkdir -p DIR && sudo chown USER DIR`.
    CreateForUser,
    /// Even root cannot write there (a read-only file system): no command fixes it.
    ReadOnlyForRoot,
}

/// Decides what a profile's directory needs, the way Nix itself would fare: a missing
/// directory that nix-env makes is fine; one the user could make is theirs to make; otherwise
/// someone with root's rights makes it theirs. Never tells root to give something to root.
pub fn dir_fix(facts: &DirFacts) -> DirFix {
    match facts.state {
        DirState::Writable => DirFix::Ready,
        DirState::Missing if facts.made_by_nix && (facts.root || facts.creatable) => DirFix::Ready,
        DirState::Missing if facts.root || facts.creatable => DirFix::Create,
        DirState::ReadOnly if facts.root => DirFix::ReadOnlyForRoot,
        DirState::Missing | DirState::ReadOnly => DirFix::CreateForUser,
    }
}

/// The error for a profile whose directory cannot take generations ([`dir_fix`]), with the
/// exact commands that fix it for `owner` (a user name, shell-quoted, or a uid); `None` when
/// the directory is fine. `host` names the machine over ssh, so the fix is run there. The hint
/// names multi-user Nix only where it is that install's per-user profile problem.
pub fn unwritable_error(
    profile: &Path,
    facts: &DirFacts,
    owner: &str,
    host: Option<&str>,
) -> Option<Error> {
    let dir = profile.parent().unwrap_or(Path::new("/"));
    let problem = match facts.state {
        DirState::Writable => return None,
        DirState::Missing => format!("its directory {} does not exist", dir.display()),
        DirState::ReadOnly if facts.root => {
            format!(
                "its directory {} is not writable, even by root",
                dir.display()
            )
        }
        DirState::ReadOnly => format!("its directory {} is not writable by you", dir.display()),
    };
    let on = host.map(|h| format!(" on {h}")).unwrap_or_default();
    let run = host
        .map(|h| format!(" on {h} (ssh {})", shell_quote(h)))
        .unwrap_or_default();
    let quoted = shell_quote(&dir.to_string_lossy());
    let multi = if facts.multi_user {
        "this is the per-user profile problem of multi-user Nix; "
    } else {
        ""
    };
    let hint = match dir_fix(facts) {
        DirFix::Ready => return None,
        DirFix::Create => format!(
            "create the directory{run}, then run this again:\n  mkdir -p {quoted}"
        ),
        DirFix::CreateForUser => format!(
            "{multi}create the directory and make it yours{run}, then run this again:\n  sudo mkdir -p {quoted} && sudo chown {owner} {quoted}"
        ),
        DirFix::ReadOnlyForRoot => format!(
            "check that its file system{on} is not mounted read-only, or choose another profile with --profile"
        ),
    };
    Some(
        Error::failed(format!(
            "cannot make generations of the profile {}{on}: {problem}",
            profile.display()
        ))
        .with_hint(hint),
    )
}

/// The `nix` a person runs: the first executable `nix` on `PATH`, links resolved; `None` when
/// there is none.
pub fn nix_on_path() -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("nix"))
        .find(|nix| {
            std::fs::metadata(nix).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .and_then(|nix| std::fs::canonicalize(nix).ok())
}

/// The `bin/nix` of an env (a generation's store path), links resolved; `None` when it has none.
pub fn nix_of_env(env: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(env.join("bin/nix")).ok()
}

/// Whether switching loses the `nix` being run: it is the current generation's `bin/nix`
/// (`running` and `current` are both [`nix_on_path`] and [`nix_of_env`], links resolved) and
/// the target has none. A single-user install keeps Nix in the user's profile, so a profile
/// without nix would take it off PATH with no way back.
pub fn loses_running_nix(
    running: Option<&Path>,
    current: Option<&Path>,
    target_has_nix: bool,
) -> bool {
    running.is_some() && running == current && !target_has_nix
}

/// What switching a profile with these generations to a target does, as nix-env does it:
/// decided before anything is printed or run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchPlan {
    /// The generation current now, if any.
    pub previous: Option<GenerationRef>,
    /// The store path the profile will point to.
    pub store_path: String,
    /// The generation that will be current: predicted by Nix's numbering rule for a store path.
    pub generation: u64,
    /// Whether the current generation changes.
    pub changed: bool,
}

/// Decides what switching to `target` does: an unknown generation number is an error (exit 1);
/// the target is unchanged when the current generation already is it.
pub fn plan_switch(generations: &[Generation], target: &Target) -> Result<SwitchPlan> {
    let current = generation::current(generations);
    let (store_path, number) = match target {
        Target::StorePath(p) => (
            p.as_str().to_string(),
            generation::next_number(generations, p.as_str()),
        ),
        Target::Generation(n) => {
            let g = generations
                .iter()
                .find(|g| g.generation == *n)
                .ok_or_else(|| Error::failed(format!("generation {n} does not exist")))?;
            (g.store_path.clone(), *n)
        }
    };
    let unchanged = current.is_some_and(|g| match target {
        Target::StorePath(_) => g.store_path == store_path,
        Target::Generation(n) => g.generation == *n,
    });
    Ok(SwitchPlan {
        previous: current.map(GenerationRef::from),
        store_path,
        generation: match current {
            Some(g) if unchanged => g.generation,
            _ => number,
        },
        changed: !unchanged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn a_missing_directory_the_user_may_make_is_theirs_to_make() {
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
        assert!(
            hint.ends_with(&format!(
                "  mkdir -p {}",
                shell_quote(&p.dir().to_string_lossy())
            )),
            "{hint}"
        );
        assert!(
            !hint.contains("sudo") && !hint.contains("multi-user"),
            "{hint}"
        );
    }

    fn facts(state: DirState, root: bool, creatable: bool, made_by_nix: bool) -> DirFacts {
        DirFacts {
            state,
            root,
            creatable,
            made_by_nix,
            multi_user: false,
        }
    }

    #[test]
    fn what_a_directory_needs_follows_what_nix_would_do() {
        use DirFix::*;
        use DirState::*;
        // (state, root, creatable, made by nix) -> fix
        let table = [
            ((Writable, false, false, false), Ready),
            ((Writable, true, false, false), Ready),
            // nix-env makes its own profiles directory (root's per-user/root on a new store).
            ((Missing, true, false, true), Ready),
            ((Missing, false, true, true), Ready),
            // ... but only where it may.
            ((Missing, false, false, true), CreateForUser),
            // A directory nix-env does not make: made by whoever may.
            ((Missing, true, false, false), Create),
            ((Missing, false, true, false), Create),
            ((Missing, false, false, false), CreateForUser),
            ((ReadOnly, false, false, false), CreateForUser),
            ((ReadOnly, true, false, false), ReadOnlyForRoot),
        ];
        for ((state, root, creatable, nix), fix) in table {
            assert_eq!(
                dir_fix(&facts(state, root, creatable, nix)),
                fix,
                "{state:?} root={root} creatable={creatable} made_by_nix={nix}"
            );
        }
    }

    #[test]
    fn hints_name_multi_user_nix_only_for_its_per_user_directories_and_never_chown_to_root() {
        let profile = Path::new("/nix/var/nix/profiles/per-user/alice/profile");
        let hint = |f: DirFacts, owner: &str, host: Option<&str>| {
            unwritable_error(profile, &f, owner, host)
                .map(|e| e.hint().unwrap_or_default().to_string())
        };
        let mut daemon = facts(DirState::Missing, false, false, false);
        daemon.multi_user = true;
        let h = hint(daemon, "alice", None).unwrap();
        assert!(
            h.starts_with("this is the per-user profile problem of multi-user Nix"),
            "{h}"
        );
        assert!(h.ends_with("sudo mkdir -p /nix/var/nix/profiles/per-user/alice && sudo chown alice /nix/var/nix/profiles/per-user/alice"), "{h}");
        // Not a daemon's store: the same commands, without the diagnosis.
        let h = hint(facts(DirState::Missing, false, false, false), "alice", None).unwrap();
        assert!(
            !h.contains("multi-user") && h.contains("sudo chown alice"),
            "{h}"
        );
        // Root: never told to give something to root.
        for state in [DirState::Missing, DirState::ReadOnly] {
            for host in [None, Some("fleet1")] {
                let h = hint(facts(state, true, false, false), "root", host).unwrap();
                assert!(!h.contains("sudo") && !h.contains("chown"), "{h}");
            }
        }
        let h = hint(
            facts(DirState::Missing, true, false, false),
            "root",
            Some("fleet1"),
        )
        .unwrap();
        assert_eq!(
            h,
            "create the directory on fleet1 (ssh fleet1), then run this again:\n  mkdir -p /nix/var/nix/profiles/per-user/alice"
        );
        assert_eq!(
            hint(facts(DirState::Missing, true, false, true), "root", None),
            None
        );
        assert_eq!(
            hint(
                facts(DirState::Writable, false, false, false),
                "alice",
                None
            ),
            None
        );
    }

    #[test]
    fn existing_directory_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::new(&dir.path().join("profile")).unwrap();
        p.check_writable().unwrap();
    }

    #[test]
    fn switch_commands() {
        let p = Profile::new(Path::new("/p/profile")).unwrap();
        assert_eq!(
            p.switch_command(&Target::Generation(3)).display(),
            "nix-env --profile /p/profile --switch-generation 3"
        );
        let path = StorePath::parse("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-env").unwrap();
        assert_eq!(
            p.switch_command(&Target::StorePath(path)).display(),
            "nix-env --profile /p/profile --set /nix/store/0123456789abcdfghijklmnpqrsvwxyz-env"
        );
        assert_eq!(
            p.delete_command(&[1, 2]).display(),
            "nix-env --profile /p/profile --delete-generations 1 2"
        );
    }

    #[test]
    fn relative_profiles_become_absolute() {
        let p = Profile::new(Path::new("some/profile")).unwrap();
        assert!(p.path().is_absolute());
    }

    /// Generations 1, 2, ... holding `paths`, generation `current` the current one.
    fn history(paths: &[&str], current: u64) -> Vec<Generation> {
        (1..)
            .zip(paths)
            .map(|(n, p)| Generation {
                generation: n,
                store_path: p.to_string(),
                created: SystemTime::UNIX_EPOCH,
                current: n == current,
            })
            .collect()
    }

    fn store_path(name: &str) -> StorePath {
        StorePath::parse(&format!(
            "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-{name}"
        ))
        .unwrap()
    }

    #[test]
    fn plan_of_a_new_store_path() {
        let a = store_path("a");
        let b = store_path("b");
        let gens = history(&[a.as_str(), b.as_str()], 1);
        let p = plan_switch(&gens, &Target::StorePath(b.clone())).unwrap();
        // Nix reuses the highest generation when it holds the same path.
        assert_eq!((p.generation, p.changed), (2, true));
        assert_eq!(p.previous.unwrap().generation, 1);
        let p = plan_switch(&gens, &Target::StorePath(a)).unwrap();
        assert_eq!((p.generation, p.changed), (1, false));
        let p = plan_switch(&[], &Target::StorePath(b)).unwrap();
        assert_eq!((p.generation, p.changed, p.previous), (1, true, None));
    }

    #[test]
    fn plan_of_a_generation() {
        let gens = history(&["/a", "/b"], 2);
        let p = plan_switch(&gens, &Target::Generation(1)).unwrap();
        assert_eq!(
            (p.generation, p.store_path.as_str(), p.changed),
            (1, "/a", true)
        );
        assert!(!plan_switch(&gens, &Target::Generation(2)).unwrap().changed);
        assert_eq!(
            plan_switch(&gens, &Target::Generation(9))
                .unwrap_err()
                .code(),
            1
        );
    }

    #[test]
    fn the_running_nix_is_lost_only_when_it_is_the_profiles_and_the_target_has_none() {
        let ours = Path::new("/nix/store/a-nix-2.8/bin/nix");
        let other = Path::new("/usr/bin/nix");
        assert!(loses_running_nix(Some(ours), Some(ours), false));
        assert!(!loses_running_nix(Some(ours), Some(ours), true));
        assert!(!loses_running_nix(Some(other), Some(ours), false));
        assert!(!loses_running_nix(Some(other), None, false));
        assert!(!loses_running_nix(None, None, false));
    }
}
