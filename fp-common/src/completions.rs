//! Shell completions and man pages, generated from each tool's clap `Cli`.
//!
//! Every tool answers the hidden flags `--generate-completions bash|zsh|fish` and
//! `--generate-man` (checked before normal parsing, so required arguments do not get in the
//! way). The Nix packages call them at install time; users can too.

use clap::CommandFactory;
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

/// The hidden flag that prints a completion script.
pub const COMPLETIONS_FLAG: &str = "--generate-completions";
/// The hidden flag that prints a roff man page.
pub const MAN_FLAG: &str = "--generate-man";

/// Handles the generation flags when they are the first argument; `None` means "not asked".
pub fn handle<T: CommandFactory>(name: &str, args: &[OsString]) -> Option<ExitCode> {
    handle_command(name, T::command, args)
}

/// [`handle`] for a clap command built at run time (`fp`'s, whose subcommands are the tools it
/// finds); `command` is called only when a generation flag is given.
pub fn handle_command(
    name: &str,
    command: impl FnOnce() -> clap::Command,
    args: &[OsString],
) -> Option<ExitCode> {
    let first = args.get(1)?.to_str()?;
    let mut out = Vec::new();
    let result = match first {
        COMPLETIONS_FLAG => {
            let shell = args.get(2).and_then(|s| s.to_str()).unwrap_or("");
            completions_for(&mut command(), name, shell, &mut out)
        }
        MAN_FLAG => man_page_for(command(), &mut out),
        _ => return None,
    };
    Some(match result {
        Ok(()) => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(&out)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return Some(ExitCode::from(crate::error::EXIT_FAILED));
            }
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("{name}: error: {msg}");
            ExitCode::from(crate::error::EXIT_USAGE)
        }
    })
}

/// Writes the completion script of a clap command for `shell` (bash, zsh or fish).
pub fn completions_for(
    cmd: &mut clap::Command,
    name: &str,
    shell: &str,
    out: &mut dyn Write,
) -> Result<(), String> {
    use clap_complete::Shell;
    let shell = match shell {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        other => {
            return Err(format!(
                "{COMPLETIONS_FLAG} takes bash, zsh or fish, not {other:?}"
            ))
        }
    };
    clap_complete::generate(shell, cmd, name.to_string(), out);
    Ok(())
}

/// Writes the man page of a clap command in roff.
pub fn man_page_for(cmd: clap::Command, out: &mut dyn Write) -> Result<(), String> {
    clap_mangen::Man::new(cmd)
        .render(out)
        .map_err(|e| format!("cannot render the man page: {e}"))
}
