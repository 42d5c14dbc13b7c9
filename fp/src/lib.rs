//! `fp`: one front command for the tools. `fp build ARGS` runs `fp-build ARGS`, found beside
//! `fp` or on `PATH` (the git convention), replacing the `fp` process so stdin, stdout, stderr
//! and the exit code are the tool's own. The tools stay separate binaries.

use clap::ValueEnum;
use clap::{Arg, Args, Command, CommandFactory};
use fp_common::cli::{ColorChoice, CommonArgs};
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
/// completions and the man page. A tool of flakey-profile's own is its own clap command under
/// its short name (so `fp build <TAB>` completes fp-build's options); any other `fp-*` found
/// takes its arguments as they are.
pub fn command(tools: &BTreeMap<String, PathBuf>) -> Command {
    // -v, -q and --color before the tool's name are handed on to the tool.
    let mut cmd = CommonArgs::augment_args(Command::new("fp"))
        .version(env!("CARGO_PKG_VERSION"))
        .about("flakey-profile's front command: `fp TOOL ARGS...` runs `fp-TOOL ARGS...`")
        .after_help(EXIT_CODES_HELP)
        .allow_external_subcommands(true)
        .disable_help_subcommand(true);
    let named = tools
        .keys()
        .filter(|name| !SHORTCUTS.iter().any(|(sub, _)| sub == name))
        .map(|name| {
            let own = tool_command(name);
            let about = format!("Run {PREFIX}{name}");
            (name.clone(), own, about)
        });
    let shortcuts = SHORTCUTS
        .iter()
        .filter(|(_, tool)| tools.contains_key(*tool))
        .map(|(sub, tool)| {
            let own = tool_command(tool).and_then(|mut parent| {
                // Built, so the tool's global flags (--profile, -v, ...) are in the subcommand.
                parent.build();
                parent.find_subcommand(sub).cloned()
            });
            (sub.to_string(), own, format!("Run {PREFIX}{tool} {sub}"))
        });
    for (order, (name, own, about)) in named.chain(shortcuts).enumerate() {
        let sub = match own {
            Some(own) => own.name(&name).bin_name(format!("fp {name}")),
            None => Command::new(&name)
                .about(about)
                .disable_help_flag(true)
                .arg(
                    Arg::new("args")
                        .num_args(0..)
                        .trailing_var_arg(true)
                        .allow_hyphen_values(true),
                ),
        };
        // The tools by name, then the shortcuts, whatever order the tools' own commands had.
        cmd = cmd.subcommand(sub.display_order(order));
    }
    cmd
}

/// The man page that describes `fp SUB`: the page of the tool it runs (`fp build` is
/// fp-build(1), `fp add` is fp-edit(1)), for flakey-profile's own tools, whose pages are
/// generated with them; `None` for another tool, whose page may not exist.
fn page(sub: &str, tools: &BTreeMap<String, PathBuf>) -> Option<String> {
    let tool = match shortcut(sub, tools) {
        Some(_) => SHORTCUTS.iter().find(|(s, _)| *s == sub)?.1,
        None => sub,
    };
    tool_command(tool).map(|_| format!("{PREFIX}{tool}(1)"))
}

/// The clap command of flakey-profile's own tool `name` (`build` for fp-build), taken from the
/// tool's library, so completions of `fp build` are fp-build's and cannot drift from it;
/// `None` for any other name.
fn tool_command(name: &str) -> Option<Command> {
    Some(match name {
        "build" => fp_build::Cli::command(),
        "switch" => fp_switch::Cli::command(),
        "rollback" => fp_rollback::Cli::command(),
        "pin" => fp_pin::Cli::command(),
        "migrate" => fp_migrate::Cli::command(),
        "generations" => fp_generations::Cli::command(),
        "diff" => fp_diff::Cli::command(),
        "doctor" => fp_doctor::Cli::command(),
        "edit" => fp_edit::Cli::command(),
        _ => return None,
    })
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

/// What `fp ARGS` does, decided from its arguments and the tools found.
#[derive(Debug)]
pub enum Action<'a> {
    /// Print the long help on stdout.
    Help,
    /// Print the version on stdout.
    Version,
    /// Hand over to a tool.
    Run(Handover<'a>),
    /// A usage error (exit 2), after the help on stderr when `fp` was given nothing at all.
    Usage {
        /// The error and what to do about it.
        error: Error,
        /// Whether the help comes first.
        with_help: bool,
    },
}

/// The tool `fp` hands over to and its arguments: `flags`, then `sub`, then the arguments
/// after the tool's name.
#[derive(Debug)]
pub struct Handover<'a> {
    /// The tool's binary.
    pub tool: &'a Path,
    /// The common flags given before the tool's name (`fp -q add jq`), in the tool's words.
    pub flags: Vec<String>,
    /// The tool's subcommand a shortcut stands for (`add` of `fp add`).
    pub sub: Option<&'static str>,
    /// Where the arguments after the tool's name start in `fp`'s arguments.
    pub rest: usize,
}

/// The common flags `fp` takes before a tool's name (`-v`, `-q`, `--color WHEN`), read from
/// the start of `args` (without the program name).
#[derive(Debug, Default)]
pub struct Leading {
    /// The flags, as the tool is given them (`-v`, `-q`, `--color`, `never`).
    pub flags: Vec<String>,
    /// They as `fp` itself uses them for its own messages.
    pub common: CommonArgs,
    /// Where the first argument that is not one of them is.
    pub next: usize,
}

/// Reads the common flags at the start of `args`: `-v`/`--verbose` (repeatable, `-vv`),
/// `-q`/`--quiet`, `--color WHEN`/`--color=WHEN`; stops at the first other argument. A
/// `--color` without a value or with one that is not auto, always or never is a usage error.
pub fn leading(args: &[String]) -> Result<Leading, Error> {
    let mut out = Leading::default();
    while let Some(arg) = args.get(out.next) {
        let short = arg.strip_prefix('-').filter(|s| !s.starts_with('-'));
        if arg == "--verbose" || short.is_some_and(|s| !s.is_empty() && s.chars().all(|c| c == 'v'))
        {
            let n = if arg == "--verbose" { 1 } else { arg.len() - 1 };
            out.common.verbose = out.common.verbose.saturating_add(n as u8);
            out.flags.extend(std::iter::repeat_n("-v".to_string(), n));
        } else if arg == "--quiet" || arg == "-q" {
            out.common.quiet = true;
            out.flags.push("-q".to_string());
        } else if arg == "--color" || arg.starts_with("--color=") {
            let value = match arg.strip_prefix("--color=") {
                Some(v) => Some(v.to_string()),
                None => {
                    out.next += 1;
                    args.get(out.next).cloned()
                }
            };
            let choice = value
                .as_deref()
                .and_then(|v| ColorChoice::from_str(v, false).ok())
                .ok_or_else(|| {
                    Error::usage(match &value {
                        Some(v) => format!("--color takes auto, always or never, not {v:?}"),
                        None => "--color takes auto, always or never".to_string(),
                    })
                })?;
            out.common.color = choice;
            out.flags
                .extend(["--color".to_string(), value.unwrap_or_default()]);
        } else {
            break;
        }
        out.next += 1;
    }
    Ok(out)
}

/// Decides what `fp` does with its arguments `args` (without the program name): help and
/// version, or the common flags, then a tool's name.
pub fn decide<'a>(args: &[String], tools: &'a BTreeMap<String, PathBuf>) -> Action<'a> {
    let usage = |error: Error| Action::Usage {
        error,
        with_help: false,
    };
    let lead = match leading(args) {
        Ok(lead) => lead,
        Err(error) => return usage(error),
    };
    let run = |tool, sub| {
        Action::Run(Handover {
            tool,
            flags: lead.flags.clone(),
            sub,
            rest: lead.next + 1,
        })
    };
    match args.get(lead.next).map(String::as_str) {
        None if args.is_empty() => Action::Usage {
            error: Error::usage(format!("name a tool to run ({})", tool_list(tools))),
            with_help: true,
        },
        None => usage(
            Error::usage(format!(
                "name a tool to run after the options ({})",
                tool_list(tools)
            ))
            .with_hint("fp --help lists the tools"),
        ),
        Some("-h" | "--help") => Action::Help,
        Some("-V" | "--version") => Action::Version,
        Some(flag) if flag.starts_with('-') => usage(
            Error::usage(format!(
                "unexpected option {flag:?}; fp takes -v, -q and --color WHEN, then a tool name"
            ))
            .with_hint(format!(
                "a tool's own options go after its name; fp --help lists the tools ({})",
                tool_list(tools)
            )),
        ),
        Some(name) => match (tools.get(name), shortcut(name, tools)) {
            (Some(path), _) => run(path.as_path(), None),
            (None, Some((path, sub))) => run(path, Some(sub)),
            (None, None) => usage(
                Error::usage(format!(
                    "there is no tool {PREFIX}{name} beside fp or on PATH"
                ))
                .with_hint(format!("the tools found are: {}", tool_list(tools))),
            ),
        },
    }
}

/// Runs `fp` with `args` (including the program name); only returns when it did not hand over
/// to a tool.
pub fn run(args: &[OsString]) -> ExitCode {
    let tools = find_tools();
    if let Some(code) =
        completions::handle_command("fp", || command(&tools), &|sub| page(sub, &tools), args)
    {
        return code;
    }
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // fp's own messages follow the flags given to it, when they are readable.
    let ui = Ui::new("fp", &leading(&words).map(|l| l.common).unwrap_or_default());
    match decide(&words, &tools) {
        Action::Help => {
            let help = command(&tools).render_long_help().to_string();
            let _ = fp_common::write_stdout(help.trim_end_matches('\n'));
            ExitCode::SUCCESS
        }
        Action::Version => {
            let _ = fp_common::write_stdout(&format!("fp {}", env!("CARGO_PKG_VERSION")));
            ExitCode::SUCCESS
        }
        Action::Run(handover) => {
            let mut rest: Vec<OsString> = handover.flags.iter().map(OsString::from).collect();
            rest.extend(handover.sub.map(OsString::from));
            rest.extend_from_slice(args.get(handover.rest + 1..).unwrap_or_default());
            let err = exec(handover.tool, &rest);
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

    fn words(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn decides_from_the_arguments() {
        let tools: BTreeMap<String, PathBuf> =
            [("build".to_string(), PathBuf::from("/bin/fp-build"))].into();
        let decide = |args: &[&str]| decide(&words(args), &tools);
        assert!(matches!(decide(&["--help"]), Action::Help));
        assert!(matches!(decide(&["-V"]), Action::Version));
        assert!(matches!(decide(&["-q", "--help"]), Action::Help));
        let Action::Run(h) = decide(&["build", "-q"]) else {
            panic!("build runs fp-build");
        };
        assert_eq!(
            (h.tool, h.sub, h.rest),
            (Path::new("/bin/fp-build"), None, 1)
        );
        assert!(h.flags.is_empty());
        let Action::Run(h) = decide(&["-vv", "--color", "never", "build", "x"]) else {
            panic!("flags before the tool's name");
        };
        assert_eq!(h.flags, ["-v", "-v", "--color", "never"]);
        assert_eq!(h.rest, 4);
        let Action::Usage { error, with_help } = decide(&[]) else {
            panic!("no arguments is a usage error");
        };
        assert!(with_help);
        assert_eq!(error.code(), 2);
        assert_eq!(error.message(), "name a tool to run (build)");
        let Action::Usage { error, with_help } = decide(&["frob"]) else {
            panic!("an unknown tool is a usage error");
        };
        assert!(!with_help);
        assert_eq!(error.hint(), Some("the tools found are: build"));
        let Action::Usage { error, .. } = decide(&["-q"]) else {
            panic!("flags and no tool is a usage error");
        };
        assert_eq!(
            error.message(),
            "name a tool to run after the options (build)"
        );
        let Action::Usage { error, .. } = decide(&["--color", "pink", "build"]) else {
            panic!("a bad colour is a usage error");
        };
        assert_eq!(
            error.message(),
            "--color takes auto, always or never, not \"pink\""
        );
        let Action::Usage { error, .. } = decide(&["--color"]) else {
            panic!("--color needs a value");
        };
        assert_eq!(error.message(), "--color takes auto, always or never");
    }

    #[test]
    fn shortcuts_and_unknown_options() {
        let edit: BTreeMap<String, PathBuf> =
            [("edit".to_string(), PathBuf::from("/bin/fp-edit"))].into();
        let Action::Run(h) = decide(&words(&["--quiet", "--color=always", "add", "jq"]), &edit)
        else {
            panic!("add runs fp-edit add");
        };
        assert_eq!((h.tool, h.sub), (Path::new("/bin/fp-edit"), Some("add")));
        assert_eq!(h.flags, ["-q", "--color", "always"]);
        assert_eq!(h.rest, 3);
        assert!(matches!(
            decide(&words(&["list"]), &edit),
            Action::Run(Handover {
                sub: Some("list"),
                ..
            })
        ));
        let Action::Usage { error, .. } = decide(&words(&["--bogus"]), &BTreeMap::new()) else {
            panic!("another option first is a usage error");
        };
        assert_eq!(
            error.message(),
            "unexpected option \"--bogus\"; fp takes -v, -q and --color WHEN, then a tool name"
        );
        assert_eq!(
            error.hint(),
            Some("a tool's own options go after its name; fp --help lists the tools (none found beside fp or on PATH)")
        );
        let lead = leading(&words(&["-v", "--verbose", "-q", "x"])).unwrap();
        assert_eq!(
            (lead.common.verbose, lead.common.quiet, lead.next),
            (2, true, 3)
        );
    }
}
