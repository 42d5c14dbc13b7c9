//! The error type every tool returns (from [`fp_nix::error`]) and the exit codes every `--help`
//! documents.

pub use fp_nix::error::*;

/// The text every `--help` ends with, so the exit codes are documented in one place.
pub const EXIT_CODES_HELP: &str = "Exit codes:\n  0  success (also \"nothing to do\")\n  1  the operation failed (nix failed, no such generation)\n  2  usage error or invalid input (bad flag, bad JSON, not a valid store path)\n  130  interrupted (Ctrl-C)";
