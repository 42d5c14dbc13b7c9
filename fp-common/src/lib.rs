//! Shared library of the flakey-profile tools.
//!
//! Every tool (`fp-build`, `fp-switch`, `fp-rollback`, ...) is a thin binary over this crate:
//! running nix ([`nix`]), profiles and generations ([`profile`], [`generation`]), store paths
//! ([`store_path`]), the package diff ([`diff`]), switching ([`switch`]), settings ([`config`]),
//! errors with exit codes ([`error`]), the shared flags ([`cli`]) and the shared `main` ([`app`]).

pub mod app;
pub mod atomic_file;
pub mod cli;
pub mod config;
pub mod diff;
pub mod env_marker;
pub mod error;
pub mod generate;
pub mod generation;
pub mod limits;
pub mod nix;
pub mod nix_expr;
pub mod path_info;
pub mod profile;
pub mod registry;
pub mod store_path;
pub mod switch;
pub mod ui;

pub use error::{Error, Result};
pub use ui::Ui;

/// Writes the product to stdout, one line, reporting a closed pipe as an error instead of
/// panicking the way `println!` does.
pub fn write_stdout(line: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| Error::failed(format!("cannot write to stdout: {e}")))
}
