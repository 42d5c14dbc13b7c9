//! `fp-pin --revert`: undo the last recorded pin. The registry gets back its exact earlier
//! content (or is removed, if it did not exist), and the channels profile is switched back to
//! the generation that was current before (with nix-env, so it is a rollback Nix knows about).
//!
//! An entry decides nothing about where to write: the registry restored is the one fp-pin
//! would write now (the user or system registry, or the `--registry` given), the channels
//! profile switched back is the one fp-pin would change now, and an entry naming anything else,
//! or a mode beyond `0o777`, is refused. A pending entry (a pin interrupted part-way) has only
//! the part that happened undone.

use crate::channels::{self, same_path, Location};
use crate::history::{Entry, History};
use crate::registry::{Registry, Which};
use crate::{check_registry_writable, lock, registry_choice, Cli, HistoryReport};
use fp_common::ui::Style;
use fp_common::{print_json, Error, Result, Ui};
use fp_nix::atomic_file;
use fp_nix::command::nix_version;
use fp_nix::generation::{self, format_local_time, Generation, GenerationRef};
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
    /// Whether the entry was of a pin that stopped part-way (only what it changed is undone).
    pub interrupted: bool,
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
    let given = match &cli.registry {
        Some(flag) => Some(registry_choice(ui, Some(flag))?),
        None => None,
    };
    // Taken before the history is read, so a second fp-pin waits and then reverts what the
    // first one left.
    let _lock = if cli.dry_run {
        None
    } else {
        Some(lock(ui, &history)?)
    };
    let filter = given.as_ref().map(|(_, path)| path.as_path());
    let (index, number, entry) = choose(&history, filter)?;
    let which = allowed_registry(ui, &entry, given.as_ref())?;
    check_mode(&entry, number)?;
    let registry_path = PathBuf::from(&entry.registry.path);
    let restore = plan_restore(ui, &entry, &registry_path)?;
    let channels = plan_channels(ui, cli, &entry)?;
    if !cli.dry_run {
        // The entry is removed after acting: if it could not be, the next revert would act
        // again, so that is found out before anything is changed.
        history
            .check_writable(number)
            .map_err(|e| e.context("nothing was reverted"))?;
    }

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
        interrupted: entry.pending,
    };
    show(ui, &report, entry.time);

    if cli.dry_run {
        ui.info("dry run: nothing was written");
    } else {
        act(
            ui,
            &entry,
            &which,
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

/// Which registry the entry may restore: the one `--registry` names, else the user or the
/// system registry as fp-pin would choose them now. An entry naming any other file is refused
/// (exit 2): a history file never decides where a revert writes.
fn allowed_registry(ui: &Ui, entry: &Entry, given: Option<&(Which, PathBuf)>) -> Result<Which> {
    let named = Path::new(&entry.registry.path);
    if let Some((which, path)) = given {
        if named == path {
            return Ok(which.clone());
        }
    } else {
        for which in [Which::User, Which::System] {
            if which.path(|| nix_version(ui))? == named {
                return Ok(which);
            }
        }
    }
    Err(Error::usage(format!(
        "the last fp-pin history entry names the registry {}, which is not the {} fp-pin writes; nothing was reverted",
        named.display(),
        match given {
            Some((_, path)) => format!("registry {}", path.display()),
            None => "user or system registry".to_string(),
        }
    ))
    .with_hint(format!(
        "if fp-pin wrote that file (fp-pin --registry FILE), revert it with: fp-pin --revert --registry {}",
        named.display()
    )))
}

/// Refuses (exit 2) an entry whose registry mode has bits beyond `0o777` (setuid, setgid,
/// sticky): fp-pin never records such a mode, so the entry was not written by it.
fn check_mode(entry: &Entry, number: u64) -> Result<()> {
    match entry.registry.previous_mode {
        Some(mode) if mode & !0o777 != 0 => Err(Error::usage(format!(
            "fp-pin's history entry {number} gives the registry mode {mode:o}, which is beyond 0777 (setuid, setgid or sticky); nothing was reverted"
        ))
        .with_hint("fp-pin never records such a mode: remove that entry")),
        _ => Ok(()),
    }
}

/// How the registry is restored: `content` (the earlier text is written back), `remove` (there
/// was no file before) or `None` (that pin did not change it, or, when it stopped part-way,
/// had not yet). Warns when the registry was changed since; a registry that does not parse is
/// refused, never overwritten.
fn plan_restore(ui: &Ui, entry: &Entry, registry_path: &Path) -> Result<Option<&'static str>> {
    let Some(written) = &entry.registry.written else {
        return Ok(None);
    };
    let current = Registry::load(registry_path)?;
    if current.original() != Some(written.as_str()) {
        if entry.pending {
            let what = if current.original() == entry.registry.previous.as_deref() {
                "that fp-pin stopped before writing it"
            } else {
                "it does not hold what that fp-pin would have written (changed since?)"
            };
            ui.warn(&format!(
                "the registry {} is left as it is: {what}",
                registry_path.display()
            ));
            return Ok(None);
        }
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
    which: &Which,
    registry_path: &Path,
    restore: bool,
    channels: Option<&ChannelsPlan>,
) -> Result<()> {
    if restore {
        check_registry_writable(which, registry_path)?;
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
    let result = match (restore, &entry.registry.previous) {
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
    };
    result.map_err(|e| match channels {
        Some((profile, _, _)) => e.with_hint(format!(
            "the channels profile {} was already switched back; run fp-pin --revert again to restore the registry",
            profile.path().display()
        )),
        None => e,
    })
}

/// What is left to revert after this one, for people.
fn remaining_note(index: usize) -> String {
    match index {
        0 => "nothing more to revert".to_string(),
        1 => "1 earlier change can be reverted too".to_string(),
        n => format!("{n} earlier changes can be reverted too"),
    }
}

/// Works out where the channels profile goes back to, if the entry changed it. The profile is
/// the one fp-pin would change now (`--channels-profile`, else the target of
/// `~/.nix-defexpr/channels`, else Nix's default); an entry naming another one is refused
/// (exit 2). For a pin that stopped part-way, the profile goes back only if its current
/// generation is the one that pin was making.
fn plan_channels(ui: &Ui, cli: &Cli, entry: &Entry) -> Result<Option<ChannelsPlan>> {
    let Some(ch) = &entry.channels else {
        return Ok(None);
    };
    let location = Location::resolve(ui, cli.channels_profile.as_deref())?;
    if !same_path(Path::new(&ch.profile), location.profile.path()) {
        return Err(Error::usage(format!(
            "the last fp-pin history entry names the channels profile {}, which is not the one fp-pin changes ({}); nothing was reverted",
            ch.profile,
            location.profile.path().display()
        ))
        .with_hint(format!(
            "if fp-pin changed that profile (fp-pin --channels-profile PATH), revert with: fp-pin --revert --channels-profile {}",
            ch.profile
        )));
    }
    let profile = location.profile;
    let generations = profile.generations()?;
    let current = generations.iter().find(|g| g.current).cloned();
    let made = match (&ch.generation, &ch.store_path) {
        (Some(made), _) => made.generation,
        (None, Some(path)) if entry.pending => {
            let switched = current.as_ref().filter(|c| {
                &c.store_path == path
                    && ch.previous.as_ref().map(|p| p.generation) != Some(c.generation)
            });
            match switched {
                Some(c) => c.generation,
                None => {
                    ui.warn(&format!(
                        "the channels profile {} is left as it is: that fp-pin stopped before switching it",
                        ch.profile
                    ));
                    return Ok(None);
                }
            }
        }
        (None, _) => {
            ui.warn(&format!(
                "that fp-pin did not finish setting the channels profile {}; it is left as it is",
                ch.profile
            ));
            return Ok(None);
        }
    };
    if current.as_ref().map(|g| g.generation) != Some(made) {
        ui.warn(&format!(
            "the channels profile {} was changed after that fp-pin (it made generation {made}, now {}); switching it back anyway",
            ch.profile,
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
    let stopped = if report.interrupted {
        " (that pin stopped part-way: only what it changed is undone)"
    } else {
        ""
    };
    let mut lines = vec![format!(
        "{} fp-pin change {} of {when}{stopped}{dry}",
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
