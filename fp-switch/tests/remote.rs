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
    fp_testkit::without_nix_chatter(text)
        .lines()
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
    assert_eq!(
        remote.read_link(&profile).as_deref(),
        Some("profile-1-link")
    );
    assert_eq!(
        remote
            .read_link(Path::new("/root/fp/profile-1-link"))
            .as_deref(),
        Some(env1.as_str())
    );
    assert_eq!(remote.generation_numbers(&profile), (vec![1], Some(1)));
    // This machine's profile is untouched.
    assert!(std::fs::symlink_metadata(bed.profile()).is_err());

    let run = tool(&bed, SWITCH, &opts)
        .args([
            "--target-host",
            "box",
            "--substitute-on-destination",
            "--profile",
        ])
        .arg(&profile)
        .arg(&env2)
        .run()
        .success()
        .no_stdout()
        .stderr_has("box: switched to generation 2: 1 added, 1 removed, 1 changed");
    insta::assert_snapshot!(
        "remote_switch",
        without_nix_progress(&bed.redact(&run.stderr))
    );
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
    // Sizes are measured on this machine only: asked for another, the same diff comes without
    // them, and says so.
    let sized = tool(&bed, "fp-diff", &opts)
        .args(["--target-host", "box", "--closure", "--profile"])
        .arg(&profile)
        .run()
        .success()
        .stderr_has(
            "box: closure sizes are measured on this machine only; showing the diff without them",
        );
    assert_eq!(sized.stdout, run.stdout);

    // Rollback there, then the listing says so.
    let run = tool(&bed, "fp-rollback", &opts)
        .args(["--target-host", "box", "--profile"])
        .arg(&profile)
        .run()
        .success();
    insta::assert_snapshot!("remote_rollback", bed.redact(&run.stderr));
    assert_eq!(remote.generation_numbers(&profile), (vec![1, 2], Some(1)));

    // Deleting there: generation 2 goes, the current one stays.
    tool(&bed, "fp-generations", &opts)
        .args(["--target-host", "box", "--profile"])
        .arg(&profile)
        .args(["delete", "1", "2"])
        .run()
        .success()
        .stderr_has("generation 1 is the current one; it is not deleted")
        .stderr_has("box: deleted generation 2");
    assert_eq!(remote.generation_numbers(&profile), (vec![1], Some(1)));
    assert!(std::fs::symlink_metadata(bed.profile()).is_err());
}

/// Replaces the port numbers ssh names in its errors.
fn redact_ports(text: &str, ports: &[u16]) -> String {
    ports.iter().fold(text.to_string(), |t, p| {
        t.replace(&format!("port {p}"), "port [PORT]")
    })
}

#[test]
fn several_hosts_at_once_and_one_down() {
    let bed = Bed::new();
    let (a, b) = (Remote::start("a"), Remote::start("b"));
    let down_port = free_port();
    let config = bed.path().join("ssh_config");
    std::fs::write(
        &config,
        [
            a.ssh_config_entry(),
            b.ssh_config_entry(),
            ssh_config_entry("down", down_port, &a.client_key()),
        ]
        .concat(),
    )
    .unwrap();
    let opts = format!("-F {}", config.display());
    for remote in [&a, &b] {
        remote_profile(remote, "/root/fp");
    }
    let hosts = bed.config_home().join("flakey-profile");
    std::fs::create_dir_all(&hosts).unwrap();
    std::fs::write(
        hosts.join("config.toml"),
        "[hosts.a]\ntarget = \"a\"\nprofile = \"/root/fp/profile\"\n\n[hosts.b]\ntarget = \"b\"\nprofile = \"/root/fp/profile\"\n\n[hosts.down]\ntarget = \"down\"\n",
    )
    .unwrap();
    let env = bed.build(&bed.profile_flake("one", 1, &["hello"]));

    let run = tool(&bed, SWITCH, &opts)
        .args(["--hosts", "all", "--json", &env])
        .run()
        .code(1);
    let docs = json_lines(&run.stdout);
    let hosts: Vec<&str> = docs.iter().map(|d| d["host"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["a", "b", "down"]);
    assert_eq!(
        (
            docs[0]["generation"].as_u64(),
            docs[1]["generation"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(docs[2]["error"]
        .as_str()
        .unwrap()
        .starts_with("cannot reach down over ssh"));
    insta::assert_snapshot!(
        "several_hosts_one_down",
        redact_ports(&bed.redact(&run.stderr), &[down_port])
    );
    for remote in [&a, &b] {
        assert!(remote.has_store_path(&env));
        assert_eq!(
            remote.generation_numbers(Path::new("/root/fp/profile")),
            (vec![1], Some(1))
        );
    }
    assert!(std::fs::symlink_metadata(bed.profile()).is_err());

    // The listing of two hosts, one table each, in the order asked.
    let run = tool(&bed, "fp-generations", &opts)
        .args(["--hosts", "b,a", "--jobs", "1"])
        .run()
        .success();
    let headings: Vec<&str> = run.stdout.lines().filter(|l| l.ends_with(':')).collect();
    assert_eq!(headings, ["b:", "a:"]);
    assert_eq!(run.stdout.matches("(current)").count(), 2, "{}", run.stdout);
    insta::assert_snapshot!(
        "two_hosts_listed",
        bed.redact(&format!("{}--- stderr\n{}", run.stdout, run.stderr))
    );
    let run = tool(&bed, "fp-generations", &opts)
        .args(["--hosts", "nope"])
        .run()
        .code(2)
        .stderr_has("no host named \"nope\"");
    assert!(run.stderr.contains("a, b, down"), "{}", run.stderr);
}

#[test]
fn errors_say_which_host_and_what_to_run() {
    let bed = Bed::new();
    let remote = Remote::start("box");
    let opts = remote.nix_sshopts();
    let env = bed.build(&bed.profile_flake("one", 1, &["hello"]));
    let switch = |profile: &str| {
        tool(&bed, SWITCH, &opts)
            .args(["--target-host", "box", "--profile", profile, &env])
            .run()
    };
    // A directory missing there that root may make and nix-env does not: the copy comes first
    // (it could have made it), then the same fix as here, to run there, and no sudo for root.
    let run = switch("/root/missing/profile").code(1);
    insta::assert_snapshot!(
        "remote_directory_missing",
        without_nix_progress(&bed.redact(&run.stderr))
    );
    assert!(remote.has_store_path(&env), "the copy comes first");
    assert!(!run.stderr.contains("sudo"), "{}", run.stderr);
    // No Nix on the remote PATH.
    remote
        .ssh("mv /usr/bin/nix-env /usr/bin/nix-env.off")
        .success();
    let run = switch("/root/profile").code(1);
    insta::assert_snapshot!("remote_without_nix", bed.redact(&run.stderr));
    // Options for other machines without one.
    tool(&bed, SWITCH, &opts)
        .args(["--substitute-on-destination", &env])
        .run()
        .code(2)
        .stderr_has("--substitute-on-destination is for other machines");
    tool(&bed, SWITCH, &opts)
        .args(["--target-host", "box", "--jobs", "0", &env])
        .run()
        .code(2);
    // A host name ssh would take as an option.
    tool(&bed, SWITCH, &opts)
        .args(["--target-host=-oProxyCommand=touch /tmp/x", &env])
        .run()
        .code(2)
        .stderr_has("is not a host name");
}

#[test]
fn hostile_profile_paths_run_nothing_there() {
    let bed = Bed::new();
    let remote = Remote::start("box");
    let opts = remote.nix_sshopts();
    let env = bed.build(&bed.profile_flake("one", 1, &["hello"]));
    let dir = "/root/$(touch /root/pwned)`touch /root/pwned`; touch /root/pwned '\"";
    remote
        .ssh(&format!("mkdir -p {}", fp_nix::command::shell_quote(dir)))
        .success();
    let profile = format!("{dir}/my profile*");
    tool(&bed, SWITCH, &opts)
        .args(["--target-host", "box", "--profile", &profile, &env])
        .run()
        .success();
    assert_eq!(remote.ssh("test -e /root/pwned").code, 1, "a command ran");
    let link = remote
        .ssh(&format!(
            "readlink {}",
            fp_nix::command::shell_quote(&profile)
        ))
        .success();
    assert_eq!(link.stdout.trim(), "my profile*-1-link");
    tool(&bed, "fp-generations", &opts)
        .args(["--target-host", "box", "--profile", &profile])
        .run()
        .success();
    assert_eq!(remote.ssh("test -e /root/pwned").code, 1, "a command ran");
}

#[test]
fn dry_run_copies_and_changes_nothing() {
    let bed = Bed::new();
    let remote = Remote::start("box");
    let env = bed.build(&bed.profile_flake("one", 1, &["hello"]));
    let profile = remote_profile(&remote, "/root/fp");
    tool(&bed, SWITCH, &remote.nix_sshopts())
        .args(["--target-host", "box", "--dry-run", "--profile"])
        .arg(&profile)
        .arg(&env)
        .run()
        .success()
        .stderr_has("box: would switch to generation 1 (dry run)");
    assert!(!remote.has_store_path(&env));
    assert_eq!(remote.read_link(&profile), None);
}

#[test]
fn the_default_profile_there_is_the_one_nix_env_uses_there() {
    let bed = Bed::new();
    let remote = Remote::start("box");
    let opts = remote.nix_sshopts();
    let env = bed.build(&bed.profile_flake("one", 1, &["hello"]));
    // Whatever nix-env's default is there, Nix makes its directory: the switch just works.
    tool(&bed, SWITCH, &opts)
        .args(["--target-host", "box", &env])
        .run()
        .success();
    // nix-env there, asked about its own default profile, sees the new generation.
    let listing = remote.ssh("nix-env --list-generations").success().stdout;
    assert_eq!(
        fp_testkit::parse_generation_listing(&listing),
        (vec![1], Some(1)),
        "{listing}"
    );
}

#[test]
fn a_generation_made_there_stays_there() {
    let bed = Bed::new();
    let remote = Remote::start("box");
    let opts = remote.nix_sshopts();
    let env = bed.build(&bed.profile_flake("one", 1, &["hello"]));
    let profile = remote_profile(&remote, "/root/fp");
    tool(&bed, SWITCH, &opts)
        .args(["--target-host", "box", "--profile"])
        .arg(&profile)
        .arg(&env)
        .run()
        .success();
    // A second generation made on the remote alone, from a path this machine never had.
    let only_there = remote
        .ssh("echo remote-only > /root/notes && nix-store --add /root/notes")
        .success()
        .stdout
        .trim()
        .to_string();
    remote
        .ssh(&format!(
            "nix-env --profile /root/fp/profile --set {only_there}"
        ))
        .success();
    let run = tool(&bed, "fp-diff", &opts)
        .args(["--target-host", "box", "--json", "--profile"])
        .arg(&profile)
        .run()
        .success();
    let doc = &json_lines(&run.stdout)[0];
    assert_eq!(doc["to"]["storePath"], only_there.as_str());
    assert_eq!(doc["diff"]["removed"][0]["name"], "hello");
    // Rolling back there and reading it all did not bring the path here.
    tool(&bed, "fp-rollback", &opts)
        .args(["--target-host", "box", "--profile"])
        .arg(&profile)
        .run()
        .success();
    assert_eq!(remote.generation_numbers(&profile), (vec![1, 2], Some(1)));
    let here = bed
        .command("nix-store")
        .args(["--check-validity", &only_there])
        .run();
    assert_ne!(here.code, 0, "{only_there} was copied here");
}

#[test]
fn a_machine_where_nix_never_ran_is_switched_rolled_back_and_listed() {
    let bed = Bed::new();
    let remote = Remote::start_never_used("box");
    assert_eq!(remote.ssh("test -e /nix").code, 1, "/nix exists there");
    let opts = remote.nix_sshopts();
    let env1 = bed.build(&bed.profile_flake("one", 1, &["hello"]));
    let env2 = bed.build(&bed.profile_flake("two", 2, &["hello", "jq"]));
    // nix-env's default profile there (root's), whose directory nix-env makes.
    for env in [&env1, &env2] {
        tool(&bed, SWITCH, &opts)
            .args(["--target-host", "box", env])
            .run()
            .success();
    }
    let generations = || {
        let listing = remote.ssh("nix-env --list-generations").success().stdout;
        fp_testkit::parse_generation_listing(&listing)
    };
    assert_eq!(generations(), (vec![1, 2], Some(2)));
    tool(&bed, "fp-rollback", &opts)
        .args(["--target-host", "box"])
        .run()
        .success()
        .stderr_has("box: switched to generation 1");
    assert_eq!(generations(), (vec![1, 2], Some(1)));
    let run = tool(&bed, "fp-generations", &opts)
        .args(["--target-host", "box", "--json"])
        .run()
        .success();
    let doc = &json_lines(&run.stdout)[0];
    assert_eq!(doc["current"], 1);
    let listed: Vec<&str> = doc["generations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["storePath"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [env1.as_str(), env2.as_str()]);

    // A profile in the store's own profiles directory, on another such machine: the copy
    // makes the store and that directory.
    let other = Remote::start_never_used("box2");
    let profile = Path::new("/nix/var/nix/profiles/fleet");
    tool(&bed, SWITCH, &other.nix_sshopts())
        .args(["--target-host", "box2", "--profile"])
        .arg(profile)
        .arg(&env1)
        .run()
        .success();
    assert_eq!(other.generation_numbers(profile), (vec![1], Some(1)));
}
