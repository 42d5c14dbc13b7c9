//! Working on the profiles of other machines over ssh: which hosts (`--target-host`, `--hosts`
//! and the config file's `[hosts.NAME]` tables), their profiles ([`OnHost`], a [`Place`] the
//! shared switch works on), and running a tool's work on each of them, a bounded number at
//! once, with one summary line per host ([`run_on_hosts`], [`report`]).
//!
//! Which hosts is decided by [`select`], a pure function of the arguments and the config; what
//! is asked of each host is built and parsed in `fp_nix::remote`.

use crate::cli::HostArgs;
use crate::config::HostEntry;
use crate::switch::Place;
use crate::ui::Ui;
use crate::{print_json, Error, Result};
use fp_nix::command::shell_quote;
use fp_nix::diff::{self, PackageDiff};
use fp_nix::env_marker;
use fp_nix::generation::{self, Generation};
use fp_nix::lock::Lock;
use fp_nix::path_info::PathInfo;
use fp_nix::profile::{dir_fix, unwritable_error, DirFix, DirState, Profile, Target};
use fp_nix::remote::{Host, RemoteProfile};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One host to work on: the name its lines start with, how ssh reaches it, and its profile
/// (`None`: nix-env's default there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// `--target-host` as given, or the `[hosts.NAME]` table's name.
    pub name: String,
    /// How ssh reaches it.
    pub host: Host,
    /// The profile there, if named.
    pub profile: Option<PathBuf>,
}

/// The hosts asked for: each `--target-host` (with `--profile`, if given), then the tables
/// `--hosts` names (`all`, or names separated by commas), whose `profile` `--profile`
/// overrides. A host named twice is worked on once. Unknown names and an empty selection are
/// usage errors that list the names the config file has.
pub fn select(
    args: &HostArgs,
    tables: &BTreeMap<String, HostEntry>,
    config_path: &Path,
    profile: Option<&Path>,
) -> Result<Vec<HostSpec>> {
    let mut specs: Vec<HostSpec> = Vec::new();
    for target in &args.target_hosts {
        specs.push(HostSpec {
            name: target.clone(),
            host: Host::new(target)?,
            profile: profile.map(Path::to_path_buf),
        });
    }
    let known = || {
        if tables.is_empty() {
            format!(
                "{} has no [hosts.NAME] tables; add one with target = \"user@host\"",
                config_path.display()
            )
        } else {
            format!(
                "the hosts of {} are: {}",
                config_path.display(),
                tables.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        }
    };
    if let Some(list) = &args.hosts {
        let names: Vec<&str> = if list.trim() == "all" {
            if tables.is_empty() {
                return Err(Error::usage("--hosts all: no hosts are configured").with_hint(known()));
            }
            tables.keys().map(String::as_str).collect()
        } else {
            list.split(',').map(str::trim).collect()
        };
        for name in names {
            let entry = tables.get(name).ok_or_else(|| {
                Error::usage(format!("--hosts: no host named {name:?}")).with_hint(known())
            })?;
            specs.push(HostSpec {
                name: name.to_string(),
                host: Host::new(&entry.target).map_err(|e| {
                    e.context(format!("[hosts.{name}] in {}", config_path.display()))
                })?,
                profile: profile
                    .map(Path::to_path_buf)
                    .or_else(|| entry.profile.as_ref().map(PathBuf::from)),
            });
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    specs.retain(|s| seen.insert((s.host.target().to_string(), s.profile.clone())));
    if specs.is_empty() {
        return Err(Error::usage("no host to work on").with_hint(known()));
    }
    Ok(specs)
}

/// The hosts `args` asks for, from the command line and the config file's tables
/// ([`select`]).
pub fn specs(
    args: &HostArgs,
    config: &crate::config::Config,
    profile: Option<&Path>,
) -> Result<Vec<HostSpec>> {
    select(args, config.hosts(), config.path(), profile)
}

/// A profile on another machine, read once when opened: the [`Place`] the shared switch,
/// fp-rollback, fp-generations and fp-diff work on over ssh.
#[derive(Debug, Clone)]
pub struct OnHost {
    host: Host,
    profile: PathBuf,
    read: RemoteProfile,
}

impl OnHost {
    /// Opens the profile of `spec` on its host: the one named (`~/` taken from the remote
    /// home), else the one nix-env uses there, found by nix-env's rule from what the host says.
    pub fn open(ui: &Ui, spec: &HostSpec) -> Result<OnHost> {
        let profile = match &spec.profile {
            Some(p) if !p.starts_with("~") => p.clone(),
            named => {
                let probe = spec.host.probe(ui)?;
                match named {
                    Some(p) => probe.home.join(p.strip_prefix("~").unwrap_or(p)),
                    None => probe.default_profile()?,
                }
            }
        };
        ui.verbose(&format!(
            "profile on {} = {:?}",
            spec.host.target(),
            profile
        ));
        let read = spec.host.read_profile(ui, &profile)?;
        Ok(OnHost {
            host: spec.host.clone(),
            profile,
            read,
        })
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The generations read when the profile was opened, oldest first.
    pub fn read_generations(&self) -> &[Generation] {
        &self.read.generations
    }

    /// Checks that generations can be made in the profile's directory there, with the same
    /// rule and fix as on this machine, to run on that host.
    pub fn check_writable(&self) -> Result<()> {
        match unwritable_error(
            &self.profile,
            &self.read.facts,
            &shell_quote(&self.read.owner),
            Some(self.host.target()),
        ) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// The check before copying a closure there: stops only where copying cannot help (the
    /// remote user could not make the directory). A missing directory the user or Nix could
    /// make is checked again after the copy ([`OnHost::check_after_copy`]), because the copy
    /// makes the store there on a machine where Nix never ran.
    pub fn check_before_copy(&self) -> Result<()> {
        match dir_fix(&self.read.facts) {
            DirFix::Ready | DirFix::Create => Ok(()),
            DirFix::CreateForUser | DirFix::ReadOnlyForRoot => self.check_writable(),
        }
    }

    /// After copying: reads the profile's directory again if it was missing, then checks it
    /// ([`OnHost::check_writable`]).
    pub fn check_after_copy(&mut self, ui: &Ui) -> Result<()> {
        if self.read.dir != DirState::Writable {
            self.read = self.host.read_profile(ui, &self.profile)?;
        }
        self.check_writable()
    }

    /// The profile as data, for the nix-env command lines sent to the host.
    fn as_profile(&self) -> Result<Profile> {
        Profile::new(&self.profile)
    }

    /// Runs `nix-env --delete-generations` for `numbers` on the host.
    pub fn delete(&self, ui: &Ui, numbers: &[u64]) -> Result<()> {
        let cmd = self.as_profile()?.delete_command(numbers);
        self.host.run_nix(ui, &cmd).map(drop)
    }

    /// What is known of `paths`: paths this machine has are asked here (an env being switched
    /// to may not be on the host yet), the others on the host.
    pub fn path_info(&self, ui: &Ui, paths: &[&str]) -> Result<BTreeMap<String, PathInfo>> {
        let (here, there): (Vec<&str>, Vec<&str>) =
            paths.iter().partition(|p| Path::new(p).exists());
        let mut info = fp_nix::store_query::path_infos(ui, &here)?;
        info.extend(self.host.path_info(ui, &there)?);
        Ok(info)
    }
}

impl Place for OnHost {
    fn profile_path(&self) -> &Path {
        &self.profile
    }

    fn describe(&self) -> String {
        format!("{} on {}", self.profile.display(), self.host.target())
    }

    fn lock(&self, _ui: &Ui) -> Result<Option<Lock>> {
        // nix-env takes the profile's own lock there while it changes it.
        Ok(None)
    }

    fn generations(&self) -> Result<Vec<Generation>> {
        Ok(self.read.generations.clone())
    }

    /// Paths this machine has are read here (the env being switched to may not be on the host
    /// yet), the others on the host. Closure sizes are not measured on other machines: `sizes`
    /// is said to be ignored there.
    fn diff(&self, ui: &Ui, old: Option<&str>, new: &str, sizes: bool) -> Result<PackageDiff> {
        if sizes {
            ui.warn(&format!(
                "{}: closure sizes are measured on this machine only; showing the diff without them",
                self.host.target()
            ));
        }
        let mut paths = vec![new];
        paths.extend(old);
        let (here, there): (Vec<&str>, Vec<&str>) =
            paths.iter().partition(|p| Path::new(p).exists());
        let mut installed = diff::installed_of_many(ui, &here)?;
        for (path, info) in self.host.path_info(ui, &there)? {
            let list = diff::installed_from_info(&path, &info);
            installed.insert(path, list);
        }
        let side = |p: Option<&str>| {
            p.and_then(|p| installed.get(p).cloned())
                .unwrap_or_default()
        };
        Ok(diff::diff_installed(&side(old), &side(Some(new))))
    }

    fn is_here(&self) -> bool {
        false
    }

    fn is_flakey(&self, ui: &Ui, path: &str) -> Result<bool> {
        if Path::new(path).exists() {
            return Ok(env_marker::is_flakey(Path::new(path)));
        }
        self.host.has_file(ui, path, env_marker::MARKER_FILE)
    }

    fn switch(&self, ui: &Ui, target: &Target) -> Result<Generation> {
        let cmd = self.as_profile()?.switch_command(target);
        let after = self.host.change_then_read(ui, &cmd, &self.profile)?;
        generation::current(&after.generations)
            .cloned()
            .ok_or_else(|| {
                Error::failed(format!(
                    "nix-env finished but {} on {} points to no generation",
                    self.profile.display(),
                    self.host.target()
                ))
            })
    }
}

/// What a tool's work on one host gives: the `--json` document (which gets a `host` field)
/// and one line for people.
pub trait Outcome: Serialize {
    /// One line saying what was done (or would be) on the host.
    fn summary(&self) -> String;
}

impl Outcome for crate::switch::Report {
    fn summary(&self) -> String {
        crate::switch::Report::summary(self)
    }
}

/// Runs `work` on every host, at most `jobs` at once, and returns the results in the hosts'
/// order. With one host its UI says everything; with several, each says only its warnings
/// and errors (prefixed with the host), and an error is shown when it happens.
pub fn run_on_hosts<R: Send>(
    ui: &Ui,
    specs: &[HostSpec],
    jobs: u16,
    work: impl Fn(&Ui, &HostSpec) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    let several = specs.len() > 1;
    let results: Mutex<Vec<Option<Result<R>>>> = Mutex::new(specs.iter().map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let workers = usize::from(jobs).clamp(1, specs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(spec) = specs.get(i) else { break };
                let host_ui = ui.for_host(&spec.name, several);
                let result = work(&host_ui, spec);
                if several {
                    if let Err(err) = &result {
                        host_ui.error(err);
                    }
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::failed("the host's work did not finish"))))
        .collect()
}

/// A failed host in `--json`.
#[derive(Debug, Serialize)]
struct Failure<'a> {
    host: &'a str,
    error: &'a str,
    hint: Option<&'a str>,
}

/// Reports the results of [`run_on_hosts`]: with `json`, one JSON line per host on stdout (the
/// tool's document with `host` added, or the error); otherwise `show` prints each success's
/// product. Then one summary line per host on stderr (a lone host's failure is told by its
/// error alone). A lone host's error is returned as it is; with several, any failure is exit 1
/// naming the hosts that failed.
pub fn report<R: Outcome>(
    ui: &Ui,
    specs: &[HostSpec],
    results: Vec<Result<R>>,
    json: bool,
    show: impl Fn(&HostSpec, &R) -> Result<()>,
) -> Result<()> {
    let mut failed = Vec::new();
    let mut lone_error = None;
    for (spec, result) in specs.iter().zip(results) {
        match result {
            Ok(outcome) => {
                if json {
                    let mut doc = serde_json::to_value(&outcome).map_err(|e| {
                        Error::failed(format!("cannot encode the JSON document: {e}"))
                    })?;
                    if let Some(map) = doc.as_object_mut() {
                        map.insert("host".into(), spec.name.clone().into());
                    }
                    print_json(&doc)?;
                } else {
                    show(spec, &outcome)?;
                }
                ui.info(&format!("{}: {}", spec.name, outcome.summary()));
            }
            Err(err) => {
                if json {
                    print_json(&Failure {
                        host: &spec.name,
                        error: err.message(),
                        hint: err.hint(),
                    })?;
                }
                if specs.len() > 1 {
                    // A lone host's error is the run's own, shown once.
                    let first = err.message().lines().next().unwrap_or_default().to_string();
                    ui.info(&format!("{}: failed: {first}", spec.name));
                }
                failed.push(spec.name.clone());
                lone_error = Some(err);
            }
        }
    }
    match (specs.len(), lone_error) {
        (_, None) => Ok(()),
        (1, Some(err)) => Err(err),
        (n, Some(_)) => Err(Error::failed(format!(
            "{} of {n} hosts failed: {}",
            failed.len(),
            failed.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> BTreeMap<String, HostEntry> {
        let mut t = BTreeMap::new();
        for (name, target, profile) in [("web", "root@web1", Some("/p/web")), ("ci", "ci", None)] {
            t.insert(
                name.to_string(),
                HostEntry {
                    target: target.to_string(),
                    profile: profile.map(str::to_string),
                },
            );
        }
        t
    }

    fn args(targets: &[&str], hosts: Option<&str>) -> HostArgs {
        HostArgs {
            target_hosts: targets.iter().map(|t| t.to_string()).collect(),
            hosts: hosts.map(str::to_string),
            jobs: 4,
        }
    }

    fn names(specs: &[HostSpec]) -> Vec<(&str, &str, Option<&Path>)> {
        specs
            .iter()
            .map(|s| (s.name.as_str(), s.host.target(), s.profile.as_deref()))
            .collect()
    }

    #[test]
    fn target_hosts_and_tables() {
        let cfg = Path::new("/c.toml");
        let specs = select(&args(&["a", "b@c"], None), &tables(), cfg, None).unwrap();
        assert_eq!(names(&specs), [("a", "a", None), ("b@c", "b@c", None)]);
        let specs = select(&args(&[], Some("all")), &tables(), cfg, None).unwrap();
        assert_eq!(
            names(&specs),
            [
                ("ci", "ci", None),
                ("web", "root@web1", Some(Path::new("/p/web")))
            ]
        );
        // --profile wins over the table's, and a host named twice is worked on once.
        let specs = select(
            &args(&["ci"], Some("web, ci")),
            &tables(),
            cfg,
            Some(Path::new("/q")),
        )
        .unwrap();
        assert_eq!(
            names(&specs),
            [
                ("ci", "ci", Some(Path::new("/q"))),
                ("web", "root@web1", Some(Path::new("/q")))
            ]
        );
    }

    #[test]
    fn unknown_and_empty_selections_are_usage_errors() {
        let cfg = Path::new("/c.toml");
        let err = select(&args(&[], Some("web,db")), &tables(), cfg, None).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.message().contains("\"db\""), "{}", err.message());
        assert!(err.hint().unwrap().contains("ci, web"), "{:?}", err.hint());
        let err = select(&args(&[], Some("all")), &BTreeMap::new(), cfg, None).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(err.hint().unwrap().contains("[hosts.NAME]"));
        assert_eq!(
            select(&args(&["-oProxyCommand=x"], None), &tables(), cfg, None)
                .unwrap_err()
                .code(),
            2
        );
    }

    #[derive(Serialize)]
    struct Done(u32);

    impl Outcome for Done {
        fn summary(&self) -> String {
            format!("done {}", self.0)
        }
    }

    #[test]
    fn every_host_runs_once_in_parallel_and_failures_do_not_stop_the_others() {
        let cfg = Path::new("/c.toml");
        let targets: Vec<String> = (0..9).map(|i| format!("h{i}")).collect();
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        let specs = select(&args(&targets, None), &BTreeMap::new(), cfg, None).unwrap();
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let ui = Ui::new(
            "fp-test",
            &crate::cli::CommonArgs {
                quiet: true,
                ..Default::default()
            },
        );
        let results = run_on_hosts(&ui, &specs, 3, |_, spec| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            running.fetch_sub(1, Ordering::SeqCst);
            let n: u32 = spec.name[1..].parse().unwrap();
            if n == 4 {
                Err(Error::failed("down"))
            } else {
                Ok(Done(n))
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 3, "at most --jobs at once");
        assert!(most.load(Ordering::SeqCst) > 1, "more than one at once");
        let ok: Vec<u32> = results.iter().flatten().map(|d| d.0).collect();
        assert_eq!(ok, [0, 1, 2, 3, 5, 6, 7, 8]);
        let err = report(&ui, &specs, results, false, |_, _| Ok(())).unwrap_err();
        assert_eq!(err.code(), 1);
        assert_eq!(err.message(), "1 of 9 hosts failed: h4");
    }
}
