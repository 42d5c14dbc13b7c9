//! The test bed of flakey-profile's integration tests.
//!
//! Every test makes a [`Bed`]: its own temporary HOME, XDG directories, profile path and
//! NIX_CONFIG, so no test touches the machine's real profiles, registry or
//! channels, and nothing is downloaded. The bed writes the offline package set (two revisions),
//! a copy of this repository's Nix library, and profile flakes that use both; it runs the real
//! tool binaries and real nix with that environment.

pub mod as_root;
mod empty_nix;
pub mod examples;
pub mod remote;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
pub use tempfile;

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fp-testkit sits in the workspace")
        .to_path_buf()
}

/// The Nix system tests build for (`x86_64-linux` on the test machines).
pub fn system() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    format!("{}-{os}", std::env::consts::ARCH)
}

/// The implementation and version of the `nix` on PATH, read as the tools read it
/// ([`fp_nix::command::NixVersion::parse`]); asked once per test binary. Tests name it in
/// their messages, and take the few behaviours that cannot be asked of Nix directly from its
/// methods.
pub fn nix_version() -> fp_nix::command::NixVersion {
    static VERSION: std::sync::OnceLock<fp_nix::command::NixVersion> = std::sync::OnceLock::new();
    *VERSION.get_or_init(|| {
        let out = Command::new("nix")
            .arg("--version")
            .output()
            .expect("run nix --version");
        let text = String::from_utf8_lossy(&out.stdout);
        fp_nix::command::NixVersion::parse(&text)
            .unwrap_or_else(|| panic!("unexpected nix --version: {text}"))
    })
}

/// The `nix profile` subcommand that adds packages: `add` where the running Nix has it (newer
/// Nix renamed `install` to `add`, keeping `install` as an alias), else `install`. Asked of
/// the running Nix, once per test binary.
pub fn nix_profile_add_verb() -> &'static str {
    static VERB: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    VERB.get_or_init(|| {
        let out = Command::new("nix")
            .args(["--extra-experimental-features", "nix-command flakes"])
            .args(["profile", "add", "--profile", "/nonexistent/fp-probe"])
            .stdin(Stdio::null())
            .output()
            .expect("run nix profile add");
        if String::from_utf8_lossy(&out.stderr).contains("not a recognised command") {
            "install"
        } else {
            "add"
        }
    })
}

/// The `manifest.json` version that `nix profile` of the running Nix writes
/// ([`fp_nix::command::NixVersion::profile_manifest_version`]). Tests compare it with what Nix
/// really wrote.
pub fn nix_profile_manifest_version() -> u64 {
    nix_version().profile_manifest_version()
}

/// The store paths in a `nix profile list` listing, in its order: from `--json` (Nix 2.17 and
/// later: `elements` an array or, from 2.20, an object keyed by name), else from the text lines
/// of older Nix (`<index> <original> <locked> <store paths...>`).
pub fn nix_profile_listing_paths(listing: &str) -> Vec<String> {
    if let Ok(doc) = serde_json::from_str::<serde_json::Value>(listing) {
        let elements: Vec<&serde_json::Value> = match &doc["elements"] {
            serde_json::Value::Array(items) => items.iter().collect(),
            serde_json::Value::Object(map) => map.values().collect(),
            _ => Vec::new(),
        };
        return elements
            .iter()
            .flat_map(|e| e["storePaths"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect();
    }
    listing
        .split_whitespace()
        .filter(|w| w.starts_with("/nix/store/"))
        .map(str::to_string)
        .collect()
}

/// The directory cargo put the workspace's binaries in (`target/debug`), found from the
/// running test binary (`target/debug/deps/<test>`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .to_path_buf()
}

/// The path of the workspace's tool `name`, built and up to date.
///
/// A test crate's own binary is best named by the path cargo gives it
/// (`env!("CARGO_BIN_EXE_fp-switch")`, which [`Bed::tool`] takes as is); this is for the tools
/// of other crates (a fp-switch test piping fp-build into it), which `cargo test -p fp-switch`
/// does not build. So the first call in a test process runs `cargo build --workspace --bins`
/// (offline, in the profile the tests were built in; nothing to do after
/// `cargo test --workspace`, which builds them all). Run outside cargo, the binaries in the
/// target directory are used as they are.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_workspace_bins);
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace --bins` (or the tests with `cargo test`)",
        path.display()
    );
    path
}

/// `cargo build --workspace --bins --offline` in the profile of the running tests, when cargo
/// runs them (it says where it is in `$CARGO`).
fn build_workspace_bins() {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return;
    };
    let dir = bin_dir();
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--offline", "--workspace", "--bins"])
        .args(["--profile", &profile])
        .current_dir(repo_root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build --workspace --bins failed");
}

/// The names of the tools (`fp`, `fp-build`, ...), read from `nix/tools.nix`, the one list the
/// Nix packages, the tests of every tool and the benchmarks take them from.
pub fn tools() -> Vec<String> {
    let file = repo_root().join("nix/tools.nix");
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "--expr"])
        .arg(format!("builtins.attrNames (import {})", file.display()))
        .output()
        .expect("run nix-instantiate");
    assert!(
        out.status.success(),
        "cannot read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a list of names")
}

/// One test's isolated world.
pub struct Bed {
    dir: tempfile::TempDir,
    nix_config: String,
}

impl Default for Bed {
    fn default() -> Self {
        Self::new()
    }
}

impl Bed {
    /// Creates the temporary HOME, XDG directories and profiles directory.
    pub fn new() -> Bed {
        let dir = tempfile::Builder::new()
            .prefix("fp-test-")
            .tempdir()
            .expect("temp dir");
        for sub in ["home", "config", "state", "cache", "data", "profiles"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("bed dirs");
        }
        let nix_config = format!(
            "experimental-features = nix-command flakes\nsubstituters =\nsandbox = false\nbuild-users-group =\nflake-registry = {}\n",
            dir.path().join("no-global-registry.json").display()
        );
        Bed { dir, nix_config }
    }

    /// The bed's root directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The temporary HOME.
    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// `$XDG_CONFIG_HOME`.
    pub fn config_home(&self) -> PathBuf {
        self.path().join("config")
    }

    /// `$XDG_STATE_HOME`.
    pub fn state_home(&self) -> PathBuf {
        self.path().join("state")
    }

    /// The NIX_CONFIG every command of this bed runs with.
    pub fn nix_config(&self) -> &str {
        &self.nix_config
    }

    /// The profile the tests switch: `<bed>/profiles/profile`.
    pub fn profile(&self) -> PathBuf {
        self.path().join("profiles").join("profile")
    }

    /// A command with the bed's environment and nothing of the caller's but PATH.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Cmd {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env(
                "USER",
                std::env::var_os("USER").unwrap_or_else(|| "root".into()),
            )
            .env("XDG_CONFIG_HOME", self.config_home())
            .env("XDG_STATE_HOME", self.state_home())
            .env("XDG_CACHE_HOME", self.path().join("cache"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("NIX_CONFIG", &self.nix_config)
            .env("TMPDIR", std::env::temp_dir())
            .current_dir(self.path());
        Cmd { cmd, stdin: None }
    }

    /// One of the workspace's tools, run in the bed: `program` is either the path cargo gives a
    /// test crate for its own binary (`env!("CARGO_BIN_EXE_fp-switch")`), used as is, or the
    /// name of another crate's tool (`fp-build`), found with [`bin`].
    pub fn tool(&self, program: &str) -> Cmd {
        if Path::new(program).is_absolute() {
            self.command(program)
        } else {
            self.command(bin(program))
        }
    }

    /// The store path of the offline package set at `revision`, as a flake input copies it
    /// (what a pin of `nixpkgs` to it names).
    pub fn pkgs_source(&self, revision: u32) -> String {
        self.command("nix")
            .args(["eval", "--raw", "--impure", "--expr"])
            .arg(format!(
                "(builtins.getFlake \"path:{}\").outPath",
                self.pkgs(revision).display()
            ))
            .run()
            .success()
            .stdout
    }

    /// Writes the offline package set at `revision` (1 or 2) to `<bed>/pkgs-<revision>` and
    /// returns that directory.
    pub fn pkgs(&self, revision: u32) -> PathBuf {
        let dir = self.path().join(format!("pkgs-{revision}"));
        if !dir.exists() {
            copy_dir(&repo_root().join("fp-testkit/pkgs"), &dir);
            std::fs::write(dir.join("revision.nix"), format!("{revision}\n")).expect("revision");
        }
        dir
    }

    /// A copy of this repository's flake and library (flake.nix, flake.lock, default.nix, nix/,
    /// lib/, templates/) at
    /// `<bed>/flakey-profile`, so flakes can use `lib.mkProfile` without copying the whole work
    /// tree (target/ included) into the store. The copy is verbatim: flakes that use it as an
    /// input make its `nixpkgs` follow their own, and commands that evaluate it directly pass
    /// [`Bed::lib_overrides`], so nothing is downloaded.
    pub fn lib_flake(&self) -> PathBuf {
        let dir = self.path().join("flakey-profile");
        if !dir.exists() {
            std::fs::create_dir_all(&dir).expect("lib dir");
            for file in ["flake.nix", "flake.lock", "default.nix"] {
                std::fs::copy(repo_root().join(file), dir.join(file)).expect("copy flake");
            }
            for sub in ["nix", "lib", "templates"] {
                copy_dir(&repo_root().join(sub), &dir.join(sub));
            }
        }
        dir
    }

    /// The arguments that point the library copy's own `nixpkgs` input at the offline package
    /// set (revision 1), for commands that evaluate [`Bed::lib_flake`] itself.
    pub fn lib_overrides(&self) -> Vec<String> {
        vec![
            "--override-input".into(),
            "nixpkgs".into(),
            format!("path:{}", self.pkgs(1).display()),
        ]
    }

    /// A directory with `bin/` links to the workspace's built tools, for `fpTools`.
    pub fn tools_dir(&self) -> PathBuf {
        let dir = self.path().join("tools");
        if !dir.exists() {
            std::fs::create_dir_all(dir.join("bin")).expect("tools dir");
            for name in tools() {
                std::os::unix::fs::symlink(bin(&name), dir.join("bin").join(&name))
                    .expect("tool link");
            }
        }
        dir
    }

    /// Writes a profile flake at `<bed>/<name>` whose `packages.<system>.profile` is
    /// `lib.mkProfile` of `packages` from the package set at `revision`, with
    /// `pinned.nixpkgs = nixpkgs`. Its inputs are the bed's package set and library copy, so
    /// building it is offline.
    pub fn profile_flake(&self, name: &str, revision: u32, packages: &[&str]) -> PathBuf {
        self.profile_flake_with(
            name,
            revision,
            &format!(
                "paths = with pkgs; [ {} ];\n        pinned.nixpkgs = nixpkgs;",
                packages.join(" ")
            ),
        )
    }

    /// Like [`Bed::profile_flake`], with `arguments` (Nix attribute bindings, `pkgs` in scope)
    /// as the arguments of `lib.mkProfile` besides `pkgs` and `fpTools` (the workspace's tools).
    pub fn profile_flake_with(&self, name: &str, revision: u32, arguments: &str) -> PathBuf {
        self.profiles_flake(name, revision, &[("profile", arguments)])
    }

    /// A flake at `<bed>/<name>` with one `lib.mkProfile` per `(attribute, arguments)` in
    /// `packages.<system>` (arguments as in [`Bed::profile_flake_with`]), of the package set at
    /// `revision`.
    pub fn profiles_flake(&self, name: &str, revision: u32, profiles: &[(&str, &str)]) -> PathBuf {
        let pkgs = self.pkgs(revision);
        let lib = self.lib_flake();
        let tools = self.tools_dir();
        let dir = self.path().join(name);
        std::fs::create_dir_all(&dir).expect("flake dir");
        let outputs: String = profiles
            .iter()
            .map(|(attribute, arguments)| {
                format!(
                    "      packages.{system}.{attribute} = flakey-profile.lib.mkProfile {{\n        inherit pkgs;\n        fpTools = \"{tools}\";\n        {arguments}\n      }};\n",
                    system = system(),
                    tools = tools.display(),
                )
            })
            .collect();
        let flake = format!(
            r#"{{
  inputs.nixpkgs.url = "path:{pkgs}";
  inputs.flakey-profile.url = "path:{lib}";
  inputs.flakey-profile.inputs.nixpkgs.follows = "nixpkgs";
  outputs = {{ self, nixpkgs, flakey-profile }}:
    let pkgs = nixpkgs.legacyPackages.{system}; in
    {{
{outputs}    }};
}}
"#,
            pkgs = pkgs.display(),
            lib = lib.display(),
            system = system(),
        );
        std::fs::write(dir.join("flake.nix"), flake).expect("flake.nix");
        dir
    }

    /// The no-flake template's `default.nix` with its sources pointed at the bed (the offline
    /// package set at `revision`, as a `source` store path the way fetchTarball with
    /// `name = "source"` makes one, and the library copy) and the workspace's tools as `fpTools`.
    pub fn no_flake_sources(&self, template: &str, revision: u32) -> String {
        let start = template.find("  sources = {").expect("sources block");
        let end =
            start + template[start..].find("\n  };\n").expect("end of sources") + "\n  };\n".len();
        let sources = format!(
            "  sources = {{\n    nixpkgs = builtins.path {{ path = {}; name = \"source\"; }};\n    flakey-profile = {};\n  }};\n",
            self.pkgs(revision).display(),
            self.lib_flake().display()
        );
        let text = format!("{}{sources}{}", &template[..start], &template[end..]);
        text.replacen(
            "inherit pkgs;",
            &format!(
                "inherit pkgs;\n    fpTools = \"{}\";",
                self.tools_dir().display()
            ),
            1,
        )
    }

    /// Builds a profile flake with `nix build` directly and returns the store path.
    pub fn build(&self, flake: &Path) -> String {
        let run = self
            .command("nix")
            .args(["build", "--no-link", "--json"])
            .arg(format!("{}#profile", flake.display()))
            .run()
            .success();
        let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("nix build --json");
        v[0]["outputs"]["out"]
            .as_str()
            .expect("out path")
            .to_string()
    }

    /// `nix profile add` (or `install`, on Nix before the rename) of `installables` into
    /// `profile`, which must succeed.
    pub fn nix_profile_add<I, S>(&self, profile: &Path, installables: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command("nix")
            .args(["profile", nix_profile_add_verb(), "--profile"])
            .arg(profile)
            .args(installables)
            .run()
            .success()
    }

    /// The store paths `nix profile list` shows for `profile`, as the running Nix lists them
    /// (`--json` where it has it).
    pub fn nix_profile_list_paths(&self, profile: &Path) -> Vec<String> {
        let mut cmd = self
            .command("nix")
            .args(["profile", "list", "--profile"])
            .arg(profile);
        if nix_version().profile_list_has_json() {
            cmd = cmd.arg("--json");
        }
        nix_profile_listing_paths(&cmd.run().success().stdout)
    }

    /// `nix-env --list-generations --profile <profile>` output.
    pub fn nix_env_generations(&self) -> String {
        self.command("nix-env")
            .arg("--profile")
            .arg(self.profile())
            .arg("--list-generations")
            .run()
            .success()
            .stdout
    }

    /// The generation numbers nix-env lists, and the current one.
    pub fn generation_numbers(&self) -> (Vec<u64>, Option<u64>) {
        parse_generation_listing(&self.nix_env_generations())
    }

    /// Where the profile link points (`profile-N-link`), or `None`.
    pub fn profile_target(&self) -> Option<PathBuf> {
        std::fs::read_link(self.profile()).ok()
    }

    /// Replaces what varies between runs in `text`: the bed's path, store hashes and times; and
    /// drops what only some Nix prints about itself ([`without_nix_chatter`]).
    pub fn redact(&self, text: &str) -> String {
        let text = without_nix_chatter(text);
        let text = text.replace(&self.path().display().to_string(), "[BED]");
        let text = text.replace(&bin_dir().display().to_string(), "[BIN]");
        redact_times(&redact_store_hashes(&text))
    }
}

/// `text` without the lines Nix prints about its own progress or the test machine rather than
/// about what the tools do, which only some implementations print: Lix's `fetching path input
/// '...'` and its warning that user namespaces do not work (in the test roots, a chroot).
pub fn without_nix_chatter(text: &str) -> String {
    const CHATTER: [&str; 3] = [
        "warning: user namespaces do not work on this system",
        "fetching path input '",
        "fetching git input '",
    ];
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if !CHATTER.iter().any(|c| line.starts_with(c)) {
            out.push_str(line);
        }
    }
    out
}

/// What a terminal showed a tool that asked `[y/N]` and got `answer` typed ahead (through
/// `script`), the same whenever the terminal echoed the answer: before the prompt (its own
/// line, dropped) or after it (`[y/N] n`, then a line break, both dropped). An answer without a
/// line end (end of input, Ctrl-D) echoes no line break, so the line break after the prompt is
/// then the tool's own and stays.
pub fn terminal_transcript(stdout: &str, answer: &str) -> String {
    let echo = answer.trim();
    let echoes_line_end = answer.ends_with('\n');
    let lines: Vec<String> = stdout
        .replace("\r\n", "\n")
        .lines()
        .filter(|line| echo.is_empty() || line.trim() != echo)
        .map(|line| line.replace(&format!("[y/N] {echo}"), "[y/N] "))
        .collect();
    let mut out = String::new();
    for line in lines {
        out.push_str(&line);
        if !(echoes_line_end && line.ends_with("[y/N] ")) {
            out.push('\n');
        }
    }
    out.trim_end_matches('\n').to_string()
}

/// Reads `nix-env --list-generations` output into the generation numbers and the current one.
pub fn parse_generation_listing(listing: &str) -> (Vec<u64>, Option<u64>) {
    let mut numbers = Vec::new();
    let mut current = None;
    for line in listing.lines() {
        let Some(n) = line.split_whitespace().next().and_then(|w| w.parse().ok()) else {
            continue;
        };
        numbers.push(n);
        if line.contains("(current)") {
            current = Some(n);
        }
    }
    (numbers, current)
}

/// Replaces the hash of every store path with `[HASH]`.
pub fn redact_store_hashes(text: &str) -> String {
    const PREFIX: &str = "/nix/store/";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(PREFIX) {
        out.push_str(&rest[..i + PREFIX.len()]);
        rest = &rest[i + PREFIX.len()..];
        let hash_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
            .count();
        if hash_len == 32 {
            out.push_str("[HASH]");
            rest = &rest[32..];
        }
    }
    out.push_str(rest);
    out
}

/// Replaces `YYYY-MM-DD HH:MM:SS` times with `[TIME]`.
pub fn redact_times(text: &str) -> String {
    let shape = b"dddd-dd-dd dd:dd:dd";
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let fits = bytes.len() - i >= shape.len()
            && shape.iter().zip(&bytes[i..]).all(|(s, b)| match s {
                b'd' => b.is_ascii_digit(),
                other => other == b,
            });
        if fits {
            out.push_str("[TIME]");
            i += shape.len();
        } else {
            let ch = text[i..].chars().next().expect("char boundary");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Copies a directory tree (files and directories only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy file");
        }
    }
}

/// A command about to run in a bed.
pub struct Cmd {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    /// Appends an argument.
    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Removes an environment variable (of the bed's).
    pub fn env_remove(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    /// Runs in another directory.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Feeds `input` on stdin (otherwise stdin is empty, not a terminal).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// The command as set up (the bed's environment and directory), for a test that connects
    /// its pipes itself (two tools in one pipeline, say).
    pub fn into_command(self) -> Command {
        self.cmd
    }

    /// Starts the command in a process group of its own (so a test can kill it and every
    /// child it started), with stdin, stdout and stderr discarded.
    pub fn spawn_group(mut self) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        self.cmd.spawn().expect("spawn")
    }

    /// Runs to completion and collects the result.
    pub fn run(mut self) -> Run {
        let description = format!("{:?}", self.cmd);
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {description}: {e}"));
        let input = self.stdin.take().unwrap_or_default();
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let output = child.wait_with_output().expect("wait");
        let _ = writer.join();
        Run::new(description, output)
    }
}

/// Whether the tests run as root (some checks need another user, or root's powers).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Sends SIGKILL to `child` alone (`group == false`: its own children carry on) or to its
/// whole process group, then reaps it.
pub fn kill(child: &mut std::process::Child, group: bool) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) with a pid (or process group) this test started; it only sends a signal.
    unsafe {
        libc::kill(if group { -pid } else { pid }, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// Waits (up to 30 s) until no process of the process group `pgid` is left, e.g. the nix-env a
/// killed tool left running.
pub fn wait_for_group(pgid: u32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // SAFETY: kill with signal 0 only checks whether the group still has processes.
    while unsafe { libc::kill(-(pgid as libc::pid_t), 0) } == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "process group {pgid} still running"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A small deterministic pseudo-random sequence (xorshift), so randomized tests repeat exactly.
pub struct Random(u64);

impl Random {
    /// A sequence from `seed` (not zero).
    pub fn new(seed: u64) -> Random {
        Random(seed.max(1))
    }

    /// The next number below `bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

/// A finished command: exit code and output, with assertions that print everything on failure.
#[derive(Debug)]
pub struct Run {
    description: String,
    /// The exit code (`-1` if killed by a signal).
    pub code: i32,
    /// stdout as text.
    pub stdout: String,
    /// stderr as text.
    pub stderr: String,
}

impl Run {
    pub(crate) fn new(description: String, output: Output) -> Run {
        Run {
            description,
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts exit code 0.
    pub fn success(self) -> Run {
        self.code(0)
    }

    /// Asserts the exit code.
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.code, expected,
            "exit code of {}\n--- stdout\n{}\n--- stderr\n{}",
            self.description, self.stdout, self.stderr
        );
        self
    }

    /// Asserts stdout is empty.
    pub fn no_stdout(self) -> Run {
        assert!(
            self.stdout.is_empty(),
            "stdout of {} not empty:\n{}",
            self.description,
            self.stdout
        );
        self
    }

    /// Asserts stderr contains `needle`.
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr.contains(needle),
            "stderr of {} lacks {needle:?}:\n{}",
            self.description,
            self.stderr
        );
        self
    }

    /// stdout's first line, trimmed.
    pub fn stdout_line(&self) -> &str {
        self.stdout.lines().next().unwrap_or_default().trim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_is_the_same_wherever_the_echo_came() {
        let before = "n\r\nswitch? [y/N] answered no\r\n";
        let after = "switch? [y/N] n\r\nanswered no\r\n";
        for shown in [before, after] {
            assert_eq!(
                terminal_transcript(shown, "n\n"),
                "switch? [y/N] answered no"
            );
        }
        assert_eq!(terminal_transcript("a\r\nb\r\n", "\n"), "a\nb");
    }

    #[test]
    fn reads_nix_profile_listings_of_every_shape() {
        let old = "0 flake:a#x path:/a#x /nix/store/aaa-hello-1.0\n2 - - /nix/store/bbb-foo /nix/store/ccc-bar\n";
        assert_eq!(
            nix_profile_listing_paths(old),
            [
                "/nix/store/aaa-hello-1.0",
                "/nix/store/bbb-foo",
                "/nix/store/ccc-bar"
            ]
        );
        let v2 = r#"{"elements":[{"storePaths":["/nix/store/aaa-hello-1.0"]}],"version":2}"#;
        assert_eq!(nix_profile_listing_paths(v2), ["/nix/store/aaa-hello-1.0"]);
        let v3 =
            r#"{"elements":{"hello":{"storePaths":["/nix/store/aaa-hello-1.0"]}},"version":3}"#;
        assert_eq!(nix_profile_listing_paths(v3), ["/nix/store/aaa-hello-1.0"]);
        assert!(nix_profile_listing_paths("").is_empty());
    }

    #[test]
    fn redacts_hashes_and_times() {
        let text = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-1.0 at 2026-11-24 18:35:04 /nix/store/short";
        assert_eq!(
            redact_times(&redact_store_hashes(text)),
            "/nix/store/[HASH]-hello-1.0 at [TIME] /nix/store/short"
        );
    }
}
