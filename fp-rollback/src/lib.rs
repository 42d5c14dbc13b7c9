//! `fp-rollback`: switch a profile back to an earlier generation, showing what changes.
//!
//! Without `--to`, the highest generation below the current one (nix-env's rule); the switch
//! itself is `nix-env --switch-generation`, so Nix keeps the locking and GC roots. With
//! `--target-host` (or `--hosts`) it rolls back the profiles of other machines over ssh.

use clap::Parser;
use fp_common::cli::{CommonArgs, HostArgs, ProfileArgs, SwitchArgs};
use fp_common::config::Config;
use fp_common::error::EXIT_CODES_HELP;
use fp_common::hosts::{self, OnHost};
use fp_common::render;
use fp_common::switch::{self, Options, Place};
use fp_common::{print_json, Error, Result, Ui};
use fp_nix::generation::{self, Generation};
use fp_nix::profile::Target;

/// Roll a Nix profile back to an earlier generation, showing what changes.
#[derive(Debug, Parser)]
#[command(name = "fp-rollback", version, about, after_help = EXIT_CODES_HELP)]
// A flag naming one value may be repeated and the last one counts, as with nix-env: mkProfile's
// extraSwitchArgs come before the user's own arguments, so `--profile A ... --profile B` is B.
#[command(args_override_self = true)]
pub struct Cli {
    /// Switch to generation N instead of the one before the current.
    #[arg(long, value_name = "N")]
    pub to: Option<u64>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub profile: ProfileArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub switch: SwitchArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub hosts: HostArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// Rolls the profile back.
pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    let config = Config::load()?;
    if cli.hosts.any() {
        return rollback_hosts(ui, &cli, &config);
    }
    let profile = config.resolve_profile(ui, cli.profile.profile)?;
    if !cli.switch.dry_run {
        profile.check_writable()?;
    }
    let name = profile.path().display().to_string();
    // The target is chosen from the generations read under the profile's lock, so two
    // rollbacks at once go back two steps and a deletion running meanwhile is seen.
    let report = switch::switch_to_chosen(
        ui,
        &profile,
        |generations| choose(generations, cli.to, &name).map(Target::Generation),
        Options::from_args(ui, &cli.switch, &config)?,
    )?;
    if report.changed && !cli.switch.dry_run && fp_nix::pin_history::has_entries() {
        ui.note("pins made by fp-pin (flake registry, channels) are not rolled back by this; `fp-pin --revert` rolls them back");
    }
    if cli.switch.json {
        print_json(&report)?;
    }
    Ok(())
}

/// Rolls back the profile of every host asked for, over ssh; one summary line per host.
fn rollback_hosts(ui: &Ui, cli: &Cli, config: &Config) -> Result<()> {
    let specs = hosts::specs(&cli.hosts, config, cli.profile.profile.as_deref())?;
    let opts = Options::for_hosts(ui, &cli.switch, config, specs.len())?;
    let results = hosts::run_on_hosts(ui, &specs, cli.hosts.jobs, |ui, spec| {
        let place = OnHost::open(ui, spec)?;
        let name = format!("{} on {}", place.profile_path().display(), spec.name);
        if !opts.dry_run {
            place.check_writable()?;
        }
        switch::switch_to_chosen(
            ui,
            &place,
            |generations| choose(generations, cli.to, &name).map(Target::Generation),
            opts,
        )
    });
    hosts::report(ui, &specs, results, cli.switch.json, |_, _| Ok(()))
}

/// The generation to roll back to: `to` if it exists, else the highest below the current one.
/// Either failing is exit 1 with the generations that do exist.
pub fn choose(generations: &[Generation], to: Option<u64>, profile: &str) -> Result<u64> {
    let listing = || {
        format!(
            "the generations of {profile} are:\n{}",
            render::generation_list(generations)
                .lines()
                .map(str::trim_end)
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    if generations.is_empty() {
        return Err(Error::failed(format!(
            "the profile {profile} has no generations yet, so there is nothing to roll back to"
        ))
        .with_hint("make its first generation: fp-build | fp-switch"));
    }
    if let Some(n) = to {
        if generations.iter().any(|g| g.generation == n) {
            return Ok(n);
        }
        return Err(Error::failed(format!("generation {n} does not exist")).with_hint(listing()));
    }
    let current = generation::current(generations).ok_or_else(|| {
        Error::failed(format!("the profile {profile} has no current generation"))
            .with_hint(listing())
    })?;
    generation::previous(generations)
        .map(|g| g.generation)
        .ok_or_else(|| {
            Error::failed(format!(
                "no generation older than the current one ({}) exists",
                current.generation
            ))
            .with_hint(listing())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn gens(numbers: &[u64], current: u64) -> Vec<Generation> {
        numbers
            .iter()
            .map(|&n| Generation {
                generation: n,
                store_path: format!("/nix/store/x-{n}"),
                created: SystemTime::UNIX_EPOCH,
                current: n == current,
            })
            .collect()
    }

    #[test]
    fn previous_is_highest_below_current() {
        assert_eq!(choose(&gens(&[1, 2, 3], 3), None, "p").unwrap(), 2);
        assert_eq!(choose(&gens(&[1, 4, 7], 7), None, "p").unwrap(), 4);
        // After a rollback the current one is not the newest.
        assert_eq!(choose(&gens(&[1, 2, 3], 2), None, "p").unwrap(), 1);
    }

    #[test]
    fn explicit_target() {
        assert_eq!(choose(&gens(&[1, 2, 3], 1), Some(3), "p").unwrap(), 3);
        let err = choose(&gens(&[1, 2], 2), Some(9), "p").unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(err.hint().unwrap().contains("(current)"));
    }

    #[test]
    fn oldest_has_nothing_before_it() {
        let err = choose(&gens(&[1, 2], 1), None, "p").unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(
            err.message().contains("no generation older"),
            "{}",
            err.message()
        );
        let none = choose(&[], None, "p").unwrap_err();
        assert_eq!(none.code(), 1);
        insta::assert_snapshot!(format!("{}\nhint: {}", none.message(), none.hint().unwrap()), @r"
        the profile p has no generations yet, so there is nothing to roll back to
        hint: make its first generation: fp-build | fp-switch
        ");
        assert_eq!(choose(&[], Some(1), "p").unwrap_err().code(), 1);
    }
}
