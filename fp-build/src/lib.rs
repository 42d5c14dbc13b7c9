//! `fp-build`: build a profile flake with `nix build --no-link --json` and print the store path.
//!
//! The product (the store path, or with `--json` one JSON document) is the only thing on
//! stdout, so `fp-build | fp-switch` is safe; nix's progress streams to stderr live.

use clap::Parser;
use fp_common::cli::CommonArgs;
use fp_common::config::{Config, Origin};
use fp_common::error::EXIT_CODES_HELP;
use fp_common::{print_json, write_stdout, Error, Result, Ui};
use fp_nix::command::{nix_version, parse_build_json, NixCommand, NixVersion, Stderr};
use serde::Serialize;
use std::path::Path;

/// Build the profile of a flake and print its store path.
#[derive(Debug, Parser)]
#[command(name = "fp-build", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// The flake to build (default: $FP_FLAKE, the config file's `flake`, then `.`). A
    /// `FLAKE#NAME` form sets the attribute too.
    #[arg(value_name = "FLAKE")]
    pub flake: Option<String>,

    /// The attribute to build: `packages.<system>.NAME` and the other places nix looks
    /// (default: $FP_ATTR, the config file's `attr`, then `profile`).
    #[arg(long, short = 'a', value_name = "NAME")]
    pub attr: Option<String>,

    /// Override a flake input, passed to nix as is; repeatable.
    #[arg(long, num_args = 2, value_names = ["INPUT", "REF"], action = clap::ArgAction::Append)]
    pub override_input: Vec<String>,

    /// Update the flake's lock file (all inputs) before building.
    #[arg(long)]
    pub update: bool,

    /// Stream full build logs to stderr (nix's -L).
    #[arg(short = 'L', long = "print-build-logs")]
    pub print_build_logs: bool,

    /// Print one JSON document: flake, installable, storePath, drvPath.
    #[arg(long)]
    pub json: bool,

    /// Arguments after `--` are passed to `nix build`.
    #[arg(last = true, value_name = "NIX_ARGS")]
    pub nix_args: Vec<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// What `fp-build --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildReport {
    /// The flake, as given (after `~` expansion).
    pub flake: String,
    /// `FLAKE#NAME`.
    pub installable: String,
    /// The built output.
    pub store_path: String,
    /// Its derivation.
    pub drv_path: String,
}

/// Builds the profile and prints its store path (or the JSON report).
pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    let config = Config::load()?;
    let cwd = std::env::current_dir().unwrap_or_default();
    if no_flake_found(&config, cli.flake.as_deref(), &cwd) {
        return Err(first_run(&config, &cwd));
    }
    let target = config.installable(ui, cli.flake.as_deref(), cli.attr)?;
    let (flake, installable) = (target.flake, target.installable);

    if cli.update {
        let version = nix_version(ui)?;
        ui.info(&format!("updating the lock file of {flake}"));
        update_command(version, &flake).output(ui, Stderr::Stream)?;
    }

    ui.info(&format!("building {installable}"));
    let stdout = build_command(
        &cli.override_input,
        cli.print_build_logs,
        &installable,
        &cli.nix_args,
    )
    .output(ui, Stderr::Stream)?;
    let (store_path, drv_path) = parse_build_json(&stdout)?;
    if cli.json {
        print_json(&BuildReport {
            flake,
            installable,
            store_path,
            drv_path,
        })
    } else {
        write_stdout(&store_path)
    }
}

/// Whether there is no flake to build at all: none named (argument, `$FP_FLAKE`, the config
/// file's `flake`) and no `flake.nix` in `cwd`, where the default `.` would look.
pub fn no_flake_found(config: &Config, flake_arg: Option<&str>, cwd: &Path) -> bool {
    flake_arg.is_none()
        && config.flake(None).source == Origin::Default
        && !cwd.join("flake.nix").exists()
}

/// The first-run error: no flake found, in our words, with the three ways on.
pub fn first_run(config: &Config, cwd: &Path) -> Error {
    Error::usage(format!(
        "no profile flake to build: none was named, {} sets no `flake`, and {} has no flake.nix",
        config.path().display(),
        cwd.display()
    ))
    .with_hint(
        "name the flake: fp-build ~/my-profile (a directory with flake.nix, or any flake reference)\n  \
         or set it once in config.toml: flake = \"~/my-profile\"\n  \
         or start one here: nix flake init -t github:flakey-profile/flakey-profile,\n  \
         or from what is installed now: fp-migrate --profile ~/.nix-profile > flake.nix",
    )
}

/// `nix build --no-link --json [-L] [--override-input I R]... INSTALLABLE [NIX_ARGS...]`.
pub fn build_command(
    overrides: &[String],
    logs: bool,
    installable: &str,
    extra: &[String],
) -> NixCommand {
    let mut cmd = NixCommand::nix().args(["build", "--no-link", "--json"]);
    if logs {
        cmd = cmd.arg("--print-build-logs");
    }
    for pair in overrides.chunks(2) {
        cmd = cmd.arg("--override-input").args(pair);
    }
    cmd.arg(installable).args(extra)
}

/// The command that updates every input of `flake`'s lock file, for this Nix version
/// (`nix flake update FLAKE` before 2.19, `nix flake update --flake FLAKE` from 2.19 on).
pub fn update_command(version: NixVersion, flake: &str) -> NixCommand {
    let cmd = NixCommand::nix().args(["flake", "update"]);
    if version.at_least(2, 19) {
        cmd.args(["--flake", flake])
    } else {
        cmd.arg(flake)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_command_line() {
        let cmd = build_command(
            &["nixpkgs".into(), "path:/x y".into()],
            true,
            ".#profile",
            &["--impure".into()],
        );
        assert_eq!(
            cmd.display(),
            "nix --extra-experimental-features 'nix-command flakes' build --no-link --json --print-build-logs --override-input nixpkgs 'path:/x y' .#profile --impure"
        );
    }

    #[test]
    fn update_adapts_to_version() {
        assert_eq!(
            update_command(NixVersion::new(2, 8, 0), "/f")
                .argv()
                .last()
                .unwrap(),
            "/f"
        );
        let new = update_command(NixVersion::new(2, 24, 0), "/f");
        let args: Vec<_> = new
            .argv()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.ends_with(&["update".into(), "--flake".into(), "/f".into()]),
            "{args:?}"
        );
    }
}
