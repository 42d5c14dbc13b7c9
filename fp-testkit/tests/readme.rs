//! The examples of README.md and of every other README in the repository, run as a user would
//! run them, so a changed message or flag fails here until the README changes with it.
//!
//! Each `console` block, `sh` block and recipe table (the commands in its `run` column) runs in
//! a world of its own (see [`World`]): a HOME with a profile of six generations and a profile
//! flake made from the template, against the offline package set. A console block's output must
//! be what it shows (`...` stands for any lines, `[..]` for any text in a line). A `nix` block
//! must parse, or be the repository file it names. An example that cannot run here (another
//! machine, the network) is marked in its README with the reason
//! (`<!-- example: skip: REASON -->`); any other example that does not run is a failure.
//!
//! GitHub is the one thing the worlds stand in for: `github:flakey-profile/flakey-profile` is
//! a local flake with this checkout's library (whose `mkProfile` takes the tools these tests
//! built as `fpTools`, where the real one builds them with cargo), and
//! `github:NixOS/nixpkgs/nixos-unstable` and `.../nixos-24.05` are revisions 2 and 1 of the
//! offline package set; commands and the template's flake.nix are read with those URLs
//! replaced.

use fp_testkit::examples::{self, Example, Kind, Step};
use fp_testkit::{repo_root, system, Bed, Run};
use std::path::{Path, PathBuf};

/// Every README of the repository; [`every_readme_is_run`] checks none is missing.
const READMES: [&str; 7] = [
    "README.md",
    "fp-edit/README.md",
    "fp-migrate/README.md",
    "fp-migrate/tests/fixtures/README.md",
    "fp-nix/README.md",
    "fp-pin/README.md",
    "templates/no-flake/README.md",
];

#[test]
fn every_readme_is_run() {
    let mut found = Vec::new();
    find_readmes(&repo_root(), &repo_root(), &mut found);
    found.sort();
    let mut expected: Vec<String> = READMES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected, "READMES must list every README.md");
}

/// The README.md files below `dir`, relative to `root`, outside `target/` and hidden
/// directories.
fn find_readmes(root: &Path, dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if entry.file_type().expect("file type").is_dir() {
            find_readmes(root, &path, found);
        } else if name == "README.md" {
            let relative = path.strip_prefix(root).expect("below the root");
            found.push(relative.display().to_string());
        }
    }
}

#[test]
fn readme() {
    run_examples("README.md");
}

#[test]
fn fp_edit_readme() {
    run_examples("fp-edit/README.md");
}

#[test]
fn fp_migrate_readme() {
    run_examples("fp-migrate/README.md");
}

#[test]
fn fp_migrate_fixtures_readme() {
    run_examples("fp-migrate/tests/fixtures/README.md");
}

#[test]
fn fp_nix_readme() {
    run_examples("fp-nix/README.md");
}

#[test]
fn fp_pin_readme() {
    run_examples("fp-pin/README.md");
}

#[test]
fn no_flake_template_readme() {
    run_examples("templates/no-flake/README.md");
}

/// Runs every example of the README at `file` (relative to the repository), and fails listing
/// each one that did not do what the README shows.
fn run_examples(file: &str) {
    let text = std::fs::read_to_string(repo_root().join(file)).expect("README");
    let examples = examples::extract(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut failures = Vec::new();
    let mut world: Option<(usize, World)> = None;
    for example in &examples {
        if example.skip.is_some() {
            continue;
        }
        let fresh = !matches!(&world, Some((group, _)) if *group == example.group);
        if fresh && needs_world(example) {
            world = Some((example.group, World::new(example.world.as_deref())));
        }
        let current = world.as_ref().map(|(_, w)| w);
        if let Err(why) = check(example, current) {
            failures.push(format!("{file}:{}: {why}", example.line));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// Whether `example` runs commands (and so needs a world).
fn needs_world(example: &Example) -> bool {
    example.file.is_none()
        && !matches!(&example.kind, Kind::Block { language, .. } if language == "nix")
}

/// Checks one example (not skipped) in `world`; the error says what differs.
fn check(example: &Example, world: Option<&World>) -> Result<(), String> {
    if let Some(path) = &example.file {
        let Kind::Block { text, .. } = &example.kind else {
            return Err("`file` marks a block".into());
        };
        let file = std::fs::read_to_string(repo_root().join(path))
            .map_err(|e| format!("cannot read {path}: {e}"))?;
        return if file.trim_end() == text.trim_end() {
            Ok(())
        } else {
            Err(format!("the block is not {path} as it is now"))
        };
    }
    match &example.kind {
        Kind::Block { language, text } if language == "nix" => parses_as_nix(text),
        Kind::Block { language, text } if language == "toml" => {
            config_works(world.expect("a world"), text)
        }
        Kind::Block { language, .. } => Err(format!(
            "a {} block that nothing runs: make it a console block with its command, or mark it `<!-- example: skip: REASON -->`",
            if language.is_empty() { "plain" } else { language }
        )),
        Kind::Console(steps) => {
            let world = world.expect("a world");
            steps.iter().try_for_each(|step| console_step(world, step))
        }
        Kind::Script(script) => {
            let run = world.expect("a world").run(script);
            succeeded(script, &run)
        }
        Kind::Command(command) => {
            let run = world.expect("a world").run(command);
            succeeded(command, &run)
        }
    }
}

/// Ok when `run` of `command` exited 0; else the command and everything it printed.
fn succeeded(command: &str, run: &Run) -> Result<(), String> {
    if run.code == 0 {
        Ok(())
    } else {
        Err(format!(
            "`{command}` exited with {}:\n{}{}",
            run.code, run.stdout, run.stderr
        ))
    }
}

/// Runs one `$ COMMAND` of a console block and compares what it printed with the lines under
/// it.
fn console_step(world: &World, step: &Step) -> Result<(), String> {
    let run = world.run(&step.command);
    if run.code != step.code {
        return Err(format!(
            "`{}` exited with {}, where the README shows {}:\n{}",
            step.command, run.code, step.code, run.stdout
        ));
    }
    let shown = world.as_shown(&run.stdout);
    if examples::output_matches(&step.output, &shown) {
        Ok(())
    } else {
        Err(format!(
            "`{}` printed\n{}\nwhere the README shows\n{}",
            step.command,
            shown.join("\n"),
            step.output.join("\n")
        ))
    }
}

/// Ok when `text` is Nix that `nix-instantiate --parse` reads: an expression, or the bindings
/// of an attribute set (`packages.${system}.profile = ...;`, a part of a flake's outputs);
/// names from around it (`sources`, `system`) may be free.
fn parses_as_nix(text: &str) -> Result<(), String> {
    let parse = |expr: String| {
        std::process::Command::new("nix-instantiate")
            .args(["--parse", "--expr", &expr])
            .output()
            .expect("nix-instantiate")
    };
    let expression = parse(format!("with {{ }}; (\n{text}\n)"));
    if expression.status.success()
        || parse(format!("with {{ }}; {{\n{text}\n}}"))
            .status
            .success()
    {
        Ok(())
    } else {
        Err(format!(
            "does not parse as Nix: {}",
            String::from_utf8_lossy(&expression.stderr)
        ))
    }
}

/// A config.toml example, written where the tools read it: `fp-build | fp-switch --dry-run`
/// run from HOME (not the flake's directory) must take every setting from it (`-v` says where
/// each came from) and build the configured flake.
fn config_works(world: &World, text: &str) -> Result<(), String> {
    let dir = world.home.join(".config/flakey-profile");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("config.toml"), text).expect("config.toml");
    let command = "cd ~ && fp-build -v | fp-switch -v --dry-run";
    let run = world.run(command);
    succeeded(command, &run)?;
    let keys = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .filter(|k| !k.is_empty() && !k.starts_with('#'));
    for key in keys {
        let from_file = run
            .stdout
            .lines()
            .any(|line| line.starts_with(&format!("{key} = ")) && line.ends_with("config.toml)"));
        if !from_file {
            return Err(format!(
                "-v does not show the setting {key} taken from config.toml:\n{}",
                run.stdout
            ));
        }
    }
    Ok(())
}

/// A throwaway machine for the examples: a HOME as a user has it (no XDG variables set, so
/// `~/.config`, `~/.local/state`, `~/.cache`), the workspace's tools first on PATH, nix
/// configured to download nothing, `~/.nix-defexpr/channels` and `~/.nix-profile` pointing
/// into `~/.local/state/nix/profiles`, a stand-in `/etc/nix` (`NIX_CONF_DIR`: the tests run as
/// root, whose registry is the system one), and the GitHub stand-ins. Worlds by name:
///
/// - `fresh`: only that, in HOME;
/// - none (the default): a profile flake at `~/.config/my-profile` (the template, revision 2 of
///   the package set: hello 1.1 and tree), locked, and the profile at six generations, the
///   current one hello 1.0 and cowsay from revision 1; in the flake's directory;
/// - `single-user`: the default, and a seventh generation with `bin/nix` (the nix on PATH);
/// - `stray`: the default, and a seventh generation from `nix profile install ...#motd`;
/// - `edit`: the default, with the flake in a git repository (committed) and a second input
///   `mytool` (a flake with `packages.<system>.default`);
/// - `no-flake`: the default's profile, and a `default.nix` from the no-flake template at
///   `~/my-profile`, its sources the package set (revision 2) and the library; there.
struct World {
    bed: Bed,
    home: PathBuf,
    cwd: PathBuf,
    /// `(URL, local flake reference)` the README's GitHub URLs stand for.
    github: Vec<(String, String)>,
}

impl World {
    fn new(name: Option<&str>) -> World {
        let bed = Bed::new();
        let home = bed.home();
        for dir in [
            ".config",
            ".local/state/nix/profiles",
            ".cache",
            ".nix-defexpr",
        ] {
            std::fs::create_dir_all(home.join(dir)).expect("home dirs");
        }
        std::fs::create_dir_all(bed.path().join("etc/nix")).expect("etc");
        let profiles = home.join(".local/state/nix/profiles");
        std::os::unix::fs::symlink(profiles.join("profile"), home.join(".nix-profile"))
            .expect("~/.nix-profile");
        std::os::unix::fs::symlink(
            profiles.join("channels"),
            home.join(".nix-defexpr/channels"),
        )
        .expect("channels link");
        let github = vec![
            (
                "github:flakey-profile/flakey-profile".to_string(),
                format!("path:{}", stand_in(&bed).display()),
            ),
            (
                "github:NixOS/nixpkgs/nixos-unstable".to_string(),
                format!("path:{}", bed.pkgs(2).display()),
            ),
            (
                "github:NixOS/nixpkgs/nixos-24.05".to_string(),
                format!("path:{}", bed.pkgs(1).display()),
            ),
        ];
        let mut world = World {
            cwd: home.clone(),
            home,
            bed,
            github,
        };
        match name {
            Some("fresh") => {}
            None | Some("default") => world.profile_flake(false),
            Some("edit") => world.profile_flake(true),
            Some("no-flake") => world.no_flake(),
            Some("single-user") => {
                world.profile_flake(false);
                world.nix_in_the_profile();
            }
            Some("stray") => {
                world.profile_flake(false);
                world
                    .run(&format!(
                        "nix profile {} github:NixOS/nixpkgs/nixos-24.05#motd",
                        fp_testkit::nix_profile_add_verb()
                    ))
                    .success();
            }
            Some(other) => panic!("no world named {other}"),
        }
        world
    }

    /// The profile flake from the template at `~/.config/my-profile` (in git, with input
    /// `mytool`, when `edit`), locked, and the profile at six generations.
    fn profile_flake(&mut self, edit: bool) {
        let dir = self.home.join(".config/my-profile");
        std::fs::create_dir_all(&dir).expect("flake dir");
        let template = std::fs::read_to_string(repo_root().join("templates/default/flake.nix"))
            .expect("template");
        let mut flake = self.with_stand_ins(&template);
        if edit {
            let mytool = self.mytool();
            flake = flake
                .replacen(
                    "  inputs = {\n",
                    &format!(
                        "  inputs = {{\n    mytool.url = \"path:{}\";\n",
                        mytool.display()
                    ),
                    1,
                )
                .replacen(
                    "{ self, nixpkgs, flakey-profile }",
                    "{ self, nixpkgs, flakey-profile, mytool }",
                    1,
                );
            assert!(flake.contains("mytool }"), "the template's outputs changed");
        }
        std::fs::write(dir.join("flake.nix"), flake).expect("flake.nix");
        self.cwd = dir.clone();
        self.run("nix flake lock").success();
        if edit {
            self.run("git init -q && git add flake.nix flake.lock && git commit -qm profile")
                .success();
        }
        self.generations();
    }

    /// Generation 7: hello 1.0, cowsay and `bin/nix` (a script that runs the real nix), as
    /// in a single-user install, where Nix itself is in the profile and found through
    /// `~/.nix-profile/bin` before anything else.
    fn nix_in_the_profile(&self) {
        let path = std::env::var_os("PATH").expect("PATH");
        let nix = std::env::split_paths(&path)
            .map(|d| d.join("nix"))
            .find(|p| p.is_file())
            .and_then(|p| std::fs::canonicalize(p).ok())
            .expect("nix on PATH");
        let flake = self.bed.profile_flake_with(
            "with-nix",
            1,
            &format!(
                "paths = [ pkgs.hello pkgs.cowsay (pkgs.writeShellScriptBin \"nix\" ''exec {} \"$@\"'') ];",
                nix.display()
            ),
        );
        let env = self.bed.build(&flake);
        self.run(&format!(
            "nix-env --profile ~/.local/state/nix/profiles/profile --set {env}"
        ))
        .success();
    }

    /// A flake `mytool` with `packages.<system>.default`, for `fp add mytool#default`.
    fn mytool(&self) -> PathBuf {
        let dir = self.bed.path().join("mytool");
        std::fs::create_dir_all(&dir).expect("mytool");
        let flake = format!(
            r#"{{
  inputs.nixpkgs.url = "path:{pkgs}";
  outputs = {{ self, nixpkgs }}: {{
    packages.{system}.default = nixpkgs.legacyPackages.{system}.writeShellScriptBin "mytool" "echo mytool";
  }};
}}
"#,
            pkgs = self.bed.pkgs(2).display(),
            system = system()
        );
        std::fs::write(dir.join("flake.nix"), flake).expect("mytool flake");
        dir
    }

    /// The no-flake template at `~/my-profile` and the profile at six generations.
    fn no_flake(&mut self) {
        let dir = self.home.join("my-profile");
        std::fs::create_dir_all(&dir).expect("dir");
        let template = std::fs::read_to_string(repo_root().join("templates/no-flake/default.nix"))
            .expect("template");
        std::fs::write(
            dir.join("default.nix"),
            self.bed.no_flake_sources(&template, 2),
        )
        .expect("default.nix");
        self.cwd = dir;
        self.generations();
    }

    /// Generations 1 to 6 of the profile, by `nix-env --set`, each another env of revision 1
    /// of the package set (hello 1.0 in all; the last with cowsay), built by one `nix build`.
    /// Each env names the world in its build script, so no other test (they share the store)
    /// holds it or refers to it, and what deleting one frees is the same on every run.
    fn generations(&self) {
        const GENERATIONS: [&str; 6] = [
            "hello",
            "hello tree",
            "hello tree motd",
            "hello motd",
            "hello cowsay motd",
            "hello cowsay",
        ];
        let arguments: Vec<String> = GENERATIONS
            .iter()
            .map(|paths| {
                format!(
                    "paths = with pkgs; [ {paths} ]; postBuild = \"# {}\";",
                    self.bed.path().display()
                )
            })
            .collect();
        let attributes: Vec<String> = (0..GENERATIONS.len()).map(|n| format!("g{n}")).collect();
        let profiles: Vec<(&str, &str)> = attributes
            .iter()
            .zip(&arguments)
            .map(|(a, p)| (a.as_str(), p.as_str()))
            .collect();
        let dir = self.bed.profiles_flake("generations", 1, &profiles);
        let installables: Vec<String> = attributes
            .iter()
            .map(|a| format!("{}#{a}", dir.display()))
            .collect();
        self.bed
            .command("nix")
            .args(["build", "--no-link"])
            .args(&installables)
            .run()
            .success();
        // `nix build --json` lists its results in an order of its own: ask for them in ours.
        let names: Vec<String> = (0..GENERATIONS.len())
            .map(|n| format!("\"g{n}\""))
            .collect();
        let envs = self
            .bed
            .command("nix")
            .args(["eval", "--json"])
            .arg(format!("{}#packages.{}", dir.display(), system()))
            .arg("--apply")
            .arg(format!(
                "ps: map (n: ps.${{n}}.outPath) [ {} ]",
                names.join(" ")
            ))
            .run()
            .success();
        let envs: Vec<String> = serde_json::from_str(&envs.stdout).expect("json");
        for env in envs {
            self.run(&format!(
                "nix-env --profile ~/.local/state/nix/profiles/profile --set {env}"
            ))
            .success();
        }
    }

    /// `text` with the README's GitHub URLs replaced by their stand-ins.
    fn with_stand_ins(&self, text: &str) -> String {
        self.github
            .iter()
            .fold(text.to_string(), |text, (url, local)| {
                text.replace(url, local)
            })
    }

    /// Runs `command` with bash (`pipefail`) in the world, stderr into stdout as a terminal
    /// shows both; a command with `--ask` gets a terminal (`script`) that answers `y`.
    fn run(&self, command: &str) -> Run {
        let command = self.with_stand_ins(command);
        let mut tools = self.bed.tools_dir().join("bin").into_os_string();
        tools.push(":");
        tools.push(self.home.join(".nix-profile/bin"));
        tools.push(":");
        tools.push(std::env::var_os("PATH").unwrap_or_default());
        let script = format!("exec 2>&1\nset -eo pipefail\n{command}\n");
        let cmd = if command.contains("--ask") {
            self.bed
                .command("script")
                .args([
                    "-qec",
                    "stty -echo; exec bash -c \"$FP_EXAMPLE\"",
                    "/dev/null",
                ])
                .env("FP_EXAMPLE", &script)
                .stdin("y\n")
        } else {
            self.bed.command("bash").args(["-c", &script])
        };
        cmd.env("PATH", tools)
            .env("NIX_CONF_DIR", self.bed.path().join("etc/nix"))
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.org")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.org")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_DATA_HOME")
            .current_dir(&self.cwd)
            .run()
    }

    /// What a README shows of `output`: HOME as `/home/alice`, the stand-in `/etc/nix` as
    /// `/etc/nix`, store hashes as `…`, without what only some Nix prints about itself, and
    /// without trailing blanks.
    fn as_shown(&self, output: &str) -> Vec<String> {
        let text = fp_testkit::without_nix_chatter(output)
            .replace(&self.home.display().to_string(), "/home/alice")
            .replace(
                &self.bed.path().join("etc/nix").display().to_string(),
                "/etc/nix",
            )
            .replace('\r', "");
        let text =
            fp_testkit::redact_store_hashes(&text).replace("/nix/store/[HASH]-", "/nix/store/…-");
        let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines
    }
}

/// `github:flakey-profile/flakey-profile` in the worlds: the library copy, with `mkProfile`
/// taking the tools these tests built as `fpTools` (the real flake builds them with cargo),
/// and everything else of the flake as it is.
fn stand_in(bed: &Bed) -> PathBuf {
    let dir = bed.path().join("github-flakey-profile");
    std::fs::create_dir_all(&dir).expect("stand-in");
    let flake = format!(
        r#"{{
  inputs.upstream.url = "path:{lib}";
  inputs.nixpkgs.url = "path:{pkgs}";
  inputs.upstream.inputs.nixpkgs.follows = "nixpkgs";
  outputs = {{ self, upstream, nixpkgs }}: {{
    inherit (upstream) templates overlays packages apps;
    lib = upstream.lib // {{
      mkProfile = args: upstream.lib.mkProfile ({{ fpTools = "{tools}"; }} // args);
    }};
  }};
}}
"#,
        lib = bed.lib_flake().display(),
        pkgs = bed.pkgs(2).display(),
        tools = bed.tools_dir().display(),
    );
    std::fs::write(dir.join("flake.nix"), flake).expect("stand-in flake");
    dir
}
