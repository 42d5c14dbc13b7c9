//! Reliability of switching against real Nix: concurrent switches, kills at random moments,
//! hostile input, and paths that would be shell injection if anything used a shell.

use fp_testkit::{kill, Bed, Random};
use std::path::Path;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_SWITCH: &str = env!("CARGO_BIN_EXE_fp-switch");

/// Checks the invariant every run must keep: the profile link points at a generation link that
/// exists, and that generation's store path exists.
fn assert_profile_valid(bed: &Bed, valid: &[String]) {
    let Some(target) = bed.profile_target() else {
        return; // no generation yet is valid too
    };
    let link = bed.profile().parent().expect("dir").join(&target);
    let store = std::fs::read_link(&link)
        .unwrap_or_else(|e| panic!("profile points to {target:?}, which is not a link: {e}"));
    let store = store.to_string_lossy().into_owned();
    assert!(
        valid.contains(&store),
        "generation {target:?} points to {store}"
    );
    assert!(Path::new(&store).exists());
}

/// Envs of different content, to switch between.
fn envs(bed: &Bed, n: usize) -> Vec<String> {
    let sets: [&[&str]; 4] = [&["hello"], &["tree"], &["motd"], &["hello", "tree"]];
    (0..n)
        .map(|i| bed.build(&bed.profile_flake(&format!("f{i}"), 1, sets[i % sets.len()])))
        .collect()
}

#[test]
fn eight_concurrent_switches_twenty_rounds() {
    let bed = Bed::new();
    let targets = envs(&bed, 4);
    let mut made = 0;
    for round in 0..20 {
        let children: Vec<_> = (0..8)
            .map(|i| {
                let target = &targets[(round + i) % targets.len()];
                let cmd = bed
                    .tool(FP_SWITCH)
                    .args([target.as_str(), "--json", "--profile"])
                    .arg(bed.profile());
                std::thread::spawn(move || cmd.run())
            })
            .collect();
        for child in children {
            let run = child.join().expect("thread");
            assert!(
                run.code == 0 || (run.code == 1 && run.stderr.contains("fp-switch: error:")),
                "exit {}: {}",
                run.code,
                run.stderr
            );
            assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
            if run.code == 0 {
                made += 1;
            }
            assert_profile_valid(&bed, &targets);
        }
    }
    assert!(made > 0);
    // Every generation link is distinct and points at one of the envs; nix-env agrees.
    let (numbers, current) = bed.generation_numbers();
    let mut sorted = numbers.clone();
    sorted.dedup();
    assert_eq!(sorted, numbers, "duplicate generation numbers");
    assert!(current.is_some());
    for n in &numbers {
        let link = bed.path().join(format!("profiles/profile-{n}-link"));
        let target = std::fs::read_link(link).expect("generation link");
        assert!(targets.contains(&target.to_string_lossy().into_owned()));
    }
}

#[test]
fn killed_at_random_moments_the_profile_stays_valid() {
    let bed = Bed::new();
    let targets = envs(&bed, 2);
    bed.tool(FP_SWITCH)
        .arg(&targets[0])
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    let mut random = Random::new(0x5eed_f00d);
    let mut groups = Vec::new();
    for trial in 0..100 {
        let target = &targets[(trial + 1) % 2];
        let mut child = bed
            .tool(FP_SWITCH)
            .arg(target)
            .arg("--profile")
            .arg(bed.profile())
            .spawn_group();
        std::thread::sleep(std::time::Duration::from_micros(random.below(40_000)));
        // Half the trials kill nix-env with it (mid-write); the others leave nix-env running on.
        groups.push(child.id());
        kill(&mut child, trial % 2 == 0);
        assert_profile_valid(&bed, &targets);
    }
    // Whatever was left behind (temporary links of a killed nix-env) is ignored: the next run
    // works and the listing still equals nix-env's.
    groups.into_iter().for_each(fp_testkit::wait_for_group);
    bed.tool(FP_SWITCH)
        .arg(&targets[0])
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    assert_profile_valid(&bed, &targets);
    let listed = bed
        .tool("fp-generations")
        .args(["--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&listed.stdout).expect("json");
    let ours: Vec<u64> = v["generations"]
        .as_array()
        .expect("list")
        .iter()
        .map(|g| g["generation"].as_u64().expect("number"))
        .collect();
    let listing: Vec<String> = std::fs::read_dir(bed.path().join("profiles"))
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(ours, bed.generation_numbers().0, "{listing:?}");
}

#[test]
fn a_100_mb_stdin_is_refused_in_bounded_memory() {
    let bed = Bed::new();
    // One 100 MB line with no newline: read up to the limit, then refused.
    let huge = vec![b'a'; 100 * 1024 * 1024];
    let run = bed
        .command("/usr/bin/time")
        .args(["-f", "maxrss=%M"])
        .arg(FP_SWITCH)
        .arg("--profile")
        .arg(bed.profile())
        .stdin(huge)
        .run()
        .code(2);
    assert!(run.stderr.contains("too long"), "{}", run.stderr);
    let kib: u64 = run
        .stderr
        .rsplit("maxrss=")
        .next()
        .and_then(|s| s.trim().parse().ok())
        .expect("maxrss");
    assert!(kib < 32 * 1024, "fp-switch used {kib} KiB");
    assert_eq!(bed.profile_target(), None);
}

#[test]
fn nul_bytes_and_binary_stdin_are_refused() {
    let bed = Bed::new();
    for input in [
        &b"/nix/store/\0x\n"[..],
        &b"\x00\x01\x02\xff\n"[..],
        &b"{\"storePath\": \"\\u0000\"}\n"[..],
    ] {
        let run = bed
            .tool(FP_SWITCH)
            .arg("--profile")
            .arg(bed.profile())
            .stdin(input.to_vec())
            .run()
            .code(2)
            .no_stdout();
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert_eq!(bed.profile_target(), None);
}

/// A name with spaces, quotes, `$()`, backticks and `;`: if any of it reached a shell, the
/// file `pwned` would appear.
fn hostile_name(bed: &Bed) -> String {
    format!(
        "we ird'\"$(touch {0}/pwned);`touch {0}/pwned2`; x",
        bed.path().display()
    )
}

#[test]
fn hostile_profile_paths_work_and_run_nothing() {
    let bed = Bed::new();
    let target = envs(&bed, 1).remove(0);
    let dir = bed.path().join(hostile_name(&bed));
    std::fs::create_dir_all(&dir).expect("dir");
    let profile = dir.join("prof $(id)");
    bed.tool(FP_SWITCH)
        .arg(&target)
        .arg("--profile")
        .arg(&profile)
        .arg("-v")
        .run()
        .success();
    assert!(std::fs::read_link(&profile).is_ok());
    bed.tool("fp-rollback")
        .arg("--profile")
        .arg(&profile)
        .run()
        .code(1);
    assert!(!bed.path().join("pwned").exists() && !bed.path().join("pwned2").exists());
}

#[test]
fn hostile_flake_paths_work_or_are_refused_and_run_nothing() {
    let bed = Bed::new();
    let flake = bed.profile_flake("plain", 1, &["hello"]);
    let hostile = bed.path().join(hostile_name(&bed));
    std::fs::create_dir_all(hostile.parent().expect("parent")).expect("parents");
    std::fs::rename(&flake, &hostile).expect("rename");
    let run = bed.tool("fp-build").arg(&hostile).run();
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
    assert!(!bed.path().join("pwned").exists() && !bed.path().join("pwned2").exists());
}
