//! Running nix: command lines built as data (testable without nix), run with stdout captured and
//! nix's stderr either streamed live or kept for the error message.

use crate::error::{Error, Result};
use crate::Log;
use std::ffi::{OsStr, OsString};
use std::process::{Command, Stdio};

/// The features every `nix` call enables, so the tools work without any nix.conf change.
pub const EXPERIMENTAL_FEATURES: &str = "nix-command flakes";

/// How much of the end of nix's stderr an error message shows.
const STDERR_TAIL: usize = 16 * 1024;

/// What happens to the child's stderr while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stderr {
    /// Nix's own stderr, as it arrives (progress, build logs); when the [`Log`] is quiet it is
    /// kept for the error message instead.
    Stream,
    /// Kept, and shown only if the command fails.
    Capture,
}

/// One nix command line: a program found on `PATH` and its arguments, never a shell string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixCommand {
    program: String,
    args: Vec<OsString>,
}

impl NixCommand {
    /// `nix` with the experimental features this project needs turned on.
    pub fn nix() -> Self {
        NixCommand::new("nix").args(["--extra-experimental-features", EXPERIMENTAL_FEATURES])
    }

    /// Turns off Nix's warning that a git tree is dirty (the setting `warn-dirty`), for a nix
    /// command that follows another of the same run on the same tree: Nix warns once per
    /// command, and once per run is enough.
    pub fn without_dirty_warning(self) -> Self {
        self.args(["--option", "warn-dirty", "false"])
    }

    /// `nix-env`.
    pub fn nix_env() -> Self {
        NixCommand::new("nix-env")
    }

    /// `nix-store`.
    pub fn nix_store() -> Self {
        NixCommand::new("nix-store")
    }

    /// `nix-instantiate`.
    pub fn nix_instantiate() -> Self {
        NixCommand::new("nix-instantiate")
    }

    /// Any program with no arguments yet.
    pub fn new(program: &str) -> Self {
        NixCommand {
            program: program.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// The program name.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The arguments, without the program.
    pub fn argv(&self) -> &[OsString] {
        &self.args
    }

    /// The command line as a person would type it, each word shell-quoted where needed.
    pub fn display(&self) -> String {
        std::iter::once(OsStr::new(&self.program))
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|w| shell_quote(&w.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs the command and returns its stdout; a non-zero exit is an [`Error`] (code 1) showing
    /// the command line and, unless it was already streamed, nix's stderr.
    pub fn output(&self, log: &dyn Log, stderr: Stderr) -> Result<String> {
        let out = self.run(log, stderr)?;
        if out.success {
            Ok(out.stdout)
        } else {
            Err(self.failure(&out))
        }
    }

    /// Runs the command with stderr captured and returns its stdout or, when it exits non-zero,
    /// its exit code (`None` when killed by a signal) beside the error [`NixCommand::output`]
    /// would give. For commands whose exit code tells what went wrong (ssh's 255: the host was
    /// not reached).
    pub fn output_or_code(
        &self,
        log: &dyn Log,
    ) -> Result<std::result::Result<String, (Option<i32>, Error)>> {
        let out = self.run(log, Stderr::Capture)?;
        if out.success {
            Ok(Ok(out.stdout))
        } else {
            Ok(Err((out.code, self.failure(&out))))
        }
    }

    /// Runs the command and reports whether it exited 0, without treating failure as an error.
    /// Used for questions nix answers with its exit code (`nix-store --check-validity`).
    pub fn succeeds(&self, log: &dyn Log) -> Result<bool> {
        Ok(self.run(log, Stderr::Capture)?.success)
    }

    /// Spawns the command, capturing stdout and handling stderr as asked.
    fn run(&self, log: &dyn Log, stderr_mode: Stderr) -> Result<Finished> {
        if crate::interrupt::interrupted() {
            return Err(Error::interrupted());
        }
        log.verbose(&format!("+ {}", self.display()));
        // Streamed stderr is nix's own (progress bars and all, as if run by hand); captured
        // stderr is read together with stdout without a thread (std's poll-based reader).
        let stream = stderr_mode == Stderr::Stream && !log.is_quiet();
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if stream {
                Stdio::inherit()
            } else {
                Stdio::piped()
            })
            .spawn()
            .map_err(|e| {
                let err = Error::failed(format!("cannot run {}: {e}", self.program));
                if e.kind() == std::io::ErrorKind::NotFound {
                    err.with_hint("install Nix (see README.md) and make sure it is on PATH")
                } else {
                    err
                }
            })?;
        let output = child
            .wait_with_output()
            .map_err(|e| Error::failed(format!("reading from {}: {e}", self.program)))?;
        let start = output.stderr.len().saturating_sub(STDERR_TAIL);
        Ok(Finished {
            streamed: stream,
            success: output.status.success(),
            code: output.status.code(),
            status: output.status.to_string(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr[start..]).into_owned(),
        })
    }

    /// The error for a failed run: the command line, the exit status and nix's stderr (unless
    /// the user already saw it streamed).
    fn failure(&self, out: &Finished) -> Error {
        if crate::interrupt::interrupted() {
            return Error::interrupted();
        }
        let mut msg = format!("command failed ({}): {}", out.status, self.display());
        let stderr = out.stderr.trim_end();
        if !out.streamed && !stderr.is_empty() {
            msg.push('\n');
            msg.push_str(stderr);
        }
        Error::failed(msg)
    }
}

/// What a finished child left behind.
struct Finished {
    /// Whether stderr was already copied to ours (then the error does not repeat it).
    streamed: bool,
    success: bool,
    code: Option<i32>,
    status: String,
    stdout: String,
    stderr: String,
}

/// Quotes a word for a POSIX shell, leaving plain words (letters, digits, `-_./=:@%+,#^`) as they are.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,#^".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

pub use crate::nix_version::{nix_version, NixVersion};

/// This machine's Nix system, `<arch>-<os>` as Nix spells it (`x86_64-linux`, `aarch64-darwin`):
/// the default `system` of a Nix built for it.
pub fn host_system() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    format!("{}-{os}", std::env::consts::ARCH)
}

/// Reads the first built output and its derivation from `nix build --json` output, in the shapes
/// Nix 2.8 through current Nix print.
pub fn parse_build_json(stdout: &str) -> Result<(String, String)> {
    let bad = |why: &str| {
        Error::failed(format!(
            "unexpected output from nix build --json ({why}): {}",
            stdout.trim()
        ))
    };
    let value: serde_json::Value =
        serde_json::from_str(stdout.trim()).map_err(|_| bad("not JSON"))?;
    let first = value
        .as_array()
        .and_then(|a| a.first())
        .ok_or_else(|| bad("no result"))?;
    if let Some(path) = first.as_str() {
        return Ok((path.to_string(), String::new()));
    }
    if let Some(path) = first.get("path").and_then(|p| p.as_str()) {
        return Ok((path.to_string(), String::new()));
    }
    let drv = first
        .get("drvPath")
        .and_then(|d| d.as_str())
        .unwrap_or_default()
        .to_string();
    let outputs = first
        .get("outputs")
        .and_then(|o| o.as_object())
        .ok_or_else(|| bad("no outputs"))?;
    let out = outputs
        .get("out")
        .or_else(|| outputs.values().next())
        .and_then(|p| p.as_str())
        .ok_or_else(|| bad("no output path"))?;
    Ok((out.to_string(), drv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nix_enables_features() {
        let cmd = NixCommand::nix().args(["build", "--no-link", "--json", ".#profile"]);
        assert_eq!(
            cmd.display(),
            "nix --extra-experimental-features 'nix-command flakes' build --no-link --json .#profile"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("plain/path-1.0"), "plain/path-1.0");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /);"), "'$(rm -rf /);'");
    }

    #[test]
    fn failure_shows_command_and_stderr() {
        let err = NixCommand::new("sh")
            .args(["-c", "echo oops >&2; exit 3"])
            .output(&crate::Silent, Stderr::Capture)
            .unwrap_err();
        assert_eq!(err.code(), 1);
        assert!(
            err.message().contains("sh -c 'echo oops >&2; exit 3'"),
            "{}",
            err.message()
        );
        assert!(err.message().ends_with("oops"), "{}", err.message());
    }

    #[test]
    fn stdout_is_captured() {
        let out = NixCommand::new("sh")
            .args(["-c", "echo product; echo progress >&2"])
            .output(&crate::Silent, Stderr::Capture)
            .unwrap();
        assert_eq!(out, "product\n");
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let err = NixCommand::new("fp-no-such-program")
            .output(&crate::Silent, Stderr::Capture)
            .unwrap_err();
        assert!(err.message().starts_with("cannot run fp-no-such-program"));
        assert!(err.hint().is_some());
    }
    #[test]
    fn parses_build_json_shapes() {
        let v28 = r#"[{"drvPath":"/nix/store/a-env.drv","outputs":{"out":"/nix/store/b-env"}}]"#;
        assert_eq!(
            parse_build_json(v28).unwrap(),
            ("/nix/store/b-env".into(), "/nix/store/a-env.drv".into())
        );
        let timed = r#"[{"drvPath":"/d.drv","outputs":{"out":"/o"},"startTime":1,"stopTime":2}]"#;
        assert_eq!(parse_build_json(timed).unwrap().0, "/o");
        assert_eq!(parse_build_json(r#"[{"path":"/p"}]"#).unwrap().0, "/p");
        assert_eq!(parse_build_json(r#"["/p"]"#).unwrap().0, "/p");
        assert!(parse_build_json("[]").is_err());
        assert!(parse_build_json("nope").is_err());
    }
}
