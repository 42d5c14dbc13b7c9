//! fp-doctor against real Nix: a healthy machine, then one machine broken each way, each
//! problem reported with its fix and exit 1.

use fp_testkit::{Bed, Cmd, Run};
use std::path::PathBuf;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_DOCTOR: &str = env!("CARGO_BIN_EXE_fp-doctor");

/// A machine set up the way the README says: a profile flake with `pinned.nixpkgs` named in
/// config.toml, its build switched to, `~/.nix-profile` pointing at the profile, its `bin`
/// on PATH, and fp-pin run (user registry, channels through `~/.nix-defexpr/channels`).
struct Machine {
    bed: Bed,
    flake: PathBuf,
}

impl Machine {
    fn healthy() -> Machine {
        let m = Machine::unpinned();
        m.bed
            .tool("fp-pin")
            .args(["--registry", "user"])
            .run()
            .success();
        m
    }

    /// The same machine before fp-pin was ever run (pinning is optional).
    fn unpinned() -> Machine {
        let bed = Bed::new();
        let flake = bed.profile_flake("flake", 1, &["hello", "tree"]);
        let m = Machine { bed, flake };
        m.write_config(&format!(
            "flake = {:?}\nprofile = {:?}\n",
            m.flake.display().to_string(),
            m.bed.profile().display().to_string()
        ));
        let built = m.bed.tool("fp-build").run().success();
        m.bed.tool("fp-switch").stdin(built.stdout).run().success();
        std::os::unix::fs::symlink(m.bed.profile(), m.bed.home().join(".nix-profile"))
            .expect("user link");
        // nix-env made `~/.nix-defexpr/channels` point at its own default; the bed's instead.
        let defexpr = m.bed.home().join(".nix-defexpr");
        std::fs::create_dir_all(&defexpr).expect("defexpr");
        let _ = std::fs::remove_file(defexpr.join("channels"));
        std::os::unix::fs::symlink(
            m.bed.path().join("profiles/channels"),
            defexpr.join("channels"),
        )
        .expect("channels link");
        m
    }

    fn write_config(&self, text: &str) {
        let dir = self.bed.config_home().join("flakey-profile");
        std::fs::create_dir_all(&dir).expect("config dir");
        std::fs::write(dir.join("config.toml"), text).expect("config");
    }

    /// PATH with the profile's bin first, as a single-user install has it.
    fn path_with_profile(&self) -> std::ffi::OsString {
        let mut dirs = vec![self.bed.profile().join("bin")];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").expect("PATH"),
        ));
        std::env::join_paths(dirs).expect("PATH")
    }

    fn doctor(&self) -> Cmd {
        self.bed
            .tool(FP_DOCTOR)
            .env("PATH", self.path_with_profile())
    }

    /// Runs fp-doctor (text, then `--json`), expecting exit 1 with `id` a problem; returns
    /// the text run.
    fn problem(&self, id: &str, tweak: impl Fn(Cmd) -> Cmd) -> Run {
        let run = tweak(self.doctor()).run().code(1);
        let json = tweak(self.doctor()).arg("--json").run().code(1);
        let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
        assert_eq!(v["healthy"], false);
        let check = v["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["id"] == id)
            .expect("the check")
            .clone();
        assert_eq!(check["status"], "problem", "{}", json.stdout);
        assert!(check["fix"].is_string(), "{check}");
        run
    }

    fn redact(&self, text: &str) -> String {
        self.bed.redact(text)
    }
}

#[test]
fn a_healthy_machine_passes_and_says_what_it_skipped_under_verbose() {
    let m = Machine::healthy();
    let run = m.doctor().run().success();
    insta::assert_snapshot!(m.redact(&run.stdout));
    let verbose = m.doctor().arg("-v").run().success();
    assert!(
        verbose
            .stdout
            .contains("skipped  daemon: single-user install"),
        "{}",
        verbose.stdout
    );
    let json = m.doctor().arg("--json").run().success();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["healthy"], true);
    assert_eq!(v["profile"], m.bed.profile().display().to_string());
    // `fp doctor` is the same tool through the front command.
    let front = m
        .bed
        .tool("fp")
        .arg("doctor")
        .env("PATH", m.path_with_profile())
        .run()
        .success();
    assert_eq!(front.stdout, run.stdout);
}

#[test]
fn profile_bin_not_on_path() {
    let m = Machine::healthy();
    let run = m.problem("path", |c| {
        c.env("PATH", std::env::var_os("PATH").expect("PATH"))
    });
    insta::assert_snapshot!(m.redact(&run.stdout));
}

#[test]
fn user_link_elsewhere_or_stale() {
    let m = Machine::healthy();
    let link = m.bed.home().join(".nix-profile");
    std::fs::remove_file(&link).expect("rm");
    std::os::unix::fs::symlink(m.bed.path().join("profiles/moved"), &link).expect("link");
    let run = m.problem("user-link", |c| c);
    insta::assert_snapshot!("stale", m.redact(&run.stdout));
    std::fs::remove_file(&link).expect("rm");
    std::os::unix::fs::symlink(m.bed.path(), &link).expect("link");
    let run = m.problem("user-link", |c| c);
    insta::assert_snapshot!("elsewhere", m.redact(&run.stdout));
}

#[test]
fn multi_user_profile_directory_not_yours_and_no_daemon() {
    // (The suite runs as root, which may give the directory away.)
    let m = Machine::healthy();
    let dir = m.bed.path().join("profiles");
    std::os::unix::fs::chown(&dir, Some(65534), None).expect("chown");
    let socket = m.bed.path().join("no-daemon-socket");
    let with_daemon = |c: Cmd| {
        c.env("NIX_REMOTE", "daemon")
            .env("NIX_DAEMON_SOCKET_PATH", &socket)
    };
    m.problem("profile-dir", with_daemon);
    let run = m.problem("daemon", with_daemon);
    let text = m.redact(&run.stdout);
    // The pins cannot be read without the store; only the lines of these two checks.
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("profile-dir:"))
        .take_while(|l| !l.contains("made-by:"))
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
    // A per-user directory that does not exist yet.
    let missing = m.bed.path().join("per-user/alice/profile");
    let run = m.problem("profile-dir", |c| {
        with_daemon(c).arg("--profile").arg(&missing)
    });
    let text = m.redact(&run.stdout);
    let line = text
        .lines()
        .skip_while(|l| !l.contains("profile-dir:"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("missing_profile_dir", line);
}

#[test]
fn current_generation_made_elsewhere_and_the_running_nix_in_it() {
    let m = Machine::healthy();
    // A generation made by nix-env (no marker), holding a nix that runs the real one.
    let real_nix = std::env::split_paths(&std::env::var_os("PATH").expect("PATH"))
        .map(|d| d.join("nix"))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .expect("nix");
    let expr = format!(
        "let pkgs = (builtins.getFlake \"path:{}\").legacyPackages.${{builtins.currentSystem}}; in pkgs.buildEnv {{ name = \"user-environment\"; paths = [ pkgs.hello (pkgs.writeShellScriptBin \"nix\" ''exec {} \"$@\"'') ]; }}",
        m.bed.pkgs(1).display(),
        real_nix.display()
    );
    let built = m
        .bed
        .command("nix")
        .args(["build", "--no-link", "--json", "--impure", "--expr", &expr])
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&built.stdout).expect("json");
    let env = v[0]["outputs"]["out"].as_str().expect("out");
    m.bed
        .command("nix-env")
        .arg("--profile")
        .arg(m.bed.profile())
        .args(["--set", env])
        .run()
        .success();
    m.problem("made-by", |c| c);
    let run = m.problem("running-nix", |c| c);
    insta::assert_snapshot!(m.redact(&run.stdout));
}

#[test]
fn config_that_does_not_parse_and_a_flake_that_is_not_there() {
    let m = Machine::healthy();
    m.write_config("flakes = 1\n");
    let run = m.problem("config", |c| c);
    insta::assert_snapshot!("config", m.redact(&run.stdout));
    m.write_config(&format!(
        "flake = {:?}\nprofile = {:?}\n",
        m.bed.path().join("gone").display().to_string(),
        m.bed.profile().display().to_string()
    ));
    let run = m.problem("flake", |c| c);
    insta::assert_snapshot!("flake", m.redact(&run.stdout));
}

#[test]
fn registry_and_channel_pins_that_differ_and_nix_path_set() {
    let m = Machine::healthy();
    std::fs::remove_file(m.bed.config_home().join("nix/registry.json")).expect("rm registry");
    let run = m.problem("registry-pins", |c| c);
    insta::assert_snapshot!("registry", m.redact(&run.stdout));

    let m = Machine::healthy();
    let link = m.bed.home().join(".nix-defexpr/channels");
    std::fs::remove_file(&link).expect("rm");
    std::os::unix::fs::symlink(m.bed.path().join("profiles/other-channels"), &link).expect("link");
    let run = m.problem("channel-pins", |c| c);
    insta::assert_snapshot!("channels", m.redact(&run.stdout));

    let m = Machine::healthy();
    let run = m.problem("nix-path", |c| c.env("NIX_PATH", "nixpkgs=/somewhere/else"));
    insta::assert_snapshot!("nix_path", m.redact(&run.stdout));
}

#[test]
fn a_stray_nix_profile_install_lists_what_the_switch_drops_and_a_fix_that_writes_no_file() {
    let m = Machine::healthy();
    m.bed.nix_profile_add(
        &m.bed.profile(),
        [format!("path:{}#motd", m.bed.pkgs(1).display())],
    );
    let flake_before = std::fs::read(m.flake.join("flake.nix")).expect("flake.nix");
    let run = m.problem("made-by", |c| c);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("made-by:"))
        .expect("made-by line");
    // Exactly what fp-switch --dry-run of the flake's build says it drops.
    let built = m.bed.tool("fp-build").run().success();
    let dry = m
        .bed
        .tool("fp-switch")
        .args(["--dry-run", "--json"])
        .stdin(built.stdout)
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&dry.stdout).expect("json");
    let dropped: Vec<String> = v["madeOutside"]["dropped"]
        .as_array()
        .expect("dropped")
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
            .trim_end()
            .to_string()
        })
        .collect();
    assert_eq!(dropped, ["motd"]);
    assert!(
        line.ends_with(&format!("drops: {}", dropped.join(", "))),
        "{line}"
    );
    // The fix writes nothing: running it as shown leaves the flake as it was.
    let fix = run
        .stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("fix: fp-migrate"))
        .expect("fix");
    assert!(!fix.contains('>'), "{fix}");
    assert_eq!(
        std::fs::read(m.flake.join("flake.nix")).expect("flake.nix"),
        flake_before
    );
    insta::assert_snapshot!(m.redact(&run.stdout));
}

#[test]
fn a_machine_where_fp_pin_never_ran_is_healthy() {
    let m = Machine::unpinned();
    let run = m.doctor().run().success();
    insta::assert_snapshot!(m.redact(&run.stdout));
}

#[test]
fn a_flake_that_does_not_evaluate_shows_nixs_error() {
    let m = Machine::healthy();
    std::fs::write(
        m.flake.join("flake.nix"),
        "{ outputs = _: throw \"my flake is broken\"; }",
    )
    .expect("flake.nix");
    let run = m.problem("registry-pins", |c| c);
    assert!(run.stdout.contains("my flake is broken"), "{}", run.stdout);
}
