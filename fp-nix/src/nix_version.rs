//! Which Nix runs: the implementation (upstream Nix, Determinate Nix, Lix) and its version, read
//! from the first line of `nix --version`, and every behaviour the tools depend on that differs
//! between them. Each behaviour is one method deciding from both, written once here.
//!
//! Lix forked from Nix 2.18: it has 2.18's behaviour in every release (its version numbers,
//! 2.90 and up, are its own), plus what it backported or added itself. Determinate Nix tracks
//! upstream Nix: its `nix --version` names the upstream version it is built on
//! (`nix (Determinate Nix 3.22.2) 2.35.2`), and that version decides as it does for upstream.

use crate::command::{NixCommand, Stderr};
use crate::error::{Error, Result};
use crate::Log;
use std::sync::OnceLock;

/// A Nix implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Implementation {
    /// Upstream Nix (`nix (Nix) 2.34.1`).
    Nix,
    /// Determinate Nix (`nix (Determinate Nix 3.22.2) 2.35.2`).
    Determinate,
    /// Lix (`nix (Lix, like Nix) 2.95.3`).
    Lix,
}

impl Implementation {
    /// Its name as people know it.
    pub fn name(self) -> &'static str {
        match self {
            Implementation::Nix => "Nix",
            Implementation::Determinate => "Determinate Nix",
            Implementation::Lix => "Lix",
        }
    }
}

/// The running Nix: its implementation and version, as printed by `nix --version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NixVersion {
    /// Which implementation it is.
    pub implementation: Implementation,
    /// Major version: the last number on `nix --version`'s first line (upstream's version for
    /// Nix and Determinate Nix, Lix's own for Lix).
    pub major: u32,
    /// Minor version (8 for 2.8.0).
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
    /// The implementation's own release (Determinate Nix's 3.22.2); for Nix and Lix the same as
    /// `major.minor.patch`.
    pub release: (u32, u32, u32),
}

impl NixVersion {
    /// Upstream Nix `major.minor.patch`.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        NixVersion {
            implementation: Implementation::Nix,
            major,
            minor,
            patch,
            release: (major, minor, patch),
        }
    }

    /// Lix `major.minor.patch` (its own numbering: 2.95.3).
    pub const fn lix(major: u32, minor: u32, patch: u32) -> Self {
        NixVersion {
            implementation: Implementation::Lix,
            ..NixVersion::new(major, minor, patch)
        }
    }

    /// Determinate Nix release `release` (3.22.2), built on upstream Nix `nix` (2.35.2).
    pub const fn determinate(release: (u32, u32, u32), nix: (u32, u32, u32)) -> Self {
        NixVersion {
            implementation: Implementation::Determinate,
            release,
            ..NixVersion::new(nix.0, nix.1, nix.2)
        }
    }

    /// Parses the first line of `nix --version`: `nix (Nix) 2.8.0`,
    /// `nix (Determinate Nix 3.22.2) 2.35.2`, `nix (Lix, like Nix) 2.95.3` (Lix prints more
    /// lines after it), `nix (Nix) 2.24.0pre20240801_dirty`. The last word of the first line
    /// that starts with a digit is the version; the words in parentheses name the
    /// implementation.
    pub fn parse(text: &str) -> Option<Self> {
        let line = text.lines().next()?;
        let (major, minor, patch) = parse_numbers(
            line.split_whitespace()
                .rev()
                .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?,
        )?;
        let label = line
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(label, _)| label.trim())
            .unwrap_or("");
        if label.starts_with("Lix") {
            return Some(NixVersion::lix(major, minor, patch));
        }
        if let Some(release) = label.strip_prefix("Determinate Nix") {
            let release = parse_numbers(release.trim()).unwrap_or((major, minor, patch));
            return Some(NixVersion::determinate(release, (major, minor, patch)));
        }
        Some(NixVersion::new(major, minor, patch))
    }

    /// Whether this has the behaviour upstream Nix introduced in `major.minor`: for Nix and
    /// Determinate Nix (which tracks upstream) its upstream version is at least that; for Lix,
    /// whether Nix 2.18 (where Lix forked) had it. Each behaviour Lix backported or added on
    /// its own is decided in its own method, not here.
    fn upstream_has(&self, major: u32, minor: u32) -> bool {
        let (a, b) = match self.implementation {
            Implementation::Nix | Implementation::Determinate => (self.major, self.minor),
            Implementation::Lix => (2, 18),
        };
        (a, b) >= (major, minor)
    }

    /// Whether Nix ignores a `$HOME` the effective user does not own and takes the password
    /// database's home instead (`sudo` keeping the caller's `HOME`): upstream from 2.10, so
    /// Determinate Nix and Lix (forked from 2.18) too; older Nix uses any `$HOME`.
    pub fn ignores_foreign_home(&self) -> bool {
        self.upstream_has(2, 10)
    }

    /// Whether nix-env and nix-channel keep a non-root user's profiles in the user's state
    /// directory (`$XDG_STATE_HOME/nix/profiles`) rather than
    /// `/nix/var/nix/profiles/per-user/<user>`: upstream from 2.14, so Determinate Nix and Lix.
    pub fn profiles_in_state_dir(&self) -> bool {
        self.upstream_has(2, 14)
    }

    /// Whether root's default profile is `profile` in its profiles directory
    /// (`/nix/var/nix/profiles/per-user/root/profile`) rather than
    /// `/nix/var/nix/profiles/default`: upstream from 2.15, so Determinate Nix and Lix.
    pub fn root_profile_per_user(&self) -> bool {
        self.upstream_has(2, 15)
    }

    /// Whether the setting `use-xdg-base-directories` exists (then the profile link is
    /// `<state dir>/profile` and defexpr `<state dir>/defexpr`): upstream from 2.14, so
    /// Determinate Nix and Lix.
    pub fn has_xdg_base_directories(&self) -> bool {
        self.upstream_has(2, 14)
    }

    /// Whether `nix flake update` names the flake with `--flake` (its arguments being input
    /// names): upstream from 2.19, Determinate Nix, and every Lix release (Lix took it over
    /// before its first release, 2.90).
    pub fn flake_update_has_flake_option(&self) -> bool {
        match self.implementation {
            Implementation::Lix => true,
            Implementation::Nix | Implementation::Determinate => self.upstream_has(2, 19),
        }
    }

    /// Whether Nix reads `$NIX_CONFIG_HOME` (the user's config directory: its `nix.conf` and
    /// `registry.json`) and `$NIX_STATE_HOME` (the user's state directory: profiles, the
    /// profile link, defexpr): upstream from 2.25 and Determinate Nix on it; never Lix, which
    /// takes them from `$XDG_CONFIG_HOME/nix` and `$XDG_STATE_HOME/nix` only.
    pub fn reads_nix_home_variables(&self) -> bool {
        match self.implementation {
            Implementation::Lix => false,
            Implementation::Nix | Implementation::Determinate => self.upstream_has(2, 25),
        }
    }

    /// Whether Nix splits `$NIX_SSHOPTS` as a shell splits words (quotes and backslashes)
    /// rather than on whitespace: upstream from 2.26 and Determinate Nix on it; never Lix,
    /// which splits on whitespace in every release.
    pub fn splits_ssh_options_like_a_shell(&self) -> bool {
        match self.implementation {
            Implementation::Lix => false,
            Implementation::Nix | Implementation::Determinate => self.upstream_has(2, 26),
        }
    }

    /// Whether `nix path-info --json` takes `--json-format` (and warns without it): upstream
    /// from 2.33, Determinate Nix from 3.15 (built on 2.33); never Lix.
    pub fn path_info_has_json_format(&self) -> bool {
        match self.implementation {
            Implementation::Lix => false,
            Implementation::Nix | Implementation::Determinate => self.upstream_has(2, 33),
        }
    }

    /// The `manifest.json` version `nix profile` writes: 3 (elements keyed by name) upstream
    /// from 2.20, in Determinate Nix and in every Lix release (Lix took it over before 2.90);
    /// 2 before.
    pub fn profile_manifest_version(&self) -> u64 {
        let keyed = match self.implementation {
            Implementation::Lix => true,
            Implementation::Nix | Implementation::Determinate => self.upstream_has(2, 20),
        };
        if keyed {
            3
        } else {
            2
        }
    }

    /// Whether `nix profile list` has `--json`: upstream from 2.17, so Determinate Nix and Lix.
    pub fn profile_list_has_json(&self) -> bool {
        self.upstream_has(2, 17)
    }
}

/// Reads `2.95.3`, `2.24.0pre2024_dirty` or `2.35` into numbers (missing parts are 0).
fn parse_numbers(word: &str) -> Option<(u32, u32, u32)> {
    let mut parts = word.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

impl std::fmt::Display for NixVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b, c) = self.release;
        write!(f, "{} {a}.{b}.{c}", self.implementation.name())?;
        if self.implementation == Implementation::Determinate {
            write!(f, " (Nix {}.{}.{})", self.major, self.minor, self.patch)?;
        }
        Ok(())
    }
}

/// The implementation and version of the `nix` on `PATH`, asked once per process.
pub fn nix_version(log: &dyn Log) -> Result<NixVersion> {
    static VERSION: OnceLock<NixVersion> = OnceLock::new();
    if let Some(v) = VERSION.get() {
        return Ok(*v);
    }
    let text = NixCommand::new("nix")
        .arg("--version")
        .output(log, Stderr::Capture)?;
    let version = NixVersion::parse(&text)
        .ok_or_else(|| Error::failed(format!("cannot read the Nix version from {text:?}")))?;
    log.verbose(&format!("nix version: {version}"));
    Ok(*VERSION.get_or_init(|| version))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NIX_2_8: NixVersion = NixVersion::new(2, 8, 0);
    const NIX_2_26: NixVersion = NixVersion::new(2, 26, 3);
    const NIX_2_34: NixVersion = NixVersion::new(2, 34, 1);
    const DETERMINATE: NixVersion = NixVersion::determinate((3, 22, 2), (2, 35, 2));
    const DETERMINATE_3_0: NixVersion = NixVersion::determinate((3, 0, 0), (2, 26, 3));
    const LIX: NixVersion = NixVersion::lix(2, 95, 3);
    const LIX_2_90: NixVersion = NixVersion::lix(2, 90, 0);

    #[test]
    fn parses_upstream_nix() {
        assert_eq!(NixVersion::parse("nix (Nix) 2.8.0\n"), Some(NIX_2_8));
        assert_eq!(
            NixVersion::parse("nix (Nix) 2.24.0pre20240801_dirty"),
            Some(NixVersion::new(2, 24, 0))
        );
        assert_eq!(
            NixVersion::parse("nix (Nix) 2.26.3+dfsg"),
            Some(NixVersion::new(2, 26, 3))
        );
        assert_eq!(NixVersion::parse("garbage"), None);
        assert_eq!(NixVersion::parse(""), None);
    }

    /// Determinate Nix prints its own release in the parentheses and the upstream Nix it is
    /// built on after them.
    #[test]
    fn parses_determinate_nix() {
        assert_eq!(
            NixVersion::parse("nix (Determinate Nix 3.22.2) 2.35.2\n"),
            Some(DETERMINATE)
        );
        assert_eq!(
            DETERMINATE.to_string(),
            "Determinate Nix 3.22.2 (Nix 2.35.2)"
        );
    }

    /// Lix 2.91 and later print seven more lines after the first (`System type:`,
    /// `Data directory: /nix/store/...-lix-2.95.3/share`); only the first one counts, even
    /// when a later one has a word starting with a digit.
    #[test]
    fn parses_lix_from_the_first_line() {
        let text = "nix (Lix, like Nix) 2.95.3\nSystem type: x86_64-linux\nFeatures: gc, signed-caches\nData directory: /nix/store/0abc-lix-2.95.3/share\nExtra: 9.9.9\n";
        assert_eq!(NixVersion::parse(text), Some(LIX));
        assert_eq!(LIX.to_string(), "Lix 2.95.3");
    }

    /// Upstream Nix: a foreign `$HOME` ignored from 2.10, profiles in the state directory from 2.14, root's per-user default
    /// profile from 2.15, `--flake` from 2.19, manifest version 3 from 2.20,
    /// `$NIX_CONFIG_HOME`/`$NIX_STATE_HOME` from 2.25, shell-split `$NIX_SSHOPTS` from 2.26,
    /// `--json-format` from 2.33.
    #[test]
    fn upstream_nix_by_version() {
        assert!(!NIX_2_8.ignores_foreign_home());
        assert!(NixVersion::new(2, 10, 0).ignores_foreign_home());
        assert!(!NIX_2_8.profiles_in_state_dir());
        assert!(!NIX_2_8.root_profile_per_user());
        assert!(!NIX_2_8.has_xdg_base_directories());
        assert!(!NIX_2_8.flake_update_has_flake_option());
        assert!(!NIX_2_8.profile_list_has_json());
        assert_eq!(NIX_2_8.profile_manifest_version(), 2);
        assert!(!NIX_2_8.reads_nix_home_variables());
        assert!(!NIX_2_8.splits_ssh_options_like_a_shell());
        assert!(NixVersion::new(2, 14, 0).profiles_in_state_dir());
        assert!(!NixVersion::new(2, 14, 0).root_profile_per_user());
        assert!(NixVersion::new(2, 19, 0).flake_update_has_flake_option());
        assert!(!NixVersion::new(2, 24, 0).reads_nix_home_variables());
        assert!(NixVersion::new(2, 25, 0).reads_nix_home_variables());
        assert!(!NixVersion::new(2, 25, 0).splits_ssh_options_like_a_shell());
        assert!(NIX_2_26.splits_ssh_options_like_a_shell());
        assert_eq!(NIX_2_26.profile_manifest_version(), 3);
        assert!(!NIX_2_26.path_info_has_json_format());
        assert!(NixVersion::new(2, 33, 0).path_info_has_json_format());
        assert!(NIX_2_34.path_info_has_json_format());
    }

    /// Determinate Nix decides by the upstream Nix it is built on: 3.0 (Nix 2.26) reads
    /// `$NIX_STATE_HOME` and shell-splits `$NIX_SSHOPTS` but has no `--json-format`, which came
    /// with 3.15 (Nix 2.33); 3.22 has everything upstream has.
    #[test]
    fn determinate_nix_follows_its_upstream_version() {
        for v in [DETERMINATE_3_0, DETERMINATE] {
            assert!(v.ignores_foreign_home());
            assert!(v.profiles_in_state_dir());
            assert!(v.root_profile_per_user());
            assert!(v.has_xdg_base_directories());
            assert!(v.flake_update_has_flake_option());
            assert!(v.profile_list_has_json());
            assert_eq!(v.profile_manifest_version(), 3);
            assert!(v.reads_nix_home_variables());
            assert!(v.splits_ssh_options_like_a_shell());
        }
        assert!(!DETERMINATE_3_0.path_info_has_json_format());
        assert!(NixVersion::determinate((3, 15, 0), (2, 33, 0)).path_info_has_json_format());
        assert!(DETERMINATE.path_info_has_json_format());
    }

    /// Lix, in every release from 2.90: 2.18's profile locations and XDG setting, the 2.19
    /// `nix flake update --flake` and version-3 manifests it took over, and its own rules:
    /// `$NIX_SSHOPTS` split on whitespace, `$NIX_CONFIG_HOME`/`$NIX_STATE_HOME` ignored, no
    /// `--json-format`, although its version numbers are above every upstream threshold.
    #[test]
    fn lix_has_2_18_behaviour_and_its_own() {
        for v in [LIX_2_90, LIX] {
            assert!(v.ignores_foreign_home());
            assert!(v.profiles_in_state_dir());
            assert!(v.root_profile_per_user());
            assert!(v.has_xdg_base_directories());
            assert!(v.flake_update_has_flake_option());
            assert!(v.profile_list_has_json());
            assert_eq!(v.profile_manifest_version(), 3);
            assert!(!v.reads_nix_home_variables());
            assert!(!v.splits_ssh_options_like_a_shell());
            assert!(!v.path_info_has_json_format());
        }
    }
}
