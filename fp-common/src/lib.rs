//! What every flakey-profile tool shares for talking to people, on top of [`fp_nix`] (what Nix
//! is and does).
//!
//! Every tool (`fp-build`, `fp-switch`, `fp-rollback`, ...) is a thin binary over its own crate,
//! which uses this one for: the shared `main` ([`app`]), asking before acting ([`ask`]), the shared flags ([`cli`]), settings
//! from flags, environment and config file ([`config`]), what is written on stderr ([`ui`]),
//! rendering diffs and generation lists for people ([`render`]), completions and man pages
//! ([`completions`]), the switch shared by fp-switch and fp-rollback ([`switch`]), working on
//! other machines over ssh ([`hosts`]), and writing
//! the product on stdout ([`write_stdout`], [`print_json`]).
//!
//! Code for a single tool lives in that tool's crate; facts about Nix live in `fp-nix`.

pub mod app;
pub mod ask;
pub mod cli;
pub mod completions;
pub mod config;
pub mod error;
pub mod hosts;
pub mod render;
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

/// Writes `document` as one line of JSON on stdout: the `--json` product of every tool.
pub fn print_json<T: serde::Serialize>(document: &T) -> Result<()> {
    let text = serde_json::to_string(document)
        .map_err(|e| Error::failed(format!("cannot encode the JSON document: {e}")))?;
    write_stdout(&text)
}
