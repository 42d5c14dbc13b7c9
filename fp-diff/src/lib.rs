//! `fp-diff`: which packages changed between two generations or store paths, with `--closure`
//! adding the change in closure size. The same diff code as fp-switch.

use clap::Parser;
use fp_common::cli::{CommonArgs, ProfileArgs};
use fp_common::config::Config;
use fp_common::error::EXIT_CODES_HELP;
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

    /// Also show each package's change in closure size and the whole closures' sizes (one
    /// `nix path-info --recursive` for both sides).
    #[arg(long)]
    pub closure: bool,

    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,

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
    let needs_profile = [&cli.from, &cli.to]
        .iter()
        .any(|side| side.as_ref().is_none_or(|s| is_number(s)));
    let generations = if needs_profile {
        let config = Config::load()?;
        config
            .resolve_profile(ui, cli.profile.profile)?
            .generations()?
    } else {
        Vec::new()
    };
    let to = match &cli.to {
        Some(text) => side(text, &generations)?,
        None => current_side(&generations)?,
    };
    let from = match &cli.from {
        Some(text) => side(text, &generations)?,
        None => {
            let prev = generation::previous(&generations).ok_or_else(|| {
                Error::failed("there is no generation before the current one to compare with")
                    .with_hint("name both sides: fp-diff A B (generation numbers or store paths)")
            })?;
            of_generation(prev)
        }
    };
    let d = diff::between(ui, Some(&from.store_path), &to.store_path, cli.closure)?;
    let closure_size = d.closure_size;
    if cli.json {
        let doc = DiffJson {
            from,
            to,
            diff: d,
            closure_size,
        };
        return print_json(&doc);
    }
    let mut text = format!("{} -> {}\n", describe(&from), describe(&to));
    text.push_str(&render::diff(ui, &d));
    fp_common::write_stdout(text.trim_end_matches('\n'))
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
