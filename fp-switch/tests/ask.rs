//! `--ask` against real Nix, on a real pseudo-terminal (`script` from util-linux): `n` changes
//! nothing, `y` switches, and without a terminal the switch is refused before anything changes.

use fp_nix::command::shell_quote;
use fp_testkit::remote::Remote;
use fp_testkit::{Bed, Run};
use std::path::Path;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_SWITCH: &str = env!("CARGO_BIN_EXE_fp-switch");

/// A bed with generation 1 (revision 1) and the store path of revision 2, not switched to.
fn bed_with_two_builds() -> (Bed, String) {
    let bed = Bed::new();
    let first = bed.build(&bed.profile_flake("flake1", 1, &["hello", "cowsay"]));
    let second = bed.build(&bed.profile_flake("flake2", 2, &["hello", "jq"]));
    bed.tool(FP_SWITCH)
        .arg(&first)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    (bed, second)
}

/// Runs `argv` on a new pseudo-terminal with `answer` typed on it; what the terminal showed
/// (the tool's stderr and the question) comes back as stdout, with `\r\n` made `\n` and the
/// terminal's echo of the answer (which comes whenever the terminal gets it: before the
/// question, or after it with its own line end) taken out.
fn on_terminal(bed: &Bed, argv: &[&str], answer: &str, env: &[(&str, &str)]) -> Run {
    // No echo once the shell runs, so it cannot land inside the tool's output; an answer
    // typed before that is echoed alone, on the first line.
    let line = format!(
        "stty -echo; {}",
        argv.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut cmd = bed.command("script").args(["-qec", &line, "/dev/null"]);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let mut run = cmd.stdin(answer).run();
    run.stdout = fp_testkit::terminal_transcript(&run.stdout, answer);
    run
}

fn switch_argv<'a>(bed: &'a Bed, path: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut argv = vec![
        FP_SWITCH.to_string(),
        path.to_string(),
        "--profile".to_string(),
        bed.profile().display().to_string(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn answering_no_changes_nothing() {
    let (bed, second) = bed_with_two_builds();
    let before = bed.nix_env_generations();
    let argv = switch_argv(&bed, &second, &["--ask", "--color", "never"]);
    let run = on_terminal(&bed, &strs(&argv), "n\n", &[]).success();
    assert_eq!(bed.nix_env_generations(), before);
    assert!(bed.profile().join("bin/cowsay").exists());
    insta::assert_snapshot!(bed.redact(&run.stdout));
}

#[test]
fn end_of_input_is_no_on_a_line_of_its_own() {
    let (bed, second) = bed_with_two_builds();
    let before = bed.nix_env_generations();
    let argv = switch_argv(&bed, &second, &["--ask", "--color", "never"]);
    let run = on_terminal(&bed, &strs(&argv), "\x04", &[]).success();
    assert_eq!(bed.nix_env_generations(), before);
    let last: Vec<&str> = run.stdout.lines().rev().take(2).collect();
    assert_eq!(
        last,
        [
            "answered no: the profile was not changed",
            "switch to generation 2? [y/N] "
        ],
        "{}",
        run.stdout
    );
}

#[test]
fn answering_yes_switches_and_json_says_so() {
    let (bed, second) = bed_with_two_builds();
    let argv = switch_argv(&bed, &second, &["--ask"]);
    let run = on_terminal(&bed, &strs(&argv), "yes\n", &[]).success();
    assert!(
        run.stdout.contains("switch to generation 2? [y/N]"),
        "{}",
        run.stdout
    );
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    assert!(bed.profile().join("bin/jq").exists());
}

#[test]
fn ask_from_the_environment_and_the_config_file_and_yes_overrides_it() {
    let (bed, second) = bed_with_two_builds();
    let before = bed.nix_env_generations();
    // FP_ASK=1 asks; the empty answer is no.
    let argv = switch_argv(&bed, &second, &["--json"]);
    let run = on_terminal(&bed, &strs(&argv), "\n", &[("FP_ASK", "1")]).success();
    assert!(run.stdout.contains("[y/N]"), "{}", run.stdout);
    assert!(run.stdout.contains(r#""declined":true"#), "{}", run.stdout);
    assert_eq!(bed.nix_env_generations(), before);
    // So does the config file; --yes goes ahead without a terminal.
    std::fs::create_dir_all(bed.config_home().join("flakey-profile")).expect("config dir");
    std::fs::write(
        bed.config_home().join("flakey-profile/config.toml"),
        "ask = true\n",
    )
    .expect("config");
    no_terminal(&bed, &switch_argv(&bed, &second, &[])).code(2);
    assert_eq!(bed.nix_env_generations(), before);
    no_terminal(&bed, &switch_argv(&bed, &second, &["--yes"])).success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
}

/// Runs `argv` in a new session, so it has no controlling terminal even when the tests do.
fn no_terminal(bed: &Bed, argv: &[String]) -> Run {
    bed.command("setsid").arg("-w").args(argv).run()
}

#[test]
fn without_a_terminal_ask_is_refused_and_nothing_changes() {
    let (bed, second) = bed_with_two_builds();
    let before = bed.nix_env_generations();
    let run = no_terminal(&bed, &switch_argv(&bed, &second, &["--ask"])).code(2);
    assert_eq!(bed.nix_env_generations(), before);
    insta::assert_snapshot!(bed.redact(&run.stderr));
    // A bad FP_ASK is a usage error too.
    let run = bed
        .tool(FP_SWITCH)
        .arg(&second)
        .arg("--profile")
        .arg(bed.profile())
        .env("FP_ASK", "maybe")
        .run()
        .code(2);
    assert_eq!(bed.nix_env_generations(), before);
    insta::assert_snapshot!("bad_fp_ask", bed.redact(&run.stderr));
}

#[test]
fn rollback_asks_too() {
    let (bed, second) = bed_with_two_builds();
    bed.tool(FP_SWITCH)
        .arg(&second)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    let profile = bed.profile().display().to_string();
    let rollback = fp_testkit::bin("fp-rollback").display().to_string();
    let argv = [rollback.as_str(), "--ask", "--profile", profile.as_str()];
    let run = on_terminal(&bed, &argv, "n\n", &[]).success();
    assert!(
        run.stdout.contains("switch to generation 1? [y/N]"),
        "{}",
        run.stdout
    );
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(2)));
    on_terminal(&bed, &argv, "y\n", &[]).success();
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(1)));
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let mut to_two = argv.clone();
    to_two.extend(["--to".to_string(), "2".to_string()]);
    no_terminal(&bed, &to_two).code(2);
    assert_eq!(bed.generation_numbers(), (vec![1, 2], Some(1)));
}

#[test]
fn conflicting_flags_are_usage_errors_and_change_nothing() {
    let (bed, second) = bed_with_two_builds();
    let before = bed.nix_env_generations();
    for flags in [["--ask", "--yes"], ["--sizes", "--no-diff"]] {
        bed.tool(FP_SWITCH)
            .arg(&second)
            .arg("--profile")
            .arg(bed.profile())
            .args(flags)
            .run()
            .code(2)
            .stderr_has("cannot be used with");
    }
    assert_eq!(bed.nix_env_generations(), before);
}

/// On another machine (`--target-host`, a real sshd and Nix store of the testkit) `--ask` is
/// the same: without a terminal it is refused before anything is copied there, `n` leaves the
/// profile there as it was, `y` switches it; several hosts at once with `--ask` are refused.
#[test]
fn ask_on_another_machine() {
    let bed = Bed::new();
    let remote = Remote::start("box");
    let opts = remote.nix_sshopts();
    let env = bed.build(&bed.profile_flake("one", 1, &["hello"]));
    remote.ssh("mkdir -p /root/fp").success();
    let profile = "/root/fp/profile";
    let argv: Vec<String> = [
        FP_SWITCH,
        "--target-host",
        "box",
        "--ask",
        "--profile",
        profile,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([env.clone()])
    .collect();

    no_terminal(&bed, &argv).code(2).stderr_has("--ask");
    assert!(!remote.has_store_path(&env), "copied before asking");

    on_terminal(&bed, &strs(&argv), "n\n", &[("NIX_SSHOPTS", &opts)]).success();
    assert_eq!(remote.read_link(Path::new(profile)), None);

    let run = on_terminal(&bed, &strs(&argv), "y\n", &[("NIX_SSHOPTS", &opts)]).success();
    assert!(
        run.stdout.contains("switch to generation 1? [y/N]"),
        "{}",
        run.stdout
    );
    assert_eq!(
        remote.generation_numbers(Path::new(profile)),
        (vec![1], Some(1))
    );

    let two_hosts = [
        FP_SWITCH,
        "--target-host",
        "box",
        "--target-host",
        "other",
        "--ask",
        &env,
    ];
    let run = on_terminal(&bed, &two_hosts, "y\n", &[("NIX_SSHOPTS", &opts)]).code(2);
    assert!(
        run.stdout.contains("--ask takes one host at a time"),
        "{}",
        run.stdout
    );
    assert_eq!(
        remote.generation_numbers(Path::new(profile)),
        (vec![1], Some(1))
    );
}
