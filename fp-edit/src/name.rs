//! The names `fp-edit add` and `remove` take: a nixpkgs attribute path (`ripgrep`,
//! `python3Packages.black`) or `INPUT#ATTR` for another input of the flake. A name is checked
//! to be plain Nix identifiers before it is ever written into a file, so no name can become code.

use fp_nix::nix_expr::is_identifier;
use std::fmt;

/// A package name as given on the command line, checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Name {
    /// An attribute path of the flake's nixpkgs, one identifier per component.
    Nixpkgs(Vec<String>),
    /// `INPUT#ATTR`: a package of another input of the flake.
    Input {
        /// The input's name.
        input: String,
        /// The attribute path under the input's `packages.<system>`.
        attr: Vec<String>,
    },
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Nixpkgs(attr) => write!(f, "{}", attr.join(".")),
            Name::Input { input, attr } => write!(f, "{input}#{}", attr.join(".")),
        }
    }
}

/// The components of the dotted attribute path `path`, each a plain identifier.
fn attr_path(path: &str, whole: &str) -> Result<Vec<String>, String> {
    let parts: Vec<String> = path.split('.').map(str::to_string).collect();
    match parts.iter().find(|p| !is_identifier(p)) {
        None => Ok(parts),
        Some(bad) => Err(format!(
            "{whole:?} is not a package name: {bad:?} is not a Nix identifier (letters, digits, _, ' and -, not starting with a digit)"
        )),
    }
}

/// Parses a name given on the command line.
pub fn parse(given: &str) -> Result<Name, String> {
    match given.split_once('#') {
        Some((input, attr)) => {
            if !is_identifier(input) {
                return Err(format!(
                    "{given:?} is not a package name: the input {input:?} is not a Nix identifier"
                ));
            }
            let attr = attr_path(attr, given)?;
            if input == "nixpkgs" {
                // nixpkgs#ripgrep, as nix profile install takes it.
                return Ok(Name::Nixpkgs(attr));
            }
            Ok(Name::Input {
                input: input.to_string(),
                attr,
            })
        }
        None => attr_path(given, given).map(Name::Nixpkgs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_attribute_paths_and_inputs() {
        assert_eq!(parse("ripgrep"), Ok(Name::Nixpkgs(vec!["ripgrep".into()])));
        assert_eq!(
            parse("python3Packages.black").unwrap().to_string(),
            "python3Packages.black"
        );
        assert_eq!(parse("nixpkgs#jq"), Ok(Name::Nixpkgs(vec!["jq".into()])));
        assert_eq!(
            parse("mytool#default"),
            Ok(Name::Input {
                input: "mytool".into(),
                attr: vec!["default".into()]
            })
        );
        assert_eq!(parse("nix-direnv").unwrap().to_string(), "nix-direnv");
    }

    #[test]
    fn refuses_what_is_not_identifiers() {
        for hostile in [
            "a\"; builtins.abort \"x",
            "",
            "a..b",
            "1password",
            "a b",
            "${x}",
            "#a",
            "a#",
            "in",
            "x.rec",
            "a/b",
        ] {
            assert!(parse(hostile).is_err(), "{hostile:?} was accepted");
        }
    }
}
