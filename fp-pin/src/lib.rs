//! `fp-pin`: pin the flake registry and NIX_PATH (`<nixpkgs>`) to the flake sources a profile
//! was built from, so `nix run nixpkgs#hello` and `nix-shell -p hello` give the profile's hello.
//!
//! The pins are the profile's `pinned` attribute (`lib.mkProfile { pinned.nixpkgs = nixpkgs; }`)
//! plus any `--pin NAME=STOREPATH`. For each, fp-pin writes a registry entry
//! `flake:NAME -> path:/nix/store/<hash>-source` itself and makes a store path
//! with one link per name the new generation of the channels profile. Every change is recorded
//! in a history first, so `--revert` undoes it. Nothing goes to stdout but `--json`'s document.

pub mod channels;
pub mod history;
pub mod pins;
pub mod registry;
mod revert;

use channels::{ChannelsOrigin, ChannelsSource, LinkState, Location};
use clap::Parser;
use fp_common::cli::CommonArgs;
use fp_common::config::Config;
use fp_common::error::EXIT_CODES_HELP;
use fp_common::ui::Style;
use fp_common::{print_json, Error, Result, Ui};
use fp_nix::atomic_file;
use fp_nix::command::nix_version;
use fp_nix::generation::{Generation, GenerationRef};
use fp_nix::installable::Installable;
use fp_nix::locations;
use fp_nix::lock::Lock;
use fp_nix::profile::{plan_switch, SwitchPlan, Target};
use fp_nix::store_path::{store_dir, StorePath};
use fp_nix::store_query;
use history::{ChannelsState, Entry, History, RegistryState};
use pins::Pins;
use registry::{describe_input, Change, Registry, Which};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `--help` adds after the exit codes.
const AFTER_HELP: &str = "Files:\n  registry  user: $XDG_CONFIG_HOME/nix/registry.json (default ~/.config/nix/registry.json)\n            system (the default as root): $NIX_CONF_DIR/registry.json (default /etc/nix)\n  channels  the profile ~/.nix-defexpr/channels points to (the link is created when missing)\n  history   $XDG_STATE_HOME/flakey-profile/pin-history/ (default ~/.local/state/...)\n\n--revert with nothing left to revert exits 1.";

/// Pin the flake registry and NIX_PATH channels to a profile's flake sources (revertible).
#[derive(Debug, Parser)]
#[command(
    name = "fp-pin",
    version,
    about,
    after_help = format!("{AFTER_HELP}\n\n{EXIT_CODES_HELP}")
)]
pub struct Cli {
    /// The profile flake whose `pinned` attribute is pinned (default: $FP_FLAKE, the config
    /// file's `flake`, then `.`). A `FLAKE#NAME` form sets the attribute too.
    #[arg(value_name = "FLAKE", conflicts_with = "no_flake")]
    pub flake: Option<String>,

    /// Read the profile from this Nix file (or a directory's default.nix) instead of a flake,
    /// as `nix build -f FILE` does; `--attr` (or `-A`) names its attribute path.
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with_all = ["flake", "no_flake"])]
    pub file: Option<String>,

    /// The profile attribute (default: $FP_ATTR, the config file's `attr`, then `profile`);
    /// its `pinned` and `pins.channels` are used.
    #[arg(
        long,
        short = 'a',
        short_alias = 'A',
        value_name = "NAME",
        conflicts_with = "no_flake"
    )]
    pub attr: Option<String>,

    /// Also pin NAME to a flake source store path (/nix/store/<hash>-source); repeatable; wins
    /// over the flake's pin of the same name. Without FLAKE or --attr, only these are pinned
    /// and no flake is read.
    #[arg(long = "pin", value_name = "NAME=STOREPATH")]
    pub pins: Vec<String>,

    /// Do not read a flake: pin only the --pin arguments.
    #[arg(long)]
    pub no_flake: bool,

    /// The registry to write: `user`, `system`, or a file (default: system as root, else user).
    #[arg(long, value_name = "user|system|FILE")]
    pub registry: Option<String>,

    /// Leave NIX_PATH alone: no channels generation, no ~/.nix-defexpr/channels.
    #[arg(long)]
    pub no_channels: bool,

    /// The channels profile to change (default: the target of ~/.nix-defexpr/channels, else
    /// Nix's default); ~/.nix-defexpr/channels is created pointing to it when missing.
    #[arg(long, value_name = "PATH")]
    pub channels_profile: Option<PathBuf>,

    /// Use this store path as the channels generation instead of building one; it must hold
    /// exactly one link per pin, to its source (lib.mkProfile's `pin` passes `pins.channels`).
    #[arg(long, value_name = "STOREPATH")]
    pub channels_path: Option<String>,

    /// Show the registry entries and channel links that would be written; write nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Undo the last fp-pin: restore the registry as it was and switch the channels profile
    /// back. Pins, the flake and --channels-* are ignored.
    #[arg(long)]
    pub revert: bool,

    /// Print one JSON document describing what was (or would be) done on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// One registry entry in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryReport {
    /// The flake id (`nixpkgs`).
    pub name: String,
    /// The source it is pinned to.
    pub path: String,
    /// `added`, `changed` or `unchanged`.
    pub status: &'static str,
    /// For `changed`: the `to` it had before (the first, if there were several).
    pub previous: Option<serde_json::Value>,
}

/// The registry part of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryReport {
    /// The registry file, absolute.
    pub path: String,
    /// `user`, `system` or `file`.
    pub kind: &'static str,
    /// Whether the file is (or would be) rewritten.
    pub changed: bool,
    /// One entry per pin, sorted by name.
    pub entries: Vec<EntryReport>,
}

/// One link of the channels store path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkReport {
    /// The name (`<nixpkgs>`'s `nixpkgs`).
    pub name: String,
    /// The source it links to.
    pub path: String,
}

/// The channels part of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelsReport {
    /// The channels profile, absolute.
    pub profile: String,
    /// Whether the profile gets a new current generation.
    pub changed: bool,
    /// The channels store path.
    pub store_path: String,
    /// Its links, one per pin.
    pub links: Vec<LinkReport>,
    /// The generation current before, if any.
    pub previous: Option<GenerationRef>,
    /// The generation current after (predicted for a dry run).
    pub generation: u64,
    /// `~/.nix-defexpr/channels`.
    pub defexpr_link: String,
    /// Whether fp-pin creates (or would create) that link.
    pub creates_defexpr_link: bool,
}

/// A history entry in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryReport {
    /// The entry number.
    pub entry: u64,
    /// Its file.
    pub file: String,
}

/// What `fp-pin --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinReport {
    /// Always `pin`.
    pub action: &'static str,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether anything is (or would be) written.
    pub changed: bool,
    /// The registry.
    pub registry: RegistryReport,
    /// The channels; `null` with `--no-channels`.
    pub channels: Option<ChannelsReport>,
    /// The history entry saved; `null` when nothing changed or for a dry run.
    pub history: Option<HistoryReport>,
}

/// Runs fp-pin: pins, or with `--revert` undoes the last pin.
pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    if cli.revert {
        return revert::run(&cli, ui);
    }
    pin(&cli, ui)
}

/// The registry `--registry` names (or the default), with its path.
pub(crate) fn registry_choice(ui: &Ui, flag: Option<&str>) -> Result<(Which, PathBuf)> {
    let (which, why) = match flag {
        Some(text) => (Which::parse(text), "command line"),
        None if locations::is_root() => (Which::default_for(true), "default for root"),
        None => (Which::default_for(false), "default"),
    };
    let path = which.path(|| nix_version(ui))?;
    ui.verbose(&format!(
        "registry = {} ({} registry, from {why})",
        path.display(),
        which.kind()
    ));
    Ok((which, path))
}

/// Refuses to write a registry that is a link into the Nix store (home-manager and NixOS make
/// those), or whose directory is not writable (exit 1, with what to do).
pub(crate) fn check_registry_writable(which: &Which, path: &Path) -> Result<()> {
    if atomic_file::real_target(path)?.starts_with(store_dir()) {
        return Err(Error::failed(format!(
            "the registry {} is a link into the Nix store (made by home-manager or NixOS?), which cannot be changed",
            path.display()
        ))
        .with_hint("set the pins where that link is made (e.g. home-manager's nix.registry), or write another registry with --registry FILE"));
    }
    atomic_file::check_replaceable(path).map_err(|e| match which {
        Which::System => e.with_hint("the system registry belongs to root: run fp-pin as root (sudo), or pin your user registry with --registry user"),
        _ => e.with_hint("make the directory writable by you, or choose another registry with --registry user|system|FILE"),
    })
}

/// The channels side of a pin, worked out before anything is written.
struct ChannelsPlan {
    location: Location,
    source: ChannelsSource,
    out_path: StorePath,
    /// What making `out_path` the profile's generation does.
    switch: SwitchPlan,
}

/// Pins: works everything out, shows it, then (unless `--dry-run`) writes history, registry and
/// channels in that order.
fn pin(cli: &Cli, ui: &Ui) -> Result<()> {
    let extra = pins::parse_args(&cli.pins)?;
    let (which, registry_path) = registry_choice(ui, cli.registry.as_deref())?;
    let history = History::new();
    // Taken before anything this pin decides on is read, so a second fp-pin waits and then
    // decides on what the first one left.
    let _lock = if cli.dry_run {
        None
    } else {
        Some(lock(ui, &history)?)
    };
    let original = Registry::load(&registry_path)?;
    let wanted = wanted_pins(ui, cli, extra)?;
    let mut registry = original.clone();
    let inputs = pins::locked_inputs(ui, &wanted.all)?;
    let entries = set_entries(&mut registry, &inputs);
    if registry.is_modified() && !cli.dry_run {
        check_registry_writable(&which, &registry_path)?;
    }
    pins::check_valid(ui, &wanted.all)?;
    let plan = if cli.no_channels {
        None
    } else {
        Some(plan_channels(ui, cli, &wanted)?)
    };

    let mut report = pin_report(
        cli.dry_run,
        &which,
        &registry,
        entries,
        plan.as_ref(),
        &wanted.all,
    );
    show_plan(ui, &report, cli.dry_run);
    if let Some(p) = &plan {
        let nix_path = std::env::var("NIX_PATH").ok();
        for warning in p.location.not_used_because(nix_path.as_deref()) {
            ui.warn(&warning);
        }
    }
    if cli.dry_run {
        ui.info("dry run: nothing was written");
    } else if !report.changed {
        let what = if plan.is_some() {
            "the registry and the channels are"
        } else {
            "the registry is"
        };
        ui.info(&format!("nothing to do: {what} already pinned"));
    } else {
        report.history = apply(
            ui,
            &history,
            &original,
            &registry,
            plan.as_ref(),
            &wanted.all,
        )?;
        let names: Vec<&str> = wanted.all.keys().map(String::as_str).collect();
        let undo = if report.history.is_some() {
            "; undo with: fp-pin --revert"
        } else {
            ""
        };
        ui.info(&format!(
            "{} {}{undo}",
            ui.paint(Style::Green, "pinned"),
            names.join(", ")
        ));
    }
    if cli.json {
        print_json(&report)?;
    }
    Ok(())
}

/// The pins a run asks for.
struct Wanted {
    /// The profile's `FLAKE#ATTR`, unless `--no-flake`.
    flake_installable: Option<Installable>,
    /// The profile's `pinned`.
    flake_pins: Pins,
    /// Those with the `--pin` arguments over them; never empty.
    all: Pins,
}

/// Whether a run reads the profile flake's `pinned`: not with `--no-flake`, and not when
/// `--pin` arguments are given with neither FLAKE nor `--attr` (then it pins just those and
/// evaluates nothing, so it works outside a profile flake).
pub fn reads_flake(
    no_flake: bool,
    flake: Option<&str>,
    attr: Option<&str>,
    pins_given: bool,
) -> bool {
    !no_flake && (flake.is_some() || attr.is_some() || !pins_given)
}

/// Reads the profile's pins (when [`reads_flake`]) and puts the `--pin` arguments over them;
/// no pin at all is a usage error.
fn wanted_pins(ui: &Ui, cli: &Cli, extra: Pins) -> Result<Wanted> {
    let read = reads_flake(
        cli.no_flake,
        cli.flake.as_deref().or(cli.file.as_deref()),
        cli.attr.as_deref(),
        !extra.is_empty(),
    );
    let flake_installable = if read {
        Some(profile_installable(ui, cli)?)
    } else {
        ui.verbose("only the --pin arguments are pinned: no FLAKE or --attr, so no flake is read");
        None
    };
    let flake_pins = match &flake_installable {
        Some(installable) => pins::from_flake(ui, installable)?,
        None => Pins::new(),
    };
    let all = merge_pins(ui, &flake_pins, extra);
    if all.is_empty() {
        return Err(nothing_to_pin(flake_installable.as_ref()));
    }
    Ok(Wanted {
        flake_installable,
        flake_pins,
        all,
    })
}

/// The report of a pin before anything is written (the history entry is filled in after):
/// it changes something when the registry changes, the channels get a new generation or the
/// `~/.nix-defexpr/channels` link is created.
fn pin_report(
    dry_run: bool,
    which: &Which,
    registry: &Registry,
    entries: Vec<EntryReport>,
    plan: Option<&ChannelsPlan>,
    all: &Pins,
) -> PinReport {
    let changed = registry.is_modified()
        || plan.is_some_and(|p| p.switch.changed || p.location.link_state == LinkState::Missing);
    PinReport {
        action: "pin",
        dry_run,
        changed,
        registry: RegistryReport {
            path: registry.path().display().to_string(),
            kind: which.kind(),
            changed: registry.is_modified(),
            entries,
        },
        channels: plan.map(|p| channels_report(p, all)),
        history: None,
    }
}

/// The flake's pins with the `--pin` arguments over them (a `--pin` wins over the flake's pin
/// of the same name; said under `-v`).
fn merge_pins(ui: &Ui, flake_pins: &Pins, extra: Pins) -> Pins {
    let mut all = flake_pins.clone();
    for (name, path) in extra {
        if let Some(old) = all.insert(name.clone(), path.clone()) {
            if old != path {
                ui.verbose(&format!("--pin {name}={path} replaces the flake's {old}"));
            }
        }
    }
    all
}

/// The usage error for a run with no pins at all.
fn nothing_to_pin(flake_installable: Option<&Installable>) -> Error {
    let what = match flake_installable {
        Some(i) => format!("{} is empty and no --pin was given", i.describe("pinned")),
        None => "no --pin was given".to_string(),
    };
    Error::usage(format!("nothing to pin: {what}")).with_hint(
        "pin the profile's nixpkgs with `pinned.nixpkgs = nixpkgs;` in lib.mkProfile, or give --pin NAME=STOREPATH",
    )
}

/// Sets one registry entry per pin (`flake:NAME -> path:SOURCE`, locked: see
/// [`pins::locked_inputs`]) and says, per pin, whether it is added, changed (with the `to` it
/// had) or unchanged.
fn set_entries(
    registry: &mut Registry,
    inputs: &BTreeMap<String, serde_json::Value>,
) -> Vec<EntryReport> {
    inputs
        .iter()
        .map(|(name, to)| {
            let path = to["path"].as_str().unwrap_or_default();
            let change = registry.set(registry::indirect(name), to.clone());
            let (status, previous) = match change {
                Change::Added => ("added", None),
                Change::Changed(old) => ("changed", old.into_iter().next()),
                Change::Unchanged => ("unchanged", None),
            };
            EntryReport {
                name: name.clone(),
                path: path.to_string(),
                status,
                previous,
            }
        })
        .collect()
}

/// `FLAKE#ATTR`, or with `--file` the file's attribute, from the arguments, environment and
/// config file (as fp-build resolves them).
fn profile_installable(ui: &Ui, cli: &Cli) -> Result<Installable> {
    let config = Config::load()?;
    if let Some(file) = &cli.file {
        let attr = config.attr(cli.attr.clone());
        fp_common::config::explain(ui, "attr", &attr);
        return Ok(Installable::File {
            file: fp_common::config::expand_tilde(file),
            attr: attr.value,
        });
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    if config.no_flake_found(cli.flake.as_deref(), &cwd) {
        return Err(config.no_flake_error("fp-pin", "pin from", &cwd));
    }
    Ok(Installable::Flake(
        config
            .installable(ui, cli.flake.as_deref(), cli.attr.clone())?
            .installable,
    ))
}

/// Works out the channels side: which profile, which store path, and whether it changes.
fn plan_channels(ui: &Ui, cli: &Cli, wanted: &Wanted) -> Result<ChannelsPlan> {
    let location = Location::resolve(ui, cli.channels_profile.as_deref())?;
    let origin = match location.origin {
        ChannelsOrigin::Flag => "command line",
        ChannelsOrigin::DefexprLink => "the target of ~/.nix-defexpr/channels",
        ChannelsOrigin::NixDefault => "Nix's default",
    };
    ui.verbose(&format!(
        "channels profile = {} (from {origin})",
        location.profile.path().display()
    ));
    let all = &wanted.all;
    let source = match (&cli.channels_path, wanted.flake_installable.as_ref()) {
        (Some(given), _) => {
            let path = StorePath::parse(given).map_err(|e| e.context("--channels-path"))?;
            if !store_query::is_valid(ui, &path)? {
                return Err(Error::usage(format!(
                    "--channels-path {path} is not a valid path in the Nix store"
                )));
            }
            channels::check_contents(ui, &path, all, "--channels-path")?;
            ChannelsSource::Given(path)
        }
        (None, Some(installable)) if wanted.flake_pins == *all => {
            ChannelsSource::Flake(installable.clone())
        }
        (None, _) => ChannelsSource::Expression(channels::expression(all)),
    };
    ui.verbose(&format!("channels store path from {}", source.describe()));
    let out_path = source.out_path(ui)?;
    let switch = plan_switch(
        &location.profile.generations()?,
        &Target::StorePath(out_path.clone()),
    )?;
    Ok(ChannelsPlan {
        location,
        source,
        out_path,
        switch,
    })
}

/// The report of a channels plan.
fn channels_report(plan: &ChannelsPlan, all: &Pins) -> ChannelsReport {
    ChannelsReport {
        profile: plan.location.profile.path().display().to_string(),
        changed: plan.switch.changed,
        store_path: plan.out_path.to_string(),
        links: all
            .iter()
            .map(|(name, path)| LinkReport {
                name: name.clone(),
                path: path.to_string(),
            })
            .collect(),
        previous: plan.switch.previous.clone(),
        generation: plan.switch.generation,
        defexpr_link: plan.location.link.display().to_string(),
        creates_defexpr_link: plan.location.link_state == LinkState::Missing,
    }
}

/// Prints the plan for people: registry entries, then channels links.
fn show_plan(ui: &Ui, report: &PinReport, dry_run: bool) {
    let width = report
        .registry
        .entries
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0);
    let dry = if dry_run { " (dry run)" } else { "" };
    let mut lines = vec![format!(
        "{} {}{dry}",
        ui.paint(Style::Bold, "registry"),
        report.registry.path
    )];
    for e in &report.registry.entries {
        let now = format!("path:{}", e.path);
        let line = match e.status {
            "added" => format!("{} {:width$}  {now}", ui.paint(Style::Green, "+"), e.name),
            "changed" => {
                let old = e.previous.as_ref().map(describe_input).unwrap_or_default();
                format!(
                    "{} {:width$}  {old} -> {now}",
                    ui.paint(Style::Yellow, "~"),
                    e.name
                )
            }
            _ => format!("= {:width$}  {now} (unchanged)", e.name),
        };
        lines.push(format!("  {line}"));
    }
    if let Some(ch) = &report.channels {
        let from = ch
            .previous
            .as_ref()
            .map_or("no generation".to_string(), |g| {
                format!("generation {}", g.generation)
            });
        let what = if ch.changed {
            format!("{from} -> generation {}", ch.generation)
        } else {
            format!("already at generation {} (unchanged)", ch.generation)
        };
        lines.push(format!(
            "{} {}: {what}{dry}",
            ui.paint(Style::Bold, "channels profile"),
            ch.profile
        ));
        for link in &ch.links {
            lines.push(format!("  {:width$} -> {}", link.name, link.path));
        }
        if ch.creates_defexpr_link && dry_run {
            lines.push(format!(
                "would create {} -> {}",
                ch.defexpr_link, ch.profile
            ));
        }
    }
    ui.info(&lines.join("\n"));
}

/// Writes everything, in an order that keeps a revert possible at every step: the history
/// entry first, marked pending (write-ahead), then the registry, the ~/.nix-defexpr link and
/// the channels generation, then the entry again, complete. A failing step before the channels
/// switch puts the registry back and drops the entry; a failure after something changed says
/// what changed and that `fp-pin --revert` undoes it (the pending entry stays for that).
fn apply(
    ui: &Ui,
    history: &History,
    original: &Registry,
    registry: &Registry,
    plan: Option<&ChannelsPlan>,
    all: &Pins,
) -> Result<Option<HistoryReport>> {
    let channels_changing = plan.filter(|p| p.switch.changed);
    let record = registry.is_modified() || channels_changing.is_some();
    // Every check before the first write (the registry's was done by the caller).
    if let Some(p) = channels_changing {
        p.location.profile.check_writable()?;
    }
    if let Some(p) = plan.filter(|p| p.location.link_state == LinkState::Missing) {
        atomic_file::check_replaceable(&p.location.link)?;
    }
    let number = history.next_number()?;
    if record {
        history.check_writable(number)?;
    }
    let built = match channels_changing {
        Some(p) => Some(build_channels(ui, p, all)?),
        None => None,
    };

    let mut entry = Entry {
        version: history::ENTRY_VERSION,
        time: history::now(),
        pins: all
            .iter()
            .map(|(n, p)| (n.clone(), p.to_string()))
            .collect(),
        registry: RegistryState {
            path: registry.path().display().to_string(),
            previous: original.original().map(str::to_string),
            previous_mode: file_mode(registry.path()),
            written: registry.is_modified().then(|| registry.to_text()),
        },
        channels: channels_changing.map(|p| ChannelsState {
            profile: p.location.profile.path().display().to_string(),
            previous: p.switch.previous.clone(),
            generation: None,
            store_path: built.as_ref().map(ToString::to_string),
        }),
        pending: true,
    };
    let file = if record {
        Some(history.write(number, &entry)?)
    } else {
        None
    };
    let mut done = Done::default();
    if registry.is_modified() {
        if let Err(e) = registry.save() {
            let _ = history.remove(number);
            return Err(e);
        }
        done.registry = Some(registry.path().display().to_string());
    }
    if let Some(p) = plan {
        match p.location.ensure_link() {
            Ok(true) => {
                ui.info(&format!(
                    "created {} -> {}",
                    p.location.link.display(),
                    p.location.profile.path().display()
                ));
            }
            Ok(false) => {}
            Err(e) => return Err(done.interrupted(e, number)),
        }
    }
    if let (Some(p), Some(built)) = (channels_changing, built) {
        let (before, now) = match switch_channels(ui, p, built) {
            Ok(switched) => switched,
            Err(e) if undo_registry(ui, original, registry) => {
                let _ = history.remove(number);
                return Err(
                    e.context("cannot set the channels generation (the registry was put back)")
                );
            }
            Err(e) => return Err(done.interrupted(e, number)),
        };
        done.channels = Some((
            p.location.profile.path().display().to_string(),
            now.generation,
        ));
        if let Some(ch) = entry.channels.as_mut() {
            ch.previous = before;
            ch.generation = Some(GenerationRef::from(&now));
        }
    }
    if record {
        entry.pending = false;
        history.write(number, &entry).map_err(|e| {
            done.interrupted(e.context("cannot complete fp-pin's history entry"), number)
        })?;
    }
    Ok(file.map(|f| HistoryReport {
        entry: number,
        file: f.display().to_string(),
    }))
}

/// What a pin has changed so far, for the error of a pin interrupted after its first change.
#[derive(Debug, Default)]
struct Done {
    /// The registry file, once written.
    registry: Option<String>,
    /// The channels profile and the generation it was switched to.
    channels: Option<(String, u64)>,
}

impl Done {
    /// `error`, saying what this pin already changed and that `fp-pin --revert` undoes it
    /// (its history entry `number` is kept, pending, for that).
    fn interrupted(&self, error: Error, number: u64) -> Error {
        let mut changed = Vec::new();
        if let Some(path) = &self.registry {
            changed.push(format!("the registry {path} was written"));
        }
        if let Some((profile, generation)) = &self.channels {
            changed.push(format!(
                "the channels profile {profile} was switched to generation {generation}"
            ));
        }
        if changed.is_empty() {
            return error;
        }
        let hint = format!(
            "this pin stopped part-way: {}; `fp-pin --revert` undoes it (history entry {number})",
            changed.join(" and ")
        );
        match error.hint() {
            Some(old) => {
                let both = format!("{hint}\n{old}");
                error.with_hint(both)
            }
            None => error.with_hint(hint),
        }
    }
}

/// Builds the channels store path of a plan and, unless the user gave it, checks that it holds
/// exactly the pins.
fn build_channels(ui: &Ui, plan: &ChannelsPlan, all: &Pins) -> Result<StorePath> {
    // A given store path (`--channels-path`, as `nix run .#profile.pin` gives it) is already
    // built: nothing is built then.
    let doing = match plan.source {
        ChannelsSource::Given(_) => "using",
        _ => "building",
    };
    ui.info(&format!(
        "{doing} the channels ({})",
        plan.source.describe()
    ));
    let built = plan.source.build(ui)?;
    if !matches!(plan.source, ChannelsSource::Given(_)) {
        channels::check_contents(ui, &built, all, &plan.source.describe())
            .map_err(|e| Error::failed(e.message().to_string()))?;
    }
    Ok(built)
}

/// Makes `built` the channels profile's current generation, under the profile's lock; returns
/// the generation current just before (read under that lock, so a revert goes back to it even
/// if another tool switched the profile since the plan) and the one made.
fn switch_channels(
    ui: &Ui,
    plan: &ChannelsPlan,
    built: StorePath,
) -> Result<(Option<GenerationRef>, Generation)> {
    let profile = &plan.location.profile;
    let _lock = profile.lock(ui)?;
    let before = fp_nix::generation::current(&profile.generations()?).map(GenerationRef::from);
    let now = profile.switch(ui, &Target::StorePath(built))?;
    ui.info(&format!(
        "{} the channels profile to generation {}",
        ui.paint(Style::Green, "switched"),
        now.generation
    ));
    Ok((before, now))
}

/// Puts the registry back after a later step failed; false (with a warning) when it cannot.
fn undo_registry(ui: &Ui, original: &Registry, written: &Registry) -> bool {
    if !written.is_modified() {
        return true;
    }
    let result = match original.original() {
        Some(text) => {
            atomic_file::write(original.path(), text.as_bytes(), atomic_file::DEFAULT_MODE)
        }
        None => atomic_file::remove(original.path()),
    };
    if let Err(e) = &result {
        ui.warn(&format!(
            "could not put the registry {} back: {}",
            original.path().display(),
            e.message()
        ));
    }
    result.is_ok()
}

/// The read, write and execute bits of a file, if it exists. Setuid, setgid and sticky bits
/// are never recorded, so a revert never sets them (and refuses an entry that has them).
pub(crate) fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.mode() & 0o777)
}

/// Takes fp-pin's lock, `pin.lock` in its state directory (beside the history), waiting for
/// another fp-pin that holds it. A lock that cannot be taken (the state directory not the
/// user's, `pin.lock` a link, directory or FIFO) stops the run (exit 1): running without it
/// could lose another run's pin.
pub(crate) fn lock(ui: &Ui, history: &History) -> Result<Lock> {
    let dir = history.prepare()?;
    Lock::file(ui, &dir.join("pin.lock")).map_err(|e| e.context("fp-pin cannot take its lock"))
}

#[cfg(test)]
mod reads_flake_tests {
    use super::reads_flake;

    #[test]
    fn pins_alone_read_no_flake() {
        assert!(!reads_flake(false, None, None, true));
        assert!(reads_flake(false, None, None, false));
        assert!(reads_flake(false, Some("."), None, true));
        assert!(reads_flake(false, None, Some("laptop"), true));
        assert!(!reads_flake(true, None, None, false));
    }
}
