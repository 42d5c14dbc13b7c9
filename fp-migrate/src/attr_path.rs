//! Reading the attribute paths profiles record: where the system is, and which dots are part
//! of an attribute name.
//!
//! Every Nix version writes an element's `attrPath` unquoted, so the attribute `"my.tool"` of
//! `legacyPackages.x86_64-linux` is stored as `legacyPackages.x86_64-linux.my.tool`, which reads
//! back as `my` then `tool`. The store path's name (`my.tool-0.1`, split the way
//! `builtins.parseDrvName` splits it) says which components belong together; when it matches
//! in more than one place, only the flake itself can say which reading exists
//! ([`exists_expr`] asks Nix for all such elements at once).

use crate::manifest::split_attr_path;
use fp_nix::nix_expr::{self, NulError};
use serde_json::Value;

/// The CPU parts of Nix system names (`x86_64` in `x86_64-linux`), as nixpkgs' `lib.systems`
/// knows them.
const ARCHES: &[&str] = &[
    "aarch64",
    "armv5tel",
    "armv6l",
    "armv7a",
    "armv7l",
    "i686",
    "loongarch64",
    "m68k",
    "microblaze",
    "microblazeel",
    "mips",
    "mips64",
    "mips64el",
    "mipsel",
    "or1k",
    "powerpc",
    "powerpc64",
    "powerpc64le",
    "riscv32",
    "riscv64",
    "rx",
    "s390",
    "s390x",
    "vc4",
    "wasm32",
    "wasm64",
    "x86_64",
];

/// The kernel parts of Nix system names (`darwin` in `aarch64-darwin`).
const KERNELS: &[&str] = &[
    "linux", "darwin", "freebsd", "netbsd", "openbsd", "cygwin", "windows", "redox", "wasi",
    "genode", "none",
];

/// Whether `name` is a Nix system name such as `x86_64-linux` or `aarch64-darwin`.
pub fn is_system(name: &str) -> bool {
    name.split_once('-')
        .is_some_and(|(arch, kernel)| ARCHES.contains(&arch) && KERNELS.contains(&kernel))
}

/// Where the system stands in an attribute path: the first component that is a system name,
/// wherever it is (`packages.<system>.x`, `evalCatalog.<system>.stable.x`).
pub fn system_index(components: &[String]) -> Option<usize> {
    components.iter().position(|c| is_system(c))
}

/// The system an attribute path names, if any.
pub fn system_of(components: &[String]) -> Option<&str> {
    system_index(components).map(|i| components[i].as_str())
}

/// The ways an attribute path recorded by a profile can be read, the likeliest first.
///
/// `names` are package names with a dot (from `parseDrvName` of store path names), the
/// element's own first. Where a run of components after the system spells one of them, that
/// run is one attribute; the element's own names are tried before the others of the profile
/// (an element such as `my.tool.man` installed by Nix 2.8 records no store path). A path
/// written with quotes, or with no dotted name in it, has one reading: its plain split. Several
/// places matching give several readings, the last place first (a package's name is at the end
/// of its path, before at most an output).
pub fn readings(attr_path: &str, own: &[String], others: &[String]) -> Vec<Vec<String>> {
    let components = split_attr_path(attr_path);
    if attr_path.contains('"') {
        return vec![components];
    }
    let start = system_index(&components).map_or(0, |i| i + 1);
    for names in [own, others] {
        let mut found: Vec<Vec<String>> = Vec::new();
        for name in names.iter().filter(|n| n.contains('.')) {
            let parts: Vec<&str> = name.split('.').collect();
            let k = parts.len();
            for at in (start..=components.len().saturating_sub(k)).rev() {
                if components[at..at + k]
                    .iter()
                    .zip(&parts)
                    .all(|(c, p)| c == p)
                {
                    let mut reading = components[..at].to_vec();
                    reading.push(name.clone());
                    reading.extend_from_slice(&components[at + k..]);
                    if !found.contains(&reading) {
                        found.push(reading);
                    }
                }
            }
        }
        if !found.is_empty() {
            return found;
        }
    }
    vec![components]
}

/// One question for Nix: which of these readings of an element's attribute path exist in the
/// flake at `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The flake reference to evaluate (the input's url).
    pub url: String,
    /// The readings, the likeliest first.
    pub readings: Vec<Vec<String>>,
}

/// A Nix expression answering every question at once: a list with, per question, a list of
/// booleans saying whether each reading is an attribute path of the flake's outputs.
pub fn exists_expr(questions: &[Question]) -> Result<String, NulError> {
    let mut out = String::from(
        "let\n  has = set: path: path == [ ] || (builtins.isAttrs set && builtins.hasAttr (builtins.head path) set && has (builtins.getAttr (builtins.head path) set) (builtins.tail path));\nin\n[\n",
    );
    for q in questions {
        out.push_str("  (let flake = builtins.getFlake ");
        out.push_str(&nix_expr::string(&q.url)?);
        out.push_str("; in [");
        for reading in &q.readings {
            out.push_str(" (has flake [");
            for c in reading {
                out.push(' ');
                out.push_str(&nix_expr::string(c)?);
            }
            out.push_str(" ])");
        }
        out.push_str(" ])\n");
    }
    out.push_str("]\n");
    Ok(out)
}

/// Reads Nix's answer to [`exists_expr`]: per question, the readings that exist. `None` when
/// the answer does not have the shape asked for.
pub fn parse_answer(json: &str, questions: &[Question]) -> Option<Vec<Vec<Vec<String>>>> {
    let value: Value = serde_json::from_str(json).ok()?;
    let lists = value.as_array()?;
    if lists.len() != questions.len() {
        return None;
    }
    questions
        .iter()
        .zip(lists)
        .map(|(q, answer)| {
            let flags = answer.as_array()?;
            if flags.len() != q.readings.len() {
                return None;
            }
            let mut existing = Vec::new();
            for (reading, flag) in q.readings.iter().zip(flags) {
                if flag.as_bool()? {
                    existing.push(reading.clone());
                }
            }
            Some(existing)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn systems_anywhere() {
        assert!(is_system("x86_64-linux") && is_system("aarch64-darwin"));
        assert!(!is_system("x86_64") && !is_system("hello-world") && !is_system("linux"));
        let path = strings(&["evalCatalog", "aarch64-darwin", "stable", "ripgrep"]);
        assert_eq!(system_index(&path), Some(1));
        assert_eq!(
            system_of(&strings(&["a", "b", "x86_64-linux"])),
            Some("x86_64-linux")
        );
        assert_eq!(system_of(&strings(&["lib", "hello"])), None);
    }

    #[test]
    fn dotted_names_group_by_the_package_name() {
        let own = strings(&["my.tool"]);
        assert_eq!(
            readings("legacyPackages.x86_64-linux.my.tool", &own, &[]),
            [strings(&["legacyPackages", "x86_64-linux", "my.tool"])]
        );
        // An output after it, and the name known only from another element.
        assert_eq!(
            readings("legacyPackages.x86_64-linux.my.tool.man", &[], &own),
            [strings(&[
                "legacyPackages",
                "x86_64-linux",
                "my.tool",
                "man"
            ])]
        );
        assert_eq!(
            readings("packages.x86_64-linux.set.my.tool", &own, &[]),
            [strings(&["packages", "x86_64-linux", "set", "my.tool"])]
        );
        // No dotted name, or quotes: the plain split.
        assert_eq!(
            readings(
                "legacyPackages.x86_64-linux.hello.man",
                &strings(&["hello"]),
                &own
            ),
            [strings(&["legacyPackages", "x86_64-linux", "hello", "man"])]
        );
        assert_eq!(
            readings(
                "legacyPackages.x86_64-linux.python3Packages.requests",
                &strings(&["python3.11-requests"]),
                &[]
            ),
            [strings(&[
                "legacyPackages",
                "x86_64-linux",
                "python3Packages",
                "requests"
            ])]
        );
        assert_eq!(
            readings("a.\"my.tool\"", &own, &[]),
            [strings(&["a", "my.tool"])]
        );
        // The system name is never part of a package name.
        assert_eq!(
            readings(
                "packages.x86_64-linux.a",
                &strings(&["x86_64-linux.a"]),
                &[]
            ),
            [strings(&["packages", "x86_64-linux", "a"])]
        );
    }

    #[test]
    fn several_places_are_several_readings_the_last_first() {
        let own = strings(&["a.b"]);
        assert_eq!(
            readings("packages.x86_64-linux.a.b.a.b", &own, &[]),
            [
                strings(&["packages", "x86_64-linux", "a", "b", "a.b"]),
                strings(&["packages", "x86_64-linux", "a.b", "a", "b"]),
            ]
        );
    }

    #[test]
    fn the_question_and_its_answer() {
        let questions = vec![Question {
            url: "path:/f\"${x}".into(),
            readings: vec![strings(&["a", "b.c"]), strings(&["a", "b", "c"])],
        }];
        let expr = exists_expr(&questions).unwrap();
        assert!(
            expr.contains(r#"builtins.getFlake "path:/f\"\${x}""#),
            "{expr}"
        );
        assert!(
            expr.contains(r#"[ (has flake [ "a" "b.c" ]) (has flake [ "a" "b" "c" ]) ]"#),
            "{expr}"
        );
        assert_eq!(
            parse_answer("[[false,true]]", &questions),
            Some(vec![vec![strings(&["a", "b", "c"])]])
        );
        assert_eq!(parse_answer("[[true]]", &questions), None);
        assert_eq!(parse_answer("[]", &questions), None);
        assert_eq!(parse_answer("oops", &questions), None);
    }
}
