//! `fp-diff`: which packages changed between two generations or store paths, with `--closure`
//! adding the change in closure size. The same diff code as fp-switch. With `--target-host`
//! (or `--hosts`) the generations and store paths are those of other machines, over ssh.

use clap::Parser;
use fp_common::cli::{CommonArgs, HostArgs, ProfileArgs};
use fp_common::config::Config;
use fp_common::error::EXIT_CODES_HELP;
use fp_common::hosts::{self, OnHost, Outcome};
use fp_common::switch::Place;
use fp_common::{print_json, render, Error, Result, Ui};
use fp_nix::diff::{self, ClosureSize, PackageDiff};
use fp_nix::generation::{self, Generation};
use fp_nix::store_path::resolve_to_store_path;
use serde::Serialize;

/// Show which packages changed between two generations or store paths.
#[derive(Debug, Parser)]
#[command(name = "fp-diff", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// The old side: a generation number or a store path (or a link to one); default: the
    /// generation before the current one.
    #[arg(value_name = "A")]
    pub from: Option<String>,

    /// The new side: a generation number or a store path; default: the current generation.
    #[arg(value_name = "B")]
    pub to: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub profile: ProfileArgs,

    /// Also show each package's change in closure size and the whole closures' sizes (read
    /// from the store database for both sides at once).
    #[arg(long)]
    pub closure: bool,

    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub hosts: HostArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// One side of the diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Side {
    /// The generation number, when the side is a generation.
    pub generation: Option<u64>,
    /// The store path.
    pub store_path: String,
}

/// The `--json` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffJson {
    /// Old side.
    pub from: Side,
    /// New side.
    pub to: Side,
    /// The package diff.
    pub diff: PackageDiff,
    /// Closure sizes, with `--closure` (the diff carries them too, with each entry's change).
    pub closure_size: Option<ClosureSize>,
}

/// Runs fp-diff.
pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    if cli.hosts.any() {
        let config = Config::load()?;
        let specs = hosts::specs(&cli.hosts, &config, cli.profile.profile.as_deref())?;
        let several = specs.len() > 1;
        let results = hosts::run_on_hosts(ui, &specs, cli.hosts.jobs, |ui, spec| {
            let place = OnHost::open(ui, spec)?;
            compare(&cli, place.read_generations(), |old, new| {
                place.diff(ui, Some(old), new, cli.closure)
            })
        });
        return hosts::report(ui, &specs, results, cli.json, |spec, doc| {
            let text = render_text(ui, doc);
            if several {
                fp_common::write_stdout(&format!("{}:\n{text}", spec.name))
            } else {
                fp_common::write_stdout(&text)
            }
        });
    }
    let needs_profile = [&cli.from, &cli.to]
        .iter()
        .any(|side| side.as_ref().is_none_or(|s| is_number(s)));
    let generations = if needs_profile {
        let config = Config::load()?;
        config
            .resolve_profile(ui, cli.profile.profile.clone())?
            .generations()?
    } else {
        Vec::new()
    };
    let doc = compare(&cli, &generations, |old, new| {
        diff::between(ui, Some(old), new, cli.closure)
    })?;
    if let Some(note) = after_rollback_note(&cli, &generations) {
        ui.note(&note);
    }
    if cli.json {
        return print_json(&doc);
    }
    fp_common::write_stdout(&render_text(ui, &doc))
}

/// The diff the command line asks for, between sides taken from `generations` or given as
/// store paths; `differ` diffs two store paths on the machine that has them (with sizes under
/// `--closure`).
fn compare(
    cli: &Cli,
    generations: &[Generation],
    differ: impl FnOnce(&str, &str) -> Result<PackageDiff>,
) -> Result<DiffJson> {
    let to = match &cli.to {
        Some(text) => side(text, generations)?,
        None => current_side(generations)?,
    };
    let from = match &cli.from {
        Some(text) => side(text, generations)?,
        None => {
            let prev = generation::previous(generations).ok_or_else(|| {
                Error::failed("there is no generation before the current one to compare with")
                    .with_hint("name both sides: fp-diff A B (generation numbers or store paths)")
            })?;
            of_generation(prev)
        }
    };
    let d = differ(&from.store_path, &to.store_path)?;
    let closure_size = d.closure_size;
    Ok(DiffJson {
        from,
        to,
        diff: d,
        closure_size,
    })
}

/// With the default pair and a current generation below the newest (after a rollback), what
/// the pair is and how to see what the rollback changed: Nix records which generation was
/// current before, so the default compares the generation numbered below the current one.
pub fn after_rollback_note(cli: &Cli, generations: &[Generation]) -> Option<String> {
    if cli.from.is_some() || cli.to.is_some() {
        return None;
    }
    let current = generation::current(generations)?;
    let previous = generation::previous(generations)?;
    let newest = generations.iter().map(|g| g.generation).max()?;
    (newest > current.generation).then(|| {
        format!(
            "this compares generation {} with the current generation {} (the one numbered below it); the newest is {newest}, so after a rollback from it, what the rollback changed is: fp-diff {newest} {}",
            previous.generation, current.generation, current.generation
        )
    })
}

/// The diff for people: the sides, then the package lines (with `--closure`, each with its
/// size change, and the whole closures' sizes last).
fn render_text(ui: &Ui, doc: &DiffJson) -> String {
    let mut text = format!("{} -> {}\n", describe(&doc.from), describe(&doc.to));
    text.push_str(&render::diff(ui, &doc.diff));
    text.trim_end_matches('\n').to_string()
}

impl Outcome for DiffJson {
    fn summary(&self) -> String {
        format!(
            "{} -> {}: {} added, {} removed, {} changed",
            describe(&self.from),
            describe(&self.to),
            self.diff.added.len(),
            self.diff.removed.len(),
            self.diff.changed.len()
        )
    }
}

/// Whether a side names a generation (all digits) rather than a path.
fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A side from the command line: a generation number or a path into the store.
fn side(text: &str, generations: &[Generation]) -> Result<Side> {
    if is_number(text) {
        let n: u64 = text
            .parse()
            .map_err(|_| Error::usage(format!("{text} is not a generation number")))?;
        let g = generations
            .iter()
            .find(|g| g.generation == n)
            .ok_or_else(|| {
                Error::failed(format!("generation {n} does not exist")).with_hint(format!(
                    "the profile has generations {}",
                    generations
                        .iter()
                        .map(|g| g.generation.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        return Ok(of_generation(g));
    }
    let path = resolve_to_store_path(text)?;
    Ok(Side {
        generation: None,
        store_path: path.as_str().to_string(),
    })
}

/// The current generation as a side.
fn current_side(generations: &[Generation]) -> Result<Side> {
    generation::current(generations)
        .map(of_generation)
        .ok_or_else(|| Error::failed("the profile has no current generation"))
}

/// A generation as a side.
fn of_generation(g: &Generation) -> Side {
    Side {
        generation: Some(g.generation),
        store_path: g.store_path.clone(),
    }
}

/// `generation 3` or the store path.
fn describe(side: &Side) -> String {
    match side.generation {
        Some(n) => format!("generation {n}"),
        None => side.store_path.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_paths() {
        assert!(is_number("12"));
        assert!(!is_number("./result"));
        assert!(!is_number(""));
    }
}
