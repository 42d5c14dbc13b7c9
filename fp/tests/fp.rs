//! The `fp` front command: it finds the tools and hands over stdin, stdout and exit codes.

use fp_testkit::Bed;

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_BIN: &str = env!("CARGO_BIN_EXE_fp");

#[test]
fn fp_switch_equals_fp_switch() {
    let bed = Bed::new();
    let flake = bed.profile_flake("a", 1, &["hello"]);
    let built = bed
        .tool(FP_BIN)
        .arg("build")
        .arg(&flake)
        .arg("--json")
        .run()
        .success();
    let other = bed.path().join("profiles/other");
    let via_fp = bed
        .tool(FP_BIN)
        .args(["switch", "--json", "--profile"])
        .arg(bed.profile())
        .stdin(built.stdout.clone())
        .run()
        .success();
    let direct = bed
        .tool("fp-switch")
        .args(["--json", "--profile"])
        .arg(&other)
        .stdin(built.stdout)
        .run()
        .success();
    let strip = |s: &str, p: &std::path::Path| s.replace(&p.display().to_string(), "P");
    assert_eq!(
        strip(&via_fp.stdout, &bed.profile()),
        strip(&direct.stdout, &other)
    );
    assert_eq!(
        strip(&via_fp.stderr, &bed.profile()),
        strip(&direct.stderr, &other)
    );
    assert_eq!(bed.generation_numbers(), (vec![1], Some(1)));
}

#[test]
fn exit_codes_pass_through() {
    let bed = Bed::new();
    bed.tool(FP_BIN)
        .args(["switch", "/etc"])
        .run()
        .code(2)
        .stderr_has("fp-switch: error:");
    bed.tool(FP_BIN)
        .args(["rollback", "--profile"])
        .arg(bed.profile())
        .run()
        .code(1);
}

#[test]
fn help_lists_the_tools_found() {
    let bed = Bed::new();
    let run = bed.tool(FP_BIN).arg("--help").run().success();
    for tool in ["build", "switch", "rollback", "generations", "diff"] {
        assert!(
            run.stdout.contains(&format!("  {tool} ")),
            "{tool}: {}",
            run.stdout
        );
    }
}

#[test]
fn unknown_tool_is_exit_2_with_the_list() {
    let bed = Bed::new();
    let run = bed.tool(FP_BIN).arg("frobnicate").run().code(2).no_stdout();
    assert!(
        run.stderr.contains("there is no tool fp-frobnicate"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("build"), "{}", run.stderr);
    bed.tool(FP_BIN).run().code(2).no_stdout();
    bed.tool(FP_BIN).arg("--bogus").run().code(2).no_stdout();
}

#[test]
fn tools_on_path_are_found_too() {
    let bed = Bed::new();
    let dir = bed.path().join("extra-bin");
    std::fs::create_dir_all(&dir).expect("dir");
    let script = dir.join("fp-hello");
    std::fs::write(&script, "#!/bin/sh\necho \"hello $*\"\nexit 7\n").expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = bed
        .tool(FP_BIN)
        .args(["hello", "a b", "--x"])
        .env("PATH", &path)
        .run()
        .code(7);
    assert_eq!(run.stdout, "hello a b --x\n");
}

#[test]
fn common_flags_before_the_tool_are_handed_to_it() {
    let bed = Bed::new();
    let flake = bed.profile_flake("a", 1, &["hello"]);
    bed.tool(FP_BIN).arg("build").arg(&flake).run().success();
    // Built once: every run below is a cache hit, so their stderr can be compared.
    let fp = |args: &[&str]| bed.tool(FP_BIN).args(args).arg(&flake).run().success();
    let tool = |args: &[&str]| bed.tool("fp-build").args(args).arg(&flake).run().success();
    let plain = fp(&["build"]);
    assert!(!plain.stderr.is_empty(), "a cache hit is told");
    let quiet = fp(&["-q", "build"]);
    assert_eq!(quiet.stderr, "");
    assert_eq!(quiet.stdout, plain.stdout);
    assert_eq!(fp(&["--quiet", "build"]).stderr, tool(&["-q"]).stderr);
    let verbose = fp(&["-v", "build"]);
    assert!(verbose.stderr.contains("cache: hit"), "{}", verbose.stderr);
    assert_eq!(verbose.stderr, tool(&["-v"]).stderr);
    // A shortcut: fp -v list is fp-edit -v list.
    let listed = bed
        .tool(FP_BIN)
        .args(["-v", "--color", "never", "list", "--flake"])
        .arg(&flake)
        .run()
        .success();
    let direct = bed
        .tool("fp-edit")
        .args(["list", "-v", "--color", "never", "--flake"])
        .arg(&flake)
        .run()
        .success();
    assert_eq!(
        (listed.stdout, listed.stderr),
        (direct.stdout, direct.stderr)
    );
    // --color always colours the tool's error, as the tool's own flag does.
    let coloured = bed
        .tool(FP_BIN)
        .args(["--color=always", "rollback", "--profile"])
        .arg(bed.profile())
        .run()
        .code(1);
    assert!(coloured.stderr.contains("\x1b["), "{}", coloured.stderr);
    let never = bed
        .tool(FP_BIN)
        .args(["--color", "never", "rollback", "--profile"])
        .arg(bed.profile())
        .run()
        .code(1);
    assert!(!never.stderr.contains('\x1b'), "{}", never.stderr);
    bed.tool(FP_BIN)
        .args(["--color", "pink", "build"])
        .run()
        .code(2)
        .no_stdout()
        .stderr_has("--color takes auto, always or never");
}
