//! The migration itself: a [`Manifest`] in, the text of a flake.nix and the warnings out.
//!
//! Pure: no nix, no files, so every rule here is tested without Nix and the same manifest
//! always gives the same flake, byte for byte.

use fp_common::manifest::{Element, Format, Manifest, Outputs, Source, DEFAULT_PRIORITY};
use fp_common::{Error, Result};
use fp_nix::nix_expr::{self, NulError};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// The flakey-profile URL used when `--lib-url` is not given.
pub const DEFAULT_LIB_URL: &str = "github:flakey-profile/flakey-profile";

/// The nixpkgs a flake gets when the profile names none: nix-env profiles (their packages are
/// guessed to be nixpkgs attributes) and profiles with no nixpkgs-like flake (it provides the
/// `pkgs` that mkProfile needs for `buildEnv`).
pub const DEFAULT_NIXPKGS_URL: &str = "github:NixOS/nixpkgs/nixpkgs-unstable";

/// The first attribute of a flake attribute path after which the system comes.
const PER_SYSTEM_OUTPUTS: &[&str] = &[
    "packages",
    "legacyPackages",
    "defaultPackage",
    "apps",
    "checks",
    "devShells",
    "devShell",
    "formatter",
];

/// Names the generated code itself binds, which an input (a function argument of `outputs`)
/// must not take: `let` would shadow it, or it would shadow what the code uses.
const RESERVED: &[&str] = &[
    "self",
    "flakey-profile",
    "system",
    "pkgs",
    "setPriority",
    "allOutputs",
    "builtins",
    "inputs",
    "outputs",
    "true",
    "false",
    "null",
    "import",
];

/// How to migrate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The system to build for; `None`: the one the manifest's attribute paths name most often,
    /// else `host_system`.
    pub system: Option<String>,
    /// The system of this machine (`x86_64-linux`), the last resort for the flake's system.
    pub host_system: String,
    /// Use the original references as input urls instead of the locked ones.
    pub unlocked: bool,
    /// The url of the flakey-profile input.
    pub lib_url: String,
}

/// What a migration produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The complete flake.nix, ending with a newline.
    pub flake: String,
    /// What people must know, one line each, in the order of the manifest.
    pub warnings: Vec<String>,
    /// The system the flake builds for.
    pub system: String,
    /// How many packages (lines of `paths`) the flake installs.
    pub packages: usize,
    /// How many elements were kept as comments only.
    pub commented: usize,
    /// The names of the flake's inputs, flakey-profile last.
    pub inputs: Vec<String>,
}

/// One flake input of the generated flake.
#[derive(Debug, Clone)]
struct Input {
    /// Its name, an identifier.
    name: String,
    /// Its url.
    url: String,
    /// The comment lines above it.
    comments: Vec<String>,
    /// Whether some element's attribute path starts with `legacyPackages`.
    nixpkgs_like: bool,
}

/// One entry of the `paths` list.
#[derive(Debug, Clone)]
enum Entry {
    /// Comment lines, then one expression per line.
    Lines(Vec<String>, Vec<String>),
    /// Comment lines only (an element that is not installed).
    Comment(Vec<String>),
    /// Comment lines, then a list expression appended with `++` after the list.
    Splice(Vec<String>, String),
}

/// Turns a manifest into a flake.nix.
pub fn migrate(manifest: &Manifest, options: &Options) -> Result<Migration> {
    Migrator::new(manifest, options).run()
}

/// The state of one migration.
struct Migrator<'a> {
    manifest: &'a Manifest,
    options: &'a Options,
    system: String,
    inputs: Vec<Input>,
    /// Input index by its key (locked or original url).
    input_by_key: HashMap<String, usize>,
    warnings: Vec<String>,
    entries: Vec<Entry>,
    uses_priority: bool,
    uses_all_outputs: bool,
    /// How many installed elements name each system other than the flake's.
    other_systems: BTreeMap<String, usize>,
    /// Comment lines above `system = ...`.
    system_comments: Vec<String>,
}

impl<'a> Migrator<'a> {
    fn new(manifest: &'a Manifest, options: &'a Options) -> Self {
        let system = options
            .system
            .clone()
            .or_else(|| most_common_system(manifest))
            .unwrap_or_else(|| options.host_system.clone());
        Migrator {
            manifest,
            options,
            system,
            inputs: Vec::new(),
            input_by_key: HashMap::new(),
            warnings: Vec::new(),
            entries: Vec::new(),
            uses_priority: false,
            uses_all_outputs: false,
            other_systems: BTreeMap::new(),
            system_comments: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Migration> {
        self.make_inputs();
        let nix_env = self.manifest.format == Format::NixEnv;
        let mut seen: HashMap<String, String> = HashMap::new();
        for element in &self.manifest.elements {
            if nix_env {
                self.nix_env_element(element, &mut seen)?;
            } else {
                self.element(element, &mut seen)?;
            }
        }
        for (system, n) in &self.other_systems {
            self.system_comments.push(format!(
                "The profile had {} for {}; this flake builds {} for this system.",
                plural(*n, "package"),
                nix_expr::comment(&format!("{system:?}")),
                if *n == 1 { "it" } else { "them" }
            ));
            self.warnings.push(format!(
                "{} installed for {system:?}; the flake builds {} for {:?} (the attribute paths use ${{system}})",
                if *n == 1 { "1 element was".to_string() } else { format!("{n} elements were") },
                if *n == 1 { "it" } else { "them" },
                self.system
            ));
        }
        let pkgs_input = self.pkgs_input();
        let flake = self.render(&pkgs_input)?;
        let packages = self
            .entries
            .iter()
            .map(|e| match e {
                Entry::Lines(_, lines) => lines.len(),
                Entry::Splice(..) => 1,
                Entry::Comment(_) => 0,
            })
            .sum();
        let commented = self
            .entries
            .iter()
            .filter(|e| matches!(e, Entry::Comment(_)))
            .count();
        let mut inputs: Vec<String> = self.inputs.iter().map(|i| i.name.clone()).collect();
        inputs.push("flakey-profile".to_string());
        Ok(Migration {
            flake,
            warnings: self.warnings,
            system: self.system,
            packages,
            commented,
            inputs,
        })
    }

    /// The key that decides which elements share an input.
    fn key(&self, source: &Source) -> String {
        if self.options.unlocked && !source.original_url.is_empty() {
            source.original_url.clone()
        } else {
            source.url.clone()
        }
    }

    /// One input per distinct source flake of the installed elements, named after the flake,
    /// in the order of first use; then the warnings about flakes with several revisions.
    fn make_inputs(&mut self) {
        let mut taken: Vec<String> = Vec::new();
        let mut revisions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for element in &self.manifest.elements {
            let Some(source) = element.source.as_ref().filter(|_| element.active) else {
                continue;
            };
            let key = self.key(source);
            let nixpkgs_like = source.attr_path.starts_with("legacyPackages.");
            if let Some(&i) = self.input_by_key.get(&key) {
                self.inputs[i].nixpkgs_like |= nixpkgs_like;
                let other = if self.options.unlocked {
                    &source.url
                } else {
                    &source.original_url
                };
                let comment = self.source_comment(other);
                if !self.inputs[i].comments.contains(&comment) {
                    self.inputs[i].comments.push(comment);
                }
                continue;
            }
            let name = unique_input_name(&input_base_name(&source.original_url), &taken);
            taken.push(name.clone());
            let other = if self.options.unlocked {
                &source.url
            } else {
                &source.original_url
            };
            let comments = vec![self.source_comment(other)];
            revisions
                .entry(source.original_url.clone())
                .or_default()
                .push(name.clone());
            self.input_by_key.insert(key, self.inputs.len());
            self.inputs.push(Input {
                name,
                url: self.key(source),
                comments,
                nixpkgs_like,
            });
        }
        for (original, names) in revisions {
            if names.len() > 1 {
                self.warnings.push(format!(
                    "{original:?} was installed at {} different revisions; they are the inputs {} (--unlocked makes them one)",
                    names.len(),
                    names.join(", ")
                ));
            }
        }
    }

    /// The comment line naming the other url of an input.
    fn source_comment(&self, url: &str) -> String {
        if self.options.unlocked {
            format!("the profile had it locked at {}", nix_expr::comment(url))
        } else {
            format!(
                "{}, locked to the revision the profile had",
                nix_expr::comment(url)
            )
        }
    }

    /// The input that provides `pkgs` (for `buildEnv`): `nixpkgs`, else the first input whose
    /// elements come from `legacyPackages`, else a `nixpkgs` input added for it.
    fn pkgs_input(&mut self) -> String {
        if let Some(input) = self.inputs.iter().find(|i| i.name == "nixpkgs") {
            return input.name.clone();
        }
        if let Some(input) = self.inputs.iter().find(|i| i.nixpkgs_like) {
            return input.name.clone();
        }
        self.warnings.push(format!(
            "the profile has no nixpkgs flake, which mkProfile needs for pkgs.buildEnv: added the input nixpkgs = {DEFAULT_NIXPKGS_URL:?} (building fetches it; change it to the nixpkgs you use)"
        ));
        self.inputs.push(Input {
            name: "nixpkgs".to_string(),
            url: DEFAULT_NIXPKGS_URL.to_string(),
            comments: vec![
                "Not from the profile: mkProfile needs a nixpkgs for pkgs.buildEnv.".to_string(),
            ],
            nixpkgs_like: true,
        });
        "nixpkgs".to_string()
    }

    /// The input a nix-env package is guessed to come from: `nixpkgs`, added on first use.
    fn nix_env_input(&mut self) -> String {
        if self.inputs.is_empty() {
            self.inputs.push(Input {
                name: "nixpkgs".to_string(),
                url: DEFAULT_NIXPKGS_URL.to_string(),
                comments: vec![
                    "A guess: nix-env profiles do not record where packages came from;".to_string(),
                    "set this to the channel the profile was installed from.".to_string(),
                ],
                nixpkgs_like: true,
            });
            self.warnings.push(format!(
                "a nix-env profile does not record where its packages came from: the input nixpkgs is a guess ({DEFAULT_NIXPKGS_URL:?}); set it to the channel you used"
            ));
        }
        "nixpkgs".to_string()
    }

    /// Migrates one element of a `nix profile` manifest.
    fn element(&mut self, element: &Element, seen: &mut HashMap<String, String>) -> Result<()> {
        let label = format!("element {:?}", element.name);
        let Some(source) = &element.source else {
            self.warnings.push(format!(
                "{label} has no flake source (installed from a store path or converted from nix-env); kept as a comment with its store paths"
            ));
            let mut lines = vec![format!(
                "{}: no flake source, not carried over; its store paths:",
                nix_expr::comment(&element.name)
            )];
            lines.extend(element.store_paths.iter().map(|p| format!("  {p}")));
            self.entries.push(Entry::Comment(lines));
            return Ok(());
        };
        let installable =
            nix_expr::comment(&format!("{}#{}", source.original_url, source.attr_path));
        if !element.active {
            self.warnings.push(format!(
                "{label} is inactive in the profile; kept as a comment, not installed"
            ));
            self.entries.push(Entry::Comment(vec![format!(
                "{}: inactive in the profile, not installed: {installable}",
                nix_expr::comment(&element.name)
            )]));
            return Ok(());
        }
        let input = self.inputs[self.input_by_key[&self.key(source)]]
            .name
            .clone();
        let components = source.attr_path_components();
        let reference = reference(&input, &components).map_err(bad_text)?;
        let outputs = outputs_key(&element.outputs);
        let duplicate_key = format!("{reference}^{outputs}");
        if let Some(first) = seen.get(&duplicate_key) {
            self.warnings.push(format!(
                "{label} installs the same package as element {first:?}; kept as a comment"
            ));
            self.entries.push(Entry::Comment(vec![format!(
                "{}: the same package as {}: {installable}",
                nix_expr::comment(&element.name),
                nix_expr::comment(first)
            )]));
            return Ok(());
        }
        seen.insert(duplicate_key, element.name.clone());
        if let Some(system) = attr_system(&components) {
            if system != self.system {
                *self.other_systems.entry(system.to_string()).or_default() += 1;
            }
        }
        self.package(element, &label, &reference, vec![])
    }

    /// Migrates one package of a nix-env profile: a guessed nixpkgs attribute by its name.
    fn nix_env_element(
        &mut self,
        element: &Element,
        seen: &mut HashMap<String, String>,
    ) -> Result<()> {
        let label = format!("package {:?}", element.name);
        let installed = element
            .store_paths
            .iter()
            .map(|p| p.name().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let attr = fp_nix::store_path::parse_drv_name(&element.name)
            .0
            .to_string();
        if !element.active {
            self.warnings.push(format!(
                "{label} is inactive in the nix-env profile; kept as a comment, not installed"
            ));
            self.entries.push(Entry::Comment(vec![format!(
                "{}: inactive in the nix-env profile, not installed ({})",
                nix_expr::comment(&element.name),
                nix_expr::comment(&installed)
            )]));
            return Ok(());
        }
        let input = self.nix_env_input();
        let components = vec![
            "legacyPackages".to_string(),
            self.system.clone(),
            attr.clone(),
        ];
        let reference = reference(&input, &components).map_err(bad_text)?;
        let key = format!("{reference}^{}", outputs_key(&element.outputs));
        if let Some(first) = seen.get(&key) {
            self.warnings.push(format!(
                "{label} ({installed}) maps to the same attribute as {first:?}; kept as a comment"
            ));
            self.entries.push(Entry::Comment(vec![format!(
                "{}: the same attribute as {} ({})",
                nix_expr::comment(&element.name),
                nix_expr::comment(first),
                nix_expr::comment(&installed)
            )]));
            return Ok(());
        }
        seen.insert(key, element.name.clone());
        self.warnings.push(format!(
            "{label}: nix-env had {installed}; guessed to be the nixpkgs attribute {attr:?} by its name (check it)"
        ));
        let guess = format!(
            "{}: from nix-env; the attribute is a guess by name",
            nix_expr::comment(&installed)
        );
        self.package(element, &label, &reference, vec![guess])
    }

    /// The lines for one installed package: its outputs and priority carried over.
    fn package(
        &mut self,
        element: &Element,
        label: &str,
        reference: &str,
        mut comments: Vec<String>,
    ) -> Result<()> {
        let priority = element.effective_priority();
        // A negative number is an argument only in parentheses (`f -3 x` is a subtraction).
        let priority_arg = if priority < 0 {
            format!("({priority})")
        } else {
            priority.to_string()
        };
        let with_priority = |expr: String| {
            if priority == DEFAULT_PRIORITY {
                expr
            } else {
                format!("(setPriority {priority_arg} {expr})")
            }
        };
        if priority != DEFAULT_PRIORITY {
            self.uses_priority = true;
            comments.push(format!("priority {priority} as in the profile"));
            self.warnings.push(format!(
                "{label} has priority {priority}; carried over with setPriority"
            ));
        }
        match &element.outputs {
            Outputs::Default => {
                self.entries.push(Entry::Lines(
                    comments,
                    vec![with_priority(reference.to_string())],
                ));
            }
            Outputs::Names(names) => {
                let shown = names.join(", ");
                comments.push(format!(
                    "outputs {} as in the profile",
                    nix_expr::comment(&shown)
                ));
                let quoted = names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>();
                let references = names
                    .iter()
                    .map(|n| output_reference(reference, n))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(bad_text)?;
                self.warnings.push(format!(
                    "{label} was installed with the output{} {}; carried over as {}",
                    if names.len() == 1 { "" } else { "s" },
                    quoted.join(", "),
                    references.join(" ")
                ));
                let lines = references.into_iter().map(with_priority).collect();
                self.entries.push(Entry::Lines(comments, lines));
            }
            Outputs::All => {
                self.uses_all_outputs = true;
                comments.push("all outputs (^*) as in the profile".to_string());
                self.warnings.push(format!(
                    "{label} was installed with all outputs (^*); carried over with allOutputs"
                ));
                let expr = if priority == DEFAULT_PRIORITY {
                    format!("allOutputs {reference}")
                } else {
                    format!("builtins.map (setPriority {priority_arg}) (allOutputs {reference})")
                };
                self.entries.push(Entry::Splice(comments, expr));
            }
        }
        Ok(())
    }

    /// Writes the flake.
    fn render(&mut self, pkgs_input: &str) -> Result<String> {
        let mut inputs = self.inputs.clone();
        inputs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = String::new();
        let origin = match self.manifest.format {
            Format::Json { version } => format!("a nix profile (manifest version {version})"),
            Format::NixEnv => "a nix-env profile (manifest.nix)".to_string(),
        };
        let _ = writeln!(out, "# Migrated by fp-migrate from {origin}.");
        out.push_str(HEADER);
        if self.manifest.format != Format::NixEnv {
            out.push_str(if self.options.unlocked {
                "#\n# The inputs are the references the profile was installed from (--unlocked), so the\n# first build takes their newest revisions.\n"
            } else {
                "#\n# The inputs are locked to the revisions the profile had, so the first build gives the\n# very same store paths; `nix flake update` moves them on.\n"
            });
        }
        out.push_str("{\n");
        out.push_str("  description = \"My Nix profile, migrated by fp-migrate\";\n\n");
        out.push_str("  inputs = {\n");
        for input in &inputs {
            for c in &input.comments {
                let _ = writeln!(out, "    # {c}");
            }
            let _ = writeln!(
                out,
                "    {}.url = {};",
                input.name,
                nix_expr::string(&input.url).map_err(bad_text)?
            );
        }
        let _ = writeln!(
            out,
            "    flakey-profile.url = {};",
            nix_expr::string(&self.options.lib_url).map_err(bad_text)?
        );
        let _ = writeln!(
            out,
            "    flakey-profile.inputs.nixpkgs.follows = {};",
            nix_expr::string(pkgs_input).map_err(bad_text)?
        );
        out.push_str("  };\n\n");
        let mut formals = vec!["self".to_string()];
        formals.extend(inputs.iter().map(|i| i.name.clone()));
        formals.push("flakey-profile".to_string());
        let _ = writeln!(out, "  outputs = {{ {} }}:", formals.join(", "));
        out.push_str("    let\n");
        for c in &self.system_comments {
            let _ = writeln!(out, "      # {c}");
        }
        let _ = writeln!(
            out,
            "      system = {};",
            nix_expr::string(&self.system).map_err(bad_text)?
        );
        let _ = writeln!(out, "      pkgs = {pkgs_input}.legacyPackages.${{system}};");
        if self.uses_priority {
            out.push_str("      # A package with the priority the profile gave it (lower wins; the default is 5).\n");
            out.push_str("      setPriority = priority: pkg: pkg // { meta = (pkg.meta or { }) // { inherit priority; }; };\n");
        }
        if self.uses_all_outputs {
            out.push_str(
                "      # Every output of a package, as `nix profile install PKG^*` installed it.\n",
            );
            out.push_str("      allOutputs = pkg: builtins.map (output: pkg.${output}) (pkg.outputs or [ \"out\" ]);\n");
        }
        out.push_str("    in\n    {\n");
        out.push_str("      packages.${system}.profile = flakey-profile.lib.mkProfile {\n");
        out.push_str("        inherit pkgs;\n");
        let list_entries: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| !matches!(e, Entry::Splice(..)))
            .collect();
        if list_entries.is_empty() {
            out.push_str("        paths = [ ]");
        } else {
            out.push_str("        paths = [\n");
            for entry in list_entries {
                match entry {
                    Entry::Lines(comments, lines) => {
                        for c in comments {
                            let _ = writeln!(out, "          # {c}");
                        }
                        for l in lines {
                            let _ = writeln!(out, "          {l}");
                        }
                    }
                    Entry::Comment(comments) => {
                        for c in comments {
                            let _ = writeln!(out, "          # {c}");
                        }
                    }
                    Entry::Splice(..) => {}
                }
            }
            out.push_str("        ]");
        }
        for entry in &self.entries {
            if let Entry::Splice(comments, expr) = entry {
                out.push('\n');
                for c in comments {
                    let _ = writeln!(out, "        # {c}");
                }
                let _ = write!(out, "        ++ {expr}");
            }
        }
        out.push_str(";\n");
        if pkgs_input == "nixpkgs" {
            out.push_str("        # `nix run .#profile.pin` makes `nixpkgs#...` and `<nixpkgs>` this nixpkgs.\n");
            out.push_str("        pinned.nixpkgs = nixpkgs;\n");
        }
        out.push_str("      };\n    };\n}\n");
        Ok(out)
    }
}

/// The lines after the first of the header comment.
const HEADER: &str = "# Build and switch to it with:
#
#   nix run .#profile.switch          (or: fp-build | fp-switch)
#   nix run .#profile.rollback        (or: fp-rollback)
#   nix build .#profile               build without switching
";

/// A string that cannot be written into the flake: invalid input (exit 2).
fn bad_text(err: NulError) -> Error {
    Error::usage(format!("cannot write a flake: {err}"))
}

/// The system named by an attribute path (`legacyPackages.<system>.hello`), if any.
pub fn attr_system(components: &[String]) -> Option<&str> {
    match components {
        [first, system, ..] if PER_SYSTEM_OUTPUTS.contains(&first.as_str()) => Some(system),
        _ => None,
    }
}

/// The system most attribute paths of the manifest name (ties: the first in sort order).
fn most_common_system(manifest: &Manifest) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for source in manifest.elements.iter().filter_map(|e| e.source.as_ref()) {
        if let Some(system) = attr_system(&source.attr_path_components()) {
            *counts.entry(system.to_string()).or_default() += 1;
        }
    }
    let max = counts.values().copied().max()?;
    counts.into_iter().find(|(_, n)| *n == max).map(|(s, _)| s)
}

/// `input.a.${system}.b`: the attribute path under an input, the system part as `${system}`.
pub fn reference(input: &str, components: &[String]) -> Result<String, NulError> {
    let system_at = attr_system(components).map(|_| 1);
    let mut out = input.to_string();
    for (i, c) in components.iter().enumerate() {
        out.push('.');
        if Some(i) == system_at {
            out.push_str("${system}");
        } else {
            out.push_str(&nix_expr::attr_name(c)?);
        }
    }
    Ok(out)
}

/// `reference.<output>`.
fn output_reference(reference: &str, output: &str) -> Result<String, NulError> {
    Ok(format!("{reference}.{}", nix_expr::attr_name(output)?))
}

/// The outputs as one string, for spotting the same package installed twice (unambiguous:
/// output names are written quoted).
fn outputs_key(outputs: &Outputs) -> String {
    format!("{outputs:?}")
}

/// What an input for this flake reference is called: the id of an indirect reference
/// (`flake:nixpkgs`, `nixpkgs/nixos-23.05`), the repository of a github/gitlab/sourcehut one,
/// else the last path segment without `.git` or an archive suffix.
pub fn input_base_name(original_url: &str) -> String {
    let base = original_url
        .split(['?', '#'])
        .next()
        .unwrap_or(original_url);
    let (scheme, rest) = match base.split_once(':') {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (scheme, rest)
        }
        _ => ("flake", base),
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let raw = match scheme {
        "flake" => segments.first().copied().unwrap_or(""),
        "github" | "gitlab" | "sourcehut" if segments.len() >= 2 => segments[1],
        _ => segments.last().copied().unwrap_or(""),
    };
    let mut name = fp_common::manifest::percent_decode(raw);
    for suffix in [
        ".git", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".zip", ".tar",
    ] {
        if let Some(stripped) = name.strip_suffix(suffix) {
            name = stripped.to_string();
            break;
        }
    }
    sanitize_input_name(&name)
}

/// Makes `raw` a plain identifier usable as an input name and a function argument: letters,
/// digits, `_` and `-` only (others become `-`), starting with a letter or `_`, not a keyword
/// or a name the generated code uses.
pub fn sanitize_input_name(raw: &str) -> String {
    let mut name = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '-'
        };
        if !(c == '-' && (name.is_empty() || name.ends_with('-'))) {
            name.push(c);
        }
    }
    while name.ends_with('-') {
        name.pop();
    }
    if name.is_empty() {
        name = "flake".to_string();
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name = format!("flake-{name}");
    }
    if RESERVED.contains(&name.as_str()) || !nix_expr::is_identifier(&name) {
        name = format!("{name}-flake");
    }
    name
}

/// `1 package`, `2 packages`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `base`, or `base-2`, `base-3`, ... when taken.
fn unique_input_name(base: &str, taken: &[String]) -> String {
    let mut candidate = base.to_string();
    let mut i = 1;
    while taken.contains(&candidate) {
        i += 1;
        candidate = format!("{base}-{i}");
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names() {
        assert_eq!(input_base_name("flake:nixpkgs"), "nixpkgs");
        assert_eq!(input_base_name("flake:nixpkgs/nixos-23.05"), "nixpkgs");
        assert_eq!(input_base_name("nixpkgs"), "nixpkgs");
        assert_eq!(
            input_base_name("github:NixOS/nixpkgs/nixos-unstable"),
            "nixpkgs"
        );
        assert_eq!(
            input_base_name("github:nix-community/home-manager"),
            "home-manager"
        );
        assert_eq!(input_base_name("sourcehut:~user/repo"), "repo");
        assert_eq!(input_base_name("path:/tmp/demo/flake1"), "flake1");
        assert_eq!(
            input_base_name("path:/tmp/demo/flake1?lastModified=1"),
            "flake1"
        );
        assert_eq!(
            input_base_name("git+https://example.org/a/my.tool.git?ref=x"),
            "my-tool"
        );
        assert_eq!(
            input_base_name("https://example.org/nixpkgs-unstable.tar.gz"),
            "nixpkgs-unstable"
        );
        assert_eq!(input_base_name("path:/tmp/2048"), "flake-2048");
        assert_eq!(input_base_name("path:/tmp/self"), "self-flake");
        assert_eq!(input_base_name("path:/tmp/if"), "if-flake");
        assert_eq!(input_base_name("path:/tmp/a b\"c${d}"), "a-b-c-d");
        assert_eq!(input_base_name("path:/tmp/ünï"), "n");
        assert_eq!(input_base_name("path:/tmp/☃"), "flake");
        assert_eq!(input_base_name("path:/"), "flake");
    }

    #[test]
    fn unique_names() {
        let taken = vec!["nixpkgs".to_string(), "nixpkgs-2".to_string()];
        assert_eq!(unique_input_name("nixpkgs", &taken), "nixpkgs-3");
        assert_eq!(unique_input_name("tree", &taken), "tree");
    }

    fn options() -> Options {
        Options {
            system: None,
            host_system: "x86_64-linux".into(),
            unlocked: false,
            lib_url: DEFAULT_LIB_URL.into(),
        }
    }

    fn parse(json: &str) -> Manifest {
        fp_common::manifest::parse_json(json, "test").expect("valid manifest")
    }

    const HELLO: &str = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-1.0";

    #[test]
    fn negative_priorities_are_parenthesised() {
        let m = parse(&format!(
            r#"{{"version":2,"elements":[{{"active":true,"attrPath":"legacyPackages.x86_64-linux.hello","originalUrl":"flake:nixpkgs","url":"github:NixOS/nixpkgs/abc","priority":-3,"storePaths":["{HELLO}"]}}]}}"#
        ));
        let flake = migrate(&m, &options()).unwrap().flake;
        assert!(
            flake.contains("(setPriority (-3) nixpkgs.legacyPackages.${system}.hello)"),
            "{flake}"
        );
    }

    #[test]
    fn no_nixpkgs_adds_one_for_pkgs() {
        let m = parse(&format!(
            r#"{{"version":2,"elements":[{{"active":true,"attrPath":"packages.aarch64-darwin.default","originalUrl":"github:me/tool","url":"github:me/tool/abc","storePaths":["{HELLO}"]}}]}}"#
        ));
        let migration = migrate(&m, &options()).unwrap();
        assert_eq!(migration.system, "aarch64-darwin");
        assert_eq!(migration.inputs, ["tool", "nixpkgs", "flakey-profile"]);
        assert!(migration
            .flake
            .contains(&format!("    nixpkgs.url = \"{DEFAULT_NIXPKGS_URL}\";\n")));
        assert!(migration
            .flake
            .contains("flakey-profile.inputs.nixpkgs.follows = \"nixpkgs\";"));
        assert!(migration
            .warnings
            .iter()
            .any(|w| w.contains("no nixpkgs flake")));
    }

    #[test]
    fn a_legacy_packages_flake_serves_as_nixpkgs() {
        let m = parse(&format!(
            r#"{{"version":2,"elements":[{{"active":true,"attrPath":"legacyPackages.x86_64-linux.hello","originalUrl":"path:/src/mypkgs","url":"path:/src/mypkgs?narHash=x","storePaths":["{HELLO}"]}}]}}"#
        ));
        let migration = migrate(&m, &options()).unwrap();
        assert_eq!(migration.inputs, ["mypkgs", "flakey-profile"]);
        assert!(migration
            .flake
            .contains("      pkgs = mypkgs.legacyPackages.${system};\n"));
        assert!(migration.flake.contains("follows = \"mypkgs\";"));
        assert!(!migration.flake.contains("pinned.nixpkgs"));
        assert!(migration.warnings.is_empty(), "{:?}", migration.warnings);
    }

    #[test]
    fn empty_profile_gives_an_empty_list() {
        let migration = migrate(&parse(r#"{"version":3,"elements":{}}"#), &options()).unwrap();
        assert!(
            migration.flake.contains("        paths = [ ];\n"),
            "{}",
            migration.flake
        );
        assert_eq!(migration.packages, 0);
    }

    #[test]
    fn references_use_the_system_variable() {
        let c = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            reference("nixpkgs", &c(&["legacyPackages", "x86_64-linux", "hello"])).unwrap(),
            "nixpkgs.legacyPackages.${system}.hello"
        );
        assert_eq!(
            reference("f", &c(&["defaultPackage", "aarch64-darwin"])).unwrap(),
            "f.defaultPackage.${system}"
        );
        assert_eq!(
            reference("f", &c(&["lib", "x86_64-linux", "a b"])).unwrap(),
            "f.lib.x86_64-linux.\"a b\""
        );
    }
}
