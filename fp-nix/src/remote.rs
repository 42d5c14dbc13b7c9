//! Profiles on other machines, reached the way Nix reaches them: `ssh` with the options of
//! `$NIX_SSHOPTS`, and `nix copy --to ssh://HOST` for the closure.
//!
//! The other machine needs only Nix (any version from 2.8) and a POSIX shell. What is asked of
//! it is built here as data: each question is one shell command line (every word from outside
//! quoted with [`shell_quote`]), sent with one ssh call, and its answer is parsed by the same
//! rules as on this machine ([`parse_link_name`], [`chosen_by_user`],
//! [`locations::default_profile`], [`path_info::parse`]). So the command lines and the parsers
//! are tested without ssh, and hostile profile paths or host names run nothing.

use crate::command::{shell_quote, NixCommand, NixVersion, Stderr};
use crate::error::{Error, Result};
use crate::generation::{parse_link_name, Generation};
use crate::locations::{self, User};
use crate::path_info::{self, PathInfo};
use crate::profile::{chosen_by_user, DirFacts, DirState};
use crate::Log;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The exit code a remote command line gives when `nix-env` is not on the remote `PATH` (the
/// shell's own code for a command not found).
const NO_NIX: i32 = 127;

/// The exit code of `ssh` itself when it could not connect or log in.
const SSH_FAILED: i32 = 255;

/// What every remote command line starts with: stop with [`NO_NIX`] when there is no Nix.
const NEEDS_NIX: &str = "command -v nix-env >/dev/null 2>&1 || exit 127; ";

/// Another machine, as `ssh` names it: `host`, `user@host` or an alias of the ssh config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    target: String,
    /// Its Nix, once asked ([`Host::nix_version`]).
    version: std::sync::OnceLock<NixVersion>,
}

impl Host {
    /// A host as given to `--target-host`. Empty names, names that ssh would read as an option
    /// (a leading `-`) and names with spaces or control characters are usage errors.
    pub fn new(target: &str) -> Result<Host> {
        let bad = |why: &str| {
            Error::usage(format!(
                "--target-host {target:?} is not a host name: {why}"
            ))
            .with_hint("give what ssh accepts: host, user@host or an alias from ~/.ssh/config")
        };
        if target.is_empty() {
            return Err(bad("it is empty"));
        }
        if target.starts_with('-') {
            return Err(bad("it starts with '-'"));
        }
        if target.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it has spaces or control characters"));
        }
        Ok(Host {
            target: target.to_string(),
            version: std::sync::OnceLock::new(),
        })
    }

    /// The host as given.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The `ssh` command that runs the shell command line `remote` on the host: the options
    /// of `$NIX_SSHOPTS` (split as the running Nix splits them), then the host, then
    /// `sh -c 'remote'`, so the line runs in a POSIX shell whatever the login shell is.
    pub fn ssh(&self, options: &[String], remote: &str) -> NixCommand {
        NixCommand::new("ssh")
            .args(options)
            .args(["--", &self.target])
            .arg(format!("sh -c {}", shell_quote(remote)))
    }

    /// `nix copy --to ssh://HOST PATH`: copies the closure of `path` to the host, only what it
    /// lacks; with `substitute`, the host first fetches what it can from its own caches.
    pub fn copy_command(&self, path: &str, substitute: bool) -> NixCommand {
        let mut cmd = NixCommand::nix().args(["copy", "--to", &format!("ssh://{}", self.target)]);
        if substitute {
            cmd = cmd.arg("--substitute-on-destination");
        }
        cmd.arg(path)
    }

    /// Copies the closure of `path` to the host (Nix's progress on stderr, live).
    pub fn copy(&self, log: &dyn Log, path: &str, substitute: bool) -> Result<()> {
        self.copy_command(path, substitute)
            .output(log, Stderr::Stream)
            .map(drop)
            .map_err(|e| e.context(format!("copying {path} to {}", self.target)))
    }

    /// Runs the shell command line `remote` on the host and returns its stdout. Not reaching
    /// the host and a missing `nix-env` there are errors that say so and what to check.
    pub fn run(&self, log: &dyn Log, remote: &str) -> Result<String> {
        let options = ssh_options(log)?;
        let outcome = self
            .ssh(&options, remote)
            .output_or_code(log)
            .map_err(|e| {
                e.with_hint("install an ssh client (OpenSSH's ssh) and make sure it is on PATH")
            })?;
        match outcome {
            Ok(stdout) => Ok(stdout),
            Err((code, err)) => Err(self.explain(code, err)),
        }
    }

    /// Runs a nix command (built as data, as locally) on the host.
    pub fn run_nix(&self, log: &dyn Log, cmd: &NixCommand) -> Result<String> {
        self.run(log, &remote_line(cmd))
    }

    /// The error for a failed remote command, by what ssh's exit code tells.
    fn explain(&self, code: Option<i32>, err: Error) -> Error {
        let host = &self.target;
        match code {
            Some(SSH_FAILED) => Error::failed(format!(
                "cannot reach {host} over ssh: {}",
                // What ssh said, without the command line (shown under -v).
                err.message()
                    .split_once('\n')
                    .map_or("ssh failed", |(_, said)| said.trim())
            ))
            .with_hint(format!(
                    "check that `ssh {} true` works (with the options of $NIX_SSHOPTS) and that the host is up",
                    shell_quote(host)
                )),
            Some(NO_NIX) => Error::failed(format!(
                "no nix-env on the PATH of commands run over ssh on {host}"
            ))
            .with_hint(format!(
                "install Nix on {host} (any version from 2.8), or make it be on the PATH of non-interactive ssh sessions there: check with ssh {} 'command -v nix-env'",
                shell_quote(host)
            )),
            _ => err.context(format!("on {host}")),
        }
    }

    /// Asks the host what nix-env's choice of the default profile depends on there.
    pub fn probe(&self, log: &dyn Log) -> Result<Probe> {
        Probe::parse(&self.run(log, PROBE)?)
    }

    /// Reads the profile `profile` on the host: whether its directory can take generations,
    /// who the remote user is, and its generations.
    pub fn read_profile(&self, log: &dyn Log, profile: &Path) -> Result<RemoteProfile> {
        RemoteProfile::parse(profile, &self.run(log, &read_profile_line(profile)?)?)
    }

    /// Runs the nix command `cmd` on the host (one that changes the profile `profile`), then
    /// reads that profile, in one ssh call ([`change_then_read_line`]).
    pub fn change_then_read(
        &self,
        log: &dyn Log,
        cmd: &NixCommand,
        profile: &Path,
    ) -> Result<RemoteProfile> {
        let line = change_then_read_line(cmd, profile)?;
        RemoteProfile::parse(profile, &self.run(log, &line)?)
    }

    /// The host's Nix, as its `nix --version` says; asked there once.
    pub fn nix_version(&self, log: &dyn Log) -> Result<NixVersion> {
        if let Some(v) = self.version.get() {
            return Ok(*v);
        }
        let text = self.run(log, &remote_line(&NixCommand::new("nix").arg("--version")))?;
        let version = NixVersion::parse(&text).ok_or_else(|| {
            Error::failed(format!(
                "cannot read the Nix version of {} from {text:?}",
                self.target
            ))
        })?;
        Ok(*self.version.get_or_init(|| version))
    }

    /// What the host's store knows about `paths`, references and NAR sizes (`nix path-info
    /// --json` run there, as the host's Nix takes it).
    pub fn path_info(&self, log: &dyn Log, paths: &[&str]) -> Result<BTreeMap<String, PathInfo>> {
        if paths.is_empty() {
            return Ok(BTreeMap::new());
        }
        match path_info::query_command(paths, false, self.nix_version(log)?) {
            Some(cmd) => path_info::parse(&self.run_nix(log, &cmd)?),
            None => Ok(BTreeMap::new()),
        }
    }

    /// Whether `path` on the host has the file `name` at its root (the marker of an env made
    /// by flakey-profile).
    pub fn has_file(&self, log: &dyn Log, path: &str, name: &str) -> Result<bool> {
        let line = format!(
            "if [ -e {} ]; then echo yes; fi",
            shell_quote(&format!("{path}/{name}"))
        );
        Ok(self.run(log, &line)?.trim() == "yes")
    }
}

/// The shell command line that runs `cmd` on a host, after checking that Nix is there.
pub fn remote_line(cmd: &NixCommand) -> String {
    format!("{NEEDS_NIX}exec {}", cmd.display())
}

/// The options of `$NIX_SSHOPTS`, split as the `nix` on PATH splits them (it runs `nix copy`;
/// the tools' own ssh calls use the same options).
pub fn ssh_options(log: &dyn Log) -> Result<Vec<String>> {
    let text = std::env::var("NIX_SSHOPTS").unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    split_ssh_options(&text, crate::command::nix_version(log)?)
}

/// Splits `$NIX_SSHOPTS` as Nix `version` does: as a shell splits words (single quotes, double
/// quotes, backslashes) where it does ([`NixVersion::splits_ssh_options_like_a_shell`]: upstream
/// 2.26 and later, Determinate Nix), so `-o ProxyCommand="ssh -W %h:%p gate"` is one option and
/// an unterminated quote is a usage error; else on whitespace (older Nix, every Lix release), so
/// `-F /home/o'brien/cfg` is two words and quotes stay in them.
pub fn split_ssh_options(text: &str, version: NixVersion) -> Result<Vec<String>> {
    if !version.splits_ssh_options_like_a_shell() {
        return Ok(text.split_whitespace().map(str::to_string).collect());
    }
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    let unterminated = || Error::usage(format!("NIX_SSHOPTS has an unterminated quote: {text:?}"));
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(unterminated()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(unterminated()),
                        },
                        Some(c) => w.push(c),
                        None => return Err(unterminated()),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// The shell command line that prints, NUL-separated, what nix-env's default profile depends
/// on: the nix-env version, uid, user name, `$HOME`, `$XDG_STATE_HOME`, `$NIX_PROFILE` and the
/// texts of `~/.nix-profile` and `$XDG_STATE_HOME/nix/profile` (empty when not links). The
/// links are read before nix-env runs, because nix-env (2.8) creates `~/.nix-profile` whenever
/// it starts.
pub const PROBE: &str = concat!(
    "command -v nix-env >/dev/null 2>&1 || exit 127; ",
    "h=$(readlink \"$HOME/.nix-profile\" 2>/dev/null); ",
    "x=$(readlink \"${XDG_STATE_HOME:-$HOME/.local/state}/nix/profile\" 2>/dev/null); ",
    "printf '%s\\000' \"$(nix-env --version)\" \"$(id -u)\" \"$(id -un 2>/dev/null || printf %s \"$USER\")\" ",
    "\"$HOME\" \"$XDG_STATE_HOME\" \"$NIX_PROFILE\" \"$h\" \"$x\""
);

/// What nix-env's choice of the default profile depends on, as read on a host by [`PROBE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The host's Nix version.
    pub version: NixVersion,
    /// The remote user.
    pub user: User,
    /// Its home directory.
    pub home: PathBuf,
    /// `$NIX_PROFILE` there, if set.
    pub nix_profile: Option<PathBuf>,
    /// The texts of `~/.nix-profile` and of `$XDG_STATE_HOME/nix/profile`, with their paths.
    pub links: Vec<(PathBuf, Option<PathBuf>)>,
}

impl Probe {
    /// Reads the output of [`PROBE`].
    pub fn parse(text: &str) -> Result<Probe> {
        let fields: Vec<&str> = text.split('\0').collect();
        let [version, uid, name, home, state, nix_profile, home_link, xdg_link, ..] = fields[..]
        else {
            return Err(Error::failed(format!(
                "unexpected answer from the remote shell (expected 8 fields): {text:?}"
            )));
        };
        let version = NixVersion::parse(version).ok_or_else(|| {
            Error::failed(format!(
                "cannot read the remote Nix version from {version:?}"
            ))
        })?;
        let home = PathBuf::from(if home.is_empty() { "/" } else { home });
        let state_home = if state.starts_with('/') {
            PathBuf::from(state)
        } else {
            home.join(".local/state")
        };
        let some = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        Ok(Probe {
            version,
            user: User {
                root: uid.trim() == "0",
                name: (!name.is_empty()).then(|| name.to_string()),
                state_home: state_home.clone(),
                nix_state_home: None,
            },
            nix_profile: some(nix_profile).map(|p| home.join(p)),
            links: vec![
                (home.join(".nix-profile"), some(home_link)),
                (state_home.join("nix/profile"), some(xdg_link)),
            ],
            home,
        })
    }

    /// The profile nix-env uses on the host when none is named, by the same rule as here.
    pub fn default_profile(&self) -> Result<PathBuf> {
        match chosen_by_user(self.nix_profile.clone(), &self.links) {
            Some((path, _)) => Ok(path),
            None => locations::default_profile(self.version, &self.user),
        }
    }
}

/// The shell command line that reads the profile `profile` on a host: NUL-separated, the state
/// of its directory (`missing`, `readonly` or `writable`), the user's name, uid, whether they
/// could create the directory (`yes` when the nearest directory above it that exists is
/// writable), whether their Nix talks to a daemon (`yes`: `NIX_REMOTE=daemon`, or not root and
/// the daemon's socket exists), `$XDG_STATE_HOME` (default `~/.local/state`), the nix-env
/// version when the directory is missing (else empty), the text of the profile link, then name,
/// mtime (seconds) and target of every `<profile>-*-link*` beside it. The mtime comes from
/// `stat -c %Y` (GNU, busybox) or `stat -f %m` (BSD, macOS). A profile path that is not
/// absolute is a usage error (it would be taken from the remote home).
pub fn read_profile_line(profile: &Path) -> Result<String> {
    let (dir, base) = split_remote(profile)?;
    Ok(format!(
        "{NEEDS_NIX}p={p}; d={d}; b={b}; \
         if [ -d \"$d\" ]; then if [ -w \"$d\" ]; then s=writable; else s=readonly; fi; else s=missing; fi; \
         a=$d; while [ ! -d \"$a\" ]; do a=$(dirname \"$a\"); done; \
         if [ \"$s\" = missing ] && [ -w \"$a\" ] && [ -x \"$a\" ]; then c=yes; else c=no; fi; \
         u=$(id -u); m=no; if [ \"$NIX_REMOTE\" = daemon ] || {{ [ \"$u\" != 0 ] && [ -z \"$NIX_REMOTE\" ] && [ -S /nix/var/nix/daemon-socket/socket ]; }}; then m=yes; fi; \
         v=; if [ \"$s\" = missing ]; then v=$(nix-env --version 2>/dev/null); fi; \
         printf '%s\\000' \"$s\" \"$(id -un 2>/dev/null || id -u)\" \"$u\" \"$c\" \"$m\" \"${{XDG_STATE_HOME:-$HOME/.local/state}}\" \"$v\" \"$(readlink \"$p\" 2>/dev/null)\"; \
         for f in \"$d/$b\"-*-link*; do [ -L \"$f\" ] || continue; \
         printf '%s\\000' \"${{f##*/}}\" \"$(stat -c %Y \"$f\" 2>/dev/null || stat -f %m \"$f\")\" \"$(readlink \"$f\")\"; done",
        p = shell_quote(&profile.to_string_lossy()),
        d = shell_quote(&dir.to_string_lossy()),
        b = shell_quote(&base),
    ))
}

/// The shell command line that runs `cmd` (its stdout sent to stderr, so the answer is only
/// the profile's), stops with its exit code if it fails, and otherwise reads `profile` as
/// [`read_profile_line`] does.
pub fn change_then_read_line(cmd: &NixCommand, profile: &Path) -> Result<String> {
    Ok(format!(
        "{NEEDS_NIX}{} >&2 || exit; {}",
        cmd.display(),
        read_profile_line(profile)?
    ))
}

/// A profile's directory and base name; the path must be absolute.
fn split_remote(profile: &Path) -> Result<(PathBuf, String)> {
    let base = profile.file_name().and_then(|n| n.to_str());
    match (profile.is_absolute(), base, profile.parent()) {
        (true, Some(base), Some(dir)) => Ok((dir.to_path_buf(), base.to_string())),
        _ => Err(Error::usage(format!(
            "{} is not a usable profile path on another machine (give an absolute path)",
            profile.display()
        ))),
    }
}

/// A profile on a host, as [`read_profile_line`] read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteProfile {
    /// Whether generations can be made there.
    pub dir: DirState,
    /// What decides whether generations can be made there and what fixes it.
    pub facts: DirFacts,
    /// The remote user's name (or uid), for the fix of a missing directory.
    pub owner: String,
    /// The generations, oldest first, the current one marked.
    pub generations: Vec<Generation>,
}

impl RemoteProfile {
    /// Reads the output of [`read_profile_line`] for `profile`: names are read with Nix's own
    /// rule ([`parse_link_name`]), anything else beside the profile is ignored.
    pub fn parse(profile: &Path, text: &str) -> Result<RemoteProfile> {
        let (_, base) = split_remote(profile)?;
        let bad = || {
            Error::failed(format!(
                "unexpected answer from the remote shell reading {}: {text:?}",
                profile.display()
            ))
        };
        let mut fields = text.strip_suffix('\0').unwrap_or(text).split('\0');
        let dir = match fields.next().ok_or_else(bad)? {
            "missing" => DirState::Missing,
            "readonly" => DirState::ReadOnly,
            "writable" => DirState::Writable,
            _ => return Err(bad()),
        };
        let owner = fields.next().ok_or_else(bad)?.to_string();
        let [uid, creatable, daemon, state_home, version, link] =
            std::array::from_fn(|_| fields.next());
        let (Some(uid), Some(creatable), Some(daemon), Some(state_home), Some(version), Some(link)) =
            (uid, creatable, daemon, state_home, version, link)
        else {
            return Err(bad());
        };
        let user = User {
            root: uid.trim() == "0",
            name: Some(owner.clone()),
            state_home: PathBuf::from(state_home),
            // The read does not report the remote's $NIX_STATE_HOME: an ssh session rarely has it.
            nix_state_home: None,
        };
        let profile_dir = profile.parent().unwrap_or(Path::new("/"));
        let facts = DirFacts {
            state: dir,
            root: user.root,
            creatable: creatable == "yes",
            made_by_nix: NixVersion::parse(version)
                .is_some_and(|v| locations::made_by_nix(profile_dir, v, &user)),
            multi_user: daemon == "yes" && locations::is_per_user_dir(profile_dir),
        };
        let current = Path::new(link)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| parse_link_name(&base, n));
        let rest: Vec<&str> = fields.collect();
        let mut generations = Vec::new();
        for record in rest.chunks(3) {
            let [name, mtime, target] = record else {
                return Err(bad());
            };
            let Some(number) = parse_link_name(&base, name) else {
                continue;
            };
            let secs: u64 = mtime.trim().parse().map_err(|_| bad())?;
            generations.push(Generation {
                generation: number,
                store_path: target.to_string(),
                created: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
                current: Some(number) == current,
            });
        }
        generations.sort_by_key(|g| g.generation);
        Ok(RemoteProfile {
            dir,
            facts,
            owner,
            generations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Runs a remote command line in the local POSIX shell, as ssh would run it there.
    fn sh(line: &str) -> String {
        sh_in(Path::new("/"), line)
    }

    /// [`sh`] in the directory `dir`.
    fn sh_in(dir: &Path, line: &str) -> String {
        let out = std::process::Command::new("sh")
            .args(["-c", line])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{line}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn host_names_that_ssh_would_misread_are_refused() {
        assert_eq!(Host::new("alice@box").unwrap().target(), "alice@box");
        for bad in ["", "-oProxyCommand=touch x", "a b", "a\nb"] {
            assert_eq!(Host::new(bad).unwrap_err().code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn ssh_and_copy_command_lines() {
        let host = Host::new("box").unwrap();
        let opts = vec!["-F".to_string(), "/c f".to_string()];
        assert_eq!(
            host.ssh(&opts, "echo 'hi'").display(),
            r#"ssh -F '/c f' -- box 'sh -c '\''echo '\''\'\'''\''hi'\''\'\'''\'''\'''"#
        );
        assert_eq!(
            host.copy_command("/nix/store/x-env", true).display(),
            "nix --extra-experimental-features 'nix-command flakes' copy --to ssh://box --substitute-on-destination /nix/store/x-env"
        );
        let cmd = NixCommand::nix_env().args(["--profile", "/p q", "--set", "/nix/store/x"]);
        assert_eq!(
            remote_line(&cmd),
            "command -v nix-env >/dev/null 2>&1 || exit 127; exec nix-env --profile '/p q' --set /nix/store/x"
        );
    }

    #[test]
    fn nix_sshopts_split_as_each_nix_splits_them() {
        let old = NixVersion::new(2, 8, 0);
        let new = NixVersion::new(2, 26, 3);
        let text = "-F /a/cfg  -o ProxyCommand=\"ssh -W %h:%p gate\"";
        assert_eq!(
            split_ssh_options(text, old).unwrap(),
            [
                "-F",
                "/a/cfg",
                "-o",
                "ProxyCommand=\"ssh",
                "-W",
                "%h:%p",
                "gate\""
            ]
        );
        assert_eq!(
            split_ssh_options(text, new).unwrap(),
            ["-F", "/a/cfg", "-o", "ProxyCommand=ssh -W %h:%p gate"]
        );
        assert_eq!(
            split_ssh_options(r"-i 'my key' a\ b", new).unwrap(),
            ["-i", "my key", "a b"]
        );
        assert_eq!(split_ssh_options("-o 'x", new).unwrap_err().code(), 2);
    }

    /// Lix splits `$NIX_SSHOPTS` on whitespace in every release (its `ssh.cc` tokenizes the
    /// variable), although its version numbers are above 2.26: quotes stay in the words and an
    /// apostrophe is an ordinary character.
    #[test]
    fn lix_splits_nix_sshopts_on_whitespace() {
        let lix = NixVersion::lix(2, 95, 3);
        assert_eq!(
            split_ssh_options("-F /home/o'brien/cfg", lix).unwrap(),
            ["-F", "/home/o'brien/cfg"]
        );
        assert_eq!(
            split_ssh_options("-o \"ProxyCommand=ssh -W %h:%p gate\"", lix).unwrap(),
            ["-o", "\"ProxyCommand=ssh", "-W", "%h:%p", "gate\""]
        );
    }

    /// Determinate Nix splits `$NIX_SSHOPTS` as upstream Nix 2.26 and later do, as a shell
    /// splits words.
    #[test]
    fn determinate_splits_nix_sshopts_like_a_shell() {
        let determinate = NixVersion::determinate((3, 22, 2), (2, 35, 2));
        assert_eq!(
            split_ssh_options("-o \"ProxyCommand=ssh -W %h:%p gate\"", determinate).unwrap(),
            ["-o", "ProxyCommand=ssh -W %h:%p gate"]
        );
        assert_eq!(
            split_ssh_options("-F /home/o'brien/cfg", determinate)
                .unwrap_err()
                .code(),
            2
        );
    }

    #[test]
    fn probe_reads_what_the_shell_prints() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path();
        let text = sh(&format!(
            "HOME={}; XDG_STATE_HOME=; NIX_PROFILE=; export HOME; {PROBE}",
            shell_quote(&home.to_string_lossy())
        ));
        let probe = Probe::parse(&text).unwrap();
        assert!((probe.version.major, probe.version.minor) >= (2, 8));
        assert_eq!(probe.home, home);
        assert_eq!(probe.user.state_home, home.join(".local/state"));
        // Read before nix-env made it.
        assert_eq!(probe.links[0], (home.join(".nix-profile"), None));
        assert!(Probe::parse("garbage").is_err());
    }

    #[test]
    fn default_profile_on_a_host_follows_nix_env() {
        let probe = |nix_profile: &str, home_link: &str, version: &str, uid: &str| {
            let text = [
                version,
                uid,
                "al",
                "/home/al",
                "",
                nix_profile,
                home_link,
                "",
                "",
            ]
            .join("\0");
            Probe::parse(&text).unwrap().default_profile().unwrap()
        };
        let v28 = "nix-env (Nix) 2.8.0";
        let v34 = "nix-env (Nix) 2.34.8";
        assert_eq!(probe("/p/x", "/l", v28, "1000"), PathBuf::from("/p/x"));
        assert_eq!(
            probe("", "/l/profile", v28, "1000"),
            PathBuf::from("/l/profile")
        );
        // A relative link text is taken from the link's directory.
        assert_eq!(
            probe("", "rel/profile", v28, "1000"),
            PathBuf::from("/home/al/rel/profile")
        );
        assert_eq!(
            probe("", "", v28, "1000"),
            PathBuf::from("/nix/var/nix/profiles/per-user/al/profile")
        );
        assert_eq!(
            probe("", "", v34, "1000"),
            PathBuf::from("/home/al/.local/state/nix/profiles/profile")
        );
        assert_eq!(
            probe("", "", v28, "0"),
            PathBuf::from("/nix/var/nix/profiles/default")
        );
    }

    #[test]
    fn reads_a_profile_through_the_shell_with_hostile_names() {
        let dir = tempfile::tempdir().unwrap();
        // A directory and profile name that would run commands if they were not quoted.
        let pwned = dir.path().join("pwned");
        let hostile = dir
            .path()
            .join("$(touch pwned)`touch pwned`;touch pwned'\"*");
        std::fs::create_dir(&hostile).unwrap();
        let profile = hostile.join("my profile$(touch x)*");
        let base = profile.file_name().unwrap().to_str().unwrap().to_string();
        for n in [1, 2, 10] {
            symlink(
                format!("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-env-{n}"),
                hostile.join(format!("{base}-{n}-link")),
            )
            .unwrap();
        }
        symlink("/nix/store/other", hostile.join(format!("{base}-x-link"))).unwrap();
        symlink(format!("{base}-2-link"), &profile).unwrap();
        let line = read_profile_line(&profile).unwrap();
        let read = RemoteProfile::parse(&profile, &sh_in(dir.path(), &line)).unwrap();
        assert!(!pwned.exists(), "a quoted path ran a command");
        assert_eq!(read.dir, DirState::Writable);
        // The same generations as read here, to the second.
        let seconds = |gens: &[Generation]| {
            gens.iter()
                .map(|g| {
                    let secs = g.created.duration_since(SystemTime::UNIX_EPOCH).unwrap();
                    (
                        g.generation,
                        g.store_path.clone(),
                        g.current,
                        secs.as_secs(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let local = crate::generation::list(&profile).unwrap();
        assert_eq!(seconds(&read.generations), seconds(&local));
        assert_eq!(
            read.generations
                .iter()
                .map(|g| g.generation)
                .collect::<Vec<_>>(),
            [1, 2, 10]
        );
        assert!(read.generations[1].current);
    }

    #[test]
    fn a_change_then_the_profile_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("profile");
        symlink("/nix/store/x-1", dir.path().join("profile-1-link")).unwrap();
        let change = NixCommand::new("ln")
            .args(["-s", "profile-1-link"])
            .arg(&profile);
        let line = change_then_read_line(&change, &profile).unwrap();
        let read = RemoteProfile::parse(&profile, &sh(&line)).unwrap();
        assert!(read.generations[0].current);
        // A failing change stops the line with its own exit code.
        let fail = NixCommand::new("sh").args(["-c", "exit 3"]);
        let line = change_then_read_line(&fail, &profile).unwrap();
        let status = std::process::Command::new("sh")
            .args(["-c", &line])
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn a_missing_directory_nix_env_makes_there_is_no_problem() {
        use crate::profile::{dir_fix, DirFix};
        let answer = |profile: &str, uid: &str, version: &str| {
            let text = format!("missing\0root\0{uid}\0no\0no\0/root/.local/state\0{version}\0\0");
            RemoteProfile::parse(Path::new(profile), &text)
                .unwrap()
                .facts
        };
        let roots = "/nix/var/nix/profiles/per-user/root/profile";
        // Root's own profiles directory: nix-env makes it from 2.14 on, not before.
        let f = answer(roots, "0", "nix-env (Nix) 2.34.8");
        assert!(f.root && f.made_by_nix);
        assert_eq!(dir_fix(&f), DirFix::Ready);
        let f = answer(roots, "0", "nix-env (Nix) 2.8.0");
        assert_eq!(dir_fix(&f), DirFix::Create);
        // The store's own profiles directory, on a machine where Nix never ran.
        let f = answer("/nix/var/nix/profiles/fleet", "0", "nix-env (Nix) 2.8.0");
        assert_eq!(dir_fix(&f), DirFix::Ready);
        // Someone else's, by a user who cannot make it.
        let f = answer(
            "/nix/var/nix/profiles/per-user/bob/profile",
            "1000",
            "nix-env (Nix) 2.26.3",
        );
        assert_eq!(dir_fix(&f), DirFix::CreateForUser);
        assert!(RemoteProfile::parse(Path::new(roots), "missing\0root\0").is_err());
    }

    #[test]
    fn a_profile_in_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("per-user/al/profile");
        let read =
            RemoteProfile::parse(&profile, &sh(&read_profile_line(&profile).unwrap())).unwrap();
        assert_eq!(read.dir, DirState::Missing);
        assert!(read.generations.is_empty());
        // The temporary directory above it is the user's to write in.
        assert!(read.facts.creatable && !read.facts.multi_user);
        assert_eq!(
            read_profile_line(Path::new("rel/profile"))
                .unwrap_err()
                .code(),
            2
        );
    }
}
