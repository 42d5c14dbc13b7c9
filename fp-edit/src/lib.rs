//! `fp-edit`: add packages to and remove them from the `paths` of a flakey-profile flake.nix,
//! as a person would edit it, then build and switch, as `fp-build | fp-switch` would.
//!
//! The edit itself is pure ([`edit`]); around it: the flake found as fp-build finds it, a lock
//! per flake, the names checked against the flake's own inputs ([`exists`]), a build of an
//! edited copy ([`copy`]) before flake.nix is replaced atomically, the switch, and git
//! ([`git`]).

pub mod copy;
pub mod drift;
pub mod edit;
pub mod exists;
pub mod git;
pub mod name;

use clap::{Args, Parser, Subcommand};
use fp_build::policy::{parse_reference, Reference};
use fp_common::cli::{AskArgs, CommonArgs, ProfileArgs};
use fp_common::config::Config;
use fp_common::error::EXIT_CODES_HELP;
use fp_common::switch::{self, Options};
use fp_common::{print_json, write_stdout, Error, Result, Ui};
use fp_nix::command::{parse_build_json, NixCommand, Stderr};
use fp_nix::lock::Lock;
use fp_nix::profile::Target;
use fp_nix::store_path::StorePath;
use name::Name;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Add and remove packages in a profile's flake.nix, then build and switch.
#[derive(Debug, Parser)]
#[command(name = "fp-edit", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    #[allow(missing_docs)]
    pub command: Command,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub profile: ProfileArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add packages to the profile's `paths`, then build and switch (like `nix profile install`).
    Add(EditArgs),
    /// Remove packages from the profile's `paths`, then build and switch.
    Remove(EditArgs),
    /// List what the flake declares, beside what the current generation has.
    List(ListArgs),
}

/// Where the flake is.
#[derive(Debug, Clone, Args)]
pub struct FlakeArgs {
    /// The flake (a directory on this machine; default: $FP_FLAKE, the config file's `flake`,
    /// then `.`). A `FLAKE#NAME` form sets the attribute too.
    #[arg(long, value_name = "FLAKE")]
    pub flake: Option<String>,

    /// The profile's attribute (default: $FP_ATTR, the config file's `attr`, then `profile`).
    #[arg(long, short = 'a', value_name = "NAME")]
    pub attr: Option<String>,
}

/// `add` and `remove`.
#[derive(Debug, Clone, Args)]
pub struct EditArgs {
    /// Packages: a nixpkgs attribute path (`ripgrep`, `python3Packages.black`) or
    /// `INPUT#ATTR` for another input of the flake.
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub flake: FlakeArgs,

    /// Override a flake input for the build, passed to nix as is; repeatable.
    #[arg(long, num_args = 2, value_names = ["INPUT", "REF"], action = clap::ArgAction::Append)]
    pub override_input: Vec<String>,

    /// Edit flake.nix (after building it) but do not switch the profile.
    #[arg(long)]
    pub no_switch: bool,

    /// Do not build (nor switch): edit flake.nix after checking it parses and the packages
    /// exist.
    #[arg(long)]
    pub no_build: bool,

    /// Print the edit as a unified diff and change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Commit flake.nix in its git repository, with a message naming what changed.
    #[arg(long)]
    pub commit: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub ask: AskArgs,

    /// Print one JSON document describing what was done on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub flake: FlakeArgs,

    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The unified diff from `old` to `new` of the file `path`, as `diff -u` prints it.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// Runs the subcommand.
pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    let config = Config::load()?;
    match &cli.command {
        Command::Add(args) => edit_flake(ui, &config, &cli, args, true),
        Command::Remove(args) => edit_flake(ui, &config, &cli, args, false),
        Command::List(args) => list(ui, &config, &cli, args),
    }
}

/// The flake on this machine that is edited.
#[derive(Debug, Clone)]
pub struct Located {
    /// The flake, as given (after `~` expansion).
    pub flake: String,
    /// The flake's directory.
    pub dir: PathBuf,
    /// Its flake.nix.
    pub file: PathBuf,
    /// The profile's attribute as given (`profile`, `packages.x86_64-linux.profile`).
    pub attr: String,
}

impl Located {
    /// The attribute's last component, the name the `lib.mkProfile` call is bound to.
    pub fn binding(&self) -> &str {
        self.attr.rsplit('.').next().unwrap_or(&self.attr)
    }
}

/// Finds the flake as fp-build does (`--flake`, `$FP_FLAKE`, the config file, `.`); it must be
/// a directory on this machine.
pub fn locate(ui: &Ui, config: &Config, args: &FlakeArgs) -> Result<Located> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::failed(format!("cannot read the current directory: {e}")))?;
    if config.no_flake_found(args.flake.as_deref(), &cwd) {
        return Err(config.no_flake_error("fp-edit", "edit", &cwd));
    }
    let target = config.installable(ui, args.flake.as_deref(), args.attr.clone())?;
    let dir = match parse_reference(&target.flake, &cwd) {
        Ok(Reference::Local { path, dir, .. }) => path.join(dir),
        _ => {
            return Err(Error::usage(format!(
                "{} is not a flake on this machine; fp-edit edits a flake.nix you can change",
                target.flake
            ))
            .with_hint("give its directory: fp-edit add --flake ~/my-profile NAME"))
        }
    };
    // As Nix does for a local flake: the directory or, in a git work tree, the nearest one
    // above it that has a flake.nix.
    let dir = if dir.join("flake.nix").is_file() {
        dir
    } else {
        fp_nix::flake_dir::flake_dir_upward(&dir).unwrap_or(dir)
    };
    let file = dir.join("flake.nix");
    if !file.is_file() {
        return Err(Error::usage(format!("{} does not exist", file.display())));
    }
    Ok(Located {
        flake: target.flake,
        dir,
        file,
        attr: target.attr,
    })
}

/// The file an edit changes: flake.nix, or the file its `paths` is imported from.
struct EditedFile {
    /// Its path.
    path: PathBuf,
    /// Its path relative to the flake's directory (`flake.nix`, `packages.nix`).
    rel: PathBuf,
    /// Its text.
    text: String,
    /// The profile's attribute when the file is flake.nix; `None` when it is the imported list.
    profile: Option<String>,
}

impl EditedFile {
    /// Where in it the lists are.
    fn target(&self) -> edit::Target<'_> {
        match &self.profile {
            Some(attr) => edit::Target::Profile(attr),
            None => edit::Target::ListFile,
        }
    }

    /// Reads flake.nix and, when the profile's `paths` is `import ./FILE ...`, that file: a
    /// relative path inside the flake's directory naming a regular file (not a link).
    fn of(located: &Located) -> Result<EditedFile> {
        let text = read(&located.file)?;
        let imported =
            edit::imported(&text, located.binding()).map_err(|r| refused(&located.file, r))?;
        let Some(written) = imported else {
            return Ok(EditedFile {
                path: located.file.clone(),
                rel: PathBuf::from("flake.nix"),
                text,
                profile: Some(located.binding().to_string()),
            });
        };
        let rel = inside_flake(&located.dir, &written).map_err(|why| {
            Error::usage(format!(
                "{}: `paths` is read from {written}, {why}; nothing was changed",
                located.file.display()
            ))
            .with_hint(format!("add the package to the list in {written} by hand"))
        })?;
        let path = located.dir.join(&rel);
        Ok(EditedFile {
            text: read(&path)?,
            path,
            rel,
            profile: None,
        })
    }
}

/// The path `written` (`./packages.nix`) relative to the flake directory `dir`, when it is a
/// regular file inside it reached without a link; else why not.
fn inside_flake(dir: &Path, written: &str) -> std::result::Result<PathBuf, &'static str> {
    use std::path::Component;
    let mut rel = PathBuf::new();
    for part in Path::new(written).components() {
        match part {
            Component::CurDir => {}
            Component::Normal(p) => rel.push(p),
            _ => return Err("which is outside the flake's directory"),
        }
    }
    if rel.as_os_str().is_empty() {
        return Err("which is the flake's directory");
    }
    // No component may be a link: each is looked at without following one.
    let mut at = dir.to_path_buf();
    for part in rel.components() {
        at.push(part);
        let meta = std::fs::symlink_metadata(&at).map_err(|_| "which does not exist")?;
        if meta.file_type().is_symlink() {
            return Err("which is reached through a symbolic link");
        }
    }
    if !std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_file()) {
        return Err("which is not a regular file");
    }
    Ok(rel)
}

/// Reads flake.nix: a regular file (a FIFO or device is refused, never waited on) of at most
/// 64 MiB, as UTF-8.
fn read(file: &Path) -> Result<String> {
    let bytes = fp_nix::limits::read_file(file)
        .map_err(|e| Error::failed(format!("cannot read {}: {e}", file.display())))??;
    String::from_utf8(bytes)
        .map_err(|_| Error::usage(format!("{} is not UTF-8 text", file.display())))
}

/// A refusal of the editing core as the tool's error (exit 2), naming file and line.
fn refused(file: &Path, r: edit::Refusal) -> Error {
    let place = if r.line == 0 {
        file.display().to_string()
    } else {
        format!("{}:{}", file.display(), r.line)
    };
    Error::usage(format!("{place}: {}; nothing was changed", r.message)).with_hint(r.hint)
}

/// The lock of one flake, held from reading flake.nix to replacing it, so two edits never
/// lose each other: a file in the cache directory named for the flake.nix's real path.
fn lock_flake(ui: &Ui, file: &Path) -> Result<Lock> {
    let real = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let digest = blake3::hash(real.as_os_str().as_encoded_bytes()).to_hex();
    // Private, as fp-build keeps the directory its cache entries are trusted in.
    let dir = fp_build::cache::dir();
    fp_nix::safe_dir::SafeDir::open_or_create(&dir, 0o700)?;
    Lock::file(ui, &dir.join(format!("edit-{}.lock", &digest[..32])))
}

/// What `fp-edit add --json` and `remove --json` print.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EditReport {
    /// The flake, as given (after `~` expansion).
    pub flake: String,
    /// The flake.nix edited.
    pub file: String,
    /// The names added (empty for remove, and for names already declared).
    pub added: Vec<String>,
    /// The names removed (empty for add).
    pub removed: Vec<String>,
    /// The edit as a unified diff (empty when nothing changes).
    pub edit: String,
    /// fp-switch's `--json` document of the switch; `null` when there was none.
    pub switch: Option<switch::Report>,
}

/// `add` (adding) or `remove`.
fn edit_flake(ui: &Ui, config: &Config, cli: &Cli, args: &EditArgs, adding: bool) -> Result<()> {
    let names: Vec<Name> = args
        .names
        .iter()
        .map(|n| name::parse(n).map_err(Error::usage))
        .collect::<Result<_>>()?;
    let located = locate(ui, config, &args.flake)?;
    let _lock = lock_flake(ui, &located.file)?;
    let edited_file = EditedFile::of(&located)?;
    let file = &edited_file.path;
    let old = &edited_file.text;
    let edited = if adding {
        edit::add_in(old, edited_file.target(), &names)
    } else {
        edit::remove_in(old, edited_file.target(), &names)
    }
    .map_err(|r| refused(file, r))?;
    for name in &edited.unchanged {
        ui.info(&format!("{name} is already declared"));
    }
    let changed: Vec<String> = edited.changed.iter().map(Name::to_string).collect();
    let mut report = EditReport {
        flake: located.flake.clone(),
        file: file.display().to_string(),
        added: if adding { changed.clone() } else { Vec::new() },
        removed: if adding { Vec::new() } else { changed.clone() },
        edit: unified_diff(&edited_file.rel.display().to_string(), old, &edited.text),
        switch: None,
    };
    if args.dry_run {
        return if args.json {
            print_json(&report)
        } else if report.edit.is_empty() {
            Ok(())
        } else {
            write_stdout(report.edit.trim_end_matches('\n'))
        };
    }
    if edited.changed.is_empty() {
        return if args.json {
            print_json(&report)
        } else {
            Ok(())
        };
    }
    let profile = if args.no_build || args.no_switch {
        None
    } else {
        let profile = config.resolve_profile(ui, cli.profile.profile.clone())?;
        profile.check_writable()?;
        Some(profile)
    };
    let copy = copy::edited_copy(&located.dir, &edited_file.rel, &edited.text)?;
    // builtins.getFlake never writes a lock file: the copy's is brought up to date first
    // (the overrides recorded in it, so the check sees what the build uses).
    let mut lock = NixCommand::nix().args(["flake", "lock"]);
    for pair in args.override_input.chunks(2) {
        lock = lock.arg("--override-input").args(pair);
    }
    lock.arg(format!("path:{}", copy.path().display()))
        .output(ui, Stderr::Capture)?;
    if adding {
        check_exist(ui, copy.path(), &edited.changed)?;
    }
    let mut built = None;
    if !args.no_build {
        let installable = format!("path:{}#{}", copy.path().display(), located.attr);
        ui.info(&format!("building the edited flake ({installable})"));
        let stdout = fp_build::build_command(&args.override_input, false, &installable, &[])
            .output(ui, Stderr::Stream)
            .map_err(|e| {
                Error::failed(format!(
                    "the edited flake does not build; {} is unchanged",
                    file.display()
                ))
                .with_hint(shorten(e.message()))
            })?;
        built = Some(parse_build_json(&stdout)?.0);
    }
    if let (Some(profile), Some(path)) = (profile, built.as_deref()) {
        let target = StorePath::parse(path)?;
        let opts = Options {
            dry_run: false,
            diff: true,
            sizes: false,
            ask: config.ask(ui, &args.ask)?,
            allow_removing_nix: false,
        };
        let switched = switch::switch(ui, &profile, &Target::StorePath(target), opts)?;
        let declined = switched.declined;
        report.switch = Some(switched);
        if declined {
            ui.info(&format!("{} is unchanged", file.display()));
            return if args.json {
                print_json(&report)
            } else {
                Ok(())
            };
        }
    }
    fp_nix::atomic_file::write(file, edited.text.as_bytes(), 0o644)?;
    let verb = if adding { "added" } else { "removed" };
    ui.info(&format!(
        "{verb} {} in {}",
        changed.join(", "),
        file.display()
    ));
    git::after_edit(
        ui,
        &located.dir,
        file,
        args.commit,
        &git::message(adding, &edited.changed),
    )?;
    if args.json {
        print_json(&report)?;
    }
    Ok(())
}

/// The last lines of a long nix error: what went wrong is at its end.
fn shorten(message: &str) -> String {
    let lines: Vec<&str> = message.lines().collect();
    let start = lines.len().saturating_sub(12);
    lines[start..].join("\n")
}

/// Checks, with one `nix eval`, that every name exists in the flake's inputs; the error names
/// the missing ones with suggestions.
fn check_exist(ui: &Ui, dir: &Path, names: &[Name]) -> Result<()> {
    let flake_ref = format!("path:{}", dir.display());
    let expr = exists::expr(&flake_ref, names).map_err(|e| Error::usage(e.to_string()))?;
    let stdout = NixCommand::nix()
        .args(["eval", "--json", "--impure", "--expr"])
        .arg(expr)
        .output(ui, Stderr::Capture)?;
    let answers = exists::parse(&stdout, names.len()).ok_or_else(|| {
        Error::failed("nix eval answered something unexpected about the packages")
    })?;
    let missing: Vec<String> = names
        .iter()
        .zip(&answers)
        .filter_map(|(n, a)| exists::missing_message(n, a))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{}; nothing was changed",
        missing.join("\n")
    )))
}

/// What `fp-edit list --json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListReport {
    /// The flake, as given (after `~` expansion).
    pub flake: String,
    /// The flake.nix read.
    pub file: String,
    /// Its entries, as written.
    pub declared: Vec<DeclaredEntry>,
    /// The packages of the profile's current generation, when it has one.
    pub installed: Vec<InstalledEntry>,
    /// Whether the profile has a current generation (else nothing is drift).
    pub has_generation: bool,
}

/// One declared entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeclaredEntry {
    /// As written.
    pub text: String,
    /// The package name it stands for, when plain.
    pub name: Option<String>,
    /// Whether it is in a conditional list (`lib.optionals`) or made by a function.
    #[serde(skip)]
    pub conditional: bool,
    /// Its line in flake.nix.
    pub line: usize,
    /// Whether the current generation has the package it stands for (`false` is drift:
    /// declared, not installed; always `false` without a generation).
    pub in_generation: bool,
}

/// One package of the current generation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstalledEntry {
    /// `name-version` (the name alone when it has no version).
    pub package: String,
    /// Its name, as `builtins.parseDrvName` splits the store path.
    pub name: String,
    /// Whether a declared entry stands for it (`false` is drift: installed, not declared).
    pub declared: bool,
}

/// `list`: the declared entries beside the current generation's packages.
fn list(ui: &Ui, config: &Config, cli: &Cli, args: &ListArgs) -> Result<()> {
    let located = locate(ui, config, &args.flake)?;
    let edited_file = EditedFile::of(&located)?;
    let entries = edit::declared_in(&edited_file.text, edited_file.target())
        .map_err(|r| refused(&edited_file.path, r))?;
    let profile = config.resolve_profile(ui, cli.profile.profile.clone())?;
    let generation = match std::fs::canonicalize(profile.path()) {
        Ok(path) => Some(fp_nix::diff::packages_of(ui, &path.to_string_lossy())?),
        Err(_) => None,
    };
    let has_generation = generation.is_some();
    let packages = generation.unwrap_or_default();
    let sides: Vec<(Option<&str>, &str)> = entries
        .iter()
        .map(|e| (e.key.as_deref(), e.text.as_str()))
        .collect();
    let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let (in_generation, declared) = drift::compare(&sides, &names);
    let report = ListReport {
        flake: located.flake.clone(),
        file: edited_file.path.display().to_string(),
        declared: entries
            .into_iter()
            .zip(in_generation)
            .map(|(e, in_generation)| DeclaredEntry {
                text: e.text,
                name: e.key,
                conditional: e.conditional,
                line: e.line,
                in_generation,
            })
            .collect(),
        installed: packages
            .iter()
            .zip(declared)
            .map(|(p, declared)| InstalledEntry {
                package: if p.version.is_empty() {
                    p.name.clone()
                } else {
                    format!("{}-{}", p.name, p.version)
                },
                name: p.name.clone(),
                declared,
            })
            .collect(),
        has_generation,
    };
    if args.json {
        return print_json(&report);
    }
    write_stdout(&render_list(&report))
}

/// The list for people: the declared entries (as written), then the generation's packages,
/// each drifting one marked (`-` declared but not in the generation, `+` in the generation but
/// not declared) and a legend under them when one is.
pub fn render_list(report: &ListReport) -> String {
    let mut out = format!("declared in {}:\n", report.file);
    let mut drift = false;
    for e in &report.declared {
        let note = if e.conditional { "  (conditional)" } else { "" };
        let one_line = e.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mark = if report.has_generation && !e.in_generation {
            drift = true;
            "-"
        } else {
            " "
        };
        out.push_str(&format!("{mark} {one_line}{note}\n"));
    }
    if report.declared.is_empty() {
        out.push_str("  (nothing)\n");
    }
    out.push_str("in the current generation:\n");
    for p in &report.installed {
        let mark = if p.declared {
            " "
        } else {
            drift = true;
            "+"
        };
        out.push_str(&format!("{mark} {}\n", p.package));
    }
    if !report.has_generation {
        out.push_str("  (no generation yet)\n");
    } else if report.installed.is_empty() {
        out.push_str("  (nothing)\n");
    }
    if drift {
        out.push_str(
            "legend: - declared, not in the current generation; + in the generation, not declared \
             (fp-build | fp-switch makes the generation what the flake declares)\n",
        );
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(name: &str, version: &str, declared: bool) -> InstalledEntry {
        InstalledEntry {
            package: format!("{name}-{version}"),
            name: name.into(),
            declared,
        }
    }

    #[test]
    fn the_list_for_people() {
        let report = ListReport {
            flake: "~/profile".into(),
            file: "/home/alice/profile/flake.nix".into(),
            declared: vec![
                DeclaredEntry {
                    text: "ripgrep".into(),
                    name: Some("ripgrep".into()),
                    conditional: false,
                    line: 12,
                    in_generation: true,
                },
                DeclaredEntry {
                    text: "(nix-direnv.override {\n  enableFlakes = true;\n})".into(),
                    name: None,
                    conditional: false,
                    line: 13,
                    in_generation: true,
                },
                DeclaredEntry {
                    text: "strace".into(),
                    name: Some("strace".into()),
                    conditional: true,
                    line: 17,
                    in_generation: false,
                },
            ],
            installed: vec![
                installed("ripgrep", "14.1.0", true),
                installed("nix-direnv", "3.0.6", true),
                installed("cowsay", "3.7.0", false),
            ],
            has_generation: true,
        };
        insta::assert_snapshot!(render_list(&report));
        let empty = ListReport {
            flake: ".".into(),
            file: "flake.nix".into(),
            declared: vec![],
            installed: vec![],
            has_generation: false,
        };
        insta::assert_snapshot!(render_list(&empty));
        let in_step = ListReport {
            flake: ".".into(),
            file: "flake.nix".into(),
            declared: vec![DeclaredEntry {
                text: "pkgs.hello".into(),
                name: Some("hello".into()),
                conditional: false,
                line: 3,
                in_generation: true,
            }],
            installed: vec![installed("hello", "2.12", true)],
            has_generation: true,
        };
        insta::assert_snapshot!(render_list(&in_step));
    }

    #[test]
    fn refusals_name_file_and_line() {
        let r = edit::Refusal {
            line: 7,
            message: "`paths` is computed".into(),
            hint: "add it by hand".into(),
        };
        let e = refused(Path::new("/p/flake.nix"), r);
        assert_eq!(e.code(), 2);
        assert_eq!(
            e.message(),
            "/p/flake.nix:7: `paths` is computed; nothing was changed"
        );
        assert_eq!(e.hint(), Some("add it by hand"));
    }
}
