//! `fp-generations`: list a profile's generations, and delete old ones without ever deleting
//! the current one.
//!
//! Listing reads the profile directory natively (the same set `nix-env --list-generations`
//! prints); deleting goes through `nix-env --delete-generations` with explicit numbers, so the
//! choice of what to delete is ours and tested, and the deletion itself is Nix's. With
//! `--target-host` (or `--hosts`) both work on the profiles of other machines over ssh.

use clap::{Args, Parser, Subcommand};
use fp_common::ask::Terminal;
use fp_common::cli::{AskArgs, CommonArgs, HostArgs, ProfileArgs};
use fp_common::config::Config;
use fp_common::error::EXIT_CODES_HELP;
use fp_common::hosts::{self, HostSpec, OnHost, Outcome};
use fp_common::render::{count, human_bytes};
use fp_common::switch::Place;
use fp_common::{print_json, write_stdout, Error, Result, Ui};
use fp_nix::command::{NixCommand, Stderr};
use fp_nix::diff::closure;
use fp_nix::generation::{self, format_local_time, format_rfc3339_utc, Generation};
use fp_nix::path_info::PathInfo;
use fp_nix::profile::Profile;
use fp_nix::store_query;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
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

/// What `fp-generations delete` deletes: by `--keep` and `--older-than` (together, what either
/// keeps is kept) or by numbers.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["keep", "older_than", "generations"])))]
pub struct DeleteArgs {
    /// Keep the N newest generations (by number) and the current one; delete the rest (with
    /// --older-than: only what both rules would delete).
    #[arg(long, value_name = "N")]
    pub keep: Option<u64>,

    /// Delete generations older than DURATION (`30d`, `2w`, `12h`), keeping the one that was
    /// current at that time, as nix-env does, and the current one (with --keep: only what both
    /// rules would delete).
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,

    /// Delete these generations (the current one is skipped with a warning).
    #[arg(value_name = "GEN", conflicts_with_all = ["keep", "older_than"])]
    pub generations: Vec<u64>,

    /// Print what would be deleted and the space that frees, and delete nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Then collect the store paths only the deleted generations held (`nix-store --delete`
    /// of exactly those, not a whole-store garbage collection) and print what that freed.
    #[arg(long)]
    pub gc: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub ask: AskArgs,
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
    /// How many packages it has, as the table shows; `null` when the store could not say.
    pub packages: Option<usize>,
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
    /// Bytes of the store paths only the deleted generations hold and of those outside every
    /// generation that refer to them (with `--dry-run`, `--ask` or `--gc`): what collecting
    /// them frees at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reclaimable_bytes: Option<u64>,
    /// What `--gc` collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collected: Option<Collected>,
    /// Whether the person asked (`--ask`) answered no: then nothing was deleted.
    pub declined: bool,
}

/// What `--gc` collected: the store paths it deleted (those only the deleted generations held,
/// and the garbage that referred to them) and their size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collected {
    /// Store paths deleted.
    pub paths: Vec<String>,
    /// Their NAR size in bytes.
    pub bytes: u64,
    /// Store paths only the deleted generations held that something else (another profile, a
    /// `result` link) still keeps alive, so they stay.
    pub still_alive: Vec<String>,
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
        Some(Command::Delete(args)) => delete(ui, &config, &profile, &args, cli.json),
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
                let counts = package_counts(ui, generations, |paths| place.path_info(ui, paths));
                Ok(Listing {
                    doc: list_json(
                        &place.profile_path().display().to_string(),
                        generations,
                        &counts,
                    ),
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
            if args.gc || args.ask.ask {
                return Err(Error::usage(
                    "--gc and --ask work on this machine's profiles only, not with --target-host or --hosts",
                ));
            }
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
                    reclaimable_bytes: None,
                    collected: None,
                    declined: false,
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
        match (self.deleted.is_empty(), self.dry_run) {
            (true, _) => "nothing to delete".to_string(),
            (false, true) => format!("would delete {}", generations_word(&self.deleted)),
            (false, false) => format!("deleted {}", generations_word(&self.deleted)),
        }
    }
}

/// The `--json` document of the listing of the profile `profile`.
fn list_json(profile: &str, generations: &[Generation], counts: &[Option<usize>]) -> ListJson {
    ListJson {
        profile: profile.to_string(),
        current: generation::current(generations).map(|g| g.generation),
        generations: generations
            .iter()
            .zip(counts)
            .map(|(g, count)| GenerationJson {
                generation: g.generation,
                store_path: g.store_path.clone(),
                created: format_rfc3339_utc(g.created),
                current: g.current,
                packages: *count,
            })
            .collect(),
    }
}

/// Prints the table (or JSON) of generations on stdout.
fn list(ui: &Ui, profile: &Profile, generations: &[Generation], json: bool) -> Result<()> {
    if generations.is_empty() && !json {
        ui.info(&format!(
            "the profile {} has no generations",
            profile.path().display()
        ));
        return Ok(());
    }
    let counts = package_counts(ui, generations, |paths| store_query::path_infos(ui, paths));
    if json {
        return print_json(&list_json(
            &profile.path().display().to_string(),
            generations,
            &counts,
        ));
    }
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
    /// By rules: a generation goes only when every rule given would delete it (what either
    /// keeps is kept).
    Rules {
        /// Keep the N newest and the current one.
        keep: Option<u64>,
        /// Keep what is newer than this time and the one current at it, as nix-env's
        /// `--delete-generations Nd` chooses.
        older_than: Option<SystemTime>,
    },
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
    let mut chosen: Vec<u64> =
        match selection {
            Selection::Rules { keep: Some(0), .. } => {
                return Err(Error::usage("--keep must be at least 1"))
            }
            Selection::Rules { keep, older_than } => {
                let by_keep: Option<Vec<u64>> = keep.map(|n| {
                    let keep_from = generations.len().saturating_sub(n as usize);
                    generations[..keep_from]
                        .iter()
                        .map(|g| g.generation)
                        .collect()
                });
                let by_age: Option<Vec<u64>> = older_than.map(|cutoff| {
                    // Newest to oldest: the first one created before the cutoff was current then;
                    // keep it, delete every older one.
                    let mut older = generations.iter().rev().filter(|g| g.created < cutoff);
                    let _active_at_cutoff = older.next();
                    older.map(|g| g.generation).collect()
                });
                match (by_keep, by_age) {
                    (Some(a), Some(b)) => a.into_iter().filter(|n| b.contains(n)).collect(),
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => return Err(Error::usage(
                        "say what to delete: --keep N, --older-than DURATION or generation numbers",
                    )),
                }
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
    if !args.generations.is_empty() {
        return Ok(Selection::Numbers(args.generations.clone()));
    }
    let older_than = match &args.older_than {
        Some(text) => {
            let age = parse_duration(text)?;
            Some(now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH))
        }
        None => None,
    };
    Ok(Selection::Rules {
        keep: args.keep,
        older_than,
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
            "would delete {} (keeping {})",
            generations_word(doomed),
            list(kept)
        ));
    } else {
        ui.info(&format!(
            "deleted {} (kept {})",
            generations_word(doomed),
            list(kept)
        ));
        ui.info("hint: nix-collect-garbage frees the store paths nothing else uses");
    }
}

/// The store paths that only some generations hold, and their size: the closure of `doomed`
/// without the closure of `kept`, from the path-info of every generation's closure.
pub fn held_only_by(
    graph: &BTreeMap<String, PathInfo>,
    doomed: &[&str],
    kept: &[&str],
) -> (Vec<String>, u64) {
    let keep = closure(graph, kept.iter().copied());
    let only: Vec<String> = closure(graph, doomed.iter().copied())
        .into_iter()
        .filter(|p| !keep.contains(p))
        .map(str::to_string)
        .collect();
    let bytes = only.iter().map(|p| graph[p].nar_size).sum();
    (only, bytes)
}

/// `fp-generations delete`: decides with [`select`], says what it does (and, with `--dry-run`,
/// `--ask` or `--gc`, the space only the deleted generations hold, from one path-info query),
/// asks if asked, then deletes through nix-env under the profile's lock (taken before the
/// generations it decides on are read) and, with `--gc`, collects exactly those paths.
fn delete(
    ui: &Ui,
    config: &Config,
    profile: &Profile,
    args: &DeleteArgs,
    json: bool,
) -> Result<()> {
    let selection = selection(args, SystemTime::now())?;
    let ask = config.ask(ui, &args.ask)?;
    let terminal = if ask && !args.dry_run {
        Some(Terminal::open()?)
    } else {
        None
    };
    let _lock = if args.dry_run || !profile.dir().is_dir() {
        None
    } else {
        Some(profile.lock(ui)?)
    };
    let generations = profile.generations()?;
    let (doomed, kept) = decide(ui, &generations, &selection)?;
    let mut report = DeleteJson {
        profile: profile.path().display().to_string(),
        dry_run: args.dry_run,
        deleted: doomed.clone(),
        kept: kept.clone(),
        reclaimable_bytes: None,
        collected: None,
        declined: false,
    };
    let list = |ns: &[u64]| ns.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    if doomed.is_empty() {
        ui.info("nothing to delete");
        return finish(json, &report);
    }
    let reclaimable = if args.dry_run || ask || args.gc {
        let paths_of = |ns: &[u64]| -> Vec<&str> {
            generations
                .iter()
                .filter(|g| ns.contains(&g.generation))
                .map(|g| g.store_path.as_str())
                .collect()
        };
        let all: Vec<&str> = generations.iter().map(|g| g.store_path.as_str()).collect();
        let graph = store_query::closures(ui, &all)?;
        let held = held_only_by(&graph, &paths_of(&doomed), &paths_of(&kept));
        let referrers = garbage_referrers(ui, &graph, &held.0, &paths_of(&kept))?;
        report.reclaimable_bytes = Some(held.1 + referrers.1);
        Some((held, referrers))
    } else {
        None
    };
    let frees = |((paths, bytes), (extra, extra_bytes)): &Reclaimable| {
        if paths.is_empty() && extra.is_empty() {
            return format!(
                "nothing: every store path {} is also held by a kept generation",
                if doomed.len() == 1 {
                    "it holds"
                } else {
                    "they hold"
                }
            );
        }
        let outside = if extra.is_empty() {
            String::new()
        } else {
            format!(
                " ({} only they hold, {} outside every generation that {} to those)",
                paths.len(),
                extra.len(),
                if extra.len() == 1 { "refers" } else { "refer" }
            )
        };
        if extra.is_empty() {
            format!(
                "up to {} in {} only they hold",
                human_bytes(bytes + extra_bytes),
                count(paths.len(), "store path")
            )
        } else {
            format!(
                "up to {} in {}{outside}",
                human_bytes(bytes + extra_bytes),
                count(paths.len() + extra.len(), "store path")
            )
        }
    };
    if args.dry_run {
        let held = reclaimable.as_ref().expect("asked for a dry run");
        ui.info(&format!(
            "would delete {} (keeping {}); that frees {}",
            generations_word(&doomed),
            list(&kept),
            frees(held)
        ));
        return finish(json, &report);
    }
    profile.check_writable()?;
    if let Some(terminal) = terminal {
        let held = reclaimable.as_ref().expect("asked before asking");
        ui.info(&format!(
            "deleting {} (keeping {}) frees {}",
            generations_word(&doomed),
            list(&kept),
            frees(held)
        ));
        let question = format!("delete {}?", generations_word(&doomed));
        if !terminal.confirm(&question)? {
            ui.info("answered no: nothing was deleted");
            report.declined = true;
            report.deleted.clear();
            report.kept = generations.iter().map(|g| g.generation).collect();
            return finish(json, &report);
        }
    }
    profile
        .delete_command(&doomed)
        .output(ui, Stderr::Capture)?;
    ui.info(&format!(
        "deleted {} (kept {})",
        generations_word(&doomed),
        list(&kept)
    ));
    match reclaimable {
        Some(((paths, _), _)) if args.gc => {
            let collected = collect(ui, &paths)?;
            ui.info(&format!(
                "collected {}: {} freed",
                count(collected.paths.len(), "store path"),
                human_bytes(collected.bytes)
            ));
            if !collected.still_alive.is_empty() {
                ui.info(&format!(
                    "{} only they held {} alive by something else (another profile, a result link) and {}",
                    count(collected.still_alive.len(), "store path"),
                    if collected.still_alive.len() == 1 { "is kept" } else { "are kept" },
                    if collected.still_alive.len() == 1 { "stays" } else { "stay" },
                ));
            }
            report.collected = Some(collected);
        }
        _ => ui.info("hint: --gc collects the store paths only the deleted generations held"),
    }
    finish(json, &report)
}

/// What deleting generations may free: the store paths only they hold and their size, and
/// the paths outside every generation that refer to those (with their size).
type Reclaimable = ((Vec<String>, u64), (Vec<String>, u64));

/// `generation N` or `generations N, M`.
fn generations_word(ns: &[u64]) -> String {
    let list = ns.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    if ns.len() == 1 {
        format!("generation {list}")
    } else {
        format!("generations {list}")
    }
}

/// The store paths that refer to `held` (the paths only the deleted generations hold) and are
/// in no kept generation's closure, and their size. Collecting `held` deletes such referrers
/// too when nothing else keeps them alive (the text files a build wrote the package list into,
/// such as the env's `flakey-profile-declared` and `manifest.json`), so counting them keeps
/// "up to" an upper bound.
fn garbage_referrers(
    ui: &Ui,
    graph: &BTreeMap<String, PathInfo>,
    held: &[String],
    kept: &[&str],
) -> Result<(Vec<String>, u64)> {
    if held.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let keep = closure(graph, kept.iter().copied());
    let extra: Vec<String> = nix_lines(
        ui,
        NixCommand::nix_store()
            .args(["--query", "--referrers-closure"])
            .args(held),
    )?
    .into_iter()
    .filter(|p| !graph.contains_key(p) && !keep.contains(p.as_str()))
    .collect();
    let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let bytes = store_query::path_infos(ui, &refs)?
        .values()
        .map(|i| i.nar_size)
        .sum();
    Ok((extra, bytes))
}

/// The non-empty lines a nix command prints, trimmed.
fn nix_lines(ui: &Ui, cmd: NixCommand) -> Result<BTreeSet<String>> {
    Ok(cmd
        .output(ui, Stderr::Capture)?
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

/// Prints the `--json` document when asked.
fn finish(json: bool, report: &DeleteJson) -> Result<()> {
    if json {
        print_json(report)?;
    }
    Ok(())
}

/// Collects the store paths only the deleted generations held (`paths`) with
/// `nix-store --delete`: those the store now counts as garbage (`nix-store --gc --print-dead`,
/// which deletes nothing), together with the garbage that refers to them (the text files a
/// build wrote the package list into, say), without which Nix refuses to delete them. Paths
/// another root keeps alive stay. The sizes come from one path-info query of what goes.
fn collect(ui: &Ui, paths: &[String]) -> Result<Collected> {
    let lines = |cmd: NixCommand| nix_lines(ui, cmd);
    let dead = lines(NixCommand::nix_store().args(["--gc", "--print-dead"]))?;
    let (candidates, still_alive): (Vec<String>, Vec<String>) =
        paths.iter().cloned().partition(|p| dead.contains(p));
    let gone: Vec<String> = if candidates.is_empty() {
        Vec::new()
    } else {
        let referrers = lines(
            NixCommand::nix_store()
                .args(["--query", "--referrers-closure"])
                .args(&candidates),
        )?;
        referrers.into_iter().filter(|p| dead.contains(p)).collect()
    };
    let refs: Vec<&str> = gone.iter().map(String::as_str).collect();
    let bytes = store_query::path_infos(ui, &refs)?
        .values()
        .map(|i| i.nar_size)
        .sum();
    if !gone.is_empty() {
        NixCommand::nix_store()
            .arg("--delete")
            .args(&gone)
            .output(ui, Stderr::Capture)?;
    }
    Ok(Collected {
        paths: gone,
        bytes,
        still_alive,
    })
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

    fn keep(n: u64) -> Selection {
        Selection::Rules {
            keep: Some(n),
            older_than: None,
        }
    }

    fn older(cutoff: SystemTime) -> Selection {
        Selection::Rules {
            keep: None,
            older_than: Some(cutoff),
        }
    }

    #[test]
    fn keep_and_older_than_together_keep_what_either_keeps() {
        // 1..6 made at 1000 s steps, 6 current; cutoff 3500: 3 was current then.
        let g = gens(&[1, 2, 3, 4, 5, 6], 6);
        let cutoff = SystemTime::UNIX_EPOCH + Duration::from_secs(3500);
        let both = |n| Selection::Rules {
            keep: Some(n),
            older_than: Some(cutoff),
        };
        // --older-than alone deletes 1, 2; --keep 5 alone deletes 1: together, 1.
        assert_eq!(select(&g, &both(5)).unwrap(), [1]);
        // --keep 1 alone deletes 1-5; with the age rule, 3-5 stay.
        assert_eq!(select(&g, &both(1)).unwrap(), [1, 2]);
        // Never the current one, even when it is old and not among the newest.
        let g = gens(&[1, 2, 3], 1);
        let late = Selection::Rules {
            keep: Some(1),
            older_than: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(10_000)),
        };
        assert_eq!(select(&g, &late).unwrap(), [2]);
    }

    fn info(nar_size: u64, references: &[&str]) -> PathInfo {
        PathInfo {
            references: references.iter().map(|r| r.to_string()).collect(),
            nar_size,
            closure_size: None,
        }
    }

    #[test]
    fn space_is_what_only_the_deleted_generations_hold() {
        let graph: BTreeMap<String, PathInfo> = [
            ("/g1", info(1, &["/old", "/shared"])),
            ("/g2", info(2, &["/shared", "/new"])),
            ("/old", info(100, &["/lib"])),
            ("/lib", info(1000, &[])),
            ("/shared", info(10_000, &[])),
            ("/new", info(20_000, &["/lib"])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let (paths, bytes) = held_only_by(&graph, &["/g1"], &["/g2"]);
        assert_eq!(paths, ["/g1", "/old"]);
        assert_eq!(bytes, 101);
        assert_eq!(held_only_by(&graph, &[], &["/g2"]), (vec![], 0));
    }

    #[test]
    fn keep_counts_newest_and_never_deletes_current() {
        assert_eq!(select(&gens(&[1, 2, 3, 4], 4), &keep(2)).unwrap(), [1, 2]);
        // After a rollback to 1, keeping one keeps the newest and the current.
        assert_eq!(select(&gens(&[1, 2, 3], 1), &keep(1)).unwrap(), [2]);
        assert_eq!(
            select(&gens(&[1, 2], 2), &keep(5)).unwrap(),
            Vec::<u64>::new()
        );
        assert_eq!(select(&gens(&[1], 1), &keep(0)).unwrap_err().code(), 2);
    }

    #[test]
    fn older_than_keeps_the_one_current_at_the_cutoff() {
        let g = gens(&[1, 2, 3, 4, 5], 5);
        let cutoff = SystemTime::UNIX_EPOCH + Duration::from_secs(3500);
        // 1, 2, 3 are older; 3 was current at the cutoff and stays.
        assert_eq!(select(&g, &older(cutoff)).unwrap(), [1, 2]);
        // Even when the current one is old, it stays.
        let g = gens(&[1, 2, 3], 1);
        let later = SystemTime::UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(select(&g, &older(later)).unwrap(), [2]);
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
            gc: false,
            ask: AskArgs::default(),
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(30 * 86_400);
        assert_eq!(
            selection(&args(Some(2), None, vec![]), now).unwrap(),
            keep(2)
        );
        assert_eq!(
            selection(&args(None, Some("1d"), vec![]), now).unwrap(),
            older(now - Duration::from_secs(86_400))
        );
        assert_eq!(
            selection(&args(Some(3), Some("1d"), vec![]), now).unwrap(),
            Selection::Rules {
                keep: Some(3),
                older_than: Some(now - Duration::from_secs(86_400))
            }
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
