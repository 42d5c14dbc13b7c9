//! The flake in git: an edit is left as a working-tree change, `--commit` commits it, and an
//! untracked flake.nix (which Nix does not see in a git flake) gets the `git add` hint.

use crate::name::Name;
use fp_common::{Error, Result, Ui};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs git in `dir`; its stdout when it exits 0.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The tracked files of the git work tree `dir` is in, relative to `dir`; `None` when it is
/// not in one.
pub fn tracked(dir: &Path) -> Option<Vec<PathBuf>> {
    git(dir, &["rev-parse", "--is-inside-work-tree"])?;
    let listing = git(dir, &["ls-files", "-z", "--", "."])?;
    Some(
        listing
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
            .collect(),
    )
}

/// The commit message for an edit: `fp add ripgrep, jq`.
pub fn message(adding: bool, names: &[Name]) -> String {
    let list: Vec<String> = names.iter().map(Name::to_string).collect();
    format!(
        "fp {}: {}",
        if adding { "add" } else { "remove" },
        list.join(", ")
    )
}

/// After flake.nix was written: in a git work tree, commit it when asked, and tell when it is
/// not tracked.
pub fn after_edit(ui: &Ui, dir: &Path, file: &Path, commit: bool, message: &str) -> Result<()> {
    if git(dir, &["rev-parse", "--is-inside-work-tree"]).is_none() {
        if commit {
            ui.warn(&format!(
                "{} is not in a git repository: nothing to commit",
                dir.display()
            ));
        }
        return Ok(());
    }
    let path = file.to_string_lossy();
    // The file as the user writes it in the flake directory: `flake.nix`, `packages.nix`.
    let name = file.strip_prefix(dir).unwrap_or(file).display().to_string();
    let is_tracked = git(dir, &["ls-files", "--error-unmatch", "--", &path]).is_some();
    if !commit {
        if !is_tracked {
            ui.note(&format!(
                "{name} is not tracked by git, so Nix does not see it: git -C {} add {name}",
                dir.display()
            ));
        }
        return Ok(());
    }
    if !is_tracked && git(dir, &["add", "--", &path]).is_none() {
        return Err(Error::failed(format!("git add {path} failed")));
    }
    match git(dir, &["commit", "--quiet", "-m", message, "--", &path]) {
        Some(_) => {
            ui.info(&format!("committed: {message}"));
            Ok(())
        }
        None => Err(Error::failed(format!(
            "{name} was edited but git commit failed (run it yourself: git -C {} commit {name})",
            dir.display()
        ))),
    }
}
