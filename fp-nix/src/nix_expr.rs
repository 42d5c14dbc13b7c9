//! Writing Nix source text safely: string literals, attribute names and comments.
//!
//! Anything that comes from outside (a manifest's element names, URLs, attribute paths) goes
//! through these functions before it lands in generated Nix code, so no input can make the
//! output fail to parse or smuggle in code. Nix strings are byte strings with no escape for
//! NUL, so a NUL character is the one thing that cannot be written; it is reported as
//! [`NulError`] instead.

use std::fmt;

/// Nix's keywords: words that cannot be used as a plain identifier or attribute name.
///
/// `or` is in the list even though Nix accepts it as an attribute name in some positions: it is
/// always quoted, which is valid everywhere.
pub const KEYWORDS: &[&str] = &[
    "assert", "else", "if", "in", "inherit", "let", "or", "rec", "then", "with",
];

/// A string that cannot be written in Nix because it contains a NUL character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NulError {
    /// The offending text, for the message.
    pub text: String,
}

impl fmt::Display for NulError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} contains a NUL character, which a Nix string cannot hold",
            self.text
        )
    }
}

impl std::error::Error for NulError {}

/// Whether `name` can be written as a plain (unquoted) Nix identifier: a letter or `_`, then
/// letters, digits, `_`, `'` and `-`, and not a keyword.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'))
        && !KEYWORDS.contains(&name)
}

/// A double-quoted Nix string literal whose value is exactly `text`.
///
/// `"`, `\` and `${` are escaped, newline, carriage return and tab are written as `\n`, `\r`,
/// `\t`; every other character, unicode included, is written as it is.
pub fn string(text: &str) -> Result<String, NulError> {
    if text.contains('\0') {
        return Err(NulError {
            text: text.to_string(),
        });
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// An attribute name as written in an attribute set or after a `.`: plain when it is an
/// identifier ([`is_identifier`]), otherwise a quoted string literal.
pub fn attr_name(name: &str) -> Result<String, NulError> {
    if is_identifier(name) {
        Ok(name.to_string())
    } else {
        string(name)
    }
}

/// An attribute path (`a.b."c d"`) from its components, each written with [`attr_name`].
pub fn attr_path<S: AsRef<str>>(components: &[S]) -> Result<String, NulError> {
    let parts = components
        .iter()
        .map(|c| attr_name(c.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join("."))
}

/// Text that is safe inside a `#` line comment: it cannot end the comment early.
///
/// A Nix line comment ends at a newline or carriage return, so those (and, for the reader's
/// sake, every other control character and the unicode line and paragraph separators) are
/// written as escapes (`\n`, `\r`, `\t`, `\u{1b}`). Everything else is kept as it is.
pub fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for ok in [
            "hello",
            "x86_64-linux",
            "_private",
            "it's",
            "a-b-c",
            "true",
            "Z9",
        ] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in [
            "", "7zip", "-x", "a b", "a.b", "héllo", "if", "or", "let", "a\"b", "'a",
        ] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("plain").unwrap(), r#""plain""#);
        assert_eq!(string(r#"a"b\c"#).unwrap(), r#""a\"b\\c""#);
        assert_eq!(string("${x}").unwrap(), r#""\${x}""#);
        assert_eq!(string("$x $").unwrap(), r#""$x $""#);
        assert_eq!(string("$${x}").unwrap(), r#""$\${x}""#);
        assert_eq!(string("a\nb\rc\td").unwrap(), r#""a\nb\rc\td""#);
        assert_eq!(string("ünï ☃").unwrap(), "\"ünï ☃\"");
        assert!(string("a\0b").is_err());
    }

    #[test]
    fn attribute_names() {
        assert_eq!(attr_name("hello").unwrap(), "hello");
        assert_eq!(attr_name("7zip").unwrap(), r#""7zip""#);
        assert_eq!(attr_name("or").unwrap(), r#""or""#);
        assert_eq!(attr_name("").unwrap(), r#""""#);
        assert_eq!(
            attr_path(&["legacyPackages", "x86_64-linux", "a.b"]).unwrap(),
            r#"legacyPackages.x86_64-linux."a.b""#
        );
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(comment("a\nb\rc"), r"a\nb\rc");
        assert_eq!(comment("esc\u{1b}[31m"), r"esc\u{1b}[31m");
        assert_eq!(comment("ünï \"${x}\""), "ünï \"${x}\"");
        assert!(!comment("x\u{2028}y").contains('\u{2028}'));
    }
}
