//! Where Nix finds a local flake: a path without `flake.nix` is searched upward, and a git
//! work tree's root bounds the search (its tracked files are the flake's source).

use std::path::{Path, PathBuf};

/// The git work tree `dir` is in: the nearest of it and its parents that holds `.git` (a
/// directory, or a file as in a linked work tree), as Nix looks for it.
pub fn git_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|p| std::fs::symlink_metadata(p.join(".git")).is_ok())
        .map(Path::to_path_buf)
}

/// The directory of the flake Nix builds for the path `cwd`: `cwd` or the nearest parent with
/// a `flake.nix`, as Nix searches for a path without one. The search stops at a directory
/// holding `.git` (the work tree's root), at a file system boundary, and at `/`. `None` when
/// there is none.
pub fn flake_dir_upward(cwd: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let device = std::fs::metadata(cwd).ok()?.dev();
    for dir in cwd.ancestors() {
        if dir.join("flake.nix").is_file() {
            return Some(dir.to_path_buf());
        }
        if std::fs::symlink_metadata(dir.join(".git")).is_ok()
            || std::fs::metadata(dir).map_or(true, |m| m.dev() != device)
        {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upward_search_stops_at_the_git_root() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("a/b")).unwrap();
        assert_eq!(flake_dir_upward(&repo.join("a/b")), None);
        std::fs::write(repo.join("flake.nix"), "{}").unwrap();
        assert_eq!(flake_dir_upward(&repo.join("a/b")), Some(repo.clone()));
        // Above the work tree's root is not searched.
        std::fs::remove_file(repo.join("flake.nix")).unwrap();
        std::fs::write(t.path().join("flake.nix"), "{}").unwrap();
        assert_eq!(flake_dir_upward(&repo.join("a/b")), None);
        // Outside git, parents are searched.
        let plain = t.path().join("plain/sub");
        std::fs::create_dir_all(&plain).unwrap();
        assert_eq!(flake_dir_upward(&plain), Some(t.path().to_path_buf()));
    }
}
