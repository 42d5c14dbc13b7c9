//! What Nix is and does, as flakey-profile's tools need it, usable without any of their
//! command-line interface.
//!
//! - Running nix: command lines as data ([`command`]), `nix build --json`; which Nix runs
//!   (upstream Nix, Determinate Nix or Lix, and its version) and what it does that others do
//!   not ([`nix_version`]).
//! - The store: store paths and `parseDrvName` ([`store_path`]); what the store knows about
//!   paths ([`store_query`]), read from its database ([`store_db`]) or asked of `nix path-info`
//!   ([`path_info`]); Nix's settings as nix.conf and `$NIX_CONFIG` give them ([`nix_conf`]).
//! - Profiles: the profile link and its directory ([`profile`]), its generations
//!   ([`generation`]), the lock tools hold while changing one ([`lock`]), where Nix keeps
//!   profiles, channels, registries and its settings for each version and user ([`locations`]).
//! - What an env holds: the marker `lib.mkProfile` writes ([`env_marker`]) and the package diff
//!   between two envs, as data ([`diff`]).
//! - Other machines: the same questions asked over ssh, and `nix copy` ([`remote`]).
//! - Writing Nix source safely ([`nix_expr`]), replacing files atomically ([`atomic_file`]) in
//!   directories nobody else controls ([`safe_dir`]), and
//!   the limits on what is read ([`limits`]).
//!
//! Nothing here prints: where something is worth telling a person (a nix command line under
//! `-v`, waiting for a lock), it goes to a [`Log`] the caller provides. Errors carry the exit
//! code they map to ([`error`]).

pub mod atomic_file;
pub mod command;
pub mod diff;
pub mod env_marker;
pub mod error;
pub mod flake_dir;
pub mod flake_url;
pub mod generation;
pub mod installable;
pub mod interrupt;
pub mod limits;
pub mod locations;
pub mod lock;
pub mod nix_conf;
pub mod nix_expr;
pub mod nix_version;
pub mod path_info;
pub mod pin_history;
pub mod profile;
pub mod remote;
pub mod safe_dir;
pub mod store_db;
pub mod store_path;
pub mod store_query;
pub mod trust;

pub use error::{Error, Result};

/// Where this crate reports progress for people: the caller decides how (and whether) the lines
/// are shown. The tools' user interface implements it; tests can use [`Silent`].
pub trait Log {
    /// A line about what is happening (waiting for a lock, a link created).
    fn info(&self, line: &str);

    /// A detail shown only when the user asked for more (`-v`): each nix command line, the Nix
    /// version found.
    fn verbose(&self, line: &str);

    /// Whether the user asked for quiet: then nix's own progress on stderr is kept back too (and
    /// shown only in the error if nix fails).
    fn is_quiet(&self) -> bool;
}

/// A [`Log`] that shows nothing and streams nothing, for callers with no one to tell.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Log for Silent {
    fn info(&self, _line: &str) {}

    fn verbose(&self, _line: &str) {}

    fn is_quiet(&self) -> bool {
        true
    }
}
