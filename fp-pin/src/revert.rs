//! `fp-pin --revert`: undo the last recorded pin. The registry gets back its exact earlier
//! content (or is removed, if it did not exist), and the channels profile is switched back to
//! the generation that was current before (with nix-env, so it is a rollback Nix knows about).

use crate::channels;
use crate::history::{Entry, History};
use crate::registry::{Registry, Which};
use crate::{check_registry_writable, lock, registry_choice, Cli, HistoryReport};
use fp_common::ui::Style;
use fp_common::{print_json, Error, Result, Ui};
use fp_nix::atomic_file;
use fp_nix::generation::{self, format_local_time, Generation, GenerationRef};
use fp_nix::locations;
use fp_nix::profile::{Profile, Target};
use fp_nix::store_path::StorePath;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// The registry part of a revert report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    /// The registry file.
    pub path: String,
    /// `content` (the earlier content is written back) or `remove` (there was no file before).
    pub restore: &'static str,
}

/// The channels part of a revert report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertChannelsReport {
    /// The channels profile.
    pub profile: String,
    /// The generation current before the revert.
    pub previous: Option<GenerationRef>,
    /// The generation current after it (predicted for a dry run).
    pub generation: u64,
    /// Its store path.
    pub store_path: String,
    /// Whether that is an empty generation (the pin had made the profile's first one).
    pub empty: bool,
}

/// What `fp-pin --revert --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevertReport {
    /// Always `revert`.
    pub action: &'static str,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The history entry reverted (and removed).
    pub history: HistoryReport,
    /// How many entries are left to revert after this one.
    pub remaining: usize,
    /// The registry restore; `null` when that pin did not change the registry.
    pub registry: Option<RestoreReport>,
    /// The channels rollback; `null` when that pin did not change the channels.
    pub channels: Option<RevertChannelsReport>,
}

/// Where the channels profile goes back to.
enum ChannelsTarget {
    /// An existing generation.
    Generation(Generation),
    /// A new empty generation: the pin had made the profile's first generation.
    Empty(StorePath, u64),
}

/// The channels side of a revert: the profile, its current generation and where it goes.
type ChannelsPlan = (Profile, Option<Generation>, ChannelsTarget);

/// Reverts the last pin (of the registry given with `--registry`, if given).
pub(crate) fn run(cli: &Cli, ui: &Ui) -> Result<()> {
    let history = History::new();
    let filter = match &cli.registry {
        Some(flag) => Some(registry_choice(ui, Some(flag))?.1),
        None => None,
    };
    // Taken before the history is read, so a second fp-pin waits and then reverts what the
    // first one left.
    let _lock = if cli.dry_run {
        None
    } else {
        lock(ui, &history)
    };
    let (index, number, entry) = choose(&history, filter.as_deref())?;
    let registry_path = PathBuf::from(&entry.registry.path);
    let restore = plan_restore(ui, &entry, &registry_path)?;
    let channels = plan_channels(ui, &entry)?;

    let report = RevertReport {
        action: "revert",
        dry_run: cli.dry_run,
        history: HistoryReport {
            entry: number,
            file: history.file(number).display().to_string(),
        },
        remaining: index,
        registry: restore.map(|r| RestoreReport {
            path: registry_path.display().to_string(),
            restore: r,
        }),
        channels: channels.as_ref().map(|(profile, current, target)| {
            let (generation, store_path, empty) = match target {
                ChannelsTarget::Generation(g) => (g.generation, g.store_path.clone(), false),
                ChannelsTarget::Empty(p, n) => (*n, p.to_string(), true),
            };
            RevertChannelsReport {
                profile: profile.path().display().to_string(),
                previous: current.as_ref().map(GenerationRef::from),
                generation,
                store_path,
                empty,
            }
        }),
    };
    show(ui, &report, entry.time);

    if cli.dry_run {
        ui.info("dry run: nothing was written");
    } else {
        act(
            ui,
            &entry,
            &registry_path,
            restore.is_some(),
            channels.as_ref(),
        )?;
        history.remove(number)?;
        ui.info(&format!(
            "{}; {}",
            ui.paint(Style::Green, "reverted"),
            remaining_note(index)
        ));
    }
    if cli.json {
        print_json(&report)?;
    }
    Ok(())
}

/// The newest history entry (of the registry `filter`, if given), with its index among all
/// entries and its number; exit 1 when there is none.
fn choose(history: &History, filter: Option<&Path>) -> Result<(usize, u64, Entry)> {
    let numbers = history.numbers()?;
    for (i, n) in numbers.iter().enumerate().rev() {
        let entry = history.read(*n)?;
        if filter.is_none_or(|p| Path::new(&entry.registry.path) == p) {
            return Ok((i, *n, entry));
        }
    }
    let what = match filter {
        Some(p) => format!("fp-pin has no recorded change of {}", p.display()),
        None => "fp-pin has no recorded change".to_string(),
    };
    Err(Error::failed(format!(
        "nothing to revert: {what} (history: {})",
        history.dir().display()
    )))
}

/// How the registry is restored: `content` (the earlier text is written back), `remove` (there
/// was no file before) or `None` (that pin did not change it). Warns when the registry was
/// changed since; a registry that does not parse is refused, never overwritten.
fn plan_restore(ui: &Ui, entry: &Entry, registry_path: &Path) -> Result<Option<&'static str>> {
    let Some(written) = &entry.registry.written else {
        return Ok(None);
    };
    let current = Registry::load(registry_path)?;
    if current.original() != Some(written.as_str()) {
        ui.warn(&format!(
            "{} was changed after fp-pin wrote it; reverting puts back the content from before the pin, and those later changes are lost",
            registry_path.display()
        ));
    }
    Ok(Some(if entry.registry.previous.is_some() {
        "content"
    } else {
        "remove"
    }))
}

/// Checks that everything can be written, then switches the channels profile back and restores
/// the registry.
fn act(
    ui: &Ui,
    entry: &Entry,
    registry_path: &Path,
    restore: bool,
    channels: Option<&ChannelsPlan>,
) -> Result<()> {
    if restore {
        let which = if registry_path == locations::system_registry() {
            Which::System
        } else {
            Which::File(registry_path.to_path_buf())
        };
        check_registry_writable(&which, registry_path)?;
    }
    if let Some((profile, _, target)) = channels {
        profile.check_writable()?;
        let _profile_lock = profile.lock(ui)?;
        let target = match target {
            ChannelsTarget::Generation(g) => Target::Generation(g.generation),
            ChannelsTarget::Empty(path, _) => Target::StorePath(path.clone()),
        };
        profile.switch(ui, &target)?;
    }
    match (restore, &entry.registry.previous) {
        (true, Some(text)) => atomic_file::write(
            registry_path,
            text.as_bytes(),
            entry
                .registry
                .previous_mode
                .unwrap_or(atomic_file::DEFAULT_MODE),
        ),
        (true, None) => atomic_file::remove(registry_path),
        (false, _) => Ok(()),
    }
}

/// What is left to revert after this one, for people.
fn remaining_note(index: usize) -> String {
    match index {
        0 => "nothing more to revert".to_string(),
        1 => "1 earlier change can be reverted too".to_string(),
        n => format!("{n} earlier changes can be reverted too"),
    }
}

/// Works out where the channels profile goes back to, if the entry changed it.
fn plan_channels(ui: &Ui, entry: &Entry) -> Result<Option<ChannelsPlan>> {
    let Some(ch) = &entry.channels else {
        return Ok(None);
    };
    let profile = Profile::new(Path::new(&ch.profile))?;
    let generations = profile.generations()?;
    let current = generations.iter().find(|g| g.current).cloned();
    let Some(made) = &ch.generation else {
        ui.warn(&format!(
            "that fp-pin did not finish setting the channels profile {}; it is left as it is",
            ch.profile
        ));
        return Ok(None);
    };
    if current.as_ref().map(|g| g.generation) != Some(made.generation) {
        ui.warn(&format!(
            "the channels profile {} was changed after that fp-pin (it made generation {}, now {}); switching it back anyway",
            ch.profile,
            made.generation,
            current
                .as_ref()
                .map_or("none".to_string(), |g| format!("generation {}", g.generation))
        ));
    }
    let target = match &ch.previous {
        Some(prev) => match generations.iter().find(|g| g.generation == prev.generation) {
            Some(g) => ChannelsTarget::Generation(g.clone()),
            None => {
                ui.warn(&format!(
                    "generation {} of the channels profile {}, current before that fp-pin, no longer exists; the channels profile is left as it is",
                    prev.generation, ch.profile
                ));
                return Ok(None);
            }
        },
        None => {
            let empty = channels::empty_channels(ui)?;
            let n = generation::next_number(&generations, empty.as_str());
            ChannelsTarget::Empty(empty, n)
        }
    };
    if let (ChannelsTarget::Generation(g), Some(c)) = (&target, &current) {
        if g.generation == c.generation {
            return Ok(None);
        }
    }
    Ok(Some((profile, current, target)))
}

/// Prints what the revert does, for people.
fn show(ui: &Ui, report: &RevertReport, time: u64) {
    let dry = if report.dry_run { " (dry run)" } else { "" };
    let when = format_local_time(UNIX_EPOCH + Duration::from_secs(time));
    let mut lines = vec![format!(
        "{} fp-pin change {} of {when}{dry}",
        ui.paint(Style::Bold, "reverting"),
        report.history.entry
    )];
    match &report.registry {
        Some(r) if r.restore == "content" => lines.push(format!(
            "{} {}: back to its content before that pin",
            ui.paint(Style::Bold, "registry"),
            r.path
        )),
        Some(r) => lines.push(format!(
            "{} {}: removed (it did not exist before that pin)",
            ui.paint(Style::Bold, "registry"),
            r.path
        )),
        None => lines.push("registry: not changed by that pin".to_string()),
    }
    match &report.channels {
        Some(c) => {
            let from = c
                .previous
                .as_ref()
                .map_or("no generation".to_string(), |g| {
                    format!("generation {}", g.generation)
                });
            let empty = if c.empty {
                " (empty: the pin had made its first generation)"
            } else {
                ""
            };
            lines.push(format!(
                "{} {}: {from} -> generation {}{empty}",
                ui.paint(Style::Bold, "channels profile"),
                c.profile,
                c.generation
            ));
        }
        None => lines.push("channels: nothing to switch back".to_string()),
    }
    ui.info(&lines.join("\n"));
}
