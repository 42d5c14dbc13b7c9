//! Switching a profile to a store path or to one of its generations, shared by fp-switch and
//! fp-rollback: show the diff, honour `--dry-run`, change the profile through nix-env only, and
//! report what happened in the `--json` document both tools print.
//!
//! What the switch does is decided from the generations alone ([`plan_switch`]), and whether
//! it would take away the running nix from the facts read before ([`loses_running_nix`]);
//! [`switch`] prints, asks (`--ask`) and acts around them. The profile is on this machine or on
//! another one over ssh: both are a [`Place`].

use crate::ask::Terminal;
use crate::cli::SwitchArgs;
use crate::config::Config;
use crate::render;
use crate::ui::{Style, Ui};
use crate::{Error, Result};
use fp_nix::command::shell_quote;
use fp_nix::diff::{self, Package, PackageDiff};
use fp_nix::env_marker;
use fp_nix::generation::{Generation, GenerationRef};
use fp_nix::lock::Lock;
use fp_nix::profile::{
    loses_running_nix, nix_of_env, nix_on_path, plan_switch, Profile, SwitchPlan, Target,
};
use serde::Serialize;
use std::path::Path;

/// Where a profile lives, as far as switching it goes: this machine ([`Profile`]) or another
/// one reached over ssh (`crate::hosts::OnHost`).
pub trait Place {
    /// The profile link, absolute, as the machine that has it names it.
    fn profile_path(&self) -> &Path;

    /// The profile as lines for people name it: its path, and the host when on another one.
    fn describe(&self) -> String {
        self.profile_path().display().to_string()
    }

    /// Holds the profile still from reading its generations to the switch, where this machine
    /// can (`None` when there is nothing to hold).
    fn lock(&self, ui: &Ui) -> Result<Option<Lock>>;

    /// The profile's generations, oldest first.
    fn generations(&self) -> Result<Vec<Generation>>;

    /// The package diff from the store path `old` (none: an empty profile) to `new`, with
    /// closure-size changes when `sizes` (store paths of that machine's generations, or of the
    /// env being switched to).
    fn diff(&self, ui: &Ui, old: Option<&str>, new: &str, sizes: bool) -> Result<PackageDiff>;

    /// Whether the profile is this machine's, so the `nix` being run may come from it.
    fn is_here(&self) -> bool {
        true
    }

    /// Whether the env at `path` was made by flakey-profile.
    fn is_flakey(&self, ui: &Ui, path: &str) -> Result<bool>;

    /// Makes `target` the current generation through nix-env and returns the generation the
    /// profile then points to.
    fn switch(&self, ui: &Ui, target: &Target) -> Result<Generation>;
}

impl Place for Profile {
    fn profile_path(&self) -> &Path {
        self.path()
    }

    fn lock(&self, ui: &Ui) -> Result<Option<Lock>> {
        if self.dir().is_dir() {
            Profile::lock(self, ui).map(Some)
        } else {
            Ok(None)
        }
    }

    fn generations(&self) -> Result<Vec<Generation>> {
        Profile::generations(self)
    }

    fn diff(&self, ui: &Ui, old: Option<&str>, new: &str, sizes: bool) -> Result<PackageDiff> {
        diff::between(ui, old, new, sizes)
    }

    fn is_flakey(&self, _ui: &Ui, path: &str) -> Result<bool> {
        Ok(env_marker::is_flakey(Path::new(path)))
    }

    fn switch(&self, ui: &Ui, target: &Target) -> Result<Generation> {
        let now = Profile::switch(self, ui, target)?;
        self.ensure_user_link(ui)?;
        Ok(now)
    }
}

/// How to switch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Print what would change and change nothing.
    pub dry_run: bool,
    /// Compute and print the package diff.
    pub diff: bool,
    /// Add closure-size changes to the diff.
    pub sizes: bool,
    /// Ask on the terminal before switching.
    pub ask: bool,
    /// Switch even when that takes away the running nix.
    pub allow_removing_nix: bool,
}

impl Options {
    /// The options the switch flags ask for; whether to ask also comes from `FP_ASK` and the
    /// config file ([`Config::ask`]).
    pub fn from_args(ui: &Ui, args: &SwitchArgs, config: &Config) -> Result<Options> {
        Ok(Options {
            dry_run: args.dry_run,
            diff: !args.no_diff,
            sizes: args.sizes,
            ask: config.ask(ui, &args.ask)?,
            allow_removing_nix: args.allow_removing_nix,
        })
    }

    /// The options for switching `hosts` machines at once: `--ask` takes one at a time, since
    /// the questions of hosts switched in parallel would mix on one terminal.
    pub fn for_hosts(ui: &Ui, args: &SwitchArgs, config: &Config, hosts: usize) -> Result<Options> {
        let opts = Options::from_args(ui, args, config)?;
        if opts.ask && hosts > 1 {
            return Err(Error::usage(
                "--ask takes one host at a time: switch several hosts without it (--dry-run shows what would change)",
            ));
        }
        Ok(opts)
    }
}

/// What a switch did (or, with `--dry-run`, would do): the `--json` document of fp-switch and
/// fp-rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The profile link, absolute.
    pub profile: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether the current generation changes.
    pub changed: bool,
    /// The generation current before, if any.
    pub previous: Option<GenerationRef>,
    /// The generation current after (predicted for a dry run; after a declined `--ask`, the one
    /// current before, 0 when there was none).
    pub generation: u64,
    /// Its store path.
    pub store_path: String,
    /// The package diff, unless `--no-diff`.
    pub diff: Option<PackageDiff>,
    /// When the current generation was made outside flakey-profile (`nix profile install`,
    /// `nix-env -i`): which of its packages this switch drops.
    pub made_outside: Option<MadeOutside>,
    /// Whether the switch takes away the `nix` being run (it comes from the current generation
    /// and the target has none): refused unless `--allow-removing-nix`, reported by a dry run.
    pub removes_running_nix: bool,
    /// Whether the person asked (`--ask`) answered no: then nothing changed.
    pub declined: bool,
}

impl Report {
    /// One line for people saying what the switch did (or would do): the summary of a host.
    pub fn summary(&self) -> String {
        let what = if self.declined {
            format!("answered no: still at generation {}", self.generation)
        } else if !self.changed {
            format!("already at generation {}", self.generation)
        } else if self.dry_run {
            format!("would switch to generation {} (dry run)", self.generation)
        } else {
            format!("switched to generation {}", self.generation)
        };
        match &self.diff {
            Some(d) if self.changed => {
                let rebuilt = if d.rebuilt.is_empty() {
                    String::new()
                } else {
                    format!(", {} rebuilt", d.rebuilt.len())
                };
                format!(
                    "{what}: {} added, {} removed, {} changed{rebuilt}",
                    d.added.len(),
                    d.removed.len(),
                    d.changed.len()
                )
            }
            _ => what,
        }
    }
}

/// A current generation that flakey-profile did not make, and what switching away drops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MadeOutside {
    /// Its number.
    pub generation: u64,
    /// Packages it has that the target does not.
    pub dropped: Vec<Package>,
}

/// Switches the profile at `profile` to `target`, printing the diff to stderr first. With
/// `--ask` the terminal is opened before anything else (no terminal: exit 2, nothing changed)
/// and the switch happens only on a yes. A switch that would take away the running nix is
/// refused (exit 1) unless allowed.
pub fn switch(ui: &Ui, profile: &dyn Place, target: &Target, opts: Options) -> Result<Report> {
    switch_to_chosen(ui, profile, |_| Ok(target.clone()), opts)
}

/// Like [`switch`], with the target chosen by `choose` from the generations read under the
/// profile's lock, so what it is chosen from is what is switched (fp-rollback's "the one
/// before the current" is decided there, not before another tool changes the profile).
pub fn switch_to_chosen(
    ui: &Ui,
    profile: &dyn Place,
    choose: impl FnOnce(&[Generation]) -> Result<Target>,
    opts: Options,
) -> Result<Report> {
    let terminal = if opts.ask && !opts.dry_run {
        Some(Terminal::open()?)
    } else {
        None
    };
    // Held from reading the generations to the switch, so the report is about what happened.
    let _lock = if opts.dry_run {
        None
    } else {
        profile.lock(ui)?
    };
    let generations = profile.generations()?;
    let target = &choose(&generations)?;
    let plan = plan_switch(&generations, target)?;
    let mut report = Report {
        profile: profile.profile_path().display().to_string(),
        dry_run: opts.dry_run,
        changed: plan.changed,
        previous: plan.previous.clone(),
        generation: plan.generation,
        store_path: plan.store_path.clone(),
        diff: None,
        made_outside: None,
        removes_running_nix: false,
        declined: false,
    };
    if !plan.changed {
        ui.info(&format!(
            "profile {} is already at generation {} ({}); nothing to do",
            profile.describe(),
            plan.generation,
            plan.store_path
        ));
        report.diff = opts.diff.then(PackageDiff::default);
        return Ok(report);
    }

    let from = plan
        .previous
        .as_ref()
        .map_or("no generation".to_string(), |g| {
            format!("generation {}", g.generation)
        });
    let dry = if opts.dry_run { " (dry run)" } else { "" };
    ui.info(&format!(
        "{} {}: {from} -> generation {}{dry}",
        ui.paint(Style::Bold, "profile"),
        profile.describe(),
        plan.generation
    ));
    let outside = match &plan.previous {
        Some(g) if !profile.is_flakey(ui, &g.store_path)? => Some(g),
        _ => None,
    };
    if opts.diff || outside.is_some() {
        let d = package_diff(ui, profile, &plan, opts.sizes)?;
        if let Some(g) = outside {
            let made_outside = MadeOutside {
                generation: g.generation,
                dropped: dropped_packages(&d),
            };
            warn_made_outside(ui, profile, &made_outside, opts.diff);
            report.made_outside = Some(made_outside);
        }
        if opts.diff {
            ui.info(render::diff(ui, &d).trim_end());
            report.diff = Some(d);
        }
    }

    report.removes_running_nix = profile.is_here()
        && loses_running_nix(
            nix_on_path().as_deref(),
            plan.previous
                .as_ref()
                .and_then(|g| nix_of_env(Path::new(&g.store_path)))
                .as_deref(),
            nix_of_env(Path::new(&plan.store_path)).is_some(),
        );
    if report.removes_running_nix {
        let lost = running_nix_lost(&plan);
        if opts.dry_run {
            ui.warn(&format!(
                "{}; without --allow-removing-nix the switch is refused",
                lost.message()
            ));
        } else if opts.allow_removing_nix {
            ui.warn(&format!(
                "{} (going ahead: --allow-removing-nix)",
                lost.message()
            ));
        } else {
            return Err(lost);
        }
    }

    if opts.dry_run {
        ui.info("dry run: the profile was not changed");
        return Ok(report);
    }
    if let Some(terminal) = terminal {
        if !terminal.confirm(&format!("switch to generation {}?", plan.generation))? {
            ui.info("answered no: the profile was not changed");
            report.declined = true;
            report.changed = false;
            report.generation = plan.previous.as_ref().map_or(0, |g| g.generation);
            report.store_path = plan
                .previous
                .as_ref()
                .map_or(String::new(), |g| g.store_path.clone());
            return Ok(report);
        }
    }
    let now = profile.switch(ui, target)?;
    ui.info(&format!(
        "{} to generation {}",
        ui.paint(Style::Green, "switched"),
        now.generation
    ));
    report.generation = now.generation;
    report.store_path = now.store_path;
    Ok(report)
}

/// The refusal of a switch that would take away the running nix, with the fix.
fn running_nix_lost(plan: &SwitchPlan) -> Error {
    let from = plan.previous.as_ref().map_or(0, |g| g.generation);
    Error::failed(format!(
        "the nix you are running comes from generation {from} of this profile, and generation {} has no bin/nix: switching would leave you without nix on PATH",
        plan.generation
    ))
    .with_hint("add pkgs.nix to paths in your profile flake and build again, or switch anyway: --allow-removing-nix")
}

/// The package diff from the current generation (none: nothing) to the planned store path.
fn package_diff(
    ui: &Ui,
    profile: &dyn Place,
    plan: &SwitchPlan,
    sizes: bool,
) -> Result<PackageDiff> {
    let old = plan.previous.as_ref().map(|g| g.store_path.as_str());
    profile.diff(ui, old, &plan.store_path, sizes)
}

/// The packages a switch away from a generation made outside flakey-profile drops: what the
/// diff removes (nix-env's manifest is no package of a diff).
pub fn dropped_packages(d: &PackageDiff) -> Vec<Package> {
    d.removed.clone()
}

/// Warns that the current generation was made outside flakey-profile and names what the
/// switch drops, with the command that folds those packages into the flake. When the diff
/// follows (`diff_shown`), its `-` lines are the list, so it is not printed twice; when the
/// switch drops nothing (the flake has all of it, as after fp-migrate), it is said only
/// under `-v`.
fn warn_made_outside(ui: &Ui, profile: &dyn Place, outside: &MadeOutside, diff_shown: bool) {
    let generation = outside.generation;
    if outside.dropped.is_empty() {
        ui.verbose(&format!(
            "generation {generation} was made outside flakey-profile (nix profile or nix-env); this switch drops none of its packages"
        ));
        return;
    }
    if diff_shown {
        ui.warn(&format!(
            "generation {generation} was made outside flakey-profile (nix profile or nix-env); this switch drops the packages marked - below"
        ));
    } else {
        let list = outside
            .dropped
            .iter()
            .map(|p| format!("- {} {}", p.name, p.version).trim_end().to_string())
            .collect::<Vec<_>>();
        ui.warn(&format!(
            "generation {generation} was made outside flakey-profile (nix profile or nix-env); this switch drops:\n{}",
            list.join("\n")
        ));
    }
    ui.info(&format!(
        "hint: to keep them, fold them into your flake first: fp-migrate --profile {}",
        shell_quote(&profile.profile_path().display().to_string())
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_say_what_happened() {
        let mut r = Report {
            profile: "/p".into(),
            dry_run: false,
            changed: true,
            previous: None,
            generation: 3,
            store_path: "/nix/store/x".into(),
            diff: Some(PackageDiff {
                added: vec![Package::new("jq", "1.7")],
                ..Default::default()
            }),
            made_outside: None,
            removes_running_nix: false,
            declined: false,
        };
        assert_eq!(
            r.summary(),
            "switched to generation 3: 1 added, 0 removed, 0 changed"
        );
        r.dry_run = true;
        r.diff = None;
        assert_eq!(r.summary(), "would switch to generation 3 (dry run)");
        r.changed = false;
        assert_eq!(r.summary(), "already at generation 3");
    }

    #[test]
    fn report_has_the_documented_fields() {
        let r = Report {
            profile: "/p".into(),
            dry_run: false,
            changed: true,
            previous: None,
            generation: 1,
            store_path: "/nix/store/x".into(),
            diff: Some(PackageDiff::default()),
            made_outside: None,
            removes_running_nix: false,
            declined: false,
        };
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        for key in [
            "profile",
            "dryRun",
            "changed",
            "previous",
            "generation",
            "storePath",
            "diff",
            "removesRunningNix",
            "declined",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["diff"]["added"], serde_json::json!([]));
    }
}
