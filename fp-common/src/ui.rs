//! Everything written for people: stderr only, with verbosity and colour applied in one place.
//!
//! stdout carries only each tool's product, so nothing in here ever touches it.

use crate::cli::{ColorChoice, CommonArgs};
use std::io::{IsTerminal, Write};

/// An ANSI style used for the few things that are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Added packages and success.
    Green,
    /// Removed packages and errors.
    Red,
    /// Changed packages and warnings.
    Yellow,
    /// Emphasis.
    Bold,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Green => "32",
            Style::Red => "31",
            Style::Yellow => "33",
            Style::Bold => "1",
        }
    }
}

/// The user interface of one tool run: its name, how much it says and whether it colours.
#[derive(Debug, Clone)]
pub struct Ui {
    tool: String,
    verbose: u8,
    quiet: bool,
    color: bool,
}

impl Ui {
    /// Builds the UI from the shared flags; `NO_COLOR` and a non-terminal stderr turn colour off
    /// under `--color auto`.
    pub fn new(tool: &str, args: &CommonArgs) -> Self {
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        };
        Ui {
            tool: tool.to_string(),
            verbose: args.verbose,
            quiet: args.quiet,
            color,
        }
    }

    /// The UI of the part of a run that works on the host `host`: its warnings and errors say
    /// `<tool> [host]:`; with `quiet`, only they are shown (the other lines of several hosts
    /// working at once would interleave).
    pub fn for_host(&self, host: &str, quiet: bool) -> Ui {
        Ui {
            tool: format!("{} [{host}]", self.tool),
            quiet: self.quiet || quiet,
            ..self.clone()
        }
    }

    /// The tool's name, as used in the `<tool>: error:` prefix.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// Whether `-q` was given.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// How many `-v` were given.
    pub fn verbosity(&self) -> u8 {
        self.verbose
    }

    /// Wraps `text` in `style` when colour is on.
    pub fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("\x1b[{}m{text}\x1b[0m", style.code())
        } else {
            text.to_string()
        }
    }

    /// A line for people about what is happening; silent under `-q`.
    pub fn info(&self, line: &str) {
        if !self.quiet {
            write_stderr(line);
        }
    }

    /// A line printed only with `-v` or more.
    pub fn verbose(&self, line: &str) {
        if self.verbose > 0 {
            write_stderr(line);
        }
    }

    /// `<tool>: warning: <line>`; shown even under `-q`.
    pub fn warn(&self, line: &str) {
        let label = self.paint(Style::Yellow, "warning:");
        write_stderr(&format!("{}: {label} {line}", self.tool));
    }

    /// `<tool>: note: <line>`; silent under `-q`.
    pub fn note(&self, line: &str) {
        if !self.quiet {
            write_stderr(&format!("{}: note: {line}", self.tool));
        }
    }

    /// Reports a failure: `<tool>: error: <what>` and `hint: <hint>` when there is one.
    pub fn error(&self, err: &crate::Error) {
        let label = self.paint(Style::Red, "error:");
        let mut text = format!("{}: {label} {}", self.tool, err.message());
        if let Some(hint) = err.hint() {
            text.push_str(&format!("\n{} {hint}", self.paint(Style::Bold, "hint:")));
        }
        write_stderr(&text);
    }
}

/// What fp-nix reports (nix command lines, waiting for a lock) goes through the same verbosity
/// rules as the tools' own lines.
impl fp_nix::Log for Ui {
    fn info(&self, line: &str) {
        Ui::info(self, line);
    }

    fn verbose(&self, line: &str) {
        Ui::verbose(self, line);
    }

    fn is_quiet(&self) -> bool {
        self.quiet
    }
}

/// Writes one line (or block) to stderr, ignoring a closed stderr rather than panicking.
fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui(color: ColorChoice) -> Ui {
        Ui::new(
            "fp-test",
            &CommonArgs {
                color,
                ..Default::default()
            },
        )
    }

    #[test]
    fn paint_only_with_colour() {
        assert_eq!(ui(ColorChoice::Never).paint(Style::Red, "x"), "x");
        assert_eq!(
            ui(ColorChoice::Always).paint(Style::Red, "x"),
            "\x1b[31mx\x1b[0m"
        );
    }
}
