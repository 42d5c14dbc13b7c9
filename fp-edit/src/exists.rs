//! Whether the packages being added exist in the flake's own inputs: one `nix eval` asks, for
//! each name, how far its attribute path goes, and a name that stops short gets "did you mean"
//! suggestions from the attribute names at the level where it stopped.

use crate::name::Name;
use fp_nix::nix_expr::{string, NulError};

/// The Nix expression whose value (as JSON) is one answer per name: `null` when the attribute
/// exists, else `{ at, names }`: the index of the first component not found (`-1`: the flake
/// has no such input) and the names that level does have.
pub fn expr(flake_ref: &str, names: &[Name]) -> Result<String, NulError> {
    let mut checks = Vec::new();
    for name in names {
        let (input, root, attr) = match name {
            Name::Nixpkgs(attr) => ("nixpkgs", "legacyPackages", attr),
            Name::Input { input, attr } => (input.as_str(), "packages", attr),
        };
        let path: Vec<String> = attr.iter().map(|c| string(c)).collect::<Result<_, _>>()?;
        let input = string(input)?;
        checks.push(format!(
            "(if flake.inputs ? {input} then check ((flake.inputs.{input}.{root} or {{ }}).${{system}} or {{ }}) [ {} ] else {{ at = -1; names = builtins.attrNames flake.inputs; }})",
            path.join(" ")
        ));
    }
    Ok(format!(
        r#"let
  flake = builtins.getFlake {};
  system = builtins.currentSystem;
  check = root: path:
    let
      go = set: i:
        if i == builtins.length path then null
        else
          let n = builtins.elemAt path i; in
          if builtins.isAttrs set && set ? ${{n}} then go set.${{n}} (i + 1)
          else {{ at = i; names = if builtins.isAttrs set then builtins.attrNames set else [ ]; }};
    in go root 0;
in [ {} ]"#,
        string(flake_ref)?,
        checks.join(" ")
    ))
}

/// One name's answer, read from the JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The attribute exists.
    Exists,
    /// The flake has no such input; the inputs it has.
    NoInput(Vec<String>),
    /// Component `at` of the path is missing; the names at that level.
    Missing {
        /// The index of the missing component.
        at: usize,
        /// The names the level has.
        names: Vec<String>,
    },
}

/// Reads the answers of [`expr`]; `None` when the document is not what it evaluates to.
pub fn parse(json: &str, count: usize) -> Option<Vec<Answer>> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let answers = value.as_array()?;
    if answers.len() != count {
        return None;
    }
    answers
        .iter()
        .map(|a| {
            if a.is_null() {
                return Some(Answer::Exists);
            }
            let names: Vec<String> = a["names"]
                .as_array()?
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect();
            match a["at"].as_i64()? {
                -1 => Some(Answer::NoInput(names)),
                at => Some(Answer::Missing {
                    at: usize::try_from(at).ok()?,
                    names,
                }),
            }
        })
        .collect()
}

/// Up to three names of `candidates` closest to `wanted` (edit distance at most a third of its
/// length, at least 1, or sharing its start), closest first.
pub fn suggestions(wanted: &str, candidates: &[String]) -> Vec<String> {
    let limit = (wanted.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .map(|c| (strsim::levenshtein(wanted, c), c))
        .filter(|(d, c)| *d <= limit || (wanted.len() >= 4 && c.starts_with(wanted)))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

/// The message for a name that does not exist, with suggestions.
pub fn missing_message(name: &Name, answer: &Answer) -> Option<String> {
    let (input, attr) = match name {
        Name::Nixpkgs(attr) => ("nixpkgs", attr),
        Name::Input { input, attr } => (input.as_str(), attr),
    };
    match answer {
        Answer::Exists => None,
        Answer::NoInput(inputs) => Some(format!(
            "{name}: the flake has no input {input:?} (its inputs: {})",
            inputs.join(", ")
        )),
        Answer::Missing { at, names } => {
            let missing = attr.get(*at).map_or("", String::as_str);
            let found = suggestions(missing, names);
            let full = |s: &String| {
                let mut path = attr[..*at].to_vec();
                path.push(s.clone());
                match name {
                    Name::Nixpkgs(_) => path.join("."),
                    Name::Input { input, .. } => format!("{input}#{}", path.join(".")),
                }
            };
            let mut message = format!("{name} is not a package of the flake's {input}");
            if !found.is_empty() {
                let list: Vec<String> = found.iter().map(full).collect();
                message.push_str(&format!(": did you mean {}?", list.join(", ")));
            }
            Some(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::parse as name;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn suggests_close_names() {
        let all = names(&["ripgrep", "ripgrep-all", "rg", "hello", "grep"]);
        assert_eq!(suggestions("ripgre", &all), ["ripgrep", "ripgrep-all"]);
        assert_eq!(suggestions("helo", &all), ["hello"]);
        assert!(suggestions("zzzzzz", &all).is_empty());
    }

    #[test]
    fn reads_answers() {
        let json = r#"[null,{"at":1,"names":["black","flake8"]},{"at":-1,"names":["nixpkgs"]}]"#;
        let answers = parse(json, 3).unwrap();
        assert_eq!(answers[0], Answer::Exists);
        assert_eq!(
            missing_message(&name("python3Packages.blak").unwrap(), &answers[1]).unwrap(),
            "python3Packages.blak is not a package of the flake's nixpkgs: did you mean python3Packages.black?"
        );
        assert_eq!(
            missing_message(&name("tool#x").unwrap(), &answers[2]).unwrap(),
            "tool#x: the flake has no input \"tool\" (its inputs: nixpkgs)"
        );
        assert_eq!(parse(json, 2), None);
        assert_eq!(parse("{}", 0), None);
    }

    #[test]
    fn the_expression_quotes_everything() {
        let e = expr("path:/tmp/a\"b", &[name("ripgrep").unwrap()]).unwrap();
        assert!(e.contains(r#"builtins.getFlake "path:/tmp/a\"b""#));
        assert!(e.contains(r#"[ "ripgrep" ]"#));
    }
}
