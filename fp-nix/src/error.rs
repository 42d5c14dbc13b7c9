//! The error type every tool returns: a message, an optional hint, and the exit code it maps to.
//!
//! Every tool exits `0` on success (also "nothing to do"), `1` when the operation failed and `2`
//! on a usage error or invalid input. Carrying the code in the error keeps that decision next to
//! the place that knows what went wrong, instead of in each binary's `main`.

use std::fmt;

/// Exit code for success, including "nothing to do".
pub const EXIT_OK: u8 = 0;
/// Exit code for an operation that failed: nix failed, no older generation.
pub const EXIT_FAILED: u8 = 1;
/// Exit code for a usage error or invalid input: bad flag, bad JSON, not a store path.
pub const EXIT_USAGE: u8 = 2;
/// Exit code after Ctrl-C (128 + SIGINT, as a shell reports a program SIGINT ended).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A failure a tool reports to the user: `<tool>: error: <message>` and, optionally, `hint: <hint>`.
#[derive(Debug)]
pub struct Error {
    code: u8,
    message: String,
    hint: Option<String>,
}

/// Result alias used throughout the workspace.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An operation that failed (exit code 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Error {
            code: EXIT_FAILED,
            message: message.into(),
            hint: None,
        }
    }

    /// Invalid input or a usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            code: EXIT_USAGE,
            message: message.into(),
            hint: None,
        }
    }

    /// Stopped by Ctrl-C (exit code 130); shown as the one line `interrupted`.
    pub fn interrupted() -> Self {
        Error {
            code: EXIT_INTERRUPTED,
            message: "interrupted".to_string(),
            hint: None,
        }
    }

    /// Adds what the user can run or do about it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with what was being done, keeping code and hint.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// The process exit code this error maps to.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The message, without the tool prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The hint, if there is one.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<anyhow::Error> for Error {
    /// Unexpected failures (I/O and the like) are operation failures; the whole cause chain is kept.
    fn from(err: anyhow::Error) -> Self {
        Error::failed(format!("{err:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_contract() {
        assert_eq!(Error::failed("x").code(), 1);
        assert_eq!(Error::usage("x").code(), 2);
    }

    #[test]
    fn context_keeps_code_and_hint() {
        let e = Error::usage("bad")
            .with_hint("do this")
            .context("reading x");
        assert_eq!(e.message(), "reading x: bad");
        assert_eq!(e.hint(), Some("do this"));
        assert_eq!(e.code(), 2);
    }

    #[test]
    fn anyhow_chain_is_kept() {
        let e: Error = anyhow::anyhow!("inner").context("outer").into();
        assert_eq!(e.message(), "outer: inner");
        assert_eq!(e.code(), 1);
    }
}
