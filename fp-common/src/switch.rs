//! Switching a profile to a store path or to one of its generations, shared by fp-switch and
//! fp-rollback: show the diff, honour `--dry-run`, change the profile through nix-env only, and
//! report what happened in the `--json` document both tools print.
//!
//! What the switch does is decided from the generations alone ([`plan_switch`]); [`switch`]
//! prints and acts around it. The profile is on this machine or on another one over ssh: both
//! are a [`Place`].

use crate::cli::SwitchArgs;
use crate::render;
use crate::ui::{Style, Ui};
use crate::Result;
use fp_nix::command::shell_quote;
use fp_nix::diff::{self, Package, PackageDiff};
use fp_nix::env_marker;
use fp_nix::generation::{Generation, GenerationRef};
use fp_nix::lock::Lock;
use fp_nix::profile::{plan_switch, Profile, SwitchPlan, Target};
use serde::Serialize;
use std::collections::BTreeMap;
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

    /// The packages of each of `paths` (store paths of that machine's generations, or of the
    /// env being switched to).
    fn packages(&self, ui: &Ui, paths: &[&str]) -> Result<BTreeMap<String, Vec<Package>>>;

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

    fn packages(&self, ui: &Ui, paths: &[&str]) -> Result<BTreeMap<String, Vec<Package>>> {
        diff::packages_of_many(ui, paths)
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
}

impl Options {
    /// The options `--dry-run` and `--no-diff` ask for.
    pub fn from_args(args: &SwitchArgs) -> Options {
        Options {
            dry_run: args.dry_run,
            diff: !args.no_diff,
        }
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
    /// The generation current after (predicted for a dry run).
    pub generation: u64,
    /// Its store path.
    pub store_path: String,
    /// The package diff, unless `--no-diff`.
    pub diff: Option<PackageDiff>,
    /// When the current generation was made outside flakey-profile (`nix profile install`,
    /// `nix-env -i`): which of its packages this switch drops.
    pub made_outside: Option<MadeOutside>,
}

impl Report {
    /// One line for people saying what the switch did (or would do): the summary of a host.
    pub fn summary(&self) -> String {
        let what = if !self.changed {
            format!("already at generation {}", self.generation)
        } else if self.dry_run {
            format!("would switch to generation {} (dry run)", self.generation)
        } else {
            format!("switched to generation {}", self.generation)
        };
        match &self.diff {
            Some(d) if self.changed => format!(
                "{what}: {} added, {} removed, {} changed",
                d.added.len(),
                d.removed.len(),
                d.changed.len()
            ),
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

/// Switches the profile at `profile` to `target`, printing the diff to stderr first.
pub fn switch(ui: &Ui, profile: &dyn Place, target: &Target, opts: Options) -> Result<Report> {
    // Held from reading the generations to the switch, so the report is about what happened.
    let _lock = if opts.dry_run {
        None
    } else {
        profile.lock(ui)?
    };
    let plan = plan_switch(&profile.generations()?, target)?;
    let mut report = Report {
        profile: profile.profile_path().display().to_string(),
        dry_run: opts.dry_run,
        changed: plan.changed,
        previous: plan.previous.clone(),
        generation: plan.generation,
        store_path: plan.store_path.clone(),
        diff: None,
        made_outside: None,
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
        let d = package_diff(ui, profile, &plan)?;
        if let Some(g) = outside {
            let made_outside = MadeOutside {
                generation: g.generation,
                dropped: dropped_packages(&d),
            };
            warn_made_outside(ui, profile, &made_outside);
            report.made_outside = Some(made_outside);
        }
        if opts.diff {
            ui.info(render::diff(ui, &d).trim_end());
            report.diff = Some(d);
        }
    }

    if opts.dry_run {
        ui.info("dry run: the profile was not changed");
        return Ok(report);
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

/// The package diff from the current generation (none: nothing) to the planned store path.
fn package_diff(ui: &Ui, profile: &dyn Place, plan: &SwitchPlan) -> Result<PackageDiff> {
    let mut paths = vec![plan.store_path.as_str()];
    paths.extend(plan.previous.as_ref().map(|g| g.store_path.as_str()));
    let packages = profile.packages(ui, &paths)?;
    let old = plan
        .previous
        .as_ref()
        .and_then(|g| packages.get(&g.store_path))
        .cloned()
        .unwrap_or_default();
    let new = packages.get(&plan.store_path).cloned().unwrap_or_default();
    Ok(diff::diff(&old, &new))
}

/// The packages a switch away from a generation made outside flakey-profile drops: what the
/// diff removes, without the manifest nix-env keeps in its envs.
pub fn dropped_packages(d: &PackageDiff) -> Vec<Package> {
    d.removed
        .iter()
        .filter(|p| !p.name.ends_with("env-manifest.nix"))
        .cloned()
        .collect()
}

/// Warns that the current generation was made outside flakey-profile and names what the
/// switch drops, with the command that folds those packages into the flake.
fn warn_made_outside(ui: &Ui, profile: &dyn Place, outside: &MadeOutside) {
    let generation = outside.generation;
    if outside.dropped.is_empty() {
        ui.warn(&format!(
            "generation {generation} was made outside flakey-profile (nix profile or nix-env); this switch drops none of its packages"
        ));
        return;
    }
    let list = outside
        .dropped
        .iter()
        .map(|p| format!("- {} {}", p.name, p.version).trim_end().to_string())
        .collect::<Vec<_>>();
    ui.warn(&format!(
        "generation {generation} was made outside flakey-profile (nix profile or nix-env); this switch drops:\n{}",
        list.join("\n")
    ));
    ui.info(&format!(
        "hint: to keep them, fold them into your flake first: fp-migrate --profile {}",
        shell_quote(&profile.profile_path().display().to_string())
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_leaves_out_the_nix_env_manifest() {
        let d = PackageDiff {
            removed: vec![
                Package::new("env-manifest.nix", ""),
                Package::new("cowsay", "3.7"),
            ],
            ..Default::default()
        };
        assert_eq!(dropped_packages(&d)[0].name, "cowsay");
        assert_eq!(dropped_packages(&d).len(), 1);
    }

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
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["diff"]["added"], serde_json::json!([]));
    }
}
