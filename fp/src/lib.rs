//! `fp`: one front command for the tools. `fp build ARGS` runs `fp-build ARGS`, found beside
//! `fp` or on `PATH` (the git convention), replacing the `fp` process so stdin, stdout, stderr
//! and the exit code are the tool's own. The tools stay separate binaries.

use clap::{Arg, Command};
use fp_common::cli::CommonArgs;
use fp_common::completions;
use fp_common::error::EXIT_CODES_HELP;
use fp_common::{Error, Ui};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The prefix of the tools' binaries.
const PREFIX: &str = "fp-";

/// Commands of `fp` that are a subcommand of a tool: `fp add ARGS` runs `fp-edit add ARGS`.
const SHORTCUTS: &[(&str, &str)] = &[("add", "edit"), ("remove", "edit"), ("list", "edit")];

/// The tool and its subcommand that a shortcut (`add`) stands for, when that tool is found.
fn shortcut<'a>(
    name: &str,
    tools: &'a BTreeMap<String, PathBuf>,
) -> Option<(&'a Path, &'static str)> {
    let (sub, tool) = SHORTCUTS.iter().find(|(s, _)| *s == name)?;
    Some((tools.get(*tool)?.as_path(), *sub))
}

/// The clap command of `fp`, with one subcommand per tool found; used for `--help`,
/// completions and the man page.
pub fn command(tools: &BTreeMap<String, PathBuf>) -> Command {
    let mut cmd = Command::new("fp")
        .version(env!("CARGO_PKG_VERSION"))
        .about("flakey-profile's front command: `fp TOOL ARGS...` runs `fp-TOOL ARGS...`")
        .after_help(EXIT_CODES_HELP)
        .allow_external_subcommands(true)
        .disable_help_subcommand(true);
    let shortcuts = SHORTCUTS
        .iter()
        .filter(|(_, tool)| tools.contains_key(*tool))
        .map(|(sub, tool)| (sub.to_string(), format!("Run {PREFIX}{tool} {sub}")));
    let named = tools
        .keys()
        .filter(|name| !SHORTCUTS.iter().any(|(sub, _)| sub == name))
        .map(|name| (name.clone(), format!("Run {PREFIX}{name}")));
    for (name, about) in named.chain(shortcuts) {
        cmd = cmd.subcommand(
            Command::new(name).about(about).disable_help_flag(true).arg(
                Arg::new("args")
                    .num_args(0..)
                    .trailing_var_arg(true)
                    .allow_hyphen_values(true),
            ),
        );
    }
    cmd
}

/// The tools found beside this executable and on `PATH`, by name (`build` for `fp-build`);
/// the first found wins: beside `fp` as called, beside its binary, then `PATH`.
pub fn find_tools() -> BTreeMap<String, PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    // The directory fp was called from (say a profile's bin/, where fp is a link into the
    // store), then the one its binary really is in.
    if let Some(arg0) = std::env::args_os().next().map(PathBuf::from) {
        if arg0.components().count() > 1 {
            dirs.extend(arg0.parent().map(Path::to_path_buf));
        }
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let mut tools = BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_prefix(PREFIX)) else {
                continue;
            };
            if name.is_empty() || name.contains('.') || !is_executable(&entry.path()) {
                continue;
            }
            tools
                .entry(name.to_string())
                .or_insert_with(|| entry.path());
        }
    }
    tools
}

/// Whether `path` is a file someone may execute.
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The list of tools for messages: `build, rollback, switch`.
fn tool_list(tools: &BTreeMap<String, PathBuf>) -> String {
    if tools.is_empty() {
        "none found beside fp or on PATH".to_string()
    } else {
        tools.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Runs `fp` with the process's arguments.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    run(&args)
}

/// What `fp ARGS` does, decided from its first argument and the tools found.
#[derive(Debug)]
pub enum Action<'a> {
    /// Print the long help on stdout.
    Help,
    /// Print the version on stdout.
    Version,
    /// Hand over to this tool with the rest of the arguments.
    Run(&'a Path),
    /// Hand over to this tool with this subcommand, then the rest of the arguments (`fp add`).
    RunSubcommand(&'a Path, &'static str),
    /// A usage error (exit 2), after the help on stderr when `fp` was given nothing at all.
    Usage {
        /// The error and what to do about it.
        error: Error,
        /// Whether the help comes first.
        with_help: bool,
    },
}

/// Decides what `fp` does with its first argument `first` (`None`: no arguments).
pub fn decide<'a>(first: Option<&str>, tools: &'a BTreeMap<String, PathBuf>) -> Action<'a> {
    match first {
        None => Action::Usage {
            error: Error::usage(format!("name a tool to run ({})", tool_list(tools))),
            with_help: true,
        },
        Some("-h" | "--help") => Action::Help,
        Some("-V" | "--version") => Action::Version,
        Some(flag) if flag.starts_with('-') => Action::Usage {
            error: Error::usage(format!(
                "unexpected option {flag:?}; fp takes a tool name first"
            ))
            .with_hint(format!("fp --help lists the tools ({})", tool_list(tools))),
            with_help: false,
        },
        Some(name) => match (tools.get(name), shortcut(name, tools)) {
            (Some(path), _) => Action::Run(path),
            (None, Some((path, sub))) => Action::RunSubcommand(path, sub),
            (None, None) => Action::Usage {
                error: Error::usage(format!(
                    "there is no tool {PREFIX}{name} beside fp or on PATH"
                ))
                .with_hint(format!("the tools found are: {}", tool_list(tools))),
                with_help: false,
            },
        },
    }
}

/// Runs `fp` with `args` (including the program name); only returns when it did not hand over
/// to a tool.
pub fn run(args: &[OsString]) -> ExitCode {
    let tools = find_tools();
    if let Some(code) = completions::handle_command("fp", || command(&tools), args) {
        return code;
    }
    let ui = Ui::new("fp", &CommonArgs::default());
    let first = args.get(1).map(|a| a.to_string_lossy().into_owned());
    match decide(first.as_deref(), &tools) {
        Action::Help => {
            let help = command(&tools).render_long_help().to_string();
            let _ = fp_common::write_stdout(help.trim_end_matches('\n'));
            ExitCode::SUCCESS
        }
        Action::Version => {
            let _ = fp_common::write_stdout(&format!("fp {}", env!("CARGO_PKG_VERSION")));
            ExitCode::SUCCESS
        }
        Action::Run(path) => {
            let err = exec(path, &args[2..]);
            ui.error(&err);
            ExitCode::from(err.code())
        }
        Action::RunSubcommand(path, sub) => {
            let mut rest: Vec<OsString> = vec![sub.into()];
            rest.extend_from_slice(&args[2..]);
            let err = exec(path, &rest);
            ui.error(&err);
            ExitCode::from(err.code())
        }
        Action::Usage { error, with_help } => {
            if with_help {
                eprintln!("{}", command(&tools).render_help());
            }
            ui.error(&error);
            ExitCode::from(error.code())
        }
    }
}

/// Replaces this process with the tool; returns only the error when that fails.
fn exec(path: &Path, args: &[OsString]) -> Error {
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(path).args(args).exec();
    Error::failed(format!("cannot run {}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_from_the_first_argument() {
        let tools: BTreeMap<String, PathBuf> =
            [("build".to_string(), PathBuf::from("/bin/fp-build"))].into();
        assert!(matches!(decide(Some("--help"), &tools), Action::Help));
        assert!(matches!(decide(Some("-V"), &tools), Action::Version));
        assert!(
            matches!(decide(Some("build"), &tools), Action::Run(p) if p == Path::new("/bin/fp-build"))
        );
        let edit: BTreeMap<String, PathBuf> =
            [("edit".to_string(), PathBuf::from("/bin/fp-edit"))].into();
        assert!(matches!(
            decide(Some("add"), &edit),
            Action::RunSubcommand(p, "add") if p == Path::new("/bin/fp-edit")
        ));
        assert!(matches!(
            decide(Some("list"), &edit),
            Action::RunSubcommand(_, "list")
        ));
        assert!(matches!(decide(Some("add"), &tools), Action::Usage { .. }));
        let Action::Usage { error, with_help } = decide(None, &tools) else {
            panic!("no arguments is a usage error");
        };
        assert!(with_help);
        assert_eq!(error.code(), 2);
        assert_eq!(error.message(), "name a tool to run (build)");
        let Action::Usage { error, with_help } = decide(Some("frob"), &tools) else {
            panic!("an unknown tool is a usage error");
        };
        assert!(!with_help);
        assert_eq!(error.hint(), Some("the tools found are: build"));
        let Action::Usage { error, .. } = decide(Some("--bogus"), &BTreeMap::new()) else {
            panic!("an option first is a usage error");
        };
        assert_eq!(
            error.hint(),
            Some("fp --help lists the tools (none found beside fp or on PATH)")
        );
    }
}
