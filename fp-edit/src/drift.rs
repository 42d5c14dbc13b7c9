//! Drift between what the flake declares and what the current generation has, decided by
//! name: a generation's package is named as `builtins.parseDrvName` splits its store path (an
//! output of a package is that package), and a declared entry stands for the package named
//! like its attribute's last component (`black` for `python3Packages.black`, matching
//! `black` or `python3.12-black`; `mytool` for `mytool#default`, else the attribute after
//! `#`). An entry written as an expression (`(nix-direnv.override { ... })`) stands for a
//! package whose name is one of its words.

/// The package name a declared entry's key stands for.
fn wanted(key: &str) -> &str {
    match key.split_once('#') {
        Some((input, "default")) => input,
        Some((_, attr)) => attr.rsplit('.').next().unwrap_or(attr),
        None => key.rsplit('.').next().unwrap_or(key),
    }
}

/// Whether the generation's package `package` (its name, without version) is what `want`
/// names: the same name, or that name after an interpreter prefix (`python3.12-black`).
fn same(want: &str, package: &str) -> bool {
    package == want
        || package
            .strip_suffix(want)
            .is_some_and(|prefix| prefix.ends_with('-'))
}

/// The words of an expression entry, the names it may stand for.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "_-'".contains(c)))
        .filter(|w| !w.is_empty())
}

/// Whether a declared entry (its key, or its text when it has none) stands for `package`.
pub fn stands_for(key: Option<&str>, text: &str, package: &str) -> bool {
    match key {
        Some(key) => same(wanted(key), package),
        None => words(text).any(|w| w == package),
    }
}

/// For each declared entry, whether a package of the generation is what it stands for; and
/// for each package of the generation (by name), whether some entry stands for it.
pub fn compare(declared: &[(Option<&str>, &str)], packages: &[&str]) -> (Vec<bool>, Vec<bool>) {
    let entries = declared
        .iter()
        .map(|(key, text)| packages.iter().any(|p| stands_for(*key, text, p)))
        .collect();
    let packages = packages
        .iter()
        .map(|p| declared.iter().any(|(key, text)| stands_for(*key, text, p)))
        .collect();
    (entries, packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stand_for_packages_by_name() {
        assert!(stands_for(Some("ripgrep"), "ripgrep", "ripgrep"));
        assert!(!stands_for(Some("ripgrep"), "ripgrep", "ripgrep-all"));
        assert!(stands_for(Some("python3Packages.black"), "", "black"));
        assert!(stands_for(
            Some("python3Packages.black"),
            "",
            "python3.12-black"
        ));
        assert!(!stands_for(Some("python3Packages.black"), "", "blackbox"));
        assert!(!stands_for(Some("python3Packages.black"), "", "xblack"));
        assert!(stands_for(Some("mytool#default"), "", "mytool"));
        assert!(stands_for(Some("mytool#cli"), "", "cli"));
        assert!(stands_for(
            None,
            "(nix-direnv.override { enableFlakes = true; })",
            "nix-direnv"
        ));
        assert!(!stands_for(None, "(nix-direnv.override { })", "nix"));
    }

    #[test]
    fn compare_marks_both_sides() {
        let declared = [(Some("hello"), "hello"), (Some("jq"), "pkgs.jq")];
        let (entries, packages) = compare(&declared, &["hello", "cowsay"]);
        assert_eq!(entries, [true, false]);
        assert_eq!(packages, [true, false]);
        let (entries, packages) = compare(&[], &[]);
        assert!(entries.is_empty() && packages.is_empty());
    }
}
