//! fp-diff against real Nix: generations and store paths, --closure, --json.

use fp_testkit::Bed;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_DIFF: &str = env!("CARGO_BIN_EXE_fp-diff");

fn two_generations() -> (Bed, String, String) {
    let bed = Bed::new();
    let a = bed.build(&bed.profile_flake("a", 1, &["hello", "cowsay", "tree", "motd"]));
    let b = bed.build(&bed.profile_flake("b", 2, &["hello", "jq", "tree", "motd"]));
    for p in [&a, &b] {
        bed.tool("fp-switch")
            .arg(p)
            .arg("--profile")
            .arg(bed.profile())
            .run()
            .success();
    }
    (bed, a, b)
}

#[test]
fn defaults_to_previous_and_current() {
    let (bed, _, _) = two_generations();
    let run = bed
        .tool(FP_DIFF)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    insta::assert_snapshot!(bed.redact(&run.stdout));
}

#[test]
fn same_diff_as_fp_switch_printed() {
    let bed = Bed::new();
    let a = bed.build(&bed.profile_flake("a", 1, &["hello", "cowsay", "tree", "motd"]));
    let b = bed.build(&bed.profile_flake("b", 2, &["hello", "jq", "tree", "motd"]));
    bed.tool("fp-switch")
        .arg(&a)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    let switched = bed
        .tool("fp-switch")
        .arg(&b)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    let diffed = bed
        .tool(FP_DIFF)
        .args([a.as_str(), b.as_str()])
        .run()
        .success();
    // fp-diff's lines after its header are exactly the diff fp-switch printed.
    let body: Vec<&str> = diffed.stdout.lines().skip(1).collect();
    let switch_lines: Vec<&str> = switched.stderr.lines().collect();
    let start = switch_lines
        .iter()
        .position(|l| *l == body[0])
        .expect("diff in fp-switch output");
    assert_eq!(&switch_lines[start..start + body.len()], body.as_slice());
}

#[test]
fn store_paths_and_generations_mix() {
    let (bed, a, b) = two_generations();
    let run = bed
        .tool(FP_DIFF)
        .args(["2", a.as_str(), "--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(
        v["from"],
        serde_json::json!({"generation": 2, "storePath": b})
    );
    assert_eq!(
        v["to"],
        serde_json::json!({"generation": null, "storePath": a})
    );
    assert_eq!(
        v["diff"]["added"],
        serde_json::json!([{"name": "cowsay", "version": "3.7.0"}])
    );
    assert_eq!(v["closureSize"], serde_json::Value::Null);
}

#[test]
fn closure_adds_the_size_change() {
    let (bed, _, _) = two_generations();
    let run = bed
        .tool(FP_DIFF)
        .args(["--closure", "--json", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let (from, to) = (
        v["closureSize"]["from"].as_u64().expect("from"),
        v["closureSize"]["to"].as_u64().expect("to"),
    );
    assert!(from > 0 && to > 0);
    assert_eq!(
        v["closureSize"]["change"].as_i64(),
        Some(to as i64 - from as i64)
    );
    let human = bed
        .tool(FP_DIFF)
        .args(["--closure", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    assert!(human.stdout.contains("closure size: "), "{}", human.stdout);
}

#[test]
fn unchanged_and_versionless_packages() {
    let bed = Bed::new();
    let a = bed.build(&bed.profile_flake("a", 1, &["tree", "motd"]));
    let b = bed.build(&bed.profile_flake("b", 2, &["tree", "motd"]));
    let run = bed
        .tool(FP_DIFF)
        .args([a.as_str(), b.as_str()])
        .run()
        .success();
    assert!(
        run.stdout.ends_with("no package changes\n"),
        "{}",
        run.stdout
    );
    let c = bed.build(&bed.profile_flake("c", 2, &["tree"]));
    let run = bed
        .tool(FP_DIFF)
        .args([b.as_str(), c.as_str()])
        .run()
        .success();
    assert!(run.stdout.contains("\n- motd\n"), "{}", run.stdout);
}

#[test]
fn errors() {
    let bed = Bed::new();
    bed.tool(FP_DIFF)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .code(1)
        .no_stdout();
    let (bed, _, _) = two_generations();
    bed.tool(FP_DIFF)
        .args(["7", "--profile"])
        .arg(bed.profile())
        .run()
        .code(1)
        .stderr_has("generation 7 does not exist");
    bed.tool(FP_DIFF)
        .args(["/etc", "/tmp"])
        .run()
        .code(2)
        .no_stdout();
}

#[test]
fn a_nix_env_profile_has_packages_not_outputs_or_manifests() {
    let bed = Bed::new();
    let install = |attr: &str| {
        bed.command("nix-env")
            .arg("--profile")
            .arg(bed.profile())
            .arg("-f")
            .arg(bed.pkgs(1).join("pkgs.nix"))
            .args(["--argstr", "system", &fp_testkit::system()])
            .args(["--arg", "revision", "1", "-iA", attr])
            .run()
            .success();
    };
    install("hello");
    install("cowsay");
    // nix-env installed hello's man output too, and its own manifest.
    let env = std::fs::canonicalize(bed.profile()).expect("env");
    let refs = bed
        .command("nix-store")
        .args(["--query", "--references"])
        .arg(&env)
        .run()
        .success()
        .stdout;
    assert!(refs.contains("-hello-1.0-man"), "{refs}");
    assert!(refs.contains("-env-manifest.nix"), "{refs}");
    let run = bed
        .tool(FP_DIFF)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    insta::assert_snapshot!(bed.redact(&run.stdout));
    let table = bed
        .tool("fp-generations")
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success()
        .stdout;
    let counts: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(3).expect("count"))
        .collect();
    assert_eq!(counts, ["1", "2"], "{table}");
}

#[test]
fn after_a_rollback_it_says_which_pair_it_shows() {
    let (bed, a, _) = two_generations();
    // Generation 3: a again; then back to 2.
    bed.tool("fp-switch")
        .arg(&a)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    bed.tool("fp-rollback")
        .args(["--to", "2", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    let run = bed
        .tool(FP_DIFF)
        .arg("--profile")
        .arg(bed.profile())
        .run()
        .success();
    insta::assert_snapshot!(bed.redact(&format!("{}\n{}", run.stdout, run.stderr)));
    // The pair the note names is what the rollback changed.
    let named = bed
        .tool(FP_DIFF)
        .args(["3", "2", "--profile"])
        .arg(bed.profile())
        .run()
        .success();
    assert!(
        named.stdout.starts_with("generation 3 -> generation 2"),
        "{}",
        named.stdout
    );
    assert!(named.stderr.is_empty(), "{}", named.stderr);
}
