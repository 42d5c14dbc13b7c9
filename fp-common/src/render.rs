//! Data from fp-nix rendered for people: the package diff and generation lists.

use crate::ui::{Style, Ui};
use fp_nix::diff::PackageDiff;
use fp_nix::generation::{format_local_time, Generation};

/// The diff for people: `+ name version`, `- name version`, `~ name from -> to`,
/// `* name version (rebuilt)`, then a count line (or `no package changes`), which counts
/// rebuilds only when there are some. Where the diff
/// carries sizes, each entry ends with its closure-size change (`(+1.2 MiB)`) and a last line
/// gives both whole closures and the change. The marks are coloured when the UI colours.
pub fn diff(ui: &Ui, diff: &PackageDiff) -> String {
    let mut out = String::new();
    let with_version = |name: &str, version: &str| {
        if version.is_empty() {
            name.to_string()
        } else {
            format!("{name} {version}")
        }
    };
    let size = |change: Option<i64>| change.map(|c| format!(" ({})", signed_bytes(c)));
    for p in &diff.added {
        out.push_str(&format!(
            "{} {}{}\n",
            ui.paint(Style::Green, "+"),
            with_version(&p.name, &p.version),
            size(p.size_change).unwrap_or_default()
        ));
    }
    for p in &diff.removed {
        out.push_str(&format!(
            "{} {}{}\n",
            ui.paint(Style::Red, "-"),
            with_version(&p.name, &p.version),
            size(p.size_change).unwrap_or_default()
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
            "{} {} {} -> {}{}\n",
            ui.paint(Style::Yellow, "~"),
            c.name,
            or_none(&c.from),
            or_none(&c.to),
            size(c.size_change).unwrap_or_default()
        ));
    }
    for p in &diff.rebuilt {
        let note = match p.size_change {
            Some(c) => format!("(rebuilt, {})", signed_bytes(c)),
            None => "(rebuilt)".to_string(),
        };
        out.push_str(&format!(
            "{} {} {note}\n",
            ui.paint(Style::Yellow, "*"),
            with_version(&p.name, &p.version),
        ));
    }
    if diff.is_empty() {
        out.push_str("no package changes\n");
    } else {
        // Rebuilds are counted only when there are any, so the usual line stays as it was.
        let rebuilt = match diff.rebuilt.len() {
            0 => String::new(),
            n => format!(", {n} rebuilt"),
        };
        out.push_str(&format!(
            "{} added, {} removed, {} changed{rebuilt}\n",
            diff.added.len(),
            diff.removed.len(),
            diff.changed.len(),
        ));
    }
    if let Some(size) = &diff.closure_size {
        out.push_str(&format!(
            "closure size: {} -> {} ({})\n",
            human_bytes(size.from),
            human_bytes(size.to),
            signed_bytes(size.change)
        ));
    }
    out
}

/// A count with its noun, singular for one: `1 store path`, `3 store paths`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Bytes for people: `512 B`, `1.5 KiB`, `12.0 MiB`, ...
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A signed byte change for people: `+1.5 KiB`, `-512 B`, `+0 B`.
pub fn signed_bytes(change: i64) -> String {
    let sign = if change < 0 { "-" } else { "+" };
    format!("{sign}{}", human_bytes(change.unsigned_abs()))
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
    fn rebuilt_and_sizes_for_people() {
        let mut d = fp_nix::diff::PackageDiff {
            added: vec![Package::new("jq", "1.7")],
            removed: vec![Package::new("cowsay", "3.7.0")],
            rebuilt: vec![Package::new("openssl", "3.0.13")],
            ..Default::default()
        };
        let ui = Ui::new("fp-test", &Default::default());
        insta::assert_snapshot!(diff(&ui, &d), @r"
        + jq 1.7
        - cowsay 3.7.0
        * openssl 3.0.13 (rebuilt)
        1 added, 1 removed, 0 changed, 1 rebuilt
        ");
        d.added[0].size_change = Some(1536);
        d.removed[0].size_change = Some(-512);
        d.rebuilt[0].size_change = Some(3 * 1024 * 1024);
        d.closure_size = Some(fp_nix::diff::ClosureSize::new(10 << 20, (13 << 20) + 1024));
        insta::assert_snapshot!(diff(&ui, &d), @r"
        + jq 1.7 (+1.5 KiB)
        - cowsay 3.7.0 (-512 B)
        * openssl 3.0.13 (rebuilt, +3.0 MiB)
        1 added, 1 removed, 0 changed, 1 rebuilt
        closure size: 10.0 MiB -> 13.0 MiB (+3.0 MiB)
        ");
    }

    #[test]
    fn counts_for_people() {
        assert_eq!(count(1, "store path"), "1 store path");
        assert_eq!(count(0, "store path"), "0 store paths");
        assert_eq!(count(7, "check"), "7 checks");
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(signed_bytes(-512), "-512 B");
        assert_eq!(signed_bytes(2048), "+2.0 KiB");
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
