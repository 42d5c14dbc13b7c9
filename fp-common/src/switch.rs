//! Switching a profile to a store path or to one of its generations, shared by fp-switch and
//! fp-rollback: show the diff, honour `--dry-run`, change the profile through nix-env only, and
//! report what happened in the JSON shape of SPEC section 4.

use crate::diff::{self, Package, PackageDiff};
use crate::env_marker;
use crate::error::{Error, Result};
use crate::generation::Generation;
use crate::nix::{NixCommand, Stderr};
use crate::profile::{Profile, ProfileLock};
use crate::store_path::StorePath;
use crate::ui::{Style, Ui};
use serde::Serialize;
use std::path::Path;

/// Where to switch the profile to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A store path: a new generation with `nix-env --set` (or the last one, if it is the same).
    StorePath(StorePath),
    /// An existing generation, by number: `nix-env --switch-generation`.
    Generation(u64),
}

/// How to switch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Print what would change and change nothing.
    pub dry_run: bool,
    /// Compute and print the package diff.
    pub diff: bool,
}

/// A generation as it appears in reports: number and store path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationRef {
    /// Generation number.
    pub generation: u64,
    /// Its store path.
    pub store_path: String,
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

/// A current generation that flakey-profile did not make, and what switching away drops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MadeOutside {
    /// Its number.
    pub generation: u64,
    /// Packages it has that the target does not.
    pub dropped: Vec<Package>,
}

/// Switches `profile` to `target`, printing the diff to stderr first.
pub fn switch(ui: &Ui, profile: &Profile, target: &Target, opts: Options) -> Result<Report> {
    // Held from reading the generations to the switch, so the report is about what happened.
    let _lock = if opts.dry_run || !profile.dir().is_dir() {
        None
    } else {
        Some(ProfileLock::acquire(ui, profile)?)
    };
    let generations = profile.generations()?;
    let current = crate::generation::current(&generations);
    let previous = current.map(|g| GenerationRef {
        generation: g.generation,
        store_path: g.store_path.clone(),
    });
    let (store_path, number) = match target {
        Target::StorePath(p) => (
            p.as_str().to_string(),
            next_number(&generations, p.as_str()),
        ),
        Target::Generation(n) => {
            let g = generations
                .iter()
                .find(|g| g.generation == *n)
                .ok_or_else(|| Error::failed(format!("generation {n} does not exist")))?;
            (g.store_path.clone(), *n)
        }
    };
    let unchanged = current.is_some_and(|g| match target {
        Target::StorePath(_) => g.store_path == store_path,
        Target::Generation(n) => g.generation == *n,
    });
    let profile_name = profile.path().display().to_string();
    if unchanged {
        let n = current.map(|g| g.generation).unwrap_or(number);
        ui.info(&format!(
            "profile {profile_name} is already at generation {n} ({store_path}); nothing to do"
        ));
        return Ok(Report {
            profile: profile_name,
            dry_run: opts.dry_run,
            changed: false,
            previous: previous.clone(),
            generation: n,
            store_path,
            diff: opts.diff.then(PackageDiff::default),
            made_outside: None,
        });
    }

    let from = current.map_or("no generation".to_string(), |g| {
        format!("generation {}", g.generation)
    });
    let dry = if opts.dry_run { " (dry run)" } else { "" };
    ui.info(&format!(
        "{} {profile_name}: {from} -> generation {number}{dry}",
        ui.paint(Style::Bold, "profile")
    ));
    let outside = current.filter(|g| !env_marker::is_flakey(Path::new(&g.store_path)));
    let mut made_outside = None;
    let diff = if opts.diff || outside.is_some() {
        let mut paths = vec![store_path.as_str()];
        paths.extend(current.map(|g| g.store_path.as_str()));
        let packages = diff::packages_of_many(ui, &paths)?;
        let old = current
            .and_then(|g| packages.get(&g.store_path))
            .cloned()
            .unwrap_or_default();
        let new = packages.get(&store_path).cloned().unwrap_or_default();
        let d = diff::diff(&old, &new);
        if let Some(g) = outside {
            made_outside = Some(warn_made_outside(ui, profile, g.generation, &d));
        }
        if opts.diff {
            ui.info(d.render(ui).trim_end());
        }
        opts.diff.then_some(d)
    } else {
        None
    };

    if opts.dry_run {
        ui.info("dry run: the profile was not changed");
        return Ok(Report {
            profile: profile_name,
            dry_run: true,
            changed: true,
            previous,
            generation: number,
            store_path,
            diff,
            made_outside,
        });
    }

    let command = match target {
        Target::StorePath(p) => NixCommand::nix_env()
            .arg("--profile")
            .arg(profile.path())
            .args(["--set", p.as_str()]),
        Target::Generation(n) => NixCommand::nix_env()
            .arg("--profile")
            .arg(profile.path())
            .args(["--switch-generation", &n.to_string()]),
    };
    command.output(ui, Stderr::Capture)?;
    let after = profile.generations()?;
    let now = crate::generation::current(&after).ok_or_else(|| {
        Error::failed(format!(
            "nix-env finished but {profile_name} points to no generation"
        ))
    })?;
    profile.ensure_user_link(ui)?;
    ui.info(&format!(
        "{} to generation {}",
        ui.paint(Style::Green, "switched"),
        now.generation
    ));
    Ok(Report {
        profile: profile_name,
        dry_run: false,
        changed: true,
        previous,
        generation: now.generation,
        store_path: now.store_path.clone(),
        diff,
        made_outside,
    })
}

/// Warns that the current generation was made outside flakey-profile and names what the
/// switch drops, with the command that folds those packages into the flake.
fn warn_made_outside(ui: &Ui, profile: &Profile, generation: u64, d: &PackageDiff) -> MadeOutside {
    let dropped: Vec<Package> = d
        .removed
        .iter()
        .filter(|p| !p.name.ends_with("env-manifest.nix"))
        .cloned()
        .collect();
    let list = dropped
        .iter()
        .map(|p| format!("- {} {}", p.name, p.version).trim_end().to_string())
        .collect::<Vec<_>>();
    if list.is_empty() {
        ui.warn(&format!(
            "generation {generation} was made outside flakey-profile (nix profile or nix-env); this switch drops none of its packages"
        ));
    } else {
        ui.warn(&format!(
            "generation {generation} was made outside flakey-profile (nix profile or nix-env); this switch drops:\n{}",
            list.join("\n")
        ));
        ui.info(&format!(
            "hint: to keep them, fold them into your flake first: fp-migrate --profile {}",
            crate::nix::shell_quote(&profile.path().display().to_string())
        ));
    }
    MadeOutside {
        generation,
        dropped,
    }
}

/// The number `nix-env --set PATH` will give: the last generation's when it already holds PATH
/// (Nix's reuse rule compares with the highest generation, not the current one), else one more
/// than the highest.
pub fn next_number(generations: &[Generation], path: &str) -> u64 {
    match generations.last() {
        Some(last) if last.store_path == path => last.generation,
        Some(last) => last.generation + 1,
        None => 1,
    }
}

/// Prints a report as one JSON document on stdout.
pub fn print_json(report: &Report) -> Result<()> {
    let text = serde_json::to_string(report)
        .map_err(|e| Error::failed(format!("cannot encode the report: {e}")))?;
    crate::write_stdout(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn gen(n: u64, path: &str) -> Generation {
        Generation {
            generation: n,
            store_path: path.into(),
            created: SystemTime::UNIX_EPOCH,
            current: false,
        }
    }

    #[test]
    fn next_number_follows_nix_reuse_rule() {
        assert_eq!(next_number(&[], "/a"), 1);
        assert_eq!(next_number(&[gen(1, "/a")], "/a"), 1);
        assert_eq!(next_number(&[gen(1, "/a"), gen(2, "/b")], "/a"), 3);
        assert_eq!(next_number(&[gen(1, "/a"), gen(2, "/b")], "/b"), 2);
    }

    #[test]
    fn report_has_the_spec_fields() {
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
