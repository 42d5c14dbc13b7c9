//! `--ask`: a yes/no question answered on the terminal, never on stdin (which is the pipe in
//! `fp-build | fp-switch --ask`). Without a terminal there is no one to ask, so asking is
//! refused up front, before anything is changed.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};

/// The controlling terminal, opened before anything is decided so that a run with `--ask` and
/// no terminal stops before it changes anything.
#[derive(Debug)]
pub struct Terminal {
    tty: File,
}

impl Terminal {
    /// Opens `/dev/tty` for reading and writing; without a controlling terminal (cron, CI,
    /// `ssh host cmd`) it is a usage error (exit 2) with the ways on.
    pub fn open() -> Result<Terminal> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map(|tty| Terminal { tty })
            .map_err(|_| {
                Error::usage(
                    "--ask needs a terminal to answer on, and this run has none (no /dev/tty); nothing was changed",
                )
                .with_hint("run it from a terminal, or go ahead without asking: --yes (or FP_ASK=0)")
            })
    }

    /// Writes `question` and ` [y/N] ` on the terminal and reads one line: whether it is yes
    /// ([`is_yes`]). End of input is no.
    pub fn confirm(&self, question: &str) -> Result<bool> {
        let io = |e: std::io::Error| Error::failed(format!("cannot use the terminal: {e}"));
        let mut out = &self.tty;
        write!(out, "{question} [y/N] ")
            .and_then(|()| out.flush())
            .map_err(io)?;
        let mut line = String::new();
        BufReader::new(&self.tty).read_line(&mut line).map_err(io)?;
        // At end of input (Ctrl-D) the terminal echoed no newline: end the prompt's line, so
        // what follows starts on a line of its own.
        if !line.ends_with('\n') {
            writeln!(out).and_then(|()| out.flush()).map_err(io)?;
        }
        Ok(is_yes(&line))
    }
}

/// Whether an answer is yes: `y` or `yes` in any case, with spaces around; anything else,
/// the empty answer included, is no.
pub fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Reads a boolean setting from text (`FP_ASK`): `1`, `true`, `yes`, `on` or `0`, `false`,
/// `no`, `off` (any case); anything else is `None`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_and_yes_are_yes() {
        for yes in ["y", "Y", "yes", "YES", " y \n", "Yes\r\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yep", "ye", "y y", "sure", "1"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn booleans_from_the_environment() {
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_bool(""), None);
    }
}
