//! What to tell a person whose build failed or cannot start: a flake directory that is not
//! there, flake files git does not track (Nix copies only tracked files of a git work tree), an
//! attribute the flake does not have. Each hint is decided from facts read after the failure,
//! so none is guessed from Nix's wording. And what a build of a git work tree with uncommitted
//! changes means, which Nix only warns about.

use crate::policy::{self, LocalKind, Reference};
use fp_common::Ui;
use fp_nix::command::{NixCommand, Stderr};
use fp_nix::flake_dir::git_root;
use std::path::{Path, PathBuf};

/// The local directory a flake reference names (a path, `path:`, `git+file:`, with `?dir=`),
/// `None` for anything else.
pub fn local_flake_dir(flake: &str, cwd: &Path) -> Option<PathBuf> {
    match policy::parse_reference(flake, cwd) {
        Ok(Reference::Local { path, dir, .. }) if dir.is_empty() => Some(path),
        Ok(Reference::Local { path, dir, .. }) => Some(path.join(dir)),
        _ => None,
    }
}

/// The git work tree Nix reads the local flake `flake` from: `git+file:`'s path, or a plain
/// path's nearest directory holding `.git`; `None` for `path:` (every file, no git) and for a
/// flake that is not local.
pub fn git_work_tree(flake: &str, cwd: &Path) -> Option<PathBuf> {
    match policy::parse_reference(flake, cwd).ok()? {
        Reference::Local {
            path,
            kind: LocalKind::Git,
            ..
        } => Some(path),
        Reference::Local {
            path,
            kind: LocalKind::Plain,
            ..
        } => git_root(&path),
        _ => None,
    }
}

/// Whether the git work tree `root` has changes to tracked files that are not committed
/// (staged or not; untracked files do not count): a tree Nix calls dirty, builds as it is, and
/// warns about. `false` when git cannot tell.
pub fn has_uncommitted_changes(ui: &Ui, root: &Path) -> bool {
    NixCommand::new("git")
        .arg("-C")
        .arg(root)
        .args(["status", "--porcelain", "--untracked-files=no", "-z"])
        .output(ui, Stderr::Capture)
        .is_ok_and(|status| !status.is_empty())
}

/// The files of `dir` (relative to it) that git does not track, ignored files left out.
pub fn untracked_files(ui: &Ui, dir: &Path) -> Vec<String> {
    NixCommand::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "ls-files",
            "--others",
            "--exclude-standard",
            "-z",
            "--",
            ".",
        ])
        .output(ui, Stderr::Capture)
        .map(|out| {
            out.split('\0')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The untracked files Nix does not see that the flake needs: `flake.nix` itself, and each
/// untracked file `flake.nix` names (`./packages.nix`, `"packages.nix"`). Pure: `untracked` is
/// relative to the flake's directory, `flake_nix` its text.
pub fn needed_untracked(untracked: &[String], flake_nix: &str) -> Vec<String> {
    untracked
        .iter()
        .filter(|f| {
            f.as_str() == "flake.nix"
                || f.as_str() == "flake.lock"
                || flake_nix.contains(&format!("./{f}"))
                || flake_nix.contains(&format!("\"{f}\""))
        })
        .cloned()
        .collect()
}

/// The hint for untracked files of a flake in a git work tree, or `None`.
pub fn untracked_hint(ui: &Ui, flake_dir: &Path) -> Option<String> {
    git_root(flake_dir)?;
    let flake_nix = std::fs::read_to_string(flake_dir.join("flake.nix")).unwrap_or_default();
    let needed = needed_untracked(&untracked_files(ui, flake_dir), &flake_nix);
    if needed.is_empty() {
        return None;
    }
    let quoted: Vec<String> = needed
        .iter()
        .map(|f| fp_nix::command::shell_quote(f))
        .collect();
    Some(format!(
        "git add {} (Nix only sees files git tracks)",
        quoted.join(" ")
    ))
}

/// The attributes of the flake's `packages.<system>`, when Nix can list them.
pub fn package_names(
    ui: &Ui,
    flake: &str,
    system: &str,
    overrides: &[String],
) -> Option<Vec<String>> {
    let mut cmd = NixCommand::nix()
        .args(["eval", "--json"])
        .arg(format!("{flake}#packages.{system}"))
        .args(["--apply", "builtins.attrNames"]);
    for pair in overrides.chunks(2) {
        cmd = cmd.arg("--override-input").args(pair);
    }
    let out = cmd.output(ui, Stderr::Capture).ok()?;
    serde_json::from_str(&out).ok()
}

/// The hint for an attribute the flake's `packages.<system>` lacks: the ones it has. `None`
/// when it has `attr` (the build failed for another reason) or `attr` is a path of its own.
pub fn attribute_hint(attr: &str, system: &str, names: &[String]) -> Option<String> {
    if attr.contains('.') || names.iter().any(|n| n == attr) {
        return None;
    }
    let has = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    };
    Some(format!(
        "the flake has no packages.{system}.{attr}; its packages.{system} has: {has} (fp-build --attr NAME, or attr = \"NAME\" in config.toml)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flake_nix_and_what_it_names_are_needed() {
        let untracked = vec![
            "flake.nix".to_string(),
            "packages.nix".to_string(),
            "notes.txt".to_string(),
        ];
        let text = "{ outputs = _: import ./packages.nix; }";
        assert_eq!(
            needed_untracked(&untracked, text),
            ["flake.nix", "packages.nix"]
        );
        assert!(needed_untracked(&["notes.txt".to_string()], text).is_empty());
    }

    #[test]
    fn attribute_hint_lists_what_there_is() {
        let names = vec!["profile".to_string(), "laptop".to_string()];
        assert_eq!(attribute_hint("profile", "x86_64-linux", &names), None);
        let hint = attribute_hint("nope", "x86_64-linux", &names).unwrap();
        assert!(hint.contains("has: profile, laptop"), "{hint}");
        assert!(hint.contains("packages.x86_64-linux.nope"), "{hint}");
        assert_eq!(attribute_hint("a.b", "x86_64-linux", &names), None);
    }
}
