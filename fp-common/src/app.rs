//! The shared `main` of every tool: parse the command line, run, turn errors into exit codes.
//!
//! Each binary's `main.rs` is one line that calls [`main`] with its `Cli`, so the behaviour on
//! bad flags, `--help`, `--version` and failures is the same everywhere.

use crate::cli::CommonArgs;
use crate::error::{Result, EXIT_OK, EXIT_USAGE};
use crate::ui::Ui;
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// What a tool's `Cli` provides so the shared [`main`] can run it.
pub trait Tool: Parser {
    /// The tool's name, as shown in messages (`fp-switch`).
    const NAME: &'static str;

    /// The shared flags parsed into this `Cli`.
    fn common(&self) -> &CommonArgs;

    /// Runs the tool; the error carries the exit code.
    fn run(self, ui: &Ui) -> Result<()>;
}

/// Parses `std::env::args`, runs the tool and returns its exit code.
///
/// Usage errors from clap exit 2 with `<tool>: error: ...`; `--help` and `--version` exit 0;
/// the hidden `--generate-completions SHELL` and `--generate-man` print what packaging needs.
pub fn main<T: Tool>() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = crate::completions::handle::<T>(T::NAME, &args) {
        return code;
    }
    let cli = match T::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => return clap_exit(T::NAME, &err),
    };
    let ui = Ui::new(T::NAME, cli.common());
    match cli.run(&ui) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(err) => {
            ui.error(&err);
            ExitCode::from(err.code())
        }
    }
}

/// Prints a clap error (or help/version) and maps it to the contract's exit codes.
fn clap_exit(tool: &str, err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Help and version are the product the user asked for: stdout (a closed pipe, as in
            // `--help | head`, is not an error).
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", err.render()).and_then(|()| out.flush());
            ExitCode::from(EXIT_OK)
        }
        _ => {
            let rendered = err.render().to_string();
            let rendered = rendered.strip_prefix("error: ").unwrap_or(&rendered);
            eprint!("{tool}: error: {rendered}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
