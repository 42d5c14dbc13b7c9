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
    handle_command(name, T::command, &|_| None, args)
}

/// [`handle`] for a clap command built at run time (`fp`'s, whose subcommands are the tools it
/// finds); `command` is called only when a generation flag is given. `page` names the man page
/// of a subcommand that has one of its own ([`man_page_pointing`]).
pub fn handle_command(
    name: &str,
    command: impl FnOnce() -> clap::Command,
    page: &dyn Fn(&str) -> Option<String>,
    args: &[OsString],
) -> Option<ExitCode> {
    let first = args.get(1)?.to_str()?;
    let mut out = Vec::new();
    let result = match first {
        COMPLETIONS_FLAG => {
            let shell = args.get(2).and_then(|s| s.to_str()).unwrap_or("");
            completions_for(&mut command(), name, shell, &mut out)
        }
        MAN_FLAG => man_page_pointing(command(), page, &mut out),
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

/// Writes the man page of a clap command in roff: clap_mangen's sections for the command
/// itself, then a section for each subcommand with its synopsis, description and options (its
/// parent's global options are in the parent's OPTIONS), so every option is in the page and no
/// page is referred to that is not generated.
pub fn man_page_for(cmd: clap::Command, out: &mut dyn Write) -> Result<(), String> {
    man_page_pointing(cmd, &|_| None, out)
}

/// [`man_page_for`] for a command some of whose subcommands have pages of their own (`fp build`
/// is fp-build(1)): `page(name)` names that page, and such a subcommand is listed with its
/// description and the page instead of in full.
pub fn man_page_pointing(
    mut cmd: clap::Command,
    page: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> Result<(), String> {
    // `help SUB` is help, not a command to document.
    cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut roff = Vec::new();
    let rendered = (|| -> std::io::Result<()> {
        man.render_title(&mut roff)?;
        man.render_name_section(&mut roff)?;
        man.render_synopsis_section(&mut roff)?;
        man.render_description_section(&mut roff)?;
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut roff)?;
        }
        subcommand_sections(&cmd, page, &mut roff)?;
        if cmd.get_after_long_help().is_some() || cmd.get_after_help().is_some() {
            man.render_extra_section(&mut roff)?;
        }
        if cmd.get_version().is_some() {
            man.render_version_section(&mut roff)?;
        }
        Ok(())
    })();
    rendered
        .and_then(|()| out.write_all(&roff))
        .map_err(|e| format!("cannot render the man page: {e}"))
}

/// The sections of `cmd`'s visible subcommands (of a built command, so their names and global
/// options are filled in): one `COMMANDS` list of those with a page of their own, then one
/// section for each other subcommand, and its own subcommands after it.
fn subcommand_sections(
    cmd: &clap::Command,
    page: &dyn Fn(&str) -> Option<String>,
    roff: &mut Vec<u8>,
) -> std::io::Result<()> {
    let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    let listed: Vec<(&clap::Command, String)> = subs
        .iter()
        .filter_map(|s| Some((*s, page(s.get_name())?)))
        .collect();
    if !listed.is_empty() {
        writeln!(roff, ".SH COMMANDS")?;
        for (sub, page) in &listed {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            writeln!(roff, ".TP\n\\fB{}\\fR", roff_text(sub.get_name()))?;
            // `\-`: a page name is not broken at its hyphen.
            let page = roff_text(page).replace('-', "\\-");
            writeln!(roff, "{} (see \\%{page})", roff_text(&about))?;
        }
    }
    for sub in subs.iter().filter(|s| page(s.get_name()).is_none()) {
        // The parent's global options are described once, in the parent's OPTIONS.
        let own = (*sub)
            .clone()
            .mut_args(|a| if a.is_global_set() { a.hide(true) } else { a });
        let name = own.get_bin_name().unwrap_or(own.get_name()).to_string();
        writeln!(roff, ".SH \"{}\"", roff_text(&name).replace('"', "\"\""))?;
        let man = clap_mangen::Man::new(own.clone());
        for (render, keep_heading) in [
            (clap_mangen::Man::render_synopsis_section as Render, false),
            (clap_mangen::Man::render_description_section, false),
            (clap_mangen::Man::render_options_section, true),
        ] {
            let mut part = Vec::new();
            render(&man, &mut part)?;
            writeln!(roff, ".PP")?;
            for line in String::from_utf8_lossy(&part).lines() {
                match line.strip_prefix(".SH ") {
                    Some(heading) if keep_heading => writeln!(roff, ".SS {heading}")?,
                    Some(_) => {}
                    None => writeln!(roff, "{line}")?,
                }
            }
        }
        subcommand_sections(&own, &|_| None, roff)?;
    }
    Ok(())
}

/// One of clap_mangen's section renderers.
type Render = fn(&clap_mangen::Man, &mut dyn Write) -> std::io::Result<()>;

/// `text` as roff text: backslashes escaped, a leading `.` or `'` (a request) made literal.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_text_is_never_a_request_or_an_escape() {
        assert_eq!(roff_text("plain text"), "plain text");
        assert_eq!(roff_text(".SH NAME"), "\\&.SH NAME");
        assert_eq!(roff_text("'x"), "\\&'x");
        assert_eq!(roff_text("a\\fBb"), "a\\efBb");
    }
}
