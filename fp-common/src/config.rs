//! Settings from flags, environment and `config.toml`, with where each one came from.
//!
//! Precedence: flag, then environment (`FP_FLAKE`, `FP_ATTR`, `FP_PROFILE`), then
//! `$XDG_CONFIG_HOME/flakey-profile/config.toml`, then the built-in default (for the profile,
//! nix-env's own default).

use crate::cli::AskArgs;
use crate::error::{Error, Result};
use crate::ui::Ui;
use fp_nix::command::nix_version;
use fp_nix::locations::{config_home, home_dir};
use fp_nix::profile::{ChosenBy, Profile};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a setting's value came from, for `-v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag or argument.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// The config file.
    ConfigFile(PathBuf),
    /// Where a link points (`~/.nix-profile`).
    Link(PathBuf),
    /// The built-in default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag => f.write_str("command line"),
            Origin::Env(var) => write!(f, "${var}"),
            Origin::ConfigFile(p) => write!(f, "{}", p.display()),
            Origin::Link(p) => write!(f, "where {} points", p.display()),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A resolved setting and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub source: Origin,
}

/// The keys `config.toml` may have; any other key is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    flake: Option<String>,
    attr: Option<String>,
    profile: Option<String>,
    ask: Option<bool>,
    #[serde(default)]
    hosts: BTreeMap<String, HostEntry>,
}

/// A `[hosts.NAME]` table: another machine the tools reach over ssh with `--hosts NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    /// What ssh is given: `host`, `user@host` or an alias of the ssh config.
    pub target: String,
    /// The profile there (default: nix-env's default on that machine).
    pub profile: Option<String>,
}

/// Refuses a config file whose contents someone other than the effective user (or root) could
/// have written: its `profile` and `flake` decide what is built and which profile is changed.
/// The file read (the target, when it is a symlink) must be owned by the effective user or root
/// and writable only by them ([`fp_nix::trust`]; a user's private group may write it), else
/// exit 1, naming the owner, group or mode and what to run.
fn check_trusted(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owners = fp_nix::trust::Owners::YouOrRoot;
    let Some(why) = fp_nix::trust::check(meta.uid(), meta.gid(), meta.mode(), owners) else {
        return Ok(());
    };
    let hint = match why.chmod(path) {
        Some(chmod) => format!("{}{chmod}", fp_nix::safe_dir::MODE_HINT),
        None => "make it yours (chown), or run the tool as its owner (under sudo: `sudo -H`)"
            .to_string(),
    };
    Err(Error::failed(format!(
        "config file {} {}; its settings decide which profile is changed, so it is not used",
        path.display(),
        why.why()
    ))
    .with_hint(hint))
}

/// The loaded configuration file (or its absence).
#[derive(Debug, Default)]
pub struct Config {
    path: PathBuf,
    file: ConfigFile,
}

impl Config {
    /// Whether there is no flake at all: none named (argument, `$FP_FLAKE`, the config file's
    /// `flake`) and no `flake.nix` where the default `.` would look: `cwd` and, as Nix
    /// searches, its parents up to the git work tree's root.
    pub fn no_flake_found(&self, flake_arg: Option<&str>, cwd: &Path) -> bool {
        flake_arg.is_none()
            && self.flake(None).source == Origin::Default
            && fp_nix::flake_dir::flake_dir_upward(cwd).is_none()
    }

    /// The error for no flake found, in our words, for `tool` which would `verb` it (fp-build:
    /// "build", fp-pin: "pin from"), with the ways on (first, where the directory has a
    /// default.nix, the way to use that without flakes).
    pub fn no_flake_error(&self, tool: &str, verb: &str, cwd: &Path) -> Error {
        let without_flakes = if cwd.join("default.nix").is_file() {
            format!("this directory has a default.nix: {verb} it without flakes with {tool} -f . [-A ATTR]\n  or ")
        } else {
            String::new()
        };
        Error::usage(format!(
            "no profile flake to {verb}: none was named, {} sets no `flake`, and neither {} nor a directory above it has a flake.nix",
            self.path().display(),
            cwd.display()
        ))
        .with_hint(format!(
            "{without_flakes}name the flake: {tool} ~/my-profile (a directory with flake.nix, or any flake reference)\n  \
             or set it once in config.toml: flake = \"~/my-profile\"\n  \
             or start one here: nix flake init -t github:flakey-profile/flakey-profile\n  \
             or from what is installed now: fp-migrate --profile ~/.nix-profile > flake.nix",
        ))
    }

    /// Loads `$XDG_CONFIG_HOME/flakey-profile/config.toml` (default `~/.config/...`). A missing
    /// file is an empty config; one that does not parse or has an unknown key is exit 2, naming
    /// the file, line and key; so is one that is not a regular file (a FIFO, a device) or is
    /// larger than 1 MiB.
    pub fn load() -> Result<Config> {
        let path = config_home().join("flakey-profile").join("config.toml");
        let limit = fp_nix::limits::MAX_SMALL_FILE_BYTES;
        let read = fp_nix::limits::read_regular(&path, limit, fp_nix::limits::Links::Follow);
        let text = match read {
            Ok(read) => {
                let read = read?;
                check_trusted(&path, &read.meta)?;
                String::from_utf8(read.bytes).map_err(|_| {
                    Error::usage(format!("config file {} is not UTF-8 text", path.display()))
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config {
                    path,
                    file: ConfigFile::default(),
                })
            }
            Err(e) => {
                return Err(Error::usage(format!(
                    "cannot read config file {}: {e}",
                    path.display()
                )))
            }
        };
        Self::parse(&text, path)
    }

    /// Parses config text that was read from `path`.
    pub fn parse(text: &str, path: PathBuf) -> Result<Config> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let at = line.map(|l| format!(", line {l}")).unwrap_or_default();
            let err = Error::usage(format!(
                "config file {}{at}: {}",
                path.display(),
                e.message().trim_end()
            ));
            if e.message().contains("expected one of") {
                err
            } else {
                err.with_hint("the keys it may have are flake, attr and profile (strings), ask (true or false), and [hosts.NAME] tables with target and profile")
            }
        })?;
        Ok(Config { path, file })
    }

    /// The `[hosts.NAME]` tables, by name.
    pub fn hosts(&self) -> &BTreeMap<String, HostEntry> {
        &self.file.hosts
    }

    /// The config file's path, whether or not it exists.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The flake to build: flag, `$FP_FLAKE`, config `flake`, then `.`. `~` is expanded.
    pub fn flake(&self, flag: Option<String>) -> Setting<String> {
        let s = self.pick(flag, "FP_FLAKE", self.file.flake.as_ref(), ".");
        Setting {
            value: expand_tilde(&s.value),
            source: s.source,
        }
    }

    /// The attribute to build: flag, `$FP_ATTR`, config `attr`, then `profile`.
    pub fn attr(&self, flag: Option<String>) -> Setting<String> {
        self.pick(flag, "FP_ATTR", self.file.attr.as_ref(), "profile")
    }

    /// The profile, if set by flag, `$FP_PROFILE` or config; `None` means nix-env's default.
    pub fn profile(&self, flag: Option<PathBuf>) -> Option<Setting<PathBuf>> {
        let flag = flag.map(|p| p.to_string_lossy().into_owned());
        let s = self.pick(flag, "FP_PROFILE", self.file.profile.as_ref(), "");
        if s.source == Origin::Default {
            return None;
        }
        Some(Setting {
            value: PathBuf::from(expand_tilde(&s.value)),
            source: s.source,
        })
    }

    /// Applies the precedence rule to one string setting.
    fn pick(
        &self,
        flag: Option<String>,
        env: &'static str,
        file: Option<&String>,
        default: &str,
    ) -> Setting<String> {
        if let Some(value) = flag {
            return Setting {
                value,
                source: Origin::Flag,
            };
        }
        if let Some(value) = std::env::var(env).ok().filter(|v| !v.is_empty()) {
            return Setting {
                value,
                source: Origin::Env(env),
            };
        }
        if let Some(value) = file {
            return Setting {
                value: value.clone(),
                source: Origin::ConfigFile(self.path.clone()),
            };
        }
        Setting {
            value: default.to_string(),
            source: Origin::Default,
        }
    }
}

impl Config {
    /// Whether to ask before changing the profile: `--yes` (no) or `--ask` (yes), then
    /// `$FP_ASK` (`1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`; anything else is exit 2),
    /// then the config file's `ask`, then no. Says under `-v` where it came from.
    pub fn ask(&self, ui: &Ui, args: &AskArgs) -> Result<bool> {
        let setting = if args.yes || args.ask {
            Setting {
                value: args.ask,
                source: Origin::Flag,
            }
        } else if let Some(text) = std::env::var("FP_ASK").ok().filter(|v| !v.is_empty()) {
            let value = crate::ask::parse_bool(&text).ok_or_else(|| {
                Error::usage(format!(
                    "FP_ASK is {text:?}; it takes 1 or 0 (also true/false, yes/no, on/off)"
                ))
            })?;
            Setting {
                value,
                source: Origin::Env("FP_ASK"),
            }
        } else if let Some(value) = self.file.ask {
            Setting {
                value,
                source: Origin::ConfigFile(self.path.clone()),
            }
        } else {
            Setting {
                value: false,
                source: Origin::Default,
            }
        };
        explain(ui, "ask", &setting);
        Ok(setting.value)
    }

    /// The profile a tool acts on: `--profile`, `$FP_PROFILE`, the config file's `profile`, then
    /// nix-env's own default ([`Profile::nix_env_default`]). Says under `-v` where it came from.
    pub fn resolve_profile(&self, ui: &Ui, flag: Option<PathBuf>) -> Result<Profile> {
        if let Some(setting) = self.profile(flag) {
            explain(ui, "profile", &setting);
            return Profile::new(&setting.value);
        }
        let (profile, by) = Profile::nix_env_default(|| nix_version(ui))?;
        let setting = Setting {
            value: profile.path().to_path_buf(),
            source: match by {
                ChosenBy::Env(var) => Origin::Env(var),
                ChosenBy::Link(link) => Origin::Link(link),
                ChosenBy::Default => Origin::Default,
            },
        };
        explain(ui, "profile", &setting);
        Ok(profile)
    }

    /// The installable `FLAKE#ATTR` to build: a `FLAKE#ATTR` argument sets both, else each comes
    /// from its flag, environment, config file or default ([`Config::flake`], [`Config::attr`]).
    /// Says under `-v` where each came from; an empty attribute is a usage error.
    pub fn installable(
        &self,
        ui: &Ui,
        flake: Option<&str>,
        attr: Option<String>,
    ) -> Result<Installable> {
        let (flake_arg, attr_from_flake) = match flake {
            Some(f) => match f.split_once('#') {
                Some((flake, attr)) => (Some(flake.to_string()), Some(attr.to_string())),
                None => (Some(f.to_string()), None),
            },
            None => (None, None),
        };
        if let (Some(fragment), Some(flag)) = (&attr_from_flake, &attr) {
            if fragment != flag {
                return Err(Error::usage(format!(
                    "two attributes given: #{fragment} in the flake argument and --attr {flag}"
                ))
                .with_hint("give one of them"));
            }
        }
        let flake = self.flake(flake_arg);
        let attr = self.attr(attr.or(attr_from_flake));
        explain(ui, "flake", &flake);
        explain(ui, "attr", &attr);
        if attr.value.is_empty() {
            return Err(Error::usage("the profile attribute is empty"));
        }
        Ok(Installable {
            installable: format!("{}#{}", flake.value, attr.value),
            flake: flake.value,
            attr: attr.value,
        })
    }
}

/// A flake and the installable `FLAKE#ATTR` of the profile in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installable {
    /// The flake, as given (after `~` expansion).
    pub flake: String,
    /// `FLAKE#ATTR`.
    pub installable: String,
    /// The attribute alone.
    pub attr: String,
}

/// Tells, under `-v`, what a setting is and where it came from.
pub fn explain<T: fmt::Debug>(ui: &Ui, name: &str, setting: &Setting<T>) {
    ui.verbose(&format!(
        "{name} = {:?} (from {})",
        setting.value, setting.source
    ));
}

/// Expands a leading `~` or `~/` to `$HOME`.
pub fn expand_tilde(value: &str) -> String {
    if value == "~" {
        return home_dir().to_string_lossy().into_owned();
    }
    match value.strip_prefix("~/") {
        Some(rest) => home_dir().join(rest).to_string_lossy().into_owned(),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_parse() {
        let c = Config::parse(
            "flake = \"/etc/profile-flake\"\nattr = \"laptop\"\n",
            "c.toml".into(),
        )
        .unwrap();
        assert_eq!(c.file.flake.as_deref(), Some("/etc/profile-flake"));
        assert_eq!(c.file.attr.as_deref(), Some("laptop"));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = Config::parse(
            "flake = \".\"\n\nflakes = \"x\"\n",
            "/cfg/config.toml".into(),
        )
        .unwrap_err();
        assert_eq!(err.code(), 2);
        let msg = err.message();
        assert!(msg.contains("/cfg/config.toml, line 3"), "{msg}");
        assert!(msg.contains("flakes"), "{msg}");
    }

    #[test]
    fn host_tables() {
        let c = Config::parse(
            "[hosts.web]\ntarget = \"root@web1\"\nprofile = \"/p\"\n[hosts.ci]\ntarget = \"ci\"\n",
            "c.toml".into(),
        )
        .unwrap();
        assert_eq!(c.hosts()["web"].target, "root@web1");
        assert_eq!(c.hosts()["web"].profile.as_deref(), Some("/p"));
        assert_eq!(c.hosts()["ci"].profile, None);
        let err =
            Config::parse("[hosts.web]\ntarget = \"a\"\nport = 22\n", "c.toml".into()).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.message().contains("port"), "{}", err.message());
        let err = Config::parse("[hosts.web]\nprofile = \"/p\"\n", "c.toml".into()).unwrap_err();
        assert!(err.message().contains("target"), "{}", err.message());
    }

    #[test]
    fn bad_toml_is_usage_error() {
        let err = Config::parse("flake = \n", "c.toml".into()).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.message().contains("line 1"), "{}", err.message());
    }

    #[test]
    fn installable_from_a_flake_argument_with_an_attribute() {
        let c = Config::parse("attr = \"laptop\"\n", "c.toml".into()).unwrap();
        let ui = Ui::new("fp-test", &Default::default());
        let i = c.installable(&ui, Some("/f#desk"), None).unwrap();
        assert_eq!(i.flake, "/f");
        assert_eq!(i.installable, "/f#desk");
        let i = c.installable(&ui, Some("/f"), Some("top".into())).unwrap();
        assert_eq!(i.installable, "/f#top");
        let err = c.installable(&ui, Some("/f#"), None).unwrap_err();
        assert_eq!(err.code(), 2);
        // The same attribute twice is fine; two different ones are a usage error.
        let i = c
            .installable(&ui, Some("/f#desk"), Some("desk".into()))
            .unwrap();
        assert_eq!(i.installable, "/f#desk");
        let err = c
            .installable(&ui, Some("/f#desk"), Some("nope".into()))
            .unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.message().contains("#desk"), "{}", err.message());
    }

    #[test]
    fn ask_from_flags_and_file() {
        let ui = Ui::new("fp-test", &Default::default());
        let c = Config::parse("ask = true\n", "c.toml".into()).unwrap();
        let flags = |ask, yes| AskArgs { ask, yes };
        // (FP_ASK, which the test runner does not set, is tested end to end.)
        assert!(c.ask(&ui, &flags(false, false)).unwrap());
        assert!(!c.ask(&ui, &flags(false, true)).unwrap());
        let none = Config::parse("", "c.toml".into()).unwrap();
        assert!(!none.ask(&ui, &flags(false, false)).unwrap());
        assert!(none.ask(&ui, &flags(true, false)).unwrap());
        let err = Config::parse("ask = \"sometimes\"\n", "c.toml".into()).unwrap_err();
        assert_eq!(err.code(), 2);
    }

    #[test]
    fn flag_wins_over_file() {
        let c = Config::parse("attr = \"laptop\"\n", "c.toml".into()).unwrap();
        let s = c.attr(Some("desktop".into()));
        assert_eq!(s.value, "desktop");
        assert_eq!(s.source, Origin::Flag);
    }
}
