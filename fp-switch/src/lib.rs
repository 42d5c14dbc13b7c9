//! `fp-switch`: make a built env the profile's current generation with `nix-env --set`.
//!
//! Takes the store path as an argument or from stdin (a store path, a link to one, or a line of
//! `fp-build --json`), shows the package diff against the current generation, then switches.
//! With `--target-host` (or `--hosts`) it does that on other machines over ssh, after copying
//! the env's closure there with `nix copy`.

use clap::Parser;
use fp_common::cli::{CommonArgs, HostArgs, ProfileArgs, SwitchArgs};
use fp_common::config::Config;
use fp_common::error::EXIT_CODES_HELP;
use fp_common::hosts::{self, OnHost};
use fp_common::switch::{self, Options};
use fp_common::{print_json, Error, Result, Ui};
use fp_nix::env_marker;
use fp_nix::profile::Target;
use fp_nix::store_path::{resolve_to_store_path, StorePath};
use fp_nix::store_query;
use std::io::{BufRead, IsTerminal, Read};

/// The most stdin fp-switch reads looking for its input line.
const STDIN_LIMIT: u64 = 1024 * 1024;

/// Switch a Nix profile to a built env, showing what changes.
#[derive(Debug, Parser)]
#[command(name = "fp-switch", version, about, after_help = EXIT_CODES_HELP)]
// A flag naming one value may be repeated and the last one counts, as with nix-env: mkProfile's
// extraSwitchArgs come before the user's own arguments, so `--profile A ... --profile B` is B.
#[command(args_override_self = true)]
pub struct Cli {
    /// A store path, a link to one (./result), or a line of `fp-build --json`; default: the
    /// first non-empty line of stdin.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub profile: ProfileArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub switch: SwitchArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub hosts: HostArgs,

    /// With --target-host or --hosts: let each host fetch what it can from its own
    /// substituters instead of receiving it from this machine.
    #[arg(long)]
    pub substitute_on_destination: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// Switches the profile to the given env.
pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    let given = match cli.path.clone() {
        Some(p) => p,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(no_input("no store path given"));
            }
            let line = first_line(stdin.lock().take(STDIN_LIMIT))?;
            if is_build_message(&line) {
                return Err(Error::usage(format!(
                    "stdin starts with a message of fp-build or nix (\"{line}\"), not a store path: the build's stderr went into the pipe"
                ))
                .with_hint("pipe only the build's stdout: fp-build | fp-switch (without 2>&1)"));
            }
            line
        }
    };
    let target = parse_input(&given)?;
    let config = Config::load()?;
    if cli.substitute_on_destination && !cli.hosts.any() {
        return Err(Error::usage(
            "--substitute-on-destination is for other machines: give --target-host or --hosts",
        ));
    }
    let profile = if cli.hosts.any() {
        None
    } else {
        Some(config.resolve_profile(ui, cli.profile.profile.clone())?)
    };
    if let Some(profile) = profile.as_ref().filter(|_| !cli.switch.dry_run) {
        profile.check_writable()?;
    }
    // An env of ours (it has our marker) exists only once its build finished; anything else is
    // asked of the store.
    let exists = std::fs::symlink_metadata(target.as_path()).is_ok();
    if !exists || (!env_marker::is_flakey(target.as_path()) && !store_query::is_valid(ui, &target)?)
    {
        return Err(Error::usage(format!(
            "{target} is not a valid path in the Nix store (it does not exist or was never registered)"
        ))
        .with_hint("build it first: fp-build | fp-switch"));
    }
    let Some(profile) = profile else {
        return switch_hosts(ui, &cli, &config, &target);
    };
    let report = switch::switch(
        ui,
        &profile,
        &Target::StorePath(target),
        Options::from_args(ui, &cli.switch, &config)?,
    )?;
    if cli.switch.json {
        print_json(&report)?;
    }
    Ok(())
}

/// Switches the profile of every host asked for: copies the env's closure there (unless dry
/// run), then the same switch as here, over ssh. One summary line per host.
fn switch_hosts(ui: &Ui, cli: &Cli, config: &Config, target: &StorePath) -> Result<()> {
    let specs = hosts::specs(&cli.hosts, config, cli.profile.profile.as_deref())?;
    let opts = Options::for_hosts(ui, &cli.switch, config, specs.len())?;
    if opts.ask && !opts.dry_run {
        // Without a terminal --ask is refused before anything is copied there.
        fp_common::ask::Terminal::open()?;
    }
    let results = hosts::run_on_hosts(ui, &specs, cli.hosts.jobs, |ui, spec| {
        let mut place = OnHost::open(ui, spec)?;
        if !opts.dry_run {
            // The copy comes first where it may make what is missing (the store there).
            place.check_before_copy()?;
            place
                .host()
                .copy(ui, target.as_str(), cli.substitute_on_destination)?;
            place.check_after_copy(ui)?;
        }
        switch::switch(ui, &place, &Target::StorePath(target.clone()), opts)
    });
    hosts::report(ui, &specs, results, cli.switch.json, |_, _| Ok(()))
}

/// The error for missing input, with the usual ways to give it.
fn no_input(what: &str) -> Error {
    Error::usage(what.to_string())
        .with_hint("give a store path: fp-build | fp-switch, or fp-switch ./result")
}

/// The first non-empty line of `input`, trimmed. Empty input, invalid UTF-8 or a line longer
/// than the read limit is a usage error.
pub fn first_line(input: impl Read) -> Result<String> {
    let mut reader = std::io::BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::usage(format!("cannot read stdin: {e}")))?;
        if n == 0 {
            return Err(Error::usage(
                "no store path on stdin: the command before the pipe printed nothing (when it failed, its error is above)",
            )
            .with_hint("fix what the build above says and run the pipeline again; or switch to a build you have: fp-switch ./result"));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| Error::usage("stdin is not text (invalid UTF-8)"))?;
        let text = text.trim();
        if !text.is_empty() {
            if !line.ends_with(b"\n") && n as u64 >= STDIN_LIMIT {
                return Err(Error::usage(
                    "the first line of stdin is too long to be a store path",
                ));
            }
            return Ok(text.to_string());
        }
    }
}

/// Whether a line read from stdin is one of the messages fp-build or nix print on stderr (it
/// arrives there with `fp-build 2>&1 | fp-switch`), which no store path or link looks like.
pub fn is_build_message(line: &str) -> bool {
    const STARTS: [&str; 9] = [
        "building ",
        "updating ",
        "fp-build: ",
        "warning: ",
        "error: ",
        "hint: ",
        "these ",
        "this derivation",
        "copying ",
    ];
    STARTS.iter().any(|s| line.starts_with(s))
        || line.contains(" is unchanged since its last build")
}

/// Turns one input (argument or stdin line) into a store path: a JSON line of `fp-build --json`
/// gives its `storePath`; anything else is a path followed through links into the store.
pub fn parse_input(input: &str) -> Result<StorePath> {
    let input = input.trim();
    if input.is_empty() {
        return Err(no_input("no input: the store path is empty"));
    }
    if input.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(input).map_err(|e| {
            Error::usage(format!("the input looks like JSON but does not parse: {e}"))
        })?;
        let path = value
            .get("storePath")
            .and_then(|p| p.as_str())
            .ok_or_else(|| Error::usage("the JSON input has no \"storePath\" string (expected a line of fp-build --json)"))?;
        return StorePath::parse(path);
    }
    if input.contains('\0') {
        return Err(Error::usage("the input contains a NUL byte"));
    }
    resolve_to_store_path(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-profile";

    #[test]
    fn build_messages_are_told_from_paths() {
        for line in [
            "building .#profile",
            "fp-build: error: no profile flake to build",
            "warning: Git tree '/home/a/p' is dirty",
            "/home/a/p#profile is unchanged since its last build: not running nix (--refresh builds anyway)",
        ] {
            assert!(is_build_message(line), "{line}");
        }
        for line in [P, "./result", "{\"storePath\": \"/nix/store/x\"}"] {
            assert!(!is_build_message(line), "{line}");
        }
    }

    #[test]
    fn first_non_empty_line() {
        assert_eq!(first_line(&b"\n  \n/x\n/y\n"[..]).unwrap(), "/x");
        assert_eq!(first_line(&b"/x"[..]).unwrap(), "/x");
        assert_eq!(first_line(&b""[..]).unwrap_err().code(), 2);
        assert_eq!(first_line(&b"\n\n"[..]).unwrap_err().code(), 2);
        assert_eq!(first_line(&b"\xff\xfe\n"[..]).unwrap_err().code(), 2);
    }

    #[test]
    fn json_line_gives_store_path() {
        let line = format!(
            r#"{{"flake":".","installable":".#profile","storePath":"{P}","drvPath":"/nix/store/x.drv"}}"#
        );
        assert_eq!(parse_input(&line).unwrap().as_str(), P);
        assert_eq!(parse_input("{not json").unwrap_err().code(), 2);
        assert_eq!(parse_input(r#"{"path":"/x"}"#).unwrap_err().code(), 2);
        assert_eq!(
            parse_input(r#"{"storePath":"/tmp/x"}"#).unwrap_err().code(),
            2
        );
    }

    #[test]
    fn plain_store_path() {
        assert_eq!(parse_input(P).unwrap().as_str(), P);
        assert_eq!(parse_input("/etc/passwd").unwrap_err().code(), 2);
        assert_eq!(parse_input("garbage words here").unwrap_err().code(), 2);
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// Any bytes on stdin: a line or a usage error, never a panic.
        #[test]
        fn stdin_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            match first_line(&bytes[..]) {
                Ok(line) => {
                    if let Err(e) = parse_input(&line) {
                        prop_assert_eq!(e.code(), 2);
                    }
                }
                Err(e) => prop_assert_eq!(e.code(), 2),
            }
        }

        /// JSON-looking lines with any storePath value.
        #[test]
        fn json_lines_never_panic(path in "\\PC{0,80}") {
            let line = serde_json::json!({"storePath": path}).to_string();
            if let Err(e) = parse_input(&line) {
                prop_assert_eq!(e.code(), 2);
            }
        }
    }
}
