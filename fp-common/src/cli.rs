//! Flags every tool shares, flattened into each tool's clap `Cli`.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// When to colour what is written for people on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// `-v`, `-q` and `--color`: how much to say on stderr and how.
#[derive(Debug, Clone, Args, Default)]
pub struct CommonArgs {
    /// Say more: `-v` prints each nix command line (shell-quoted) before running it and where
    /// each setting came from.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Say only errors and warnings on stderr (nix's progress included).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Colour the output for people: auto, always or never (`NO_COLOR` is honoured by auto).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// `--profile PATH`, for the tools that touch a profile. Global, so it is accepted before or
/// after a subcommand.
#[derive(Debug, Clone, Args, Default)]
pub struct ProfileArgs {
    /// The profile to act on (default: `$FP_PROFILE`, the config file's `profile`, `$NIX_PROFILE`,
    /// then the target of `~/.nix-profile`, as nix-env decides).
    #[arg(long, short = 'p', value_name = "PATH", global = true)]
    pub profile: Option<PathBuf>,
}

/// `--ask` and `--yes`, for the tools that change a profile.
#[derive(Debug, Clone, Args, Default)]
pub struct AskArgs {
    /// Show what would change, then ask on the terminal before changing anything (also
    /// `FP_ASK=1` or `ask = true` in config.toml); without a terminal, refused (exit 2).
    #[arg(long)]
    pub ask: bool,

    /// Do not ask, even when `FP_ASK` or the config file says to.
    #[arg(long, short = 'y', conflicts_with = "ask")]
    pub yes: bool,
}

/// `--dry-run`, `--no-diff`, `--sizes`, `--ask`, `--allow-removing-nix` and `--json`: how
/// fp-switch and fp-rollback switch and report.
#[derive(Debug, Clone, Args, Default)]
pub struct SwitchArgs {
    /// Show what would change and change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Do not compute or print the package diff.
    #[arg(long)]
    pub no_diff: bool,

    /// Show each package's change in closure size and the whole closure's (one `nix path-info
    /// --recursive` for both generations).
    #[arg(long, conflicts_with = "no_diff")]
    pub sizes: bool,

    /// Switch even when the `nix` you are running comes from this profile and the target has
    /// no `bin/nix` (you would be left without nix on PATH).
    #[arg(long)]
    pub allow_removing_nix: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub ask: AskArgs,

    /// Print one JSON document describing the switch on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `--target-host`, `--hosts` and `--jobs`: the tools that read or switch a profile do it on
/// other machines over ssh instead of this one.
#[derive(Debug, Clone, Args, Default)]
pub struct HostArgs {
    /// Work on the profile of this machine over ssh instead (host, user@host or an alias from
    /// ~/.ssh/config; options from $NIX_SSHOPTS); repeatable.
    #[arg(long = "target-host", value_name = "HOST", global = true)]
    pub target_hosts: Vec<String>,

    /// Work on the hosts of the config file's [hosts.NAME] tables: `all`, or names separated by
    /// commas.
    #[arg(long, value_name = "all|NAME,...", global = true)]
    pub hosts: Option<String>,

    /// How many hosts to work on at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..), global = true)]
    pub jobs: u16,
}

impl HostArgs {
    /// Whether any other machine was asked for.
    pub fn any(&self) -> bool {
        !self.target_hosts.is_empty() || self.hosts.is_some()
    }
}

/// The flags naming a single value (`--profile PATH`, `--to N`, ...) that `args` gives more than
/// once, each with how many times, in the order the command declares them. For the tools that
/// take the last of them, as nix-env does with `--profile A --profile B`, so `-v` can say so.
/// `args` is the whole command line (the program name first); nothing after `--` counts.
pub fn repeated_value_flags(
    cmd: &clap::Command,
    args: &[std::ffi::OsString],
) -> Vec<(String, usize)> {
    let words: Vec<&str> = args
        .iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .take_while(|a| *a != "--")
        .collect();
    let mut repeated = Vec::new();
    for arg in cmd.get_arguments() {
        let single = matches!(arg.get_action(), clap::ArgAction::Set);
        let Some(long) = arg.get_long().filter(|_| single) else {
            continue;
        };
        let short = arg.get_short();
        let count = words.iter().filter(|w| names_flag(w, long, short)).count();
        if count > 1 {
            repeated.push((format!("--{long}"), count));
        }
    }
    repeated
}

/// Whether the word `w` is the flag `--long`/`-s`, alone or with its value attached
/// (`--long=V`, `-sV`).
fn names_flag(w: &str, long: &str, short: Option<char>) -> bool {
    if let Some(rest) = w.strip_prefix("--") {
        return rest == long || rest.strip_prefix(long).is_some_and(|r| r.starts_with('='));
    }
    match (w.strip_prefix('-'), short) {
        (Some(rest), Some(s)) => rest.starts_with(s),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    #[command(args_override_self = true)]
    struct Demo {
        #[command(flatten)]
        profile: ProfileArgs,
        #[arg(long)]
        to: Option<u64>,
        #[arg(long)]
        tag: Vec<String>,
        #[command(flatten)]
        common: CommonArgs,
    }

    fn words(line: &str) -> Vec<std::ffi::OsString> {
        line.split(' ').map(Into::into).collect()
    }

    #[test]
    fn the_last_of_a_repeated_single_value_flag_wins() {
        let cli = Demo::try_parse_from(words("demo --profile /a -p /b --profile=/c --to 1 --to 2"))
            .expect("parses");
        assert_eq!(cli.profile.profile, Some(PathBuf::from("/c")));
        assert_eq!(cli.to, Some(2));
    }

    #[test]
    fn repeatable_flags_still_add_up() {
        let cli = Demo::try_parse_from(words("demo --tag a --tag b -v -v")).expect("parses");
        assert_eq!(cli.tag, ["a", "b"]);
        assert_eq!(cli.common.verbose, 2);
    }

    #[test]
    fn repeated_value_flags_are_counted_in_every_spelling() {
        let cmd = Demo::command();
        let found = repeated_value_flags(
            &cmd,
            &words("demo --profile /a -p/b --profile=/c --to 1 --tag x --tag y --color never"),
        );
        assert_eq!(found, [("--profile".to_string(), 3)]);
    }

    #[test]
    fn nothing_after_the_double_dash_counts_and_lookalikes_do_not() {
        let cmd = Demo::command();
        let found = repeated_value_flags(
            &cmd,
            &words("demo --profile /a --profiles x --to 1 -- --profile /b --to 2"),
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
