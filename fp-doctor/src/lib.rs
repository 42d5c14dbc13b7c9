//! `fp-doctor`: checks the machine the way a helper on a forum would, each problem with the
//! exact command or edit that fixes it.
//!
//! What the machine looks like is read first ([`gather`], which only reads: files, links,
//! `PATH`, the environment, the flake's `pinned`); what is wrong with it is then decided by a
//! pure function of those facts ([`diagnose`]), and printed around it. A check that does not
//! apply (the daemon on a single-user install, pins for a profile that pins nothing) is
//! skipped, and said so under `-v`.

use clap::Parser;
use fp_common::cli::{CommonArgs, ProfileArgs};
use fp_common::config::{Config, Origin};
use fp_common::render::count;
use fp_common::switch::dropped_packages;
use fp_common::ui::Style;
use fp_common::{print_json, write_stdout, Error, Result, Ui};
use fp_nix::command::{nix_version, shell_quote};
use fp_nix::diff::{between, packages_of};
use fp_nix::env_marker;
use fp_nix::generation;
use fp_nix::locations;
use fp_nix::profile::{nix_of_env, nix_on_path};
use fp_pin::channels::{LinkState, Location};
use fp_pin::registry::{self, Registry};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Check the machine for what breaks flakey-profile; each problem comes with its fix.
#[derive(Debug, Parser)]
#[command(
    name = "fp-doctor",
    version,
    about,
    after_help = "Exit codes:\n  0  every check passed (or does not apply)\n  1  a check found a problem\n  2  usage error"
)]
pub struct Cli {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub profile: ProfileArgs,

    /// Print one JSON document on stdout: the profile, whether it is healthy, and every check.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing wrong.
    Ok,
    /// Something is wrong; the check has the fix.
    Problem,
    /// The check does not apply to this machine; the message says why.
    Skipped,
}

/// One check: what it looked at, what it found, and the fix when something is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A stable name for scripts: `path`, `user-link`, `profile-dir`, `daemon`, `made-by`,
    /// `config`, `flake`, `registry-pins`, `channel-pins`, `nix-path`, `running-nix`.
    pub id: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was found, for people.
    pub message: String,
    /// The exact command or edit that fixes a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(id: &'static str, message: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Ok,
            message: message.into(),
            fix: None,
        }
    }

    fn skipped(id: &'static str, message: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Skipped,
            message: message.into(),
            fix: None,
        }
    }

    fn problem(id: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Problem,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The `--json` document.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The profile checked.
    pub profile: String,
    /// Whether no check found a problem.
    pub healthy: bool,
    /// Every check, skipped ones included.
    pub checks: Vec<Check>,
}

/// The profile's current generation, as far as the checks need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentGeneration {
    /// Its number.
    pub number: u64,
    /// Whether flakey-profile made it (its env has our marker).
    pub flakey: bool,
    /// For a generation made elsewhere: what a switch drops, `name version` each. With a
    /// generation flakey-profile made before it, these are exactly what a switch back to that
    /// env drops (the same diff fp-switch prints); without one, every package it has.
    pub packages: Vec<String>,
    /// The newest generation flakey-profile made before it, whose env `packages` were
    /// compared with.
    pub last_flakey: Option<u64>,
    /// Its `bin/nix`, links resolved.
    pub nix: Option<PathBuf>,
}

/// What the configuration says, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFacts {
    /// The config file does not parse: the error and the file.
    Broken(String, PathBuf),
    /// The flake the tools build, where that came from, and for a local path whether it has a
    /// `flake.nix` (`None`: not a local path).
    Read {
        /// The flake (after `~` expansion).
        flake: String,
        /// Where it was set; `None` when nothing set it (the current directory is used).
        source: Option<String>,
        /// For a local path: whether `flake.nix` is there.
        has_flake_nix: Option<bool>,
        /// The config file, when there is one.
        file: Option<PathBuf>,
    },
}

/// The pins the profile asks for and where Nix would find them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinFacts {
    /// The profile's `pinned` was not read: why.
    NotRead(String),
    /// The profile's `pinned` could not be evaluated: the flake's error, as Nix gave it.
    Unreadable(String),
    /// The profile's pins and what the registry and channels say of each.
    Read {
        /// Name to flake source, from the profile's `pinned`.
        wanted: BTreeMap<String, String>,
        /// Name to what the registry (user first, then system, as Nix looks) maps
        /// `flake:NAME` to, if anything.
        registry: BTreeMap<String, Option<String>>,
        /// Name to the channel's target in the channels profile, links resolved, if any.
        channels: BTreeMap<String, Option<String>>,
        /// Why `<nixpkgs>` would not see the channels profile (`NIX_PATH` set, the channels
        /// link elsewhere).
        channels_unused: Vec<String>,
        /// Whether fp-pin has pinned anything here (its history has an entry): pins that
        /// differ then went stale; before that, pinning is simply not done (it is optional).
        pinned_before: bool,
    },
}

/// Everything the checks look at, read before any is decided.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The profile the tools use.
    pub profile: PathBuf,
    /// Its current generation, if any.
    pub current: Option<CurrentGeneration>,
    /// The profile's `bin`, links resolved (when the profile has a generation).
    pub profile_bin: Option<PathBuf>,
    /// Every `PATH` entry, links resolved where they exist.
    pub path_dirs: Vec<PathBuf>,
    /// The user's profile link (`~/.nix-profile`, or its XDG twin).
    pub user_link: PathBuf,
    /// Where it points, if it is a link.
    pub user_link_target: Option<PathBuf>,
    /// Whether what it points at exists.
    pub user_link_target_exists: bool,
    /// Whether it points at the profile Nix before 2.14 used for this user while the running
    /// Nix is 2.14 or later (which keeps profiles under `$XDG_STATE_HOME/nix/profiles`).
    pub user_link_pre_2_14: bool,
    /// Whether it leads to the profile the tools use (as written, or links resolved).
    pub user_link_is_profile: bool,
    /// Whether Nix talks to a daemon (multi-user install).
    pub multi_user: bool,
    /// The profile's directory, its owner's uid (if it exists), and the user's uid and name.
    pub profile_dir: (PathBuf, Option<u32>),
    /// The user running the tools: uid and name.
    pub user: (u32, String),
    /// The daemon's socket and whether it accepts a connection.
    pub daemon: (PathBuf, bool),
    /// The configuration.
    pub config: ConfigFacts,
    /// The `nix` on PATH, links resolved.
    pub running_nix: Option<PathBuf>,
    /// The pins.
    pub pins: PinFacts,
}

/// Runs fp-doctor.
pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    let facts = gather(ui, cli.profile.profile)?;
    let checks = diagnose(&facts);
    let problems = checks
        .iter()
        .filter(|c| c.status == Status::Problem)
        .count();
    if cli.json {
        print_json(&Report {
            profile: facts.profile.display().to_string(),
            healthy: problems == 0,
            checks,
        })?;
    } else {
        write_stdout(render(ui, &facts.profile, &checks).trim_end())?;
    }
    if problems > 0 {
        return Err(Error::failed(format!(
            "{} found; each has its fix above",
            count(problems, "problem")
        )));
    }
    Ok(())
}

/// The checks for people: one line each (skipped ones only under `-v`), the fix under a
/// problem, and a last line.
pub fn render(ui: &Ui, profile: &Path, checks: &[Check]) -> String {
    let mut out = format!("profile {}\n", profile.display());
    for c in checks {
        let label = match c.status {
            Status::Ok => ui.paint(Style::Green, "ok     "),
            Status::Problem => ui.paint(Style::Red, "problem"),
            Status::Skipped if ui.verbosity() > 0 => "skipped".to_string(),
            Status::Skipped => continue,
        };
        out.push_str(&format!("{label}  {}: {}\n", c.id, c.message));
        if let Some(fix) = &c.fix {
            for (i, line) in fix.lines().enumerate() {
                let lead = if i == 0 { "fix: " } else { "     " };
                out.push_str(&format!("         {lead}{line}\n"));
            }
        }
    }
    if checks.iter().all(|c| c.status != Status::Problem) {
        out.push_str("everything checked is healthy\n");
    }
    out
}

/// Reads the facts: nothing is changed. A config file that does not parse is a fact (the
/// `config` check reports it), not an error.
pub fn gather(ui: &Ui, profile_flag: Option<PathBuf>) -> Result<Facts> {
    let (config, config_facts) = match Config::load() {
        Ok(config) => {
            let facts = config_facts(&config);
            (config, facts)
        }
        Err(e) => {
            let path = locations::config_home().join("flakey-profile/config.toml");
            let message = e.message().to_string();
            (Config::default(), ConfigFacts::Broken(message, path))
        }
    };
    let profile = config.resolve_profile(ui, profile_flag)?;
    let generations = profile.generations()?;
    let current = match generation::current(&generations) {
        Some(g) => {
            let env = Path::new(&g.store_path);
            let flakey = env_marker::is_flakey(env);
            let last_flakey = (!flakey)
                .then(|| {
                    generations
                        .iter()
                        .rev()
                        .find(|o| env_marker::is_flakey(Path::new(&o.store_path)))
                })
                .flatten();
            let packages = match (flakey, last_flakey) {
                (true, _) => Vec::new(),
                (false, Some(ours)) => {
                    let d = between(ui, Some(&g.store_path), &ours.store_path, false)?;
                    dropped_packages(&d)
                }
                (false, None) => packages_of(ui, &g.store_path)?,
            };
            Some(CurrentGeneration {
                number: g.generation,
                flakey,
                packages: packages
                    .into_iter()
                    .map(|p| format!("{} {}", p.name, p.version).trim_end().to_string())
                    .collect(),
                last_flakey: last_flakey.map(|o| o.generation),
                nix: nix_of_env(env),
            })
        }
        None => None,
    };
    let path_dirs = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| std::fs::canonicalize(&d).unwrap_or(d))
                .collect()
        })
        .unwrap_or_default();
    let version = nix_version(ui)?;
    let user_link = locations::user_profile_link(version);
    let canonical_profile = std::fs::canonicalize(profile.path()).ok();
    let user_link_target = locations::link_target(&user_link);
    let user_link_is_profile = user_link_target.as_deref() == Some(profile.path())
        || (canonical_profile.is_some()
            && std::fs::canonicalize(&user_link).ok() == canonical_profile);
    let user = locations::User::current();
    let user_link_pre_2_14 = version.profiles_in_state_dir()
        && !user.root
        && user_link_target.as_deref()
            == locations::default_profile(fp_nix::command::NixVersion::new(2, 13, 0), &user)
                .ok()
                .as_deref();
    let (multi_user, socket) = locations::daemon_socket();
    let reachable = multi_user && std::os::unix::net::UnixStream::connect(&socket).is_ok();
    let owner = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(profile.dir()).ok().map(|m| m.uid())
    };
    let pins = match &config_facts {
        ConfigFacts::Broken(..) => PinFacts::NotRead("the config file does not parse".into()),
        ConfigFacts::Read {
            has_flake_nix: Some(false),
            flake,
            ..
        } => PinFacts::NotRead(format!("{flake} has no flake.nix")),
        ConfigFacts::Read { source: None, .. }
            if config.no_flake_found(None, &std::env::current_dir().unwrap_or_default()) =>
        {
            PinFacts::NotRead(
                "no flake is configured and neither the current directory nor one above it has one"
                    .into(),
            )
        }
        ConfigFacts::Read { .. } => pin_facts(ui, &config)?,
    };
    Ok(Facts {
        profile: profile.path().to_path_buf(),
        profile_bin: current
            .as_ref()
            .and_then(|_| std::fs::canonicalize(profile.path().join("bin")).ok()),
        current,
        path_dirs,
        user_link_target_exists: user_link_target
            .as_ref()
            .is_some_and(|t| std::fs::symlink_metadata(t).is_ok()),
        user_link_target,
        user_link_pre_2_14,
        user_link,
        user_link_is_profile,
        multi_user,
        profile_dir: (profile.dir().to_path_buf(), owner),
        user: (
            locations::effective_uid(),
            locations::user_name().unwrap_or_else(|| locations::effective_uid().to_string()),
        ),
        daemon: (socket, reachable),
        config: config_facts,
        running_nix: nix_on_path(),
        pins,
    })
}

/// The configured flake and whether a local one has its `flake.nix`.
fn config_facts(config: &Config) -> ConfigFacts {
    let flake = config.flake(None);
    let source = (flake.source != Origin::Default).then(|| flake.source.to_string());
    let local = flake.value.starts_with('/') || flake.value.starts_with('.');
    let path = flake.value.strip_prefix("path:").unwrap_or(&flake.value);
    let has_flake_nix = (local || flake.value.starts_with("path:"))
        .then(|| Path::new(path).join("flake.nix").exists());
    ConfigFacts::Read {
        flake: flake.value,
        source,
        has_flake_nix,
        file: Some(config.path().to_path_buf()).filter(|p| p.exists()),
    }
}

/// Reads the profile's `pinned` and what the registry and channels say of each pin.
fn pin_facts(ui: &Ui, config: &Config) -> Result<PinFacts> {
    let installable = config.installable(ui, None, None)?.installable;
    let flake = fp_nix::installable::Installable::Flake(installable.clone());
    let wanted = match fp_pin::pins::from_flake(ui, &flake) {
        Ok(pins) => pins,
        Err(e) => {
            return Ok(PinFacts::Unreadable(format!(
                "cannot read {installable}.pinned, so the pins cannot be checked: {}",
                e.message()
            )))
        }
    };
    let wanted: BTreeMap<String, String> = wanted
        .into_iter()
        .map(|(n, p)| (n, p.as_str().to_string()))
        .collect();
    if wanted.is_empty() {
        return Ok(PinFacts::NotRead(format!("{installable}.pinned is empty")));
    }
    let user = Registry::load(&locations::user_registry(|| nix_version(ui))?)?;
    let system = Registry::load(&locations::system_registry())?;
    let registry = wanted
        .keys()
        .map(|name| {
            let from = registry::indirect(name);
            let found = [&user, &system].iter().find_map(|r| {
                r.find(&from)
                    .first()
                    .map(|e| registry::describe_input(&e["to"]))
            });
            (name.clone(), found)
        })
        .collect();
    let location = Location::resolve(ui, None)?;
    let channels_dir = std::fs::canonicalize(location.profile.path()).ok();
    let channels = wanted
        .keys()
        .map(|name| {
            let target = channels_dir
                .as_ref()
                .and_then(|d| std::fs::canonicalize(d.join(name)).ok())
                .map(|t| t.display().to_string());
            (name.clone(), target)
        })
        .collect();
    let mut channels_unused = location.not_used_because(std::env::var("NIX_PATH").ok().as_deref());
    if location.link_state == LinkState::Missing {
        channels_unused.push(format!("{} does not exist", location.link.display()));
    }
    Ok(PinFacts::Read {
        wanted,
        registry,
        channels,
        channels_unused,
        pinned_before: fp_pin::history::History::new()
            .numbers()
            .is_ok_and(|n| !n.is_empty()),
    })
}

/// Decides every check from the facts.
pub fn diagnose(f: &Facts) -> Vec<Check> {
    let profile = f.profile.display().to_string();
    let quoted = shell_quote(&profile);
    let no_generation = || format!("the profile {profile} has no generation yet");
    let mut checks = Vec::new();

    // The profile's bin on PATH.
    checks.push(match &f.profile_bin {
        None => Check::skipped("path", no_generation()),
        Some(bin) if f.path_dirs.contains(bin) => {
            Check::ok("path", format!("{profile}/bin is on PATH"))
        }
        Some(_) => Check::problem(
            "path",
            format!("{profile}/bin is not on PATH, so what the profile installs cannot be run"),
            format!(
                "add to your shell's startup file: export PATH={}:\"$PATH\"",
                shell_quote(&format!("{profile}/bin"))
            ),
        ),
    });

    // The user's profile link.
    let link = f.user_link.display().to_string();
    let relink = format!("ln -sfn {quoted} {}", shell_quote(&link));
    checks.push(match (&f.user_link_target, f.user_link_is_profile) {
        (_, true) => Check::ok("user-link", format!("{link} points at {profile}")),
        (None, _) => Check::problem(
            "user-link",
            format!("{link} does not exist, so Nix's tools and shell setup do not find {profile}"),
            relink,
        ),
        (Some(target), _) if !f.user_link_target_exists => Check::problem(
            "user-link",
            format!(
                "{link} points at {}, which does not exist{}",
                target.display(),
                if f.user_link_pre_2_14 {
                    " (a stale link: that is where profiles were before Nix 2.14, which keeps them in ~/.local/state/nix/profiles)"
                } else {
                    ""
                }
            ),
            relink,
        ),
        (Some(target), _) => Check::problem(
            "user-link",
            format!(
                "{link} points at {}, not at the profile the tools use ({profile})",
                target.display()
            ),
            format!("{relink}   (or name the profile: fp-switch --profile {})", shell_quote(&target.display().to_string())),
        ),
    });

    // Multi-user: the per-user profile directory and the daemon.
    let (dir, owner) = &f.profile_dir;
    let (uid, user) = &f.user;
    let dir_text = dir.display().to_string();
    checks.push(if !f.multi_user {
        Check::skipped("profile-dir", "single-user install: no per-user profile directory to check")
    } else {
        match owner {
            Some(o) if o == uid => Check::ok("profile-dir", format!("{dir_text} exists and is yours")),
            // Root can still write there; what is wrong is that another user can too.
            Some(o) if *uid == 0 => Check::problem(
                "profile-dir",
                format!("{dir_text} belongs to uid {o}, not to root: that user can change or delete root's generations"),
                format!("chown root {}", shell_quote(&dir_text)),
            ),
            Some(o) => Check::problem(
                "profile-dir",
                format!("{dir_text} belongs to uid {o}, not to you ({user}): new generations cannot be made"),
                format!("sudo chown {} {}", shell_quote(user), shell_quote(&dir_text)),
            ),
            // Root makes it itself (never told to give root what is root's).
            None if *uid == 0 => Check::problem(
                "profile-dir",
                format!("{dir_text} does not exist: the first switch cannot make a generation"),
                format!("mkdir -p {}", shell_quote(&dir_text)),
            ),
            None => Check::problem(
                "profile-dir",
                format!("{dir_text} does not exist: the first switch cannot make a generation"),
                format!(
                    "sudo mkdir -p {d} && sudo chown {u} {d}",
                    d = shell_quote(&dir_text),
                    u = shell_quote(user)
                ),
            ),
        }
    });
    let (socket, reachable) = &f.daemon;
    checks.push(if !f.multi_user {
        Check::skipped("daemon", "single-user install: there is no nix-daemon to reach")
    } else if *reachable {
        Check::ok("daemon", format!("nix-daemon answers on {}", socket.display()))
    } else {
        Check::problem(
            "daemon",
            format!("nix-daemon does not answer on {}", socket.display()),
            "sudo systemctl restart nix-daemon   (macOS: sudo launchctl kickstart -k system/org.nixos.nix-daemon)",
        )
    });

    // Who made the current generation.
    checks.push(match &f.current {
        None => Check::skipped("made-by", no_generation()),
        Some(g) if g.flakey => Check::ok(
            "made-by",
            format!("generation {} was made by flakey-profile", g.number),
        ),
        Some(g) => {
            let dropped = if g.packages.is_empty() {
                "no package".to_string()
            } else {
                g.packages.join(", ")
            };
            let message = match g.last_flakey {
                Some(ours) => format!(
                    "generation {} was made by nix profile or nix-env, not flakey-profile; a switch to what generation {ours} has (your flake's last build) drops: {dropped}",
                    g.number
                ),
                None => format!(
                    "generation {} was made by nix profile or nix-env, not flakey-profile; the first switch drops whatever of it your flake does not have: {dropped}",
                    g.number
                ),
            };
            Check::problem(
                "made-by",
                message,
                format!("fp-migrate --profile {quoted}   (prints a flake.nix with them; add the lines of its `paths` to your own flake)"),
            )
        }
    });

    // The configuration and the configured flake.
    match &f.config {
        ConfigFacts::Broken(message, path) => {
            checks.push(Check::problem(
                "config",
                message.clone(),
                format!(
                    "edit {} (keys: flake, attr, profile, ask, [hosts.NAME]), or move it away",
                    path.display()
                ),
            ));
            checks.push(Check::skipped("flake", "the config file does not parse"));
        }
        ConfigFacts::Read {
            flake,
            source,
            has_flake_nix,
            file,
        } => {
            checks.push(match file {
                Some(file) => Check::ok("config", format!("{} parses", file.display())),
                None => Check::ok(
                    "config",
                    "there is no config file: the defaults and the environment apply",
                ),
            });
            checks.push(match (source, has_flake_nix) {
                (None, _) => Check::skipped(
                    "flake",
                    "no flake is configured: fp-build builds the one in the current directory",
                ),
                (Some(_), None) => Check::skipped("flake", format!("{flake} is not a local path")),
                (Some(_), Some(true)) => Check::ok("flake", format!("{flake} has a flake.nix")),
                (Some(from), Some(false)) => Check::problem(
                    "flake",
                    format!("the configured flake {flake} (from {from}) has no flake.nix"),
                    "set `flake` in config.toml (or $FP_FLAKE) to the directory of your profile flake",
                ),
            });
        }
    }

    // The pins.
    match &f.pins {
        PinFacts::NotRead(why) => {
            for id in ["registry-pins", "channel-pins", "nix-path"] {
                checks.push(Check::skipped(id, why.clone()));
            }
        }
        PinFacts::Unreadable(error) => {
            checks.push(Check::problem(
                "registry-pins",
                error.clone(),
                "fix the flake where Nix's error above says, then run fp-doctor again (fp-build shows the same error)",
            ));
            for id in ["channel-pins", "nix-path"] {
                checks.push(Check::skipped(id, "the flake's pinned cannot be read"));
            }
        }
        PinFacts::Read {
            wanted,
            registry,
            channels,
            channels_unused,
            pinned_before,
        } => {
            let differing = |found: &BTreeMap<String, Option<String>>,
                             as_found: &dyn Fn(&str) -> String| {
                wanted
                    .iter()
                    .filter(|(name, path)| {
                        found.get(*name).cloned().flatten().as_deref()
                            != Some(as_found(path).as_str())
                    })
                    .map(|(name, path)| match found.get(name).cloned().flatten() {
                        Some(now) => format!("{name} is {now}, not {path}"),
                        None => format!("{name} is not pinned (it should be {path})"),
                    })
                    .collect::<Vec<_>>()
            };
            // Pinning is optional: before fp-pin ever pinned anything, pins that differ are
            // just not made; after, they went stale.
            let pin_check = |id: &'static str, off: Vec<String>, ok: &str, place: &str| {
                if off.is_empty() {
                    Check::ok(id, ok)
                } else if *pinned_before {
                    Check::problem(id, format!("in {place}, {}", off.join("; ")), "fp-pin")
                } else {
                    Check::ok(
                        id,
                        format!(
                            "not pinned in {place} (optional: fp-pin makes nixpkgs#... and <nixpkgs> the profile's)"
                        ),
                    )
                }
            };
            checks.push(pin_check(
                "registry-pins",
                differing(registry, &|p| format!("path:{p}")),
                "the flake registry has the profile's pins",
                "the flake registry",
            ));
            checks.push(pin_check(
                "channel-pins",
                differing(channels, &|p| p.to_string()),
                "the channels have the profile's pins",
                "the channels",
            ));
            let nix_path: Vec<&String> = channels_unused
                .iter()
                .filter(|w| w.starts_with("NIX_PATH"))
                .collect();
            checks.push(match nix_path.first() {
                _ if !pinned_before => Check::skipped(
                    "nix-path",
                    "fp-pin has pinned nothing here, so NIX_PATH overrides no pin",
                ),
                None => Check::ok("nix-path", "NIX_PATH does not override the channels pin"),
                Some(w) => Check::problem(
                    "nix-path",
                    w.to_string(),
                    "remove NIX_PATH from your shell's startup files (or unset NIX_PATH), so <nixpkgs> comes from the pinned channels",
                ),
            });
        }
    }

    // The running nix and the next switch.
    checks.push(match (&f.running_nix, &f.current) {
        (None, _) => Check::skipped("running-nix", "no nix on PATH"),
        (Some(_), None) => Check::skipped("running-nix", no_generation()),
        (Some(running), Some(g)) if g.nix.as_ref() != Some(running) => Check::ok(
            "running-nix",
            "the nix you run does not come from this profile",
        ),
        (Some(_), Some(g)) if g.flakey => Check::ok(
            "running-nix",
            "the nix you run comes from this profile, and your flake has it",
        ),
        (Some(running), Some(g)) => Check::problem(
            "running-nix",
            format!(
                "the nix you run ({}) comes from generation {}, which flakey-profile did not make: a flake without pkgs.nix would take it off PATH at the first switch (fp-switch refuses that)",
                running.display(),
                g.number
            ),
            "add pkgs.nix to paths in your profile flake before the first switch",
        ),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Facts {
        Facts {
            profile: "/p/profile".into(),
            current: Some(CurrentGeneration {
                number: 3,
                flakey: true,
                packages: vec![],
                last_flakey: None,
                nix: None,
            }),
            profile_bin: Some("/nix/store/x-env/bin".into()),
            path_dirs: vec!["/nix/store/x-env/bin".into(), "/usr/bin".into()],
            user_link: "/home/a/.nix-profile".into(),
            user_link_target: Some("/p/profile".into()),
            user_link_target_exists: true,
            user_link_pre_2_14: false,
            user_link_is_profile: true,
            multi_user: false,
            profile_dir: ("/p".into(), Some(1000)),
            user: (1000, "alice".into()),
            daemon: ("/s".into(), false),
            config: ConfigFacts::Read {
                flake: "/home/a/flake".into(),
                source: Some("config".into()),
                has_flake_nix: Some(true),
                file: Some("/c".into()),
            },
            running_nix: Some("/usr/bin/nix".into()),
            pins: PinFacts::NotRead("empty".into()),
        }
    }

    fn status(checks: &[Check], id: &str) -> Status {
        checks.iter().find(|c| c.id == id).expect(id).status
    }

    #[test]
    fn a_healthy_machine_has_no_problem() {
        let checks = diagnose(&healthy());
        assert!(
            checks.iter().all(|c| c.status != Status::Problem),
            "{checks:?}"
        );
        assert_eq!(status(&checks, "daemon"), Status::Skipped);
        assert_eq!(status(&checks, "registry-pins"), Status::Skipped);
    }

    #[test]
    fn each_broken_fact_is_its_checks_problem() {
        type Breaks = Box<dyn Fn(&mut Facts)>;
        let cases: Vec<(&str, Breaks)> = vec![
            ("path", Box::new(|f| f.path_dirs.clear())),
            ("user-link", Box::new(|f| f.user_link_is_profile = false)),
            (
                "profile-dir",
                Box::new(|f| {
                    f.multi_user = true;
                    f.daemon.1 = true;
                    f.profile_dir.1 = Some(0);
                }),
            ),
            ("daemon", Box::new(|f| f.multi_user = true)),
            (
                "made-by",
                Box::new(|f| f.current.as_mut().unwrap().flakey = false),
            ),
            (
                "config",
                Box::new(|f| f.config = ConfigFacts::Broken("bad".into(), "/c".into())),
            ),
            (
                "flake",
                Box::new(|f| {
                    f.config = ConfigFacts::Read {
                        flake: "/x".into(),
                        source: Some("config".into()),
                        has_flake_nix: Some(false),
                        file: Some("/c".into()),
                    }
                }),
            ),
            (
                "running-nix",
                Box::new(|f| {
                    let g = f.current.as_mut().unwrap();
                    g.flakey = false;
                    g.nix = Some("/usr/bin/nix".into());
                }),
            ),
        ];
        for (id, breaks) in cases {
            let mut facts = healthy();
            breaks(&mut facts);
            let checks = diagnose(&facts);
            let check = checks.iter().find(|c| c.id == id).expect(id);
            assert_eq!(check.status, Status::Problem, "{id}: {checks:?}");
            assert!(check.fix.is_some(), "{id}");
        }
    }

    #[test]
    fn a_dangling_link_blames_nix_2_14_only_when_that_moved_it() {
        let mut facts = healthy();
        facts.user_link_is_profile = false;
        facts.user_link_target = Some("/nix/var/nix/profiles/per-user/alice/profile".into());
        facts.user_link_target_exists = false;
        let message = |f: &Facts| {
            diagnose(f)
                .into_iter()
                .find(|c| c.id == "user-link")
                .expect("user-link")
                .message
        };
        assert!(!message(&facts).contains("2.14"), "{}", message(&facts));
        facts.user_link_pre_2_14 = true;
        assert!(
            message(&facts).contains("before Nix 2.14"),
            "{}",
            message(&facts)
        );
    }

    #[test]
    fn pins_that_differ_are_problems_and_nix_path_overrides_channels() {
        let mut facts = healthy();
        let src = "/nix/store/aaa-source".to_string();
        facts.pins = PinFacts::Read {
            wanted: [("nixpkgs".to_string(), src.clone())].into(),
            registry: [("nixpkgs".to_string(), Some(format!("path:{src}")))].into(),
            channels: [("nixpkgs".to_string(), Some(src.clone()))].into(),
            channels_unused: vec![],
            pinned_before: true,
        };
        let checks = diagnose(&facts);
        for id in ["registry-pins", "channel-pins", "nix-path"] {
            assert_eq!(status(&checks, id), Status::Ok, "{id}");
        }
        facts.pins = PinFacts::Read {
            wanted: [("nixpkgs".to_string(), src.clone())].into(),
            registry: [("nixpkgs".to_string(), None)].into(),
            channels: [("nixpkgs".to_string(), Some("/nix/store/bbb-source".into()))].into(),
            channels_unused: vec!["NIX_PATH is set (nixpkgs=/x)".into()],
            pinned_before: true,
        };
        let checks = diagnose(&facts);
        for id in ["registry-pins", "channel-pins", "nix-path"] {
            assert_eq!(status(&checks, id), Status::Problem, "{id}");
        }
        let registry = checks.iter().find(|c| c.id == "registry-pins").unwrap();
        assert!(
            registry.message.contains("nixpkgs is not pinned"),
            "{}",
            registry.message
        );
        // Pinning is optional: never pinned is no problem.
        if let PinFacts::Read { pinned_before, .. } = &mut facts.pins {
            *pinned_before = false;
        }
        let checks = diagnose(&facts);
        assert!(
            checks.iter().all(|c| c.status != Status::Problem),
            "{checks:?}"
        );
        assert_eq!(status(&checks, "registry-pins"), Status::Ok);
    }
}
