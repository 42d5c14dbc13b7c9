//! The channels side of pinning (NIX_PATH, `<nixpkgs>`): which channels profile to change, the
//! `~/.nix-defexpr/channels` link that makes Nix look there, and the store path that becomes
//! the profile's new generation (one link per pinned name, referencing the sources).

use crate::pins::Pins;
use fp_common::{Error, Result, Ui};
use fp_nix::command::{nix_version, parse_build_json, NixCommand, Stderr};
use fp_nix::installable::Installable;
use fp_nix::locations::{self, User};
use fp_nix::nix_expr;
use fp_nix::profile::Profile;
use fp_nix::safe_dir::SafeDir;
use fp_nix::store_path::{store_dir, StorePath};
use fp_nix::store_query;
use fp_nix::Log;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How the channels profile was chosen, for `-v` and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelsOrigin {
    /// `--channels-profile PATH`.
    Flag,
    /// The target of `~/.nix-defexpr/channels`.
    DefexprLink,
    /// Nix's default for this version and user (the link is missing).
    NixDefault,
}

/// What `~/.nix-defexpr/channels` is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Missing: fp-pin creates it, pointing at the channels profile.
    Missing,
    /// A symlink to the channels profile.
    Ok,
    /// A symlink to something else (only with `--channels-profile`); left alone, with a warning.
    Elsewhere(PathBuf),
}

/// The channels profile fp-pin changes and the link Nix finds it through.
#[derive(Debug, Clone)]
pub struct Location {
    /// The channels profile.
    pub profile: Profile,
    /// `~/.nix-defexpr/channels` (or `$XDG_STATE_HOME/nix/defexpr/channels` under
    /// `use-xdg-base-directories` on Nix 2.14 and later).
    pub link: PathBuf,
    /// What the link is now.
    pub link_state: LinkState,
    /// How the profile was chosen.
    pub origin: ChannelsOrigin,
}

impl Location {
    /// Finds the channels profile: `--channels-profile`, else the target of
    /// `~/.nix-defexpr/channels`, else Nix's default for this version and user
    /// ([`locations::default_channels`]).
    pub fn resolve(ui: &Ui, flag: Option<&Path>) -> Result<Location> {
        let link = locations::defexpr_dir(nix_version(ui)?).join("channels");
        let current = std::fs::symlink_metadata(&link).ok();
        let target = locations::link_target(&link);
        if let Some(flag) = flag {
            let profile = Profile::new(flag)?;
            let link_state = match (&current, &target) {
                (None, _) => LinkState::Missing,
                (Some(_), Some(t)) if same_path(t, profile.path()) => LinkState::Ok,
                (Some(_), Some(t)) => LinkState::Elsewhere(t.clone()),
                (Some(_), None) => LinkState::Elsewhere(link.clone()),
            };
            return Ok(Location {
                profile,
                link,
                link_state,
                origin: ChannelsOrigin::Flag,
            });
        }
        match (current, target) {
            (Some(_), Some(target)) => {
                if target.starts_with(store_dir()) {
                    return Err(Error::failed(format!(
                        "{} points into the Nix store ({}), not to a channels profile",
                        link.display(),
                        target.display()
                    ))
                    .with_hint("name the profile to change with --channels-profile PATH, or skip the channels with --no-channels"));
                }
                Ok(Location {
                    profile: Profile::new(&target)?,
                    link,
                    link_state: LinkState::Ok,
                    origin: ChannelsOrigin::DefexprLink,
                })
            }
            (Some(_), None) => Err(Error::failed(format!(
                "{} is not a link to a channels profile",
                link.display()
            ))
            .with_hint(
                "name the profile to change with --channels-profile PATH, or skip the channels with --no-channels",
            )),
            (None, _) => Ok(Location {
                profile: Profile::new(&locations::default_channels(
                    nix_version(ui)?,
                    &User::current(),
                )?)?,
                link,
                link_state: LinkState::Missing,
                origin: ChannelsOrigin::NixDefault,
            }),
        }
    }

    /// Creates the `~/.nix-defexpr/channels` link when it is missing (before nix-env runs, which
    /// would otherwise create it pointing at its own default). Returns whether it was created.
    pub fn ensure_link(&self) -> Result<bool> {
        if self.link_state != LinkState::Missing {
            return Ok(false);
        }
        // The directory is walked and made without following anyone else's link, and the link
        // made in it with symlinkat, so a planted link on the way never places it elsewhere.
        let parent = self.link.parent().unwrap_or(Path::new("/"));
        let name = self.link.file_name().unwrap_or(self.link.as_os_str());
        let dir = SafeDir::open_or_create(parent, 0o755)?;
        match dir.symlink(self.profile.path(), name) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::failed(format!(
                "cannot create the link {}: {e}",
                self.link.display()
            ))),
        }
    }

    /// Why `<nixpkgs>` will not be looked up through this profile, if it will not: the link
    /// points elsewhere, or `NIX_PATH` (given as `nix_path`) is set and names neither the link
    /// nor the profile. One warning for people each.
    pub fn not_used_because(&self, nix_path: Option<&str>) -> Vec<String> {
        let mut warnings = Vec::new();
        if let LinkState::Elsewhere(other) = &self.link_state {
            warnings.push(format!(
                "{} points to {}, not to {}: <nixpkgs> will not see this pin",
                self.link.display(),
                other.display(),
                self.profile.path().display()
            ));
        }
        if let Some(nix_path) = nix_path.filter(|p| !p.is_empty()) {
            let link = self.link.to_string_lossy();
            let profile = self.profile.path().to_string_lossy();
            if !nix_path.contains(link.as_ref()) && !nix_path.contains(profile.as_ref()) {
                warnings.push(format!(
                    "NIX_PATH is set ({nix_path}) and names neither {link} nor {profile}: <nixpkgs> will not see this pin unless NIX_PATH is unset or includes {link}"
                ));
            }
        }
        warnings
    }
}

/// Whether two paths name the same file, comparing them as written and, when both exist,
/// after resolving links.
pub(crate) fn same_path(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// Where the channels store path comes from.
#[derive(Debug, Clone)]
pub enum ChannelsSource {
    /// The profile's `pins.channels` (built with `nix build FLAKE#ATTR.pins.channels`, or
    /// `--file FILE ATTR.pins.channels`).
    Flake(Installable),
    /// A store path given with `--channels-path` (checked against the pins).
    Given(StorePath),
    /// A derivation fp-pin writes for the pins (see [`expression`]).
    Expression(String),
}

impl ChannelsSource {
    /// Says what this is, for messages.
    pub fn describe(&self) -> String {
        match self {
            ChannelsSource::Flake(installable) => installable.describe("pins.channels"),
            ChannelsSource::Given(path) => format!("--channels-path {path}"),
            ChannelsSource::Expression(_) => {
                "fp-pin's channels derivation for the pins".to_string()
            }
        }
    }

    /// The store path this gives, without building it (`nix eval --raw ...outPath`).
    pub fn out_path(&self, log: &dyn Log) -> Result<StorePath> {
        let text = match self {
            ChannelsSource::Given(path) => return Ok(path.clone()),
            ChannelsSource::Flake(installable) => NixCommand::nix()
                .args(["eval", "--raw"])
                .args(installable.args("pins.channels.outPath"))
                .output(log, Stderr::Capture)
                .map_err(|e| {
                    e.with_hint("the profile has no pins.channels (is it made with lib.mkProfile?); skip the channels with --no-channels")
                })?,
            ChannelsSource::Expression(expr) => NixCommand::nix()
                .args(["eval", "--impure", "--raw", "--expr"])
                .arg(format!("({expr}).outPath"))
                .output(log, Stderr::Capture)?,
        };
        StorePath::parse(text.trim()).map_err(|e| {
            Error::failed(format!(
                "{} did not evaluate to a store path: {}",
                self.describe(),
                e.message()
            ))
        })
    }

    /// Builds the store path (`nix build --no-link --json`), streaming nix's progress.
    pub fn build(&self, log: &dyn Log) -> Result<StorePath> {
        let cmd = match self {
            ChannelsSource::Given(path) => return Ok(path.clone()),
            ChannelsSource::Flake(installable) => NixCommand::nix()
                .args(["build", "--no-link", "--json"])
                .args(installable.args("pins.channels")),
            ChannelsSource::Expression(expr) => NixCommand::nix()
                .args(["build", "--no-link", "--json", "--impure", "--expr"])
                .arg(expr),
        };
        let out = cmd.output(log, Stderr::Stream)?;
        let (path, _) = parse_build_json(&out)?;
        StorePath::parse(&path).map_err(|e| e.context("nix build"))
    }
}

/// Quotes `s` as a Nix string literal (pin names and store paths never hold a NUL, which is
/// the one thing Nix strings cannot).
fn nix_string(s: &str) -> String {
    nix_expr::string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// The shell script of the channels derivation: one symlink `$out/NAME -> SOURCE` per pair of
/// arguments.
const BUILDER_SCRIPT: &str =
    r#"set -e; mkdir "$out"; while [ "$#" -gt 0 ]; do ln -s "$2" "$out/$1"; shift 2; done"#;

/// A Nix expression for a store path with one link per pin, `NAME -> /nix/store/<hash>-source`.
///
/// `builtins.storePath` gives each source its string context, so the sources are inputs of the
/// derivation and, since the links name them, references of its output: a channels generation
/// keeps them alive against garbage collection. (`nix-store --add` of a directory of links would
/// record no references.) The builder is `/bin/sh` with the host's `mkdir` and `ln`, like the
/// rest of fp-pin's offline needs: it needs `sandbox = false` or a sandbox that provides them.
/// Evaluating it needs `--impure` (`builtins.storePath`, `builtins.currentSystem`).
pub fn expression(pins: &Pins) -> String {
    let args: Vec<String> = pins
        .iter()
        .map(|(name, path)| {
            format!(
                "{} (builtins.storePath {})",
                nix_string(name),
                nix_string(path.as_str())
            )
        })
        .collect();
    format!(
        "derivation {{ name = \"fp-pin-channels\"; system = builtins.currentSystem; builder = \"/bin/sh\"; PATH = \"/usr/bin:/bin\"; preferLocalBuild = true; allowSubstitutes = false; args = [ \"-c\" {} \"fp-pin-channels\" {} ]; }}",
        nix_string(BUILDER_SCRIPT),
        args.join(" ")
    )
}

/// Checks that `path` is a channels store path for exactly these pins: one entry per name, each
/// a symlink to its source, and each source a reference of `path` (so it is kept from garbage
/// collection). Exit 2 when it is not.
pub fn check_contents(ui: &Ui, path: &StorePath, pins: &Pins, what: &str) -> Result<()> {
    let entries = std::fs::read_dir(path.as_path())
        .map_err(|e| Error::usage(format!("{what} ({path}) is not a directory of links: {e}")))?;
    let mut names = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::failed(format!("cannot read {path}: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let target = std::fs::read_link(entry.path()).ok();
        match (pins.get(&name), target) {
            (Some(source), Some(t)) if t == source.as_path() => {}
            (Some(source), _) => {
                return Err(Error::usage(format!(
                    "{what} ({path}) has {name}, but not as a link to {source}"
                )))
            }
            (None, _) => {
                return Err(Error::usage(format!(
                    "{what} ({path}) has {name}, which is not pinned"
                )))
            }
        }
        names.insert(name);
    }
    if let Some(missing) = pins.keys().find(|n| !names.contains(*n)) {
        return Err(Error::usage(format!(
            "{what} ({path}) has no link for the pin {missing}"
        )));
    }
    let info = store_query::path_infos(ui, &[path.as_str()])?;
    let refs: BTreeSet<&str> = info
        .get(path.as_str())
        .map(|i| i.references.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if let Some((name, source)) = pins.iter().find(|(_, s)| !refs.contains(s.as_str())) {
        return Err(Error::usage(format!(
            "{what} ({path}) does not reference the source of {name} ({source}), so garbage collection could delete it"
        )));
    }
    Ok(())
}

/// A store path holding an empty directory, the channels generation that stands for "no
/// channels" when a revert has no earlier generation to go back to (what `nix-channel --remove`
/// of the last channel leaves, minus the manifest). Added with `nix-store --add`: it references
/// nothing and needs no builder.
pub fn empty_channels(ui: &Ui) -> Result<StorePath> {
    let tmp = std::env::temp_dir().join(format!("fp-pin-{}", std::process::id()));
    let dir = tmp.join("empty-channels");
    let result = (|| {
        // Made through SafeDir: a directory of that name someone else planted in the shared
        // temporary directory is refused, never used.
        SafeDir::open_or_create(&dir, 0o700)?;
        let out = NixCommand::nix_store()
            .arg("--add")
            .arg(&dir)
            .output(ui, Stderr::Capture)?;
        StorePath::parse(out.trim()).map_err(|e| e.context("nix-store --add"))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nix_strings_are_escaped() {
        assert_eq!(nix_string("plain"), "\"plain\"");
        assert_eq!(nix_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(nix_string("${x} $y"), "\"\\${x} $y\"");
        assert_eq!(nix_string("l1\nl2"), "\"l1\\nl2\"");
    }

    #[test]
    fn warns_when_nixpkgs_is_looked_up_elsewhere() {
        let location = Location {
            profile: Profile::new(Path::new("/p/channels")).unwrap(),
            link: PathBuf::from("/home/a/.nix-defexpr/channels"),
            link_state: LinkState::Ok,
            origin: ChannelsOrigin::DefexprLink,
        };
        assert!(location.not_used_because(None).is_empty());
        assert!(location.not_used_because(Some("")).is_empty());
        assert!(location
            .not_used_because(Some("nixpkgs=/home/a/.nix-defexpr/channels/nixpkgs"))
            .is_empty());
        let w = location.not_used_because(Some("nixpkgs=/elsewhere"));
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("NIX_PATH is set (nixpkgs=/elsewhere)"),
            "{}",
            w[0]
        );
        let elsewhere = Location {
            link_state: LinkState::Elsewhere(PathBuf::from("/other")),
            ..location
        };
        let w = elsewhere.not_used_because(None);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("points to /other"), "{}", w[0]);
    }

    #[test]
    fn expression_names_every_pin() {
        let mut pins = Pins::new();
        pins.insert(
            "nixpkgs".into(),
            StorePath::parse("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source").unwrap(),
        );
        let expr = expression(&pins);
        assert!(expr.contains(
            "\"nixpkgs\" (builtins.storePath \"/nix/store/0123456789abcdfghijklmnpqrsvwxyz-source\")"
        ), "{expr}");
        assert!(expr.starts_with("derivation {"), "{expr}");
    }
}
