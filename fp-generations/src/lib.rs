//! `fp-generations`: list a profile's generations, and delete old ones without ever deleting
//! the current one.
//!
//! Listing reads the profile directory natively (the same set `nix-env --list-generations`
//! prints); deleting goes through `nix-env --delete-generations` with explicit numbers, so the
//! choice of what to delete is ours and tested, and the deletion itself is Nix's. With
//! `--target-host` (or `--hosts`) both work on the profiles of other machines over ssh.

use clap::{Args, Parser, Subcommand};
use fp_common::cli::{CommonArgs, HostArgs, ProfileArgs};
use fp_common::config::Config;
use fp_common::error::EXIT_CODES_HELP;
use fp_common::hosts::{self, HostSpec, OnHost, Outcome};
use fp_common::switch::Place;
use fp_common::{print_json, write_stdout, Error, Result, Ui};
use fp_nix::command::Stderr;
use fp_nix::generation::{self, format_local_time, format_rfc3339_utc, Generation};
use fp_nix::path_info::PathInfo;
use fp_nix::profile::Profile;
use fp_nix::store_query;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// List the generations of a Nix profile, or delete old ones.
#[derive(Debug, Parser)]
#[command(name = "fp-generations", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    #[allow(missing_docs)]
    pub command: Option<Command>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub profile: ProfileArgs,

    /// Print one JSON document on stdout instead of the table.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub hosts: HostArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// Subcommands of fp-generations.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Delete generations through nix-env; the current generation is never deleted.
    #[command(after_help = EXIT_CODES_HELP)]
    Delete(DeleteArgs),
}

/// What `fp-generations delete` deletes: exactly one of --keep, --older-than or numbers.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["keep", "older_than", "generations"])))]
pub struct DeleteArgs {
    /// Keep the N newest generations (by number) and the current one; delete the rest.
    #[arg(long, value_name = "N")]
    pub keep: Option<u64>,

    /// Delete generations older than DURATION (`30d`, `2w`, `12h`), keeping the one that was
    /// current at that time, as nix-env does, and the current one.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,

    /// Delete these generations (the current one is skipped with a warning).
    #[arg(value_name = "GEN")]
    pub generations: Vec<u64>,

    /// Print what would be deleted and delete nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

/// One generation in `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationJson {
    /// Number.
    pub generation: u64,
    /// Store path.
    pub store_path: String,
    /// Creation time, RFC 3339 in UTC.
    pub created: String,
    /// Whether it is the current one.
    pub current: bool,
}

/// The `--json` document of the listing.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListJson {
    /// The profile link.
    pub profile: String,
    /// The current generation's number.
    pub current: Option<u64>,
    /// Every generation, oldest first.
    pub generations: Vec<GenerationJson>,
}

/// The `--json` document of `delete`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteJson {
    /// The profile link.
    pub profile: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Generations deleted (or that would be).
    pub deleted: Vec<u64>,
    /// Generations kept.
    pub kept: Vec<u64>,
}

/// Runs fp-generations.
pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    let config = Config::load()?;
    if cli.hosts.any() {
        let specs = hosts::specs(&cli.hosts, &config, cli.profile.profile.as_deref())?;
        return on_hosts(ui, &cli, &specs);
    }
    let profile = config.resolve_profile(ui, cli.profile.profile)?;
    match cli.command {
        None => list(ui, &profile, &profile.generations()?, cli.json),
        Some(Command::Delete(args)) => delete(ui, &profile, &args, cli.json),
    }
}

/// Lists or deletes the generations of every host asked for, over ssh; one summary line per
/// host, the tables (or JSON lines) on stdout in the hosts' order.
fn on_hosts(ui: &Ui, cli: &Cli, specs: &[HostSpec]) -> Result<()> {
    let several = specs.len() > 1;
    match &cli.command {
        None => {
            let results = hosts::run_on_hosts(ui, specs, cli.hosts.jobs, |ui, spec| {
                let place = OnHost::open(ui, spec)?;
                let generations = place.read_generations();
                let counts =
                    package_counts(ui, generations, |paths| place.path_info(ui, paths, false));
                Ok(Listing {
                    doc: list_json(&place.profile_path().display().to_string(), generations),
                    table: render_table(generations, &counts),
                })
            });
            hosts::report(ui, specs, results, cli.json, |spec, listing| {
                let table = listing.table.trim_end_matches('\n');
                if several {
                    write_stdout(&format!("{}:\n{table}", spec.name))
                } else {
                    write_stdout(table)
                }
            })
        }
        Some(Command::Delete(args)) => {
            let selection = selection(args, SystemTime::now())?;
            let results = hosts::run_on_hosts(ui, specs, cli.hosts.jobs, |ui, spec| {
                let place = OnHost::open(ui, spec)?;
                let (doomed, kept) = decide(ui, place.read_generations(), &selection)?;
                if !doomed.is_empty() && !args.dry_run {
                    place.check_writable()?;
                    place.delete(ui, &doomed)?;
                }
                tell(ui, args.dry_run, &doomed, &kept);
                Ok(DeleteJson {
                    profile: place.profile_path().display().to_string(),
                    dry_run: args.dry_run,
                    deleted: doomed,
                    kept,
                })
            });
            hosts::report(ui, specs, results, cli.json, |_, _| Ok(()))
        }
    }
}

/// A host's listing: its `--json` document and its table for people.
#[derive(Debug, Serialize)]
struct Listing {
    #[serde(flatten)]
    doc: ListJson,
    #[serde(skip)]
    table: String,
}

impl Outcome for Listing {
    fn summary(&self) -> String {
        let n = self.doc.generations.len();
        let count = if n == 1 {
            "1 generation".to_string()
        } else {
            format!("{n} generations")
        };
        match self.doc.current {
            Some(c) => format!("{count}, current {c}"),
            None => format!("{count}, none current"),
        }
    }
}

impl Outcome for DeleteJson {
    fn summary(&self) -> String {
        let list = |ns: &[u64]| ns.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        match (self.deleted.is_empty(), self.dry_run) {
            (true, _) => "nothing to delete".to_string(),
            (false, true) => format!("would delete generations {}", list(&self.deleted)),
            (false, false) => format!("deleted generations {}", list(&self.deleted)),
        }
    }
}

/// The `--json` document of the listing of the profile `profile`.
fn list_json(profile: &str, generations: &[Generation]) -> ListJson {
    ListJson {
        profile: profile.to_string(),
        current: generation::current(generations).map(|g| g.generation),
        generations: generations
            .iter()
            .map(|g| GenerationJson {
                generation: g.generation,
                store_path: g.store_path.clone(),
                created: format_rfc3339_utc(g.created),
                current: g.current,
            })
            .collect(),
    }
}

/// Prints the table (or JSON) of generations on stdout.
fn list(ui: &Ui, profile: &Profile, generations: &[Generation], json: bool) -> Result<()> {
    if json {
        return print_json(&list_json(
            &profile.path().display().to_string(),
            generations,
        ));
    }
    if generations.is_empty() {
        ui.info(&format!(
            "the profile {} has no generations",
            profile.path().display()
        ));
        return Ok(());
    }
    let counts = package_counts(ui, generations, |paths| {
        store_query::path_infos(ui, paths, false)
    });
    write_stdout(render_table(generations, &counts).trim_end_matches('\n'))
}

/// How many packages each generation has, asked of the store (with `query`) in one call;
/// `None` where the store could not say (the table shows `?`).
fn package_counts(
    ui: &Ui,
    generations: &[Generation],
    query: impl FnOnce(&[&str]) -> Result<BTreeMap<String, PathInfo>>,
) -> Vec<Option<usize>> {
    let paths: Vec<&str> = generations.iter().map(|g| g.store_path.as_str()).collect();
    match query(&paths) {
        Ok(info) => generations
            .iter()
            .map(|g| {
                info.get(&g.store_path)
                    .map(|i| fp_nix::diff::packages_from_info(&g.store_path, i).len())
            })
            .collect(),
        Err(e) => {
            ui.warn(&format!("cannot count packages: {}", e.message()));
            vec![None; generations.len()]
        }
    }
}

/// The table for people: number, local date, package count, current marker.
pub fn render_table(generations: &[Generation], counts: &[Option<usize>]) -> String {
    let mut out = String::from("generation  date                 packages\n");
    for (g, count) in generations.iter().zip(counts) {
        let count = count.map_or("?".to_string(), |c| c.to_string());
        let line = format!(
            "{:>10}  {}  {:>8}  {}",
            g.generation,
            format_local_time(g.created),
            count,
            if g.current { "(current)" } else { "" }
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// What to delete, as parsed from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Keep the N newest and the current one.
    Keep(u64),
    /// Older than this time, as nix-env's `--delete-generations Nd` chooses.
    OlderThan(SystemTime),
    /// These numbers.
    Numbers(Vec<u64>),
}

/// Parses a duration: a whole number of days (`30d`, as Nix), weeks (`2w`) or hours (`12h`), at
/// least 1.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || {
        Error::usage(format!(
            "--older-than takes a duration like 30d, 2w or 12h, not {text:?}"
        ))
    };
    let unit = text.chars().last().ok_or_else(bad)?;
    let number: u64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let secs = match unit {
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(bad()),
    };
    if number == 0 {
        return Err(bad());
    }
    number
        .checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// Chooses the generations to delete. The current generation is never among them.
pub fn select(generations: &[Generation], selection: &Selection) -> Result<Vec<u64>> {
    let current = generation::current(generations).map(|g| g.generation);
    let mut chosen: Vec<u64> = match selection {
        Selection::Keep(0) => return Err(Error::usage("--keep must be at least 1")),
        Selection::Keep(n) => {
            let keep_from = generations.len().saturating_sub(*n as usize);
            generations[..keep_from]
                .iter()
                .map(|g| g.generation)
                .collect()
        }
        Selection::OlderThan(cutoff) => {
            // Newest to oldest: the first one created before the cutoff was current then; keep
            // it, delete every older one.
            let mut older = generations.iter().rev().filter(|g| g.created < *cutoff);
            let _active_at_cutoff = older.next();
            older.map(|g| g.generation).collect()
        }
        Selection::Numbers(numbers) => {
            let missing: Vec<String> = numbers
                .iter()
                .filter(|n| !generations.iter().any(|g| g.generation == **n))
                .map(u64::to_string)
                .collect();
            if !missing.is_empty() {
                return Err(Error::failed(format!(
                    "no generation {} in this profile; it has {}",
                    missing.join(", "),
                    generations
                        .iter()
                        .map(|g| g.generation.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            numbers.clone()
        }
    };
    chosen.retain(|n| Some(*n) != current);
    chosen.sort_unstable();
    chosen.dedup();
    Ok(chosen)
}

/// What `fp-generations delete` asks for, with `now` as the time `--older-than` counts back from.
pub fn selection(args: &DeleteArgs, now: SystemTime) -> Result<Selection> {
    Ok(if let Some(n) = args.keep {
        Selection::Keep(n)
    } else if let Some(text) = &args.older_than {
        let age = parse_duration(text)?;
        Selection::OlderThan(now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH))
    } else {
        Selection::Numbers(args.generations.clone())
    })
}

/// The generations `selection` deletes and those it keeps, warning when it names the current
/// one (which is kept).
fn decide(
    ui: &Ui,
    generations: &[Generation],
    selection: &Selection,
) -> Result<(Vec<u64>, Vec<u64>)> {
    if let (Selection::Numbers(numbers), Some(current)) =
        (selection, generation::current(generations))
    {
        if numbers.contains(&current.generation) {
            ui.warn(&format!(
                "generation {} is the current one; it is not deleted",
                current.generation
            ));
        }
    }
    let doomed = select(generations, selection)?;
    let kept: Vec<u64> = generations
        .iter()
        .map(|g| g.generation)
        .filter(|n| !doomed.contains(n))
        .collect();
    Ok((doomed, kept))
}

/// Says what a deletion did (or would do).
fn tell(ui: &Ui, dry_run: bool, doomed: &[u64], kept: &[u64]) {
    let list = |ns: &[u64]| ns.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    if doomed.is_empty() {
        ui.info("nothing to delete");
    } else if dry_run {
        ui.info(&format!(
            "would delete generations {} (keeping {})",
            list(doomed),
            list(kept)
        ));
    } else {
        ui.info(&format!(
            "deleted generations {} (kept {})",
            list(doomed),
            list(kept)
        ));
        ui.info("hint: nix-collect-garbage frees the store paths nothing else uses");
    }
}

/// `fp-generations delete`: decides with [`select`], says what it does, then deletes through
/// nix-env under the profile's lock (taken before the generations are read).
fn delete(ui: &Ui, profile: &Profile, args: &DeleteArgs, json: bool) -> Result<()> {
    let selection = selection(args, SystemTime::now())?;
    let _lock = if args.dry_run || !profile.dir().is_dir() {
        None
    } else {
        Some(profile.lock(ui)?)
    };
    let generations = profile.generations()?;
    let (doomed, kept) = decide(ui, &generations, &selection)?;
    if !doomed.is_empty() && !args.dry_run {
        profile.check_writable()?;
        profile
            .delete_command(&doomed)
            .output(ui, Stderr::Capture)?;
    }
    tell(ui, args.dry_run, &doomed, &kept);
    if json {
        print_json(&DeleteJson {
            profile: profile.path().display().to_string(),
            dry_run: args.dry_run,
            deleted: doomed,
            kept,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gens(numbers: &[u64], current: u64) -> Vec<Generation> {
        numbers
            .iter()
            .map(|&n| Generation {
                generation: n,
                store_path: format!("/nix/store/x-{n}"),
                created: SystemTime::UNIX_EPOCH + Duration::from_secs(n * 1000),
                current: n == current,
            })
            .collect()
    }

    #[test]
    fn keep_counts_newest_and_never_deletes_current() {
        assert_eq!(
            select(&gens(&[1, 2, 3, 4], 4), &Selection::Keep(2)).unwrap(),
            [1, 2]
        );
        // After a rollback to 1, keeping one keeps the newest and the current.
        assert_eq!(
            select(&gens(&[1, 2, 3], 1), &Selection::Keep(1)).unwrap(),
            [2]
        );
        assert_eq!(
            select(&gens(&[1, 2], 2), &Selection::Keep(5)).unwrap(),
            Vec::<u64>::new()
        );
        assert_eq!(
            select(&gens(&[1], 1), &Selection::Keep(0))
                .unwrap_err()
                .code(),
            2
        );
    }

    #[test]
    fn older_than_keeps_the_one_current_at_the_cutoff() {
        let g = gens(&[1, 2, 3, 4, 5], 5);
        let cutoff = SystemTime::UNIX_EPOCH + Duration::from_secs(3500);
        // 1, 2, 3 are older; 3 was current at the cutoff and stays.
        assert_eq!(select(&g, &Selection::OlderThan(cutoff)).unwrap(), [1, 2]);
        // Even when the current one is old, it stays.
        let g = gens(&[1, 2, 3], 1);
        let later = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(select(&g, &Selection::OlderThan(later)).unwrap(), [2]);
    }

    #[test]
    fn numbers_skip_current_and_refuse_missing() {
        let g = gens(&[1, 2, 3], 2);
        assert_eq!(
            select(&g, &Selection::Numbers(vec![3, 2, 1, 1])).unwrap(),
            [1, 3]
        );
        assert_eq!(
            select(&g, &Selection::Numbers(vec![7])).unwrap_err().code(),
            1
        );
    }

    #[test]
    fn selection_from_the_arguments() {
        let args = |keep, older_than: Option<&str>, generations: Vec<u64>| DeleteArgs {
            keep,
            older_than: older_than.map(str::to_string),
            generations,
            dry_run: false,
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(30 * 86_400);
        assert_eq!(
            selection(&args(Some(2), None, vec![]), now).unwrap(),
            Selection::Keep(2)
        );
        assert_eq!(
            selection(&args(None, Some("1d"), vec![]), now).unwrap(),
            Selection::OlderThan(now - Duration::from_secs(86_400))
        );
        assert_eq!(
            selection(&args(None, None, vec![3, 1]), now).unwrap(),
            Selection::Numbers(vec![3, 1])
        );
        assert_eq!(
            selection(&args(None, Some("soon"), vec![]), now)
                .unwrap_err()
                .code(),
            2
        );
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(
            parse_duration("2w").unwrap(),
            Duration::from_secs(14 * 86_400)
        );
        assert_eq!(
            parse_duration("12h").unwrap(),
            Duration::from_secs(12 * 3600)
        );
        for bad in [
            "",
            "d",
            "0d",
            "30",
            "3x",
            "-1d",
            "1.5d",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad).unwrap_err().code(), 2, "{bad}");
        }
    }
}
