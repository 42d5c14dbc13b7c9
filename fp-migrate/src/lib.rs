//! `fp-migrate`: turn a `nix profile` (manifest version 1, 2 or 3, or `nix profile list --json`)
//! or a nix-env profile into a flake.nix that flakey-profile builds into the same profile.
//!
//! The flake.nix is the only thing on stdout, so `fp-migrate > flake.nix` is safe; what people
//! must know (outputs, priorities, inactive and source-less elements, guesses) goes to stderr
//! as `fp-migrate: warning:` lines and into the flake as comments. Invalid input is exit 2 with
//! nothing on stdout.

pub mod attr_path;
pub mod flake_ref;
pub mod generate;
pub mod manifest;

use clap::Parser;
use fp_common::cli::CommonArgs;
use fp_common::error::EXIT_CODES_HELP;
use fp_common::{Error, Result, Ui};
use manifest::Manifest;
use std::io::IsTerminal;
use std::path::PathBuf;

pub use generate::{migrate, Migration, Options, DEFAULT_LIB_URL, DEFAULT_NIXPKGS_URL};

/// Turn a nix profile into a flake.nix for flakey-profile, printed on stdout.
///
/// INPUT is `nix profile list --json` output, a profile's manifest.json (version 1, 2 or 3), or
/// the text `nix profile list` printed before Nix 2.17, read from a file, or from stdin when
/// INPUT is `-` or absent. `--profile PATH` reads the profile's manifest.json, or a nix-env
/// profile's manifest.nix, instead.
#[derive(Debug, Parser)]
#[command(
    name = "fp-migrate",
    version,
    about,
    after_help = EXIT_CODES_HELP,
    after_long_help = concat!(
        "Examples:\n",
        "  fp-migrate --profile ~/.nix-profile > flake.nix\n",
        "  nix profile list --json | fp-migrate > flake.nix   (before Nix 2.17: nix profile list | fp-migrate)\n",
        "  fp-build && fp-build | fp-switch\n\n",
        "Exit codes:\n",
        "  0  success, also \"nothing to migrate\" (a flakey profile with nothing added outside it:\n",
        "     nothing is printed)\n",
        "  1  the operation failed (nix failed, a file could not be read)\n",
        "  2  usage error or invalid input (bad flag, bad JSON, unknown manifest version, a manifest.nix\n",
        "     Nix cannot read, not a profile)"
    )
)]
pub struct Cli {
    /// A manifest.json, `nix profile list --json` output or the text of an older `nix profile
    /// list`; `-` or absent: stdin.
    #[arg(value_name = "INPUT", conflicts_with = "profile")]
    pub input: Option<String>,

    /// Read this profile (a profile link such as ~/.nix-profile, a generation, or its store
    /// path): its manifest.json, or for a nix-env profile its manifest.nix.
    #[arg(long, short = 'p', value_name = "PATH")]
    pub profile: Option<PathBuf>,

    /// Use the original flake references (`flake:nixpkgs`) as input urls instead of the locked
    /// ones, so the first build takes the newest revisions instead of the profile's.
    #[arg(long)]
    pub unlocked: bool,

    /// The system the flake builds for (default: the one in the manifest's attribute paths,
    /// else this machine's).
    #[arg(long, value_name = "SYSTEM")]
    pub system: Option<String>,

    /// Write a default.nix instead of a flake.nix: the sources fetched with
    /// `builtins.fetchTarball` (pinned by hash where the profile recorded one), for a profile
    /// without flakes (`nix run -f . profile.switch`, `fp-build -f .`).
    #[arg(long)]
    pub no_flake: bool,

    /// The url of the flakey-profile input.
    #[arg(long, value_name = "URL", default_value = DEFAULT_LIB_URL)]
    pub lib_url: String,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

/// Reads the profile, writes the flake.nix to stdout and the warnings to stderr.
pub fn run(cli: Cli, ui: &Ui) -> Result<()> {
    let mut manifest = read_input(&cli, ui)?;
    let mut header = String::new();
    if let Some(profile) = &cli.profile {
        if let Some(declared) = declared_by_flakey_profile(profile) {
            let before = manifest.elements.len();
            manifest.elements.retain(|e| {
                !e.store_paths
                    .iter()
                    .all(|p| declared.paths.contains(p.as_str()))
            });
            let kept = manifest.elements.len();
            if kept == 0 {
                ui.info(&format!(
                    "nothing to migrate: every package of this profile ({}) is declared by your flake ({}), and none was added outside flakey-profile; nothing is printed",
                    before,
                    declared.origin
                ));
                return Ok(());
            }
            ui.note(&format!(
                "{} of this profile {} declared by your flake ({}); only the {} added outside flakey-profile {} migrated",
                plural(before - kept, "package"),
                if before - kept == 1 { "is" } else { "are" },
                declared.origin,
                plural(kept, "package"),
                if kept == 1 { "is" } else { "are" }
            ));
            header = format!(
                "# Packages added to this profile outside flakey-profile (nix profile install),\n# after {}. Add the lines of `paths` below to your own flake.nix.\n",
                declared.origin
            );
        }
    }
    let mut options = Options {
        system: cli.system.clone(),
        host_system: fp_nix::command::host_system(),
        unlocked: cli.unlocked,
        lib_url: cli.lib_url.clone(),
        existing: None,
        no_flake: cli.no_flake,
    };
    options.existing = ask_which_paths_exist(ui, &generate::questions(&manifest, &options));
    let migration = migrate(&manifest, &options)?;
    for warning in &migration.warnings {
        ui.warn(warning);
    }
    fp_common::write_stdout(&format!(
        "{header}{}",
        migration.flake.trim_end_matches('\n')
    ))?;
    let mut summary = format!(
        "{} for {} from {}",
        plural(migration.packages, "package"),
        migration.system,
        plural(migration.inputs.len() - 1, "input")
    );
    if migration.commented > 0 {
        summary.push_str(&format!(
            "; {} kept only as {}",
            plural(migration.commented, "element"),
            if migration.commented == 1 {
                "a comment"
            } else {
                "comments"
            }
        ));
    }
    ui.note(&summary);
    if !cli.no_flake {
        ui.note("then add and remove packages with `fp add NAME` and `fp remove NAME`, which edit flake.nix and switch (README: Adding and removing packages)");
    }
    Ok(())
}

/// The store paths a flakey-profile generation of this profile declared, and which one.
struct Declared {
    /// `generation 3`, or `the env` when the profile itself is one of ours.
    origin: String,
    /// The store paths listed in that env's marker.
    paths: std::collections::HashSet<String>,
}

/// What flakey-profile declared in this profile: the env itself when it is one of ours, else
/// the newest generation made by flakey-profile. `None` for profiles it never touched.
fn declared_by_flakey_profile(profile: &std::path::Path) -> Option<Declared> {
    use fp_nix::env_marker;
    let (origin, marker) = match env_marker::read(profile) {
        Some(marker) => ("the current generation".to_string(), marker),
        None => fp_nix::generation::list(profile)
            .ok()?
            .iter()
            .rev()
            .find_map(|g| {
                let marker = env_marker::read(std::path::Path::new(&g.store_path))?;
                Some((format!("generation {}", g.generation), marker))
            })?,
    };
    Some(Declared {
        origin,
        paths: marker.store_paths.into_iter().collect(),
    })
}

/// Asks Nix, in one evaluation, which readings of the ambiguous attribute paths exist in their
/// flakes. `None` when there is nothing to ask or Nix cannot answer (the flake cannot be
/// fetched, say): the migration then takes the likeliest reading and says so.
fn ask_which_paths_exist(
    ui: &Ui,
    questions: &[attr_path::Question],
) -> Option<std::collections::BTreeSet<(String, Vec<String>)>> {
    if questions.is_empty() {
        return None;
    }
    let expr = attr_path::exists_expr(questions).ok()?;
    let answer = fp_nix::command::NixCommand::nix()
        .args(["eval", "--impure", "--json", "--expr", &expr])
        .output(ui, fp_nix::command::Stderr::Capture)
        .map_err(|e| {
            ui.verbose(&format!(
                "Nix could not say which attribute paths exist: {}",
                e.message()
            ))
        })
        .ok()?;
    let existing = attr_path::parse_answer(&answer, questions)?;
    Some(
        questions
            .iter()
            .zip(existing)
            .flat_map(|(q, paths)| paths.into_iter().map(|p| (q.url.clone(), p)))
            .collect(),
    )
}

/// `1 input`, `2 inputs`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The pipeline that feeds `nix profile list` to fp-migrate on the running Nix: with `--json`
/// where `nix profile list --help` lists it (Nix 2.17 and later), else the plain text, which
/// older Nix prints one line per element and fp-migrate reads.
fn list_pipeline(ui: &Ui) -> &'static str {
    let help = fp_nix::command::NixCommand::nix()
        .args(["profile", "list", "--help"])
        .output(ui, fp_nix::command::Stderr::Capture);
    match help {
        Ok(text) if has_json_flag(&text) => "nix profile list --json | fp-migrate",
        Ok(_) => "nix profile list | fp-migrate",
        Err(_) => {
            "nix profile list --json | fp-migrate (before Nix 2.17: nix profile list | fp-migrate)"
        }
    }
}

/// Whether a command's `--help` text lists a `--json` option.
pub fn has_json_flag(help: &str) -> bool {
    help.split(|c: char| c.is_whitespace() || c == '`' || c == ',')
        .any(|word| word == "--json")
}

/// Reads the manifest from `--profile`, INPUT or stdin.
fn read_input(cli: &Cli, ui: &Ui) -> Result<Manifest> {
    if let Some(profile) = &cli.profile {
        return manifest::read_profile(ui, profile);
    }
    match cli.input.as_deref() {
        None | Some("-") => {
            let stdin = std::io::stdin();
            if cli.input.is_none() && stdin.is_terminal() {
                return Err(
                    Error::usage("no input: stdin is a terminal").with_hint(format!(
                        "fp-migrate --profile ~/.nix-profile > flake.nix, or: {} > flake.nix",
                        list_pipeline(ui)
                    )),
                );
            }
            let bytes = fp_nix::limits::read_limited(
                stdin.lock(),
                fp_nix::limits::MAX_DOCUMENT_BYTES,
                "stdin",
            )?;
            let text = String::from_utf8(bytes)
                .map_err(|e| Error::usage(format!("stdin is not UTF-8 text: {e}")))?;
            if text.trim().is_empty() {
                return Err(
                    Error::usage("stdin is empty: there is no manifest to migrate").with_hint(
                        format!("{}, or fp-migrate --profile PATH", list_pipeline(ui)),
                    ),
                );
            }
            manifest::parse_document(&text, "stdin")
        }
        Some(file) => {
            let path = std::path::Path::new(file);
            match std::fs::metadata(path) {
                Err(_) => Err(Error::usage(format!("{file} does not exist"))),
                Ok(meta) if meta.is_dir() => Err(Error::usage(format!(
                    "{file} is a directory, not a manifest file"
                ))
                .with_hint(format!(
                    "to read a profile, use: fp-migrate --profile {file}"
                ))),
                Ok(_) => manifest::parse_document(&manifest::read_text(path)?, file),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_flag_in_help_text() {
        assert!(has_json_flag(
            "Options\n\n  · --json Produce output in JSON format"
        ));
        assert!(has_json_flag("  · `--json`\n"));
        assert!(!has_json_flag(
            "Options\n\n  · --profile path  The profile to use (--json-ish)"
        ));
    }
}
