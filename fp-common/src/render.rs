//! Data from fp-nix rendered for people: the package diff and generation lists.

use crate::ui::{Style, Ui};
use fp_nix::diff::PackageDiff;
use fp_nix::generation::{format_local_time, Generation};

/// The diff for people: `+ name version`, `- name version`, `~ name from -> to`, then a count
/// line (or `no package changes`). The marks are coloured when the UI colours.
pub fn diff(ui: &Ui, diff: &PackageDiff) -> String {
    let mut out = String::new();
    let with_version = |name: &str, version: &str| {
        if version.is_empty() {
            name.to_string()
        } else {
            format!("{name} {version}")
        }
    };
    for p in &diff.added {
        out.push_str(&format!(
            "{} {}\n",
            ui.paint(Style::Green, "+"),
            with_version(&p.name, &p.version)
        ));
    }
    for p in &diff.removed {
        out.push_str(&format!(
            "{} {}\n",
            ui.paint(Style::Red, "-"),
            with_version(&p.name, &p.version)
        ));
    }
    let or_none = |v: &str| {
        if v.is_empty() {
            "(no version)".to_string()
        } else {
            v.to_string()
        }
    };
    for c in &diff.changed {
        out.push_str(&format!(
            "{} {} {} -> {}\n",
            ui.paint(Style::Yellow, "~"),
            c.name,
            or_none(&c.from),
            or_none(&c.to)
        ));
    }
    if diff.is_empty() {
        out.push_str("no package changes\n");
    } else {
        out.push_str(&format!(
            "{} added, {} removed, {} changed\n",
            diff.added.len(),
            diff.removed.len(),
            diff.changed.len()
        ));
    }
    out
}

/// Generations the way `nix-env --list-generations` prints them, one line each.
pub fn generation_list(generations: &[Generation]) -> String {
    generations
        .iter()
        .map(|g| {
            format!(
                "{:>4}   {}   {}\n",
                g.generation,
                format_local_time(g.created),
                if g.current { "(current)" } else { "" }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fp_nix::diff::Package;
    use std::time::SystemTime;

    #[test]
    fn diff_for_people() {
        let old = [
            Package::new("cowsay", "3.7.0"),
            Package::new("hello", "2.12.1"),
            Package::new("motd", ""),
        ];
        let new = [
            Package::new("hello", "2.12.2"),
            Package::new("ripgrep", "14.1.0"),
            Package::new("motd", "1"),
            Package::new("notes", ""),
        ];
        let d = fp_nix::diff::diff(&old, &new);
        let ui = Ui::new("fp-test", &Default::default());
        insta::assert_snapshot!(diff(&ui, &d), @r"
        + notes
        + ripgrep 14.1.0
        - cowsay 3.7.0
        ~ hello 2.12.1 -> 2.12.2
        ~ motd (no version) -> 1
        2 added, 1 removed, 2 changed
        ");
    }

    #[test]
    fn no_changes() {
        let p = [Package::new("a", "1")];
        let ui = Ui::new("fp-test", &Default::default());
        assert_eq!(
            diff(&ui, &fp_nix::diff::diff(&p, &p)),
            "no package changes\n"
        );
    }

    #[test]
    fn list_format_matches_nix_env() {
        let g = Generation {
            generation: 2,
            store_path: String::new(),
            created: SystemTime::UNIX_EPOCH,
            current: false,
        };
        let line = generation_list(&[g]);
        assert!(line.starts_with("   2   "), "{line:?}");
        assert!(line.ends_with("   \n"), "{line:?}");
    }
}
