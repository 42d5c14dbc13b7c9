//! What a nix command builds or evaluates: an attribute of a flake (`FLAKE#ATTR`) or of a Nix
//! file (`--file FILE ATTR`, a profile without flakes), and the arguments that name it or one
//! of its attributes.

/// An attribute of a flake or of a Nix file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installable {
    /// `FLAKE#ATTR`, as one argument.
    Flake(String),
    /// `--file FILE ATTR`: an attribute path of a Nix file (or of a directory's default.nix).
    File {
        /// The file or directory, as given.
        file: String,
        /// The attribute path in it.
        attr: String,
    },
}

impl Installable {
    /// The nix arguments naming this installable's attribute `sub` (`pinned`,
    /// `pins.channels.outPath`), or the installable itself when `sub` is empty.
    pub fn args(&self, sub: &str) -> Vec<String> {
        let dotted = |base: &str| {
            if sub.is_empty() {
                base.to_string()
            } else {
                format!("{base}.{sub}")
            }
        };
        match self {
            Installable::Flake(installable) => vec![dotted(installable)],
            Installable::File { file, attr } => {
                vec!["--file".to_string(), file.clone(), dotted(attr)]
            }
        }
    }

    /// How messages name attribute `sub` of it: `FLAKE#ATTR.sub`, or `ATTR.sub of FILE`.
    pub fn describe(&self, sub: &str) -> String {
        match self {
            Installable::Flake(_) => self.args(sub).join(" "),
            Installable::File { file, .. } => {
                let args = self.args(sub);
                format!("{} of {file}", args[2])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_flake_attribute_in_one_argument() {
        let i = Installable::Flake(".#profile".into());
        assert_eq!(i.args(""), [".#profile"]);
        assert_eq!(i.args("pins.channels"), [".#profile.pins.channels"]);
        assert_eq!(i.describe("pinned"), ".#profile.pinned");
    }

    #[test]
    fn names_a_file_attribute_with_file() {
        let i = Installable::File {
            file: "./my dir".into(),
            attr: "profile".into(),
        };
        assert_eq!(i.args(""), ["--file", "./my dir", "profile"]);
        assert_eq!(i.args("pinned"), ["--file", "./my dir", "profile.pinned"]);
        assert_eq!(i.describe("pinned"), "profile.pinned of ./my dir");
    }
}
