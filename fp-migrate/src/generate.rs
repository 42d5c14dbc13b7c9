//! The migration itself: a [`Manifest`] in, the text of a flake.nix and the warnings out.
//!
//! Pure: no nix, no files, so every rule here is tested without Nix and the same manifest
//! always gives the same flake, byte for byte. The one question only Nix can answer (which
//! reading of a dotted attribute path exists) is asked by the caller beforehand
//! ([`questions`]) and its answer passed in [`Options::existing`].

use crate::attr_path::{self, Question};
use crate::flake_ref;
use crate::manifest::{query_value, Element, Format, Manifest, Outputs, Source, DEFAULT_PRIORITY};
use fp_common::{Error, Result};
use fp_nix::nix_expr::{self, NulError};
use fp_nix::store_path::{parse_drv_name, StorePath};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// The flakey-profile URL used when `--lib-url` is not given.
pub const DEFAULT_LIB_URL: &str = "github:flakey-profile/flakey-profile";

/// The nixpkgs a flake gets when the profile names none: nix-env profiles (their packages are
/// guessed to be nixpkgs attributes) and profiles with no nixpkgs-like flake (it provides the
/// `pkgs` that mkProfile needs for `buildEnv`).
pub const DEFAULT_NIXPKGS_URL: &str = "github:NixOS/nixpkgs/nixpkgs-unstable";

/// The output names a store path's name may end with (`openssl-3.0.12-bin`), as nixpkgs names
/// outputs; a store path without one of them is the `out` output.
const OUTPUT_SUFFIXES: &[&str] = &[
    "bin", "dev", "man", "doc", "devdoc", "info", "lib", "static", "debug", "modules", "terminfo",
    "python", "examples",
];

/// The end of the store path name of home-manager's env, which holds all its packages.
const HOME_MANAGER_ENV: &str = "home-manager-path";

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
    /// Nix's answer to [`questions`]: the (input url, attribute path) pairs that exist. `None`
    /// when Nix was not asked or could not answer; then an ambiguous attribute path takes its
    /// likeliest reading, with a warning.
    pub existing: Option<BTreeSet<(String, Vec<String>)>>,
    /// Write a default.nix (sources fetched without flakes) instead of a flake.nix.
    pub no_flake: bool,
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
    /// How many installed elements come from it.
    packages: usize,
    /// Whether its url pins no revision (the header must not promise the same store paths).
    unpinned: bool,
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

/// The url an element's input gets: the locked one, or with `--unlocked` the original one;
/// and the original one too when the locked one points into the Nix store (garbage collection
/// removes it) and the original one does not.
pub fn input_url(source: &Source, unlocked: bool) -> &str {
    let prefer_original = unlocked
        || (flake_ref::store_path_of(&source.url).is_some()
            && flake_ref::store_path_of(&source.original_url).is_none());
    if prefer_original && !source.original_url.is_empty() {
        &source.original_url
    } else {
        &source.url
    }
}

/// The package names with a dot among a manifest's store paths, each once, in order: the
/// evidence for reading dotted attribute paths.
fn dotted_names(paths: &[StorePath]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for path in paths {
        let name = package_of(path).0;
        if name.contains('.') && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The readings of an element's attribute path ([`attr_path::readings`]), with the dotted
/// names of its own store paths first and those of the whole manifest after.
fn element_readings(source: &Source, element: &Element, all: &[String]) -> Vec<Vec<String>> {
    attr_path::readings(&source.attr_path, &dotted_names(&element.store_paths), all)
}

/// The questions for Nix: each active element whose attribute path has several readings,
/// with the url of its input.
pub fn questions(manifest: &Manifest, options: &Options) -> Vec<Question> {
    let all = dotted_names(&all_store_paths(manifest));
    let mut out: Vec<Question> = Vec::new();
    for element in manifest.elements.iter().filter(|e| e.active) {
        let Some(source) = &element.source else {
            continue;
        };
        let readings = element_readings(source, element, &all);
        let question = Question {
            url: input_url(source, options.unlocked).to_string(),
            readings,
        };
        if question.readings.len() > 1 && !out.contains(&question) {
            out.push(question);
        }
    }
    out
}

/// Every store path of the manifest, in order.
fn all_store_paths(manifest: &Manifest) -> Vec<StorePath> {
    manifest
        .elements
        .iter()
        .flat_map(|e| e.store_paths.iter().cloned())
        .collect()
}

/// The package name and output of a store path: `openssl-3.0.12-bin` is (`openssl`, `bin`),
/// `hello-2.12` is (`hello`, `out`), `motd-man` is (`motd`, `man`).
pub fn package_of(path: &StorePath) -> (String, String) {
    let (name, version) = parse_drv_name(path.name());
    // `…-<output>` for a known output name (no allocation: this runs for every store path).
    let suffix_of = |text: &str| {
        OUTPUT_SUFFIXES
            .iter()
            .find(|o| {
                text.strip_suffix(**o)
                    .is_some_and(|rest| rest.ends_with('-'))
            })
            .map(|o| o.to_string())
    };
    match (version.is_empty(), suffix_of(version), suffix_of(name)) {
        (false, Some(output), _) => (name.to_string(), output),
        (true, _, Some(output)) => (name[..name.len() - output.len() - 1].to_string(), output),
        _ => (name.to_string(), "out".to_string()),
    }
}

/// The nixpkgs attribute and outputs a source-less element's store paths suggest: the package
/// name of the first, and the outputs of all (the default ones when that is only `out`).
pub fn guess_from_store_paths(paths: &[StorePath]) -> Option<(String, Outputs)> {
    let (attr, _) = package_of(paths.first()?);
    let mut outputs: Vec<String> = Vec::new();
    for path in paths {
        let (_, output) = package_of(path);
        if !outputs.contains(&output) {
            outputs.push(output);
        }
    }
    let outputs = if outputs == ["out"] {
        Outputs::Default
    } else {
        Outputs::Names(outputs)
    };
    Some((attr, outputs))
}

/// The output named by the last component of an element's attribute path (`hello.man`) when
/// the element installed the default outputs instead: outputs not given, and none of its store
/// paths is that output. Newer Nix records `pkg.man` so when it installed `pkg`'s default
/// outputs; the element then is `pkg`.
fn installed_as_default_outputs(element: &Element, components: &[String]) -> Option<String> {
    let last = components.last()?;
    let is_output = OUTPUT_SUFFIXES.contains(&last.as_str()) || last == "out";
    // A store path of that output, or a package of that very name (`legacyPackages.<system>.
    // tools.dev` may be a package called `dev`), means the path meant what it says.
    let installed_it = element.store_paths.iter().any(|p| {
        let (package, output) = package_of(p);
        output == *last || package == *last
    });
    (components.len() > 3
        && is_output
        && element.outputs == Outputs::Default
        && !element.store_paths.is_empty()
        && !installed_it)
        .then(|| last.clone())
}

/// Whether an element is home-manager's env: every package home-manager manages, in one.
fn is_home_manager_env(element: &Element) -> bool {
    element
        .store_paths
        .iter()
        .any(|p| p.name().ends_with(HOME_MANAGER_ENV))
}

/// The state of one migration.
struct Migrator<'a> {
    manifest: &'a Manifest,
    options: &'a Options,
    system: String,
    inputs: Vec<Input>,
    /// Input index by its url.
    input_by_key: HashMap<String, usize>,
    warnings: Vec<String>,
    entries: Vec<Entry>,
    uses_priority: bool,
    uses_all_outputs: bool,
    /// How many installed elements name each system other than the flake's.
    other_systems: BTreeMap<String, usize>,
    /// Comment lines above `system = ...`.
    system_comments: Vec<String>,
    /// The dotted package names of all the manifest's store paths.
    dotted: Vec<String>,
    /// The input that provides `pkgs` and the guessed packages, and the comment above `pkgs`.
    pkgs: (String, String),
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
            warnings: manifest.warnings.clone(),
            entries: Vec::new(),
            uses_priority: false,
            uses_all_outputs: false,
            other_systems: BTreeMap::new(),
            system_comments: Vec::new(),
            dotted: dotted_names(&all_store_paths(manifest)),
            pkgs: (String::new(), String::new()),
        }
    }

    fn run(mut self) -> Result<Migration> {
        self.make_inputs();
        self.pkgs = self.pkgs_input();
        let mut seen: HashMap<String, String> = HashMap::new();
        for element in &self.manifest.elements {
            match &element.source {
                Some(source) => self.element(element, source, &mut seen)?,
                None => self.storeless_element(element, &mut seen)?,
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
        let packages: usize = self
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
        if packages == 0 {
            self.warnings.push(if self.manifest.elements.is_empty() {
                "the flake installs no package: the profile has no elements".to_string()
            } else {
                format!(
                    "the flake installs no package: none of the profile's {} could be carried over (see above)",
                    plural(self.manifest.elements.len(), "element")
                )
            });
        }
        let flake = if self.options.no_flake {
            self.render_default_nix()?
        } else {
            self.render()?
        };
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

    /// One input per distinct source flake of the installed elements, named after the flake;
    /// where several want the same name, the one most packages come from gets it (a local
    /// checkout named `nixpkgs` does not take the name from the nixpkgs most packages come
    /// from). Then the warnings about flakes with several revisions, unlocked urls and urls
    /// into the store.
    fn make_inputs(&mut self) {
        let unlocked = self.options.unlocked;
        let mut first_use: Vec<&Source> = Vec::new();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for element in self.manifest.elements.iter().filter(|e| e.active) {
            let Some(source) = &element.source else {
                continue;
            };
            let url = input_url(source, unlocked);
            let n = counts.entry(url).or_default();
            if *n == 0 {
                first_use.push(source);
            }
            *n += 1;
        }
        let mut by_count: Vec<&Source> = first_use.clone();
        by_count.sort_by_key(|s| std::cmp::Reverse(counts[input_url(s, unlocked)]));
        let mut names: HashMap<&str, String> = HashMap::new();
        let mut taken: Vec<String> = Vec::new();
        for source in by_count {
            let name = unique_input_name(&input_base_name(&source.original_url), &taken);
            taken.push(name.clone());
            names.insert(input_url(source, unlocked), name);
        }
        let mut revisions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for source in first_use {
            let url = input_url(source, unlocked).to_string();
            let name = names[url.as_str()].clone();
            revisions
                .entry(source.original_url.clone())
                .or_default()
                .push(name.clone());
            self.input_by_key.insert(url.clone(), self.inputs.len());
            let unpinned = !unlocked && !flake_ref::is_locked(&url);
            self.inputs.push(Input {
                name,
                packages: counts[url.as_str()],
                url,
                comments: Vec::new(),
                nixpkgs_like: false,
                unpinned,
            });
        }
        let mut vanished: Vec<usize> = Vec::new();
        for element in self.manifest.elements.iter().filter(|e| e.active) {
            let Some(source) = &element.source else {
                continue;
            };
            let i = self.input_by_key[input_url(source, unlocked)];
            let input = &mut self.inputs[i];
            input.nixpkgs_like |= source.attr_path.starts_with("legacyPackages.");
            let vanishing =
                input.url != source.url && flake_ref::store_path_of(&source.url).is_some();
            let comment = source_comment(source, input, unlocked);
            if !input.comments.contains(&comment) {
                input.comments.push(comment);
            }
            if vanishing && !unlocked && !vanished.contains(&i) {
                vanished.push(i);
                self.warnings.push(format!(
                    "the input {} was locked to {:?}, in the Nix store, which garbage collection empties: it uses the reference the profile was installed from instead, {:?}, which is not locked",
                    input.name, source.url, input.url
                ));
            }
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
        for (i, input) in self.inputs.iter_mut().enumerate() {
            if vanished.contains(&i) {
                continue;
            }
            let url = &input.url;
            let name = &input.name;
            if flake_ref::store_path_of(url).is_some() {
                input.comments.push(
                    "It points into the Nix store: garbage collection removes it.".to_string(),
                );
                self.warnings.push(format!(
                    "the input {name} ({url:?}) points into the Nix store, which garbage collection empties: set it to where the flake really lives"
                ));
            } else if input.unpinned {
                input
                    .comments
                    .push("Not locked: the profile recorded no revision for it.".to_string());
                self.warnings.push(format!(
                    "the input {name} ({url:?}) is not locked: the profile recorded neither a rev nor a narHash, so the first build takes it as it is then, not as the profile had it"
                ));
            }
        }
    }

    /// Keeps an element only as a comment in `paths`, and tells why in a warning.
    fn skip(&mut self, warning: String, comment: String) {
        self.warnings.push(warning);
        self.entries.push(Entry::Comment(vec![comment]));
    }

    /// Whether some installed element has no flake source, so its package is guessed to be a
    /// nixpkgs attribute.
    fn has_guesses(&self) -> bool {
        self.manifest.elements.iter().any(|e| {
            e.active && e.source.is_none() && !e.store_paths.is_empty() && !is_home_manager_env(e)
        })
    }

    /// The input that provides `pkgs` (for `buildEnv`) and the guessed packages, and the comment
    /// saying so: `nixpkgs`, else the nixpkgs-like input most packages come from, else a
    /// `nixpkgs` input added for it.
    fn pkgs_input(&mut self) -> (String, String) {
        let total: usize = self.inputs.iter().map(|i| i.packages).sum();
        let chosen = self
            .inputs
            .iter()
            .find(|i| i.name == "nixpkgs")
            .or_else(|| {
                self.inputs
                    .iter()
                    .filter(|i| i.nixpkgs_like)
                    .max_by_key(|i| (i.packages, std::cmp::Reverse(i.name.clone())))
            });
        if let Some(input) = chosen {
            let comment = format!(
                "pkgs (for buildEnv) is the input {}, the source of {} of the {} from flakes.",
                input.name,
                input.packages,
                plural(total, "package")
            );
            return (input.name.clone(), comment);
        }
        let name = unique_input_name(
            "nixpkgs",
            &self
                .inputs
                .iter()
                .map(|i| i.name.clone())
                .collect::<Vec<_>>(),
        );
        let (comments, warning, why) = if self.has_guesses() {
            let what = if self.manifest.format == Format::NixEnv {
                "a nix-env profile does not record where its packages came from"
            } else {
                "the profile does not record where its packages without a flake source came from"
            };
            (
                vec![
                    "A guess: the profile does not record where its packages came from;".to_string(),
                    "set this to the nixpkgs (or channel) it was installed from.".to_string(),
                ],
                format!(
                    "{what}: the input {name} is a guess ({DEFAULT_NIXPKGS_URL:?}); set it to the nixpkgs or channel you used"
                ),
                "which the packages guessed by name come from too".to_string(),
            )
        } else {
            (
                vec!["Not from the profile: mkProfile needs a nixpkgs for pkgs.buildEnv.".to_string()],
                format!(
                    "the profile has no nixpkgs flake, which mkProfile needs for pkgs.buildEnv: added the input {name} = {DEFAULT_NIXPKGS_URL:?} (building fetches it; change it to the nixpkgs you use)"
                ),
                "added for it".to_string(),
            )
        };
        self.warnings.push(warning);
        self.inputs.push(Input {
            name: name.clone(),
            url: DEFAULT_NIXPKGS_URL.to_string(),
            comments,
            nixpkgs_like: true,
            packages: 0,
            unpinned: false,
        });
        let comment = format!("pkgs (for buildEnv) is the input {name}, {why}.");
        (name, comment)
    }

    /// The attribute path an element is read as: its one reading, else the one Nix said
    /// exists, else the likeliest with a warning.
    fn attr_path(&mut self, element: &Element, source: &Source, label: &str) -> Vec<String> {
        let mut readings = element_readings(source, element, &self.dotted);
        if readings.len() == 1 {
            return readings.remove(0);
        }
        let url = input_url(source, self.options.unlocked);
        let shown = |r: &Vec<String>| nix_expr::attr_path(r).unwrap_or_else(|_| r.join("."));
        let likeliest = shown(&readings[0]);
        let Some(existing) = &self.options.existing else {
            self.warnings.push(format!(
                "{label}: the attribute path {:?} can be read {} ways and Nix could not be asked which exists; took the likeliest, {likeliest} (check it)",
                source.attr_path,
                readings.len()
            ));
            return readings.remove(0);
        };
        let found = readings
            .iter()
            .position(|r| existing.contains(&(url.to_string(), r.clone())));
        match found {
            Some(i) => readings.remove(i),
            None => {
                self.warnings.push(format!(
                    "{label}: none of the {} readings of the attribute path {:?} exists in {url:?}; took the likeliest, {likeliest} (check it)",
                    readings.len(),
                    source.attr_path
                ));
                readings.remove(0)
            }
        }
    }

    /// Migrates one element installed from a flake.
    fn element(
        &mut self,
        element: &Element,
        source: &Source,
        seen: &mut HashMap<String, String>,
    ) -> Result<()> {
        let label = format!("element {:?}", element.name);
        let installable =
            nix_expr::comment(&format!("{}#{}", source.original_url, source.attr_path));
        if !element.active {
            self.skip(
                format!("{label} is inactive in the profile; kept as a comment, not installed"),
                format!(
                    "{}: inactive in the profile, not installed: {installable}",
                    nix_expr::comment(&element.name)
                ),
            );
            return Ok(());
        }
        let input = self.inputs[self.input_by_key[input_url(source, self.options.unlocked)]]
            .name
            .clone();
        let mut components = self.attr_path(element, source, &label);
        let mut comments = Vec::new();
        if let Some(output) = installed_as_default_outputs(element, &components) {
            // Nix before 2.20 installs `pkg.man` as the man output; newer Nix installs the
            // default outputs of the derivation `pkg.man` belongs to, and records the
            // attribute path unchanged. The store paths say which happened.
            components.pop();
            comments.push(format!(
                "recorded as {}: Nix installed the package's default outputs for it, not {output}",
                nix_expr::comment(&source.attr_path)
            ));
        }
        let reference = reference(&input, &components).map_err(bad_text)?;
        let outputs = outputs_key(&element.outputs);
        let duplicate_key = format!("{reference}^{outputs}");
        if let Some(first) = seen.get(&duplicate_key) {
            self.skip(
                format!(
                    "{label} installs the same package as element {first:?}; kept as a comment"
                ),
                format!(
                    "{}: the same package as {}: {installable}",
                    nix_expr::comment(&element.name),
                    nix_expr::comment(first)
                ),
            );
            return Ok(());
        }
        seen.insert(duplicate_key, element.name.clone());
        if let Some(system) = attr_path::system_of(&components) {
            if system != self.system {
                *self.other_systems.entry(system.to_string()).or_default() += 1;
            }
        }
        if comments.is_empty() && components != source.attr_path_components() {
            comments.push(format!(
                "recorded as {}: a name with a dot, which Nix writes unquoted",
                nix_expr::comment(&source.attr_path)
            ));
        }
        self.package(element, &label, &reference, comments)
    }

    /// Migrates one element with no flake source (a nix-env package, or a `nix profile`
    /// element installed from a store path or converted from nix-env): a nixpkgs attribute
    /// guessed by its name, from the input that provides `pkgs`.
    fn storeless_element(
        &mut self,
        element: &Element,
        seen: &mut HashMap<String, String>,
    ) -> Result<()> {
        let nix_env = self.manifest.format == Format::NixEnv;
        let (label, place) = if nix_env {
            (format!("package {:?}", element.name), "the nix-env profile")
        } else {
            (format!("element {:?}", element.name), "the profile")
        };
        let installed = element
            .store_paths
            .iter()
            .map(|p| p.name().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if is_home_manager_env(element) {
            self.skip(
            format!(
                "{label} is home-manager's env ({installed}), which holds every package home-manager manages: switching to the migrated flake drops them all; keep home-manager on its own profile, or move its packages into the flake"
            ),
            format!(
                "{}: home-manager's packages, not carried over (keep home-manager on its own profile, or list them here)",
                nix_expr::comment(&installed)
            ),
            );
            return Ok(());
        }
        if !element.active {
            self.skip(
                format!("{label} is inactive in {place}; kept as a comment, not installed"),
                format!(
                    "{}: inactive in {place}, not installed ({})",
                    nix_expr::comment(&element.name),
                    nix_expr::comment(&installed)
                ),
            );
            return Ok(());
        }
        let guess = if nix_env {
            Some((
                parse_drv_name(&element.name).0.to_string(),
                element.outputs.clone(),
            ))
        } else {
            guess_from_store_paths(&element.store_paths)
        };
        let Some((attr, outputs)) = guess else {
            self.skip(
                format!("{label} has no flake source and no store paths; nothing to carry over"),
                format!(
                    "{}: no flake source and no store paths, not carried over",
                    nix_expr::comment(&element.name)
                ),
            );
            return Ok(());
        };
        let components = vec![
            "legacyPackages".to_string(),
            self.system.clone(),
            attr.clone(),
        ];
        let reference = reference(&self.pkgs.0, &components).map_err(bad_text)?;
        let key = format!("{reference}^{}", outputs_key(&outputs));
        if let Some(first) = seen.get(&key) {
            self.skip(
                format!(
                "{label} ({installed}) maps to the same attribute as {first:?}; kept as a comment"
            ),
                format!(
                    "{}: the same attribute as {} ({})",
                    nix_expr::comment(&element.name),
                    nix_expr::comment(first),
                    nix_expr::comment(&installed)
                ),
            );
            return Ok(());
        }
        seen.insert(key, element.name.clone());
        let (had, comment) = if nix_env {
            (
                ": nix-env had",
                "from nix-env; the attribute is a guess by name",
            )
        } else {
            (
                " has no flake source, only",
                "no flake source; the attribute is a guess by name",
            )
        };
        self.warnings.push(format!(
            "{label}{had} {installed}; guessed to be the nixpkgs attribute {attr:?} by its name (check it)"
        ));
        let guess = format!("{}: {comment}", nix_expr::comment(&installed));
        let guessed = Element {
            outputs,
            ..element.clone()
        };
        self.package(&guessed, &label, &reference, vec![guess])
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

    /// The flake's text: the header comment, the inputs, the `let` block and the profile.
    /// Everything it says was decided before; this only writes it out.
    fn render(&self) -> Result<String> {
        let mut inputs = self.inputs.clone();
        inputs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = self.header(&inputs);
        out.push_str("{\n");
        out.push_str("  description = \"My Nix profile, migrated by fp-migrate\";\n\n");
        out.push_str(&self.inputs_block(&inputs)?);
        let mut formals = vec!["self".to_string()];
        formals.extend(inputs.iter().map(|i| i.name.clone()));
        formals.push("flakey-profile".to_string());
        let _ = writeln!(out, "  outputs = {{ {} }}:", formals.join(", "));
        out.push_str(&self.let_block()?);
        out.push_str("    in\n    {\n");
        out.push_str(&self.profile_block());
        out.push_str("    };\n}\n");
        Ok(out)
    }

    /// The default.nix of `--no-flake`: each input becomes a source fetched without flakes
    /// (`builtins.fetchTarball` with its hash where the url has one), and a nixpkgs-like input
    /// a value with its `legacyPackages.${system}` (`import SOURCE { inherit system; }`, with no
    /// user config or overlays, as the flake's legacyPackages), so the same package lines
    /// work; the library is `import (sources.flakey-profile + "/lib")`.
    fn render_default_nix(&self) -> Result<String> {
        let mut inputs = self.inputs.clone();
        inputs.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(flake) = inputs.iter().find(|i| !i.nixpkgs_like && i.packages > 0) {
            return Err(Error::usage(format!(
                "--no-flake: packages come from the flake {} (its `packages`), which a default.nix cannot read without flakes",
                flake.url
            ))
            .with_hint("migrate to a flake.nix instead (without --no-flake)"));
        }
        let mut out = self
            .header(&inputs)
            .replace(HEADER, NO_FLAKE_HEADER)
            .replace(
                "`nix flake update` moves them on",
                "newer urls and hashes move them on",
            )
            .replace("The inputs are", "The sources are");
        out.push_str("let\n  sources = {\n");
        for input in &inputs {
            for c in &input.comments {
                let _ = writeln!(out, "    # {c}");
            }
            let _ = writeln!(out, "    {} = {};", input.name, source_expr(&input.url)?);
        }
        let lib_url = self.options.lib_url.as_str();
        let _ = writeln!(out, "    flakey-profile = {};", source_expr(lib_url)?);
        out.push_str("  };\n\n");
        for input in &inputs {
            let _ = writeln!(
                out,
                "  {name} = {{ outPath = sources.{name}; legacyPackages.${{system}} = import sources.{name} {{ inherit system; config = {{ }}; overlays = [ ]; }}; }};",
                name = input.name
            );
        }
        out.push_str("  flakey-profile = import (sources.flakey-profile + \"/lib\");\n");
        // The flake's `let` bindings (system, pkgs, helpers), one level less indented.
        for line in self.let_block()?.lines().skip(1) {
            let _ = writeln!(out, "{}", line.strip_prefix("    ").unwrap_or(line));
        }
        out.push_str("in\n{\n");
        let profile = self
            .profile_block()
            .replacen(
                "      packages.${system}.profile = flakey-profile.lib.mkProfile {",
                "      profile = flakey-profile.mkProfile {",
                1,
            )
            .replace(
                "# `nix run .#profile.pin` makes",
                "# `nix run -f . profile.pin` makes",
            )
            .replace(
                "pinned.nixpkgs = nixpkgs;",
                "pinned = { inherit (sources) nixpkgs; };",
            );
        for line in profile.lines() {
            let _ = writeln!(out, "{}", line.strip_prefix("    ").unwrap_or(line));
        }
        out.push_str("}\n");
        Ok(out)
    }

    /// The header comment: where the flake comes from, how to use it, and how locked it is.
    fn header(&self, inputs: &[Input]) -> String {
        let mut out = String::new();
        let origin = match self.manifest.format {
            Format::Json { version } => format!("a nix profile (manifest version {version})"),
            Format::NixEnv => "a nix-env profile (manifest.nix)".to_string(),
            Format::ListText => "the text of `nix profile list` (Nix 2.4-2.16)".to_string(),
        };
        let _ = writeln!(out, "# Migrated by fp-migrate from {origin}.");
        out.push_str(HEADER);
        let flakes = self.inputs.iter().any(|i| i.packages > 0);
        let unpinned: Vec<&str> = inputs
            .iter()
            .filter(|i| i.unpinned)
            .map(|i| i.name.as_str())
            .collect();
        if self.options.unlocked {
            out.push_str("#\n# The inputs are the references the profile was installed from (--unlocked), so the\n# first build takes their newest revisions.\n");
        } else if !unpinned.is_empty() {
            let text = format!(
                "The inputs are locked to the revisions the profile had, except {}: {} not locked, so {} packages may differ from the profile's. `nix flake update` moves them on.",
                unpinned.join(", "),
                if unpinned.len() == 1 { "it is" } else { "they are" },
                if unpinned.len() == 1 { "its" } else { "their" },
            );
            out.push_str("#\n");
            for line in wrap(&text, 90) {
                let _ = writeln!(out, "# {line}");
            }
        } else if flakes {
            out.push_str("#\n# The inputs are locked to the revisions the profile had, so the first build gives the\n# very same store paths; `nix flake update` moves them on.\n");
        }
        out
    }

    /// `inputs = { ... };`: one per source flake, then the library following `pkgs`' input.
    fn inputs_block(&self, inputs: &[Input]) -> Result<String> {
        let mut out = String::from("  inputs = {\n");
        for input in inputs {
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
            nix_expr::string(&self.pkgs.0).map_err(bad_text)?
        );
        out.push_str("  };\n\n");
        Ok(out)
    }

    /// The `let` bindings: the system, `pkgs`, and the helpers the packages use.
    fn let_block(&self) -> Result<String> {
        let mut out = String::from("    let\n");
        for c in &self.system_comments {
            let _ = writeln!(out, "      # {c}");
        }
        let _ = writeln!(
            out,
            "      system = {};",
            nix_expr::string(&self.system).map_err(bad_text)?
        );
        for line in wrap(&self.pkgs.1, 92) {
            let _ = writeln!(out, "      # {line}");
        }
        let _ = writeln!(
            out,
            "      pkgs = {}.legacyPackages.${{system}};",
            self.pkgs.0
        );
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
        Ok(out)
    }

    /// `packages.${system}.profile = flakey-profile.lib.mkProfile { ... };`: the packages, in
    /// the profile's order, with the comments that say what was guessed or left out.
    fn profile_block(&self) -> String {
        let mut out = String::new();
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
        if self.pkgs.0 == "nixpkgs" {
            out.push_str("        # `nix run .#profile.pin` makes `nixpkgs#...` and `<nixpkgs>` this nixpkgs.\n");
            out.push_str("        pinned.nixpkgs = nixpkgs;\n");
        }
        out.push_str("      };\n");
        out
    }
}

/// How a source of `--no-flake` is fetched without flakes: a GitHub commit or a tarball
/// through `builtins.fetchTarball`, a local directory through `builtins.path` (each with
/// `sha256` when the url carries a `narHash`, which is the same hash of the tree), a store path
/// with `builtins.storePath`. Each is named
/// `source`, as a flake input is, so `pinned` can pin it. Any other kind is refused.
pub fn source_expr(url: &str) -> Result<String> {
    let quoted = |s: &str| nix_expr::string(s).map_err(bad_text);
    if let Some(path) = flake_ref::store_path_of(url) {
        return Ok(format!("builtins.storePath {}", quoted(path.as_str())?));
    }
    let base = url.split(['?', '#']).next().unwrap_or(url);
    if let Some(dir) = base.strip_prefix("path:").filter(|d| d.starts_with('/')) {
        // A local directory: copied as it is now, or checked against the recorded hash.
        let mut expr = format!(
            "builtins.path {{ path = {}; name = \"source\"; ",
            quoted(dir)?
        );
        if let Some(hash) = query_value(url, "narHash") {
            expr.push_str(&format!("sha256 = {}; ", quoted(&hash)?));
        }
        expr.push('}');
        return Ok(expr);
    }
    let tarball = if let Some(rest) = base.strip_prefix("github:") {
        let parts: Vec<&str> = rest.split('/').collect();
        let reference = query_value(url, "rev")
            .or_else(|| parts.get(2).map(|r| r.to_string()))
            .or_else(|| query_value(url, "ref"))
            .unwrap_or_else(|| "HEAD".to_string());
        match parts.as_slice() {
            [owner, repo, ..] => {
                format!("https://github.com/{owner}/{repo}/archive/{reference}.tar.gz")
            }
            _ => {
                return Err(Error::usage(format!(
                    "--no-flake: cannot read the GitHub reference {url}"
                )))
            }
        }
    } else if let Some(rest) = base.strip_prefix("tarball+") {
        rest.to_string()
    } else if (base.starts_with("https://") || base.starts_with("http://"))
        && [".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".zip"]
            .iter()
            .any(|ext| base.ends_with(ext))
    {
        base.to_string()
    } else {
        return Err(Error::usage(format!(
            "--no-flake: the source {url} cannot be fetched without flakes (only GitHub, tarballs, local directories and store paths can)"
        ))
        .with_hint("migrate to a flake.nix instead (without --no-flake)"));
    };
    let mut expr = format!("builtins.fetchTarball {{ url = {}; ", quoted(&tarball)?);
    if let Some(hash) = query_value(url, "narHash") {
        expr.push_str(&format!("sha256 = {}; ", quoted(&hash)?));
    }
    expr.push_str("name = \"source\"; }");
    Ok(expr)
}

/// The lines after the first of the header comment of `--no-flake`'s default.nix.
const NO_FLAKE_HEADER: &str = "# Build and switch to it with:
#
#   nix run -f . profile.switch       (or: fp-build -f . | fp-switch)
#   nix run -f . profile.rollback     (or: fp-rollback)
#   nix build -f . profile            build without switching
";

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

/// The system most attribute paths of the manifest name (ties: the first in sort order).
fn most_common_system(manifest: &Manifest) -> Option<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for source in manifest.elements.iter().filter_map(|e| e.source.as_ref()) {
        if let Some(system) = attr_path::system_of(&source.attr_path_components()) {
            *counts.entry(system.to_string()).or_default() += 1;
        }
    }
    let max = counts.values().copied().max()?;
    counts.into_iter().find(|(_, n)| *n == max).map(|(s, _)| s)
}

/// `input.a.${system}.b`: the attribute path under an input, the system part (wherever it
/// stands) as `${system}`.
pub fn reference(input: &str, components: &[String]) -> Result<String, NulError> {
    let system_at = attr_path::system_index(components);
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

/// The comment line of an element's input naming its other url: the original one, or with
/// `--unlocked` the locked one, or the store path the profile had it locked to.
fn source_comment(source: &Source, input: &Input, unlocked: bool) -> String {
    if input.url != source.url && flake_ref::store_path_of(&source.url).is_some() {
        format!(
            "the profile had it locked to {}, in the Nix store, which garbage collection empties",
            nix_expr::comment(&source.url)
        )
    } else if source.original_url == source.url {
        "the profile recorded only this reference".to_string()
    } else if unlocked {
        format!(
            "the profile had it locked at {}",
            nix_expr::comment(&source.url)
        )
    } else if input.unpinned || source.original_url == input.url {
        nix_expr::comment(&source.original_url)
    } else {
        format!(
            "{}, locked to the revision the profile had",
            nix_expr::comment(&source.original_url)
        )
    }
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
/// the name of a store path (`source` for `path:/nix/store/<hash>-source`), else the last path
/// segment without `.git` or an archive suffix.
pub fn input_base_name(original_url: &str) -> String {
    if let Some(path) = flake_ref::store_path_of(original_url) {
        return sanitize_input_name(parse_drv_name(path.name()).0);
    }
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
    let mut name = fp_nix::flake_url::percent_decode(raw);
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

/// Splits text at spaces into lines of at most `width` characters (a longer word stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
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
    fn sources_without_flakes() {
        let rev = "0182a361324364ae3f436a63005877674cf45efb";
        assert_eq!(
            source_expr(&format!("github:NixOS/nixpkgs/{rev}?narHash=sha256-AAA%3D")).unwrap(),
            format!("builtins.fetchTarball {{ url = \"https://github.com/NixOS/nixpkgs/archive/{rev}.tar.gz\"; sha256 = \"sha256-AAA=\"; name = \"source\"; }}")
        );
        assert_eq!(
            source_expr("github:o/r").unwrap(),
            "builtins.fetchTarball { url = \"https://github.com/o/r/archive/HEAD.tar.gz\"; name = \"source\"; }"
        );
        assert_eq!(
            source_expr("path:/src/pkgs?lastModified=1&narHash=sha256-B").unwrap(),
            "builtins.path { path = \"/src/pkgs\"; name = \"source\"; sha256 = \"sha256-B\"; }"
        );
        let store = format!(
            "{}/0123456789abcdfghijklmnpqrsvwxyz-source",
            fp_nix::store_path::store_dir().display()
        );
        assert_eq!(
            source_expr(&format!("path:{store}?narHash=x")).unwrap(),
            format!("builtins.storePath \"{store}\"")
        );
        assert_eq!(source_expr("git+https://e.org/r").unwrap_err().code(), 2);
    }

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
            existing: None,
            no_flake: false,
        }
    }

    fn parse(json: &str) -> Manifest {
        crate::manifest::parse_json(json, "test").expect("valid manifest")
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
    fn ambiguous_paths_take_what_nix_found_else_the_likeliest() {
        let m = parse(
            r#"{"version":2,"elements":[{"active":true,"attrPath":"legacyPackages.x86_64-linux.a.b.a.b","originalUrl":"path:/f","url":"path:/f?narHash=x","storePaths":["/nix/store/0123456789abcdfghijklmnpqrsvwxyz-a.b-1.0"]}]}"#,
        );
        let q = questions(&m, &options());
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].url, "path:/f?narHash=x");
        let path = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let likeliest = path(&["legacyPackages", "x86_64-linux", "a", "b", "a.b"]);
        let other = path(&["legacyPackages", "x86_64-linux", "a.b", "a", "b"]);
        assert_eq!(q[0].readings, [likeliest, other.clone()]);
        let with = |existing: &[Vec<String>]| {
            let options = Options {
                existing: Some(
                    existing
                        .iter()
                        .map(|p| ("path:/f?narHash=x".to_string(), p.clone()))
                        .collect(),
                ),
                ..options()
            };
            migrate(&m, &options).unwrap()
        };
        let found = with(&[other]);
        assert!(
            found
                .flake
                .contains("f.legacyPackages.${system}.\"a.b\".a.b\n"),
            "{}",
            found.flake
        );
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        let none = with(&[]);
        assert!(
            none.flake
                .contains("f.legacyPackages.${system}.a.b.\"a.b\"\n"),
            "{}",
            none.flake
        );
        assert_eq!(
            none.warnings,
            ["element \"b\": none of the 2 readings of the attribute path \"legacyPackages.x86_64-linux.a.b.a.b\" exists in \"path:/f?narHash=x\"; took the likeliest, legacyPackages.x86_64-linux.a.b.\"a.b\" (check it)"]
        );
    }

    #[test]
    fn store_path_names_give_package_and_output() {
        let p = |name: &str| {
            package_of(
                &StorePath::parse(&format!(
                    "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-{name}"
                ))
                .unwrap(),
            )
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(p("openssl-3.0.12-bin"), pair("openssl", "bin"));
        assert_eq!(p("hello-2.12"), pair("hello", "out"));
        assert_eq!(p("motd-man"), pair("motd", "man"));
        assert_eq!(p("motd"), pair("motd", "out"));
        assert_eq!(
            p("python3.11-requests-2.31.0"),
            pair("python3.11-requests", "out")
        );
    }

    #[test]
    fn an_output_path_that_installed_the_default_outputs_is_the_package() {
        let element = |attr: &str, path: &str| {
            let json = format!(
                r#"{{"version":3,"elements":{{"e":{{"active":true,"attrPath":"{attr}","originalUrl":"flake:nixpkgs","url":"path:/p?narHash=sha256-x","outputs":null,"priority":5,"storePaths":["/nix/store/00000000000000000000000000000000-{path}"]}}}}}}"#
            );
            parse(&json).elements.remove(0)
        };
        let parts = |attr: &str| attr.split('.').map(str::to_string).collect::<Vec<_>>();
        // Nix 2.20 and later: `hello.man` installed hello's default outputs (out).
        let new = element("legacyPackages.x86_64-linux.hello.man", "hello-1.0");
        assert_eq!(
            installed_as_default_outputs(&new, &parts("legacyPackages.x86_64-linux.hello.man")),
            Some("man".to_string())
        );
        // Nix 2.8: the man output itself.
        let old = element("legacyPackages.x86_64-linux.hello.man", "hello-1.0-man");
        assert_eq!(
            installed_as_default_outputs(&old, &parts("legacyPackages.x86_64-linux.hello.man")),
            None
        );
        // A package that is called like an output.
        let named = element("legacyPackages.x86_64-linux.tools.dev", "dev-2.0");
        assert_eq!(
            installed_as_default_outputs(&named, &parts("legacyPackages.x86_64-linux.tools.dev")),
            None
        );
        let short = element("legacyPackages.x86_64-linux.man", "man-db-2.12");
        assert_eq!(
            installed_as_default_outputs(&short, &parts("legacyPackages.x86_64-linux.man")),
            None
        );
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
            "f.lib.${system}.\"a b\""
        );
        assert_eq!(
            reference("f", &c(&["evalCatalog", "aarch64-darwin", "stable", "rg"])).unwrap(),
            "f.evalCatalog.${system}.stable.rg"
        );
        assert_eq!(
            reference("f", &c(&["packages", "default"])).unwrap(),
            "f.packages.default"
        );
    }
}
