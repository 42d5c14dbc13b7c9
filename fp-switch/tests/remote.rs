//! fp-switch, fp-rollback, fp-generations and fp-diff on other machines: real sshd and a real
//! second Nix store per test (fp_testkit::remote), reached through an ssh config alias given
//! in NIX_SSHOPTS, as users give theirs.

use fp_testkit::remote::{free_port, ssh_config_entry, Remote};
use fp_testkit::{Bed, Cmd};
use std::path::{Path, PathBuf};

const SWITCH: &str = env!("CARGO_BIN_EXE_fp-switch");

/// A profile on the remote, in a directory that exists there.
fn remote_profile(remote: &Remote, dir: &str) -> PathBuf {
    remote.ssh(&format!("mkdir -p '{dir}'")).success();
    Path::new(dir).join("profile")
}

/// A tool of the bed reaching hosts with the ssh config `sshopts`.
fn tool(bed: &Bed, program: &str, sshopts: &str) -> Cmd {
    bed.tool(program).env("NIX_SSHOPTS", sshopts)
}

/// The JSON documents a tool printed, one per line.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// `text` without the progress lines of `nix copy`, which each Nix version words its own way.
fn without_nix_progress(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("copying "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The closure of `path` in the local store.
fn closure(bed: &Bed, path: &str) -> Vec<String> {
    bed.command("nix-store")
        .args(["-q", "--requisites", path])
        .run()
        .success()
        .stdout
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn switch_rollback_list_and_diff_on_another_machine() {
    let bed = Bed::new();
    let remote = Remote::start("box");
    let opts = remote.nix_sshopts();
    let env1 = bed.build(&bed.profile_flake("one", 1, &["hello", "cowsay"]));
    let env2 = bed.build(&bed.profile_flake("two", 2, &["hello", "jq"]));
    let profile = remote_profile(&remote, "/root/fp");

    let run = tool(&bed, SWITCH, &opts)
        .args(["--target-host", "box", "--json", "--profile"])
        .arg(&profile)
        .arg(&env1)
        .run()
        .success();
    let doc = &json_lines(&run.stdout)[0];
    assert_eq!(doc["host"], "box");
    assert_eq!(doc["generation"], 1);
    assert_eq!(doc["changed"], true);
    assert_eq!(doc["profile"], profile.display().to_string());
    // The whole closure is in the remote store, and the remote profile points at it.
    for path in closure(&bed, &env1) {
        assert!(remote.has_store_path(&path), "{path} not copied");
    }
    assert_eq!(remote.read_link(&profile).as_deref(), Some("profile-1-link"));
    assert_eq!(
        remote.read_link(&Path::new("/root/fp/profile-1-link")).as_deref(),
        Some(env1.as_str())
    );
    assert_eq!(remote.generation_numbers(&profile), (vec![1], Some(1)));
    // This machine's profile is untouched.
    assert!(std::fs::symlink_metadata(bed.profile()).is_err());

    let run = tool(&bed, SWITCH, &opts)
        .args(["--target-host", "box", "--profile"])
        .arg(&profile)
        .arg(&env2)
        .run()
        .success()
        .no_stdout()
        .stderr_has("box: switched to generation 2: 1 added, 1 removed, 1 changed");
    insta::assert_snapshot!("remote_switch", without_nix_progress(&bed.redact(&run.stderr)));
    assert_eq!(remote.generation_numbers(&profile), (vec![1, 2], Some(2)));

    // Listing reads the remote generations.
    let run = tool(&bed, "fp-generations", &opts)
        .args(["--target-host", "box", "--json", "--profile"])
        .arg(&profile)
        .run()
        .success();
    let doc = &json_lines(&run.stdout)[0];
    assert_eq!(doc["host"], "box");
    assert_eq!(doc["current"], 2);
    let listed: Vec<&str> = doc["generations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["storePath"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [env1.as_str(), env2.as_str()]);

    // The diff of the remote's generations.
    let run = tool(&bed, "fp-diff", &opts)
        .args(["--target-host", "box", "--profile"])
        .arg(&profile)
        .run()
        .success();
    assert_eq!(
        run.stdout.trim_end(),
        "generation 1 -> generation 2\n+ jq 1.7\n- cowsay 3.7.0\n~ hello 1.0 -> 1.1\n1 added, 1 removed, 1 changed",
        "{}",
        run.stderr
    );

    // Rollback there, then the listing says so.
    tool(&bed, "fp-rollback", &opts)
        .args(["--target-host", "box", "--profile"])
        .arg(&profile)
        .run()
        .success()
        .stderr_has("box: switched to generation 1");
    assert_eq!(remote.generation_numbers(&profile), (vec![1, 2], Some(1)));
    assert!(std::fs::symlink_metadata(bed.profile()).is_err());
}
