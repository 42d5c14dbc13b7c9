//! fp-edit against real Nix and the offline package set: the file's bytes after each edit,
//! the profile after the switch, and every refusal leaving flake.nix byte-identical.

mod common;

use common::profile_bins;
use fp_testkit::Bed;
use std::path::Path;

const FP_EDIT: &str = env!("CARGO_BIN_EXE_fp-edit");

/// A bed flake whose paths are `with pkgs; [ hello tree ]`, one entry a line.
fn flake(bed: &Bed) -> std::path::PathBuf {
    bed.profile_flake_with(
        "flake",
        1,
        "paths = with pkgs; [\n          hello\n          tree\n        ];",
    )
}

fn read(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("flake.nix")).unwrap()
}

fn edit(bed: &Bed, dir: &Path, args: &[&str]) -> fp_testkit::Run {
    bed.tool(FP_EDIT)
        .args(args)
        .arg("--flake")
        .arg(dir)
        .arg("--profile")
        .arg(bed.profile())
        .run()
}

#[test]
fn add_builds_switches_and_keeps_the_rest_of_the_file() {
    let bed = Bed::new();
    let dir = flake(&bed);
    let before = read(&dir);
    edit(&bed, &dir, &["add", "cowsay"]).success();
    let after = read(&dir);
    insta::assert_snapshot!(bed.redact(&fp_edit::unified_diff("flake.nix", &before, &after)));
    assert_eq!(profile_bins(&bed), ["cowsay", "hello", "tree"]);

    edit(&bed, &dir, &["remove", "hello"]).success();
    assert_eq!(read(&dir), after.replace("          hello\n", ""));
    assert_eq!(profile_bins(&bed), ["cowsay", "tree"]);

    let list = bed
        .tool(FP_EDIT)
        .args(["list", "--json", "--flake"])
        .arg(&dir)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let declared: Vec<&str> = v["declared"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(declared, ["cowsay", "tree"]);
    assert_eq!(v["file"], dir.join("flake.nix").display().to_string());
    let installed = v["installed"].to_string();
    assert!(
        installed.contains("cowsay-3.7.0") && !installed.contains("hello"),
        "{installed}"
    );
}

#[test]
fn dry_run_prints_the_diff_and_changes_nothing() {
    let bed = Bed::new();
    let dir = flake(&bed);
    let before = read(&dir);
    let run = edit(&bed, &dir, &["add", "--dry-run", "motd"]).success();
    assert!(run.stdout.contains("+          motd"), "{}", run.stdout);
    assert_eq!(read(&dir), before);
    // `fp add` is `fp-edit add`.
    let front = bed
        .tool("fp")
        .args(["add", "--dry-run", "motd", "--flake"])
        .arg(&dir)
        .run()
        .success();
    assert_eq!(front.stdout, run.stdout);
    let json = edit(&bed, &dir, &["add", "--dry-run", "--json", "motd", "hello"]).success();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["added"], serde_json::json!(["motd"]));
    assert_eq!(v["removed"], serde_json::json!([]));
    assert_eq!(
        v["edit"].as_str().unwrap(),
        format!("{}\n", run.stdout.trim_end())
    );
    assert!(v["switch"].is_null());
    assert_eq!(v["flake"], dir.display().to_string());
    assert!(bed.profile_target().is_none());
}

#[test]
fn a_typo_gets_a_suggestion_and_changes_nothing() {
    let bed = Bed::new();
    let dir = flake(&bed);
    let before = read(&dir);
    let run = edit(&bed, &dir, &["add", "cowsy"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean cowsay?"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&dir), before);
    assert!(bed.profile_target().is_none());
}

#[test]
fn a_failed_build_leaves_the_file_byte_identical() {
    let bed = Bed::new();
    let dir = flake(&bed);
    let before = read(&dir);
    // writeText exists in the package set but is a function: the env does not build.
    let run = edit(&bed, &dir, &["add", "writeText"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("does not build"), "{}", run.stderr);
    assert_eq!(read(&dir), before);
    assert!(bed.profile_target().is_none());
}

#[test]
fn hostile_names_and_missing_entries_are_refused() {
    let bed = Bed::new();
    let dir = flake(&bed);
    let before = read(&dir);
    let run = edit(&bed, &dir, &["add", "a\"; builtins.abort \"x"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = edit(&bed, &dir, &["remove", "cowsay"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("it declares: hello, tree"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&dir), before);
}

#[test]
fn concurrent_adds_keep_both_edits() {
    let bed = Bed::new();
    let dir = flake(&bed);
    let spawn = |name: &str| {
        bed.tool(FP_EDIT)
            .args(["add", "--no-build", name, "--flake"])
            .arg(&dir)
            .spawn_group()
    };
    let mut children = [spawn("motd"), spawn("cowsay")];
    for child in &mut children {
        assert!(child.wait().unwrap().success());
    }
    let text = read(&dir);
    assert!(
        text.contains("          motd\n") && text.contains("          cowsay\n"),
        "{text}"
    );
}

/// Runs git in `dir` with a committer name and address.
fn git_in(bed: &Bed, dir: &Path, args: &[&str]) -> fp_testkit::Run {
    bed.command("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .run()
}

#[test]
fn commit_in_git() {
    let bed = Bed::new();
    let dir = flake(&bed);
    let git = |args: &[&str]| git_in(&bed, &dir, args);
    git(&["init", "-q"]).success();
    // Untracked: the edit is made and the hint says git add.
    let run = edit(&bed, &dir, &["add", "--no-build", "motd"]).success();
    assert!(run.stderr.contains("add flake.nix"), "{}", run.stderr);
    git(&["add", "flake.nix"]).success();
    git(&["commit", "-qm", "init"]).success();
    let run = bed
        .tool(FP_EDIT)
        .args(["add", "--no-build", "--commit", "cowsay", "--flake"])
        .arg(&dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let log = git(&["log", "--format=%s", "-1"]).success();
    assert_eq!(log.stdout.trim(), "fp add: cowsay");
    assert!(git(&["status", "--porcelain"]).success().stdout.is_empty());
}

/// The repository's template, its inputs pointed at the bed's package set and library.
fn template(bed: &Bed) -> std::path::PathBuf {
    let dir = bed.path().join("template");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(fp_testkit::repo_root().join("templates/default/flake.nix"))
        .unwrap()
        .replace(
            "github:NixOS/nixpkgs/nixos-unstable",
            &format!("path:{}", bed.pkgs(1).display()),
        )
        .replace(
            "github:flakey-profile/flakey-profile",
            &format!("path:{}", bed.lib_flake().display()),
        );
    std::fs::write(dir.join("flake.nix"), text).unwrap();
    dir
}

#[test]
fn the_template_add_and_remove() {
    let bed = Bed::new();
    let dir = template(&bed);
    let before = read(&dir);
    edit(&bed, &dir, &["add", "cowsay", "motd"]).success();
    insta::assert_snapshot!(bed.redact(&fp_edit::unified_diff("flake.nix", &before, &read(&dir))));
    assert_eq!(profile_bins(&bed), ["cowsay", "hello", "motd", "tree"]);
    edit(&bed, &dir, &["remove", "cowsay", "motd"]).success();
    assert_eq!(read(&dir), before);
    assert_eq!(profile_bins(&bed), ["hello", "tree"]);
}

#[test]
fn a_list_of_pkgs_entries_with_comments_and_a_conditional_list() {
    let bed = Bed::new();
    let dir = bed.profile_flake_with(
        "flake",
        1,
        "paths = [\n          pkgs.hello # greets\n          # a tree\n          pkgs.tree\n        ] ++ (if false then [ pkgs.motd ] else [ ]);",
    );
    let before = read(&dir);
    let run = edit(&bed, &dir, &["add", "cowsay"]);
    // `if` is not a list fp-edit can see into: refused, nothing changed.
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(read(&dir), before);

    let dir = bed.profile_flake_with(
        "flake2",
        1,
        "paths = [\n          pkgs.hello # greets\n          # a tree\n          pkgs.tree\n        ] ++ pkgs.lib.optionals false [ pkgs.motd ];",
    );
    let before = read(&dir);
    edit(&bed, &dir, &["add", "--no-build", "cowsay"]).success();
    let after = read(&dir);
    assert_eq!(
        after,
        before.replace(
            "          pkgs.hello # greets\n",
            "          pkgs.cowsay\n          pkgs.hello # greets\n"
        )
    );
    edit(&bed, &dir, &["remove", "--no-build", "hello", "motd"]).success();
    insta::assert_snapshot!(bed.redact(&fp_edit::unified_diff("flake.nix", &after, &read(&dir))));
}

/// The `list` entries' marks: the text of each line of the list for people that starts with
/// `mark`.
fn marked(stdout: &str, mark: char) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with(mark) && l.as_bytes().get(1) == Some(&b' '))
        .map(|l| l[2..].to_string())
        .collect()
}

#[test]
fn list_shows_drift_after_a_switch_to_another_flake() {
    let bed = Bed::new();
    let dir = flake(&bed);
    let other = bed.profile_flake_with(
        "other",
        1,
        "paths = with pkgs; [\n          hello\n          tree\n        ];",
    );
    // The profile is switched from another flake that has cowsay besides.
    edit(&bed, &other, &["add", "cowsay"]).success();
    // And tree is removed from this one without a build.
    edit(&bed, &dir, &["remove", "--no-build", "tree"]).success();
    let list = |json: bool| {
        let mut cmd = bed.tool(FP_EDIT).arg("list");
        if json {
            cmd = cmd.arg("--json");
        }
        cmd.arg("--flake")
            .arg(&dir)
            .arg("--profile")
            .arg(bed.profile())
            .run()
            .success()
    };
    let people = list(false);
    insta::assert_snapshot!(bed.redact(&people.stdout));
    assert!(marked(&people.stdout, '-').is_empty(), "{}", people.stdout);
    let plus = marked(&people.stdout, '+');
    assert!(
        plus.len() == 2 && plus[0].starts_with("cowsay-") && plus[1].starts_with("tree-"),
        "{}",
        people.stdout
    );
    let v: serde_json::Value = serde_json::from_str(&list(true).stdout).unwrap();
    assert_eq!(v["declared"][0]["text"], "hello");
    assert_eq!(v["declared"][0]["inGeneration"], true);
    let undeclared: Vec<&str> = v["installed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["declared"] == false)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(undeclared, ["cowsay", "tree"]);

    // Declared but not installed: motd added without a build.
    edit(&bed, &dir, &["add", "--no-build", "motd"]).success();
    let v: serde_json::Value = serde_json::from_str(&list(true).stdout).unwrap();
    let missing: Vec<&str> = v["declared"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["inGeneration"] == false)
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["motd"]);
    assert_eq!(marked(&list(false).stdout, '-'), ["motd"]);
}

#[test]
fn paths_imported_from_a_file_is_edited_there() {
    let bed = Bed::new();
    let dir = bed.profile_flake_with(
        "flake",
        1,
        "paths = import ./packages.nix { inherit pkgs; };",
    );
    let packages = dir.join("packages.nix");
    std::fs::write(&packages, "{ pkgs }:\nwith pkgs; [\n  hello\n  tree\n]\n").unwrap();
    let flake_before = read(&dir);
    let before = std::fs::read_to_string(&packages).unwrap();

    let dry = edit(&bed, &dir, &["add", "--dry-run", "cowsay"]).success();
    assert!(
        dry.stdout
            .starts_with("--- a/packages.nix\n+++ b/packages.nix\n"),
        "{}",
        dry.stdout
    );
    edit(&bed, &dir, &["add", "cowsay"]).success();
    let added = std::fs::read_to_string(&packages).unwrap();
    insta::assert_snapshot!(fp_edit::unified_diff("packages.nix", &before, &added));
    assert_eq!(read(&dir), flake_before);
    assert_eq!(profile_bins(&bed), ["cowsay", "hello", "tree"]);

    edit(&bed, &dir, &["remove", "hello"]).success();
    assert_eq!(
        std::fs::read_to_string(&packages).unwrap(),
        added.replace("  hello\n", "")
    );
    assert_eq!(read(&dir), flake_before);
    assert_eq!(profile_bins(&bed), ["cowsay", "tree"]);

    let list = edit(&bed, &dir, &["list", "--json"]).success();
    let v: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(v["file"], packages.display().to_string());
    assert_eq!(v["declared"][0]["text"], "cowsay");
}

#[test]
fn an_imported_file_outside_the_flake_or_a_link_is_refused() {
    let bed = Bed::new();
    let outside = bed.path().join("outside.nix");
    std::fs::write(&outside, "{ pkgs }: with pkgs; [ hello ]\n").unwrap();
    for (written, link) in [
        ("../outside.nix", false),
        ("./packages.nix", true),
        ("./missing.nix", false),
    ] {
        let dir = bed.profile_flake_with(
            "flake",
            1,
            &format!("paths = import {written} {{ inherit pkgs; }};"),
        );
        if link {
            let _ = std::fs::remove_file(dir.join("packages.nix"));
            std::os::unix::fs::symlink(&outside, dir.join("packages.nix")).unwrap();
        }
        let before = read(&dir);
        let run = edit(&bed, &dir, &["add", "--no-build", "cowsay"]);
        assert_eq!(run.code, 2, "{written}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("`paths` is read from {written}, which")),
            "{}",
            run.stderr
        );
        assert_eq!(read(&dir), before);
        assert_eq!(
            std::fs::read_to_string(&outside).unwrap(),
            "{ pkgs }: with pkgs; [ hello ]\n"
        );
    }
}

#[test]
fn a_fifo_in_place_of_a_tracked_file_is_refused_without_hanging() {
    use std::time::{Duration, Instant};
    let bed = Bed::new();
    let dir = flake(&bed);
    std::fs::write(dir.join("notes.txt"), "notes\n").unwrap();
    let git = |args: &[&str]| git_in(&bed, &dir, args);
    git(&["init", "-q"]).success();
    git(&["add", "flake.nix", "notes.txt"]).success();
    git(&["commit", "-qm", "init"]).success();
    let before = read(&dir);
    // The tracked file swapped for a FIFO nobody writes to: reading it would block forever.
    std::fs::remove_file(dir.join("notes.txt")).unwrap();
    bed.command("mkfifo")
        .arg(dir.join("notes.txt"))
        .run()
        .success();
    let mut child = bed
        .tool(FP_EDIT)
        .args(["add", "motd", "--flake"])
        .arg(&dir)
        .arg("--profile")
        .arg(bed.profile())
        .into_command()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A guard against a hang, not a speed measurement: the refusal comes before any build.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fp-edit add hangs on a FIFO in the flake");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("notes.txt is a FIFO (named pipe), not a regular file"),
        "{stderr}"
    );
    assert_eq!(read(&dir), before);
    assert!(bed.profile_target().is_none(), "nothing was switched");
}
