//! `fp-build`: build a profile flake with `nix build --no-link --json` and print the store path.
//!
//! The product (the store path, or with `--json` one JSON document) is the only thing on
//! stdout, so `fp-build | fp-switch` is safe; nix's progress streams to stderr live.
//!
//! A build whose inputs have not changed since the last one prints the recorded result without
//! running nix: see [`cache`] for where results are kept, [`policy`] for what may be cached and
//! [`collect`] and [`fingerprint`] for the key.

pub mod cache;
pub mod collect;
pub mod fingerprint;
pub mod hints;
pub mod policy;

use clap::Parser;
use fp_common::cli::CommonArgs;
use fp_common::config::Config;
use fp_common::error::EXIT_CODES_HELP;
use fp_common::{print_json, write_stdout, Error, Result, Ui};
use fp_nix::command::{nix_version, parse_build_json, NixCommand, NixVersion, Stderr};
use fp_nix::installable::Installable;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Build the profile of a flake and print its store path.
#[derive(Debug, Parser)]
#[command(name = "fp-build", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// The flake to build (default: $FP_FLAKE, the config file's `flake`, then `.`). A
    /// `FLAKE#NAME` form sets the attribute too.
    #[arg(value_name = "FLAKE")]
    pub flake: Option<String>,

    /// The attribute to build: `packages.<system>.NAME` and the other places nix looks; with
    /// --file, the attribute path in the file (default: $FP_ATTR, the config file's `attr`,
    /// then `profile`).
    #[arg(long, short = 'a', short_alias = 'A', value_name = "NAME")]
    pub attr: Option<String>,

    /// Build an attribute of this Nix file (or of a directory's default.nix) instead of a
    /// flake, as `nix build -f FILE ATTR` does: a profile without flakes.
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with_all = ["flake", "override_input", "update"])]
    pub file: Option<String>,

    /// Override a flake input, passed to nix as is; repeatable.
    #[arg(long, num_args = 2, value_names = ["INPUT", "REF"], action = clap::ArgAction::Append)]
    pub override_input: Vec<String>,

    /// Update the flake's lock file (all inputs) before building.
    #[arg(long)]
    pub update: bool,

    /// Stream full build logs to stderr (nix's -L).
    #[arg(short = 'L', long = "print-build-logs")]
    pub print_build_logs: bool,

    /// Print one JSON document: flake, installable, storePath, drvPath.
    #[arg(long)]
    pub json: bool,

    /// Build even if nothing changed since the last build. Otherwise, when nothing the build
    /// depends on changed (the flake's files, flake.lock, the overrides, Nix and its settings),
    /// the result recorded in $XDG_CACHE_HOME/flakey-profile/ is printed without running nix;
    /// `-v` says why it was or was not.
    #[arg(long, visible_alias = "no-cache")]
    pub refresh: bool,

    /// Arguments after `--` are passed to `nix build`.
    #[arg(last = true, value_name = "NIX_ARGS")]
    pub nix_args: Vec<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// What `fp-build --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildReport {
    /// The flake, as given (after `~` expansion); absent for a `--file` build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flake: Option<String>,
    /// The file of a `--file` build, as given; absent for a flake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `FLAKE#NAME`, or the attribute path of a `--file` build.
    pub installable: String,
    /// The built output.
    pub store_path: String,
    /// Its derivation.
    pub drv_path: String,
}

/// Builds the profile and prints its store path (or the JSON report).
pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    let config = Config::load()?;
    if let Some(file) = cli.file.clone() {
        return run_file(cli, ui, &config, file);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    if config.no_flake_found(cli.flake.as_deref(), &cwd) {
        return Err(config.no_flake_error("fp-build", "build", &cwd));
    }
    if cli.flake.is_none() {
        note_flake_here_not_built(ui, &config, &cwd);
    }
    let target = config.installable(ui, cli.flake.as_deref(), cli.attr)?;
    let (flake, attr, installable) = (target.flake, target.attr, target.installable);

    if let Some(dir) = hints::local_flake_dir(&flake, &cwd) {
        if !dir.is_dir() {
            return Err(Error::usage(format!(
                "the flake directory {} does not exist",
                dir.display()
            ))
            .with_hint("name the directory of your profile flake: fp-build DIR, or flake = \"DIR\" in config.toml"));
        }
    }

    if cli.update {
        note_uncommitted(ui, &flake, &cwd);
        update(ui, &flake, &cwd, &cli.override_input)?;
    }

    let request = collect::Request {
        flake: &flake,
        attr: &attr,
        overrides: &cli.override_input,
        nix_args: &cli.nix_args,
    };
    let cwd = std::env::current_dir()
        .map_err(|e| Error::failed(format!("cannot read the current directory: {e}")))?;
    let cached = match collect::collect(ui, &request, &cwd) {
        Ok(collection) => Some(Cached::new(collection)),
        Err(why) => {
            ui.verbose(&format!("cache: not used: {why}"));
            None
        }
    };
    let recorded = cached
        .as_ref()
        .and_then(|c| match skip_lookup(cli.refresh, cli.update) {
            Some(why) => {
                ui.verbose(&format!("cache: not looked up: {why}"));
                None
            }
            None => c.lookup(ui, cli.json),
        });
    if let Some(entry) = recorded {
        ui.info(&format!(
            "{installable} is unchanged since its last build: not running nix (--refresh builds anyway)"
        ));
        return print_report(
            cli.json,
            BuildReport {
                flake: Some(flake),
                file: None,
                installable,
                store_path: entry.store_path,
                drv_path: entry.drv_path,
            },
        );
    }

    ui.info(&format!("building {installable}"));
    let mut build = build_command(
        &cli.override_input,
        cli.print_build_logs,
        &installable,
        &cli.nix_args,
    );
    if cli.update {
        // The update has given Nix's warning about a dirty tree already.
        build = build.without_dirty_warning();
    } else {
        note_uncommitted(ui, &flake, &cwd);
    }
    let stdout = build
        .output(ui, Stderr::Stream)
        .map_err(|e| with_failure_hint(ui, e, &flake, &attr, &cwd, &cli.override_input))?;
    let (store_path, drv_path) = parse_build_json(&stdout)?;
    if let Some(c) = cached {
        c.record(ui, &request, &cwd, &store_path, &drv_path);
    }
    print_report(
        cli.json,
        BuildReport {
            flake: Some(flake),
            file: None,
            installable,
            store_path,
            drv_path,
        },
    )
}

/// Builds attribute `attr` of a Nix file (`nix build -f FILE ATTR`), a profile without flakes.
/// Such a build is never taken from the cache: evaluated impurely, what a file depends on
/// (`<nixpkgs>` through `NIX_PATH`, any path, downloads without a hash, the environment, and
/// the config files and overlays nixpkgs itself reads when imported) cannot be listed the way a
/// flake's files and lock file can, and Nix's restricted mode cannot tell a pinned download
/// from an unpinned one.
fn run_file(cli: Cli, ui: &Ui, config: &Config, file: String) -> Result<()> {
    let file = fp_common::config::expand_tilde(&file);
    let attr = config.attr(cli.attr);
    fp_common::config::explain(ui, "attr", &attr);
    ui.verbose("cache: not used: a --file build is evaluated impurely and can read anything (<nixpkgs>, NIX_PATH, other files, the environment, nixpkgs' own config files), which fp-build cannot list, so it is built every time");
    ui.info(&format!("building {} from {file}", attr.value));
    let stdout = file_build_command(&file, &attr.value, cli.print_build_logs, &cli.nix_args)
        .output(ui, Stderr::Stream)?;
    let (store_path, drv_path) = parse_build_json(&stdout)?;
    print_report(
        cli.json,
        BuildReport {
            flake: None,
            file: Some(file),
            installable: attr.value,
            store_path,
            drv_path,
        },
    )
}

/// `nix build --no-link --json [-L] --file FILE ATTR [NIX_ARGS...]`.
pub fn file_build_command(file: &str, attr: &str, logs: bool, extra: &[String]) -> NixCommand {
    let mut cmd = NixCommand::nix().args(["build", "--no-link", "--json"]);
    if logs {
        cmd = cmd.arg("--print-build-logs");
    }
    let installable = Installable::File {
        file: file.to_string(),
        attr: attr.to_string(),
    };
    cmd.args(installable.args("")).args(extra)
}

/// Why a run does not look for a recorded result, if it does not: `--refresh` asks for a build,
/// and after `--update` the inputs were just fetched anew. Both still record what they build.
pub fn skip_lookup(refresh: bool, update: bool) -> Option<&'static str> {
    if refresh {
        Some("--refresh builds anyway")
    } else if update {
        Some("--update has just updated the lock file")
    } else {
        None
    }
}

/// Prints the product: the store path, or with `--json` the report.
fn print_report(json: bool, report: BuildReport) -> Result<()> {
    if json {
        print_json(&report)
    } else {
        write_stdout(&report.store_path)
    }
}

/// A cacheable build: its collected inputs, key and entry file.
struct Cached {
    collection: collect::Collection,
    key: fingerprint::Fingerprint,
    path: PathBuf,
}

impl Cached {
    fn new(collection: collect::Collection) -> Cached {
        let key = fingerprint::fingerprint(&collection.collected);
        let path = cache::entry_path(&cache::dir(), &collection.identity);
        Cached {
            collection,
            key,
            path,
        }
    }

    /// The recorded entry, when it answers this build; `-v` says why not otherwise.
    fn lookup(&self, ui: &Ui, needs_drv: bool) -> Option<cache::Entry> {
        let entry = cache::load(&self.path).unwrap_or_else(|why| {
            ui.verbose(&format!("cache: ignoring an unusable entry: {why}"));
            None
        });
        let now = entry.as_ref().map_or(
            cache::StoreNow {
                store: None,
                drv: None,
            },
            |e| cache::StoreNow {
                store: cache::file_id(Path::new(&e.store_path)),
                drv: cache::file_id(Path::new(&e.drv_path)),
            },
        );
        match cache::judge(entry.as_ref(), &self.key, now, needs_drv) {
            cache::Lookup::Hit => {
                ui.verbose(&format!("cache: hit ({})", self.path.display()));
                entry
            }
            cache::Lookup::Miss(why) => {
                ui.verbose(&format!("cache: miss: {why}"));
                None
            }
        }
    }

    /// With overrides Nix writes no lock file, so the lock file must already pin every input
    /// that is not overridden; asks Nix for the lock it computes (`nix flake metadata --json`,
    /// one evaluation of the inputs, not the outputs) and compares.
    fn check_lock_with_overrides(&self, ui: &Ui, request: &collect::Request) -> Result<(), String> {
        let Some(lock) = &self.collection.collected.lock else {
            return Err(
                "the lock file of a remote flake cannot be checked against overrides".into(),
            );
        };
        let mut cmd = NixCommand::nix()
            .args(["flake", "metadata", "--json"])
            .arg(request.flake);
        for pair in request.overrides.chunks(2) {
            cmd = cmd.arg("--override-input").args(pair);
        }
        let text = cmd
            .output(ui, Stderr::Capture)
            .map_err(|e| format!("cannot read the lock Nix computes: {}", e.message()))?;
        let metadata: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("nix flake metadata printed no JSON: {e}"))?;
        let inputs: Vec<&str> = request
            .overrides
            .chunks(2)
            .map(|pair| pair[0].as_str())
            .collect();
        match policy::unwritten_input(lock, &metadata["locks"], &inputs) {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }

    /// Records a finished build, if nothing it depends on changed while nix ran (an edit during
    /// the build, or a lock file nix wrote, would make the key describe something else).
    fn record(
        self,
        ui: &Ui,
        request: &collect::Request,
        cwd: &Path,
        store_path: &str,
        drv_path: &str,
    ) {
        let after = match collect::collect(ui, request, cwd) {
            Ok(c) => fingerprint::fingerprint(&c.collected),
            Err(why) => {
                ui.verbose(&format!("cache: not recorded: {why}"));
                return;
            }
        };
        let changed = after.changed_since(&self.key.parts);
        if !changed.is_empty() {
            ui.verbose(&format!(
                "cache: not recorded: changed during the build: {}",
                changed.join(", ")
            ));
            return;
        }
        if !request.overrides.is_empty() {
            if let Err(why) = self.check_lock_with_overrides(ui, request) {
                ui.verbose(&format!("cache: not recorded: {why}"));
                return;
            }
        }
        let Some(store_id) = cache::file_id(Path::new(store_path)) else {
            ui.verbose(&format!("cache: not recorded: {store_path} is not there"));
            return;
        };
        let entry = cache::Entry {
            version: cache::ENTRY_VERSION,
            identity: self.collection.identity.replace('\0', " "),
            fingerprint: self.key.parts,
            store_path: store_path.to_string(),
            drv_path: drv_path.to_string(),
            store_id,
            drv_id: cache::file_id(Path::new(drv_path)),
        };
        match cache::save(&self.path, &entry) {
            Ok(()) => ui.verbose(&format!("cache: recorded in {}", self.path.display())),
            // A cache directory someone else controls (left root's by an old `sudo fp-build`,
            // or shared) would silently cost every build its cache: say so.
            Err(e) if fp_nix::safe_dir::is_trust_refusal(&e) => ui.warn(&format!(
                "results are not cached: {}\n  hint: {}",
                e.message(),
                e.hint().unwrap_or_default()
            )),
            Err(e) => ui.verbose(&format!("cache: not recorded: {}", e.message())),
        }
    }
}

/// Says, before the first nix command of a run on a git work tree with uncommitted changes,
/// what Nix's warning that the tree is dirty means, in fp-build's words (Nix gives that warning
/// once per run: the commands after the first are run without it).
fn note_uncommitted(ui: &Ui, flake: &str, cwd: &Path) {
    if ui.is_quiet() {
        return;
    }
    if let Some(root) = hints::git_work_tree(flake, cwd) {
        if hints::has_uncommitted_changes(ui, &root) {
            ui.note(&format!(
                "the flake's git tree {} has uncommitted changes; Nix builds them as they are (and warns that the tree is dirty)",
                root.display()
            ));
        }
    }
}

/// When `$FP_FLAKE` or the config file names the flake and the current directory (or one
/// above it) has another flake.nix, says which one is built and why: the configured one wins.
fn note_flake_here_not_built(ui: &Ui, config: &Config, cwd: &Path) {
    let configured = config.flake(None);
    if configured.source == fp_common::config::Origin::Default {
        return;
    }
    let Some(here) = fp_nix::flake_dir::flake_dir_upward(cwd) else {
        return;
    };
    let same = hints::local_flake_dir(&configured.value, cwd)
        .and_then(|d| std::fs::canonicalize(d).ok())
        == std::fs::canonicalize(&here).ok();
    if !same {
        ui.note(&format!(
            "building {} (from {}), not the flake.nix in {}: a configured flake wins over the current directory; fp-build {} builds that one",
            configured.value,
            configured.source,
            here.display(),
            fp_nix::command::shell_quote(&here.display().to_string())
        ));
    }
}

/// Adds to a failed build's error what fp-build can tell about it: flake files git does not
/// track (Nix copies only tracked files), else an attribute the flake does not have.
fn with_failure_hint(
    ui: &Ui,
    error: Error,
    flake: &str,
    attr: &str,
    cwd: &Path,
    overrides: &[String],
) -> Error {
    if error.code() == fp_nix::error::EXIT_INTERRUPTED {
        return error;
    }
    let dir =
        hints::local_flake_dir(flake, cwd).and_then(|d| fp_nix::flake_dir::flake_dir_upward(&d));
    if let Some(hint) = dir.and_then(|d| hints::untracked_hint(ui, &d)) {
        return error.with_hint(hint);
    }
    let system = fp_nix::command::host_system();
    match hints::package_names(ui, flake, &system, overrides)
        .and_then(|names| hints::attribute_hint(attr, &system, &names))
    {
        Some(hint) => error.with_hint(hint),
        None => error,
    }
}

/// Updates the lock file of `flake` before the build. Inputs given with `--override-input`
/// are left as they are locked (the override is for this build only, and updating them would
/// fetch what the build does not use); every other top-level input is updated.
fn update(ui: &Ui, flake: &str, cwd: &Path, overrides: &[String]) -> Result<()> {
    let version = nix_version(ui)?;
    if overrides.is_empty() {
        ui.info(&format!("updating the lock file of {flake}"));
        update_command(version, flake).output(ui, Stderr::Stream)?;
        return Ok(());
    }
    let overridden: Vec<&str> = overrides
        .chunks(2)
        .map(|pair| pair[0].split('/').next().unwrap_or_default())
        .collect();
    let lock =
        hints::local_flake_dir(flake, cwd).and_then(|d| std::fs::read(d.join("flake.lock")).ok());
    let Some(lock) = lock else {
        ui.info(&format!(
            "not updating {flake}: it has no flake.lock here to update (Nix locks its inputs as it builds)"
        ));
        return Ok(());
    };
    let inputs: Vec<String> = policy::root_inputs(&lock)
        .into_iter()
        .filter(|i| !overridden.contains(&i.as_str()))
        .collect();
    if inputs.is_empty() {
        ui.info("not updating the lock file: every input is overridden for this build");
        return Ok(());
    }
    ui.info(&format!(
        "updating {} in the lock file of {flake} (not the overridden {})",
        inputs.join(", "),
        overridden.join(", ")
    ));
    update_inputs_command(version, flake, &inputs).output(ui, Stderr::Stream)?;
    Ok(())
}

/// The command that updates the inputs `inputs` of `flake`'s lock file and no other, for this
/// Nix (`nix flake update --flake FLAKE I...` where `nix flake update` takes input names, as
/// [`NixVersion::flake_update_has_flake_option`] decides, where `--update-input` is deprecated;
/// `nix flake lock FLAKE --update-input I...` before).
pub fn update_inputs_command(version: NixVersion, flake: &str, inputs: &[String]) -> NixCommand {
    if version.flake_update_has_flake_option() {
        NixCommand::nix()
            .args(["flake", "update", "--flake", flake])
            .args(inputs)
    } else {
        let mut cmd = NixCommand::nix().args(["flake", "lock", flake]);
        for input in inputs {
            cmd = cmd.args(["--update-input", input.as_str()]);
        }
        cmd
    }
}

/// `nix build --no-link --json [-L] [--override-input I R]... INSTALLABLE [NIX_ARGS...]`.
pub fn build_command(
    overrides: &[String],
    logs: bool,
    installable: &str,
    extra: &[String],
) -> NixCommand {
    let mut cmd = NixCommand::nix().args(["build", "--no-link", "--json"]);
    if logs {
        cmd = cmd.arg("--print-build-logs");
    }
    for pair in overrides.chunks(2) {
        cmd = cmd.arg("--override-input").args(pair);
    }
    cmd.arg(installable).args(extra)
}

/// The command that updates every input of `flake`'s lock file, for this Nix
/// (`nix flake update --flake FLAKE` where it has `--flake`,
/// [`NixVersion::flake_update_has_flake_option`]; else `nix flake update FLAKE`).
pub fn update_command(version: NixVersion, flake: &str) -> NixCommand {
    let cmd = NixCommand::nix().args(["flake", "update"]);
    if version.flake_update_has_flake_option() {
        cmd.args(["--flake", flake])
    } else {
        cmd.arg(flake)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_command_line() {
        let cmd = build_command(
            &["nixpkgs".into(), "path:/x y".into()],
            true,
            ".#profile",
            &["--impure".into()],
        );
        assert_eq!(
            cmd.display(),
            "nix --extra-experimental-features 'nix-command flakes' build --no-link --json --print-build-logs --override-input nixpkgs 'path:/x y' .#profile --impure"
        );
    }

    #[test]
    fn file_build_command_line() {
        let cmd = file_build_command("./my dir", "profile", false, &["--impure".into()]);
        assert_eq!(
            cmd.display(),
            "nix --extra-experimental-features 'nix-command flakes' build --no-link --json --file './my dir' profile --impure"
        );
    }

    #[test]
    fn refresh_and_update_skip_the_lookup() {
        assert_eq!(skip_lookup(false, false), None);
        assert!(skip_lookup(true, false).unwrap().contains("--refresh"));
        assert!(skip_lookup(false, true).unwrap().contains("--update"));
    }

    #[test]
    fn update_adapts_to_version() {
        assert_eq!(
            update_command(NixVersion::new(2, 8, 0), "/f")
                .argv()
                .last()
                .unwrap(),
            "/f"
        );
        let new = update_command(NixVersion::new(2, 24, 0), "/f");
        let args: Vec<_> = new
            .argv()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.ends_with(&["update".into(), "--flake".into(), "/f".into()]),
            "{args:?}"
        );
    }
}
