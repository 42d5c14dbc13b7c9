//! Settings from flags, environment and `config.toml`, with where each one came from.
//!
//! Precedence (SPEC section 2): flag, then environment (`FP_FLAKE`, `FP_ATTR`, `FP_PROFILE`), then
//! `$XDG_CONFIG_HOME/flakey-profile/config.toml`, then the built-in default.

use crate::error::{Error, Result};
use crate::ui::Ui;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a setting's value came from, for `-v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag or argument.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// The config file.
    ConfigFile(PathBuf),
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("command line"),
            Source::Env(var) => write!(f, "${var}"),
            Source::ConfigFile(p) => write!(f, "{}", p.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A resolved setting and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

/// The keys `config.toml` may have; any other key is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    flake: Option<String>,
    attr: Option<String>,
    profile: Option<String>,
}

/// The loaded configuration file (or its absence).
#[derive(Debug, Default)]
pub struct Config {
    path: PathBuf,
    file: ConfigFile,
}

impl Config {
    /// Loads `$XDG_CONFIG_HOME/flakey-profile/config.toml` (default `~/.config/...`). A missing
    /// file is an empty config; one that does not parse or has an unknown key is exit 2, naming
    /// the file, line and key.
    pub fn load() -> Result<Config> {
        let path = config_home().join("flakey-profile").join("config.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
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
                err.with_hint("the keys it may have are flake, attr and profile (strings)")
            }
        })?;
        Ok(Config { path, file })
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
        if s.source == Source::Default {
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
                source: Source::Flag,
            };
        }
        if let Some(value) = std::env::var(env).ok().filter(|v| !v.is_empty()) {
            return Setting {
                value,
                source: Source::Env(env),
            };
        }
        if let Some(value) = file {
            return Setting {
                value: value.clone(),
                source: Source::ConfigFile(self.path.clone()),
            };
        }
        Setting {
            value: default.to_string(),
            source: Source::Default,
        }
    }
}

/// Tells, under `-v`, what a setting is and where it came from.
pub fn explain<T: fmt::Debug>(ui: &Ui, name: &str, setting: &Setting<T>) {
    ui.verbose(&format!(
        "{name} = {:?} (from {})",
        setting.value, setting.source
    ));
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

/// `$XDG_CACHE_HOME`, else `~/.cache`.
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
    fn bad_toml_is_usage_error() {
        let err = Config::parse("flake = \n", "c.toml".into()).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.message().contains("line 1"), "{}", err.message());
    }

    #[test]
    fn flag_wins_over_file() {
        let c = Config::parse("attr = \"laptop\"\n", "c.toml".into()).unwrap();
        let s = c.attr(Some("desktop".into()));
        assert_eq!(s.value, "desktop");
        assert_eq!(s.source, Source::Flag);
    }
}
