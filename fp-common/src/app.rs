//! The shared `main` of every tool: parse the command line, run, turn errors into exit codes.
//!
//! Each binary's `main.rs` is one line that calls [`main`] with its `run`, so the behaviour on
//! bad flags, `--help`, `--version` and failures is the same everywhere.

use crate::cli::CommonArgs;
use crate::error::{Result, EXIT_OK, EXIT_USAGE};
use crate::ui::Ui;
use clap::{FromArgMatches, Parser};
use std::io::Write;
use std::process::ExitCode;

/// Parses `std::env::args` into the tool's `Cli`, calls `run` with it and returns the exit code
/// (the error carries it).
///
/// `T` is the tool's clap parser, named after the tool (`#[command(name = "fp-switch")]`, the
/// name every message starts with), with [`CommonArgs`] flattened in. Usage errors from clap
/// exit 2 with `<tool>: error: ...`; `--help` and `--version` exit 0; the hidden
/// `--generate-completions SHELL` and `--generate-man` print what packaging needs.
pub fn main<T: Parser>(run: fn(T, &Ui) -> Result<()>) -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let name = T::command().get_name().to_string();
    if let Some(code) = crate::completions::handle::<T>(&name, &args) {
        return code;
    }
    let parsed = T::command()
        .try_get_matches_from(&args)
        .and_then(|matches| {
            Ok((
                CommonArgs::from_arg_matches(&matches)?,
                T::from_arg_matches(&matches)?,
            ))
        });
    let (common, cli) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => return clap_exit(&name, &err),
    };
    let ui = Ui::new(&name, &common);
    let cmd = T::command();
    if cmd.is_args_override_self() {
        for (flag, times) in crate::cli::repeated_value_flags(&cmd, &args) {
            ui.verbose(&format!(
                "{flag} was given {times} times: the last one counts, as with nix-env"
            ));
        }
    }
    fp_nix::interrupt::catch_interrupts();
    // Whose home this is decides every path below it, so it is settled before anything else.
    let result = fp_nix::locations::settle_home(&ui).and_then(|()| run(cli, &ui));
    // After Ctrl-C, whatever stopped (a nix command, a wait, a read) is "interrupted", once.
    let result = match result {
        Err(_) if fp_nix::interrupt::interrupted() => Err(crate::Error::interrupted()),
        other => other,
    };
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(err) if err.code() == fp_nix::error::EXIT_INTERRUPTED => {
            eprintln!("{name}: interrupted");
            ExitCode::from(err.code())
        }
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
