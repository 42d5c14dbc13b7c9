//! Every kind of bad input is exit 2 with a message saying what and where, and nothing on
//! stdout (so `fp-migrate > flake.nix` never writes half a flake).

mod common;

use common::migrate;
use fp_testkit::{Bed, Run};

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_MIGRATE: &str = env!("CARGO_BIN_EXE_fp-migrate");

const HELLO: &str = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-1.0";

/// Runs fp-migrate on `input` as stdin and checks the contract for bad input.
fn refused(bed: &Bed, input: &str, message: &str) -> Run {
    migrate(bed, &[], Some(input))
        .code(2)
        .no_stdout()
        .stderr_has(&format!("fp-migrate: error: {message}"))
}

#[test]
fn not_json_says_line_and_column() {
    let bed = Bed::new();
    refused(
        &bed,
        "{\n  \"version\": 2,\n  \"elements\": [,]\n}\n",
        "stdin: not valid JSON at line 3, column 16: expected value",
    );
    refused(
        &bed,
        "hello",
        "stdin: not valid JSON at line 1, column 1: expected value",
    );
    refused(
        &bed,
        "{\"version\": 2, \"elements\": []",
        "stdin: not valid JSON at line 1, column 29: EOF while parsing an object",
    );
}

#[test]
fn wrong_shape_says_where() {
    let bed = Bed::new();
    refused(&bed, "[]", "stdin: the document: expected a JSON object");
    refused(
        &bed,
        r#"{"version":2,"elements":"x"}"#,
        "stdin: .elements: expected an array or an object, found a string",
    );
    refused(&bed, r#"{"version":2}"#, "stdin: .elements: missing");
    refused(
        &bed,
        r#"{"version":"2","elements":[]}"#,
        "stdin: .version: expected an integer, found a string",
    );
    refused(
        &bed,
        &format!(r#"{{"version":2,"elements":[{{"active":"yes","storePaths":["{HELLO}"]}}]}}"#),
        "stdin: .elements[0].active: expected true or false, found a string",
    );
    refused(
        &bed,
        &format!(
            r#"{{"version":2,"elements":[{{"active":true,"storePaths":["{HELLO}"],"priority":1.5}}]}}"#
        ),
        "stdin: .elements[0].priority: expected an integer, found a number",
    );
    refused(
        &bed,
        &format!(
            r#"{{"version":3,"elements":{{"hello":{{"active":true,"storePaths":["{HELLO}"],"url":"github:a/b/c","originalUrl":"flake:b"}}}}}}"#
        ),
        r#"stdin: .elements["hello"].attrPath: missing"#,
    );
    refused(
        &bed,
        &format!(
            r#"{{"version":2,"elements":[{{"active":true,"storePaths":["{HELLO}"],"outputs":"man"}}]}}"#
        ),
        "stdin: .elements[0].outputs: expected null or an array of output names, found a string",
    );
}

#[test]
fn missing_or_bad_store_paths() {
    let bed = Bed::new();
    refused(
        &bed,
        r#"{"version":2,"elements":[{"active":true}]}"#,
        "stdin: .elements[0].storePaths: missing",
    );
    refused(
        &bed,
        r#"{"version":1,"elements":[{"active":true,"storePaths":["/tmp/hello"]}]}"#,
        "stdin: .elements[0].storePaths[0]: \"/tmp/hello\" is not in the Nix store",
    );
}

#[test]
fn unknown_or_missing_version() {
    let bed = Bed::new();
    refused(
        &bed,
        r#"{"version":4,"elements":[]}"#,
        "stdin: unsupported manifest version 4 (supported: 1, 2 and 3)",
    );
    refused(
        &bed,
        r#"{"elements":[]}"#,
        "stdin: unsupported manifest: it has no \"version\"",
    );
}

#[test]
fn empty_stdin_and_not_utf8() {
    let bed = Bed::new();
    // The hint's pipeline is one the running Nix has: `--json` only where its help lists it.
    let help = bed
        .command("nix")
        .args(["profile", "list", "--help"])
        .run()
        .success()
        .stdout;
    let pipeline = if help.contains("--json") {
        "hint: nix profile list --json | fp-migrate, or fp-migrate --profile PATH"
    } else {
        "hint: nix profile list | fp-migrate, or fp-migrate --profile PATH"
    };
    refused(&bed, "", "stdin is empty").stderr_has(pipeline);
    migrate(&bed, &["-"], None)
        .code(2)
        .no_stdout()
        .stderr_has("stdin is empty");
    bed.tool(FP_MIGRATE)
        .stdin(vec![b'{', 0xff, b'}'])
        .run()
        .code(2)
        .no_stdout()
        .stderr_has("fp-migrate: error: stdin is not UTF-8 text");
}

#[test]
fn files_that_are_not_manifests() {
    let bed = Bed::new();
    let missing = bed.path().join("nope.json");
    migrate(&bed, &[missing.to_str().expect("path")], None)
        .code(2)
        .no_stdout()
        .stderr_has("does not exist");
    let bad = bed.path().join("bad.json");
    std::fs::write(&bad, "{\"version\": 2,\n\"elements\": [}").expect("write");
    migrate(&bed, &[bad.to_str().expect("path")], None)
        .code(2)
        .no_stdout()
        .stderr_has(&format!(
            "fp-migrate: error: {}: not valid JSON at line 2, column 14: expected value",
            bad.display()
        ));
    migrate(&bed, &[bed.path().to_str().expect("path")], None)
        .code(2)
        .no_stdout()
        .stderr_has("is a directory, not a manifest file")
        .stderr_has("hint: to read a profile, use: fp-migrate --profile");
}

#[test]
fn profiles_without_a_manifest() {
    let bed = Bed::new();
    let empty = bed.path().join("profiles/empty");
    std::fs::create_dir_all(&empty).expect("dir");
    migrate(&bed, &["--profile", empty.to_str().expect("path")], None)
        .code(2)
        .no_stdout()
        .stderr_has("has no manifest.json or manifest.nix, so it is not a nix profile");
    let missing = bed.path().join("profiles/missing");
    migrate(&bed, &["--profile", missing.to_str().expect("path")], None)
        .code(2)
        .no_stdout()
        .stderr_has("does not exist");
    let broken = bed.path().join("profiles/broken");
    std::fs::create_dir_all(&broken).expect("dir");
    std::fs::write(
        broken.join("manifest.json"),
        r#"{"version":9,"elements":[]}"#,
    )
    .expect("write");
    migrate(&bed, &["--profile", broken.to_str().expect("path")], None)
        .code(2)
        .no_stdout()
        .stderr_has("manifest.json: unsupported manifest version 9");
}

#[test]
fn usage_errors() {
    let bed = Bed::new();
    migrate(&bed, &["x.json", "--profile", "/p"], None)
        .code(2)
        .no_stdout()
        .stderr_has("fp-migrate: error:");
    migrate(&bed, &["--no-such-flag"], None)
        .code(2)
        .no_stdout()
        .stderr_has("fp-migrate: error:");
}

#[test]
fn a_nul_character_cannot_become_nix() {
    let bed = Bed::new();
    refused(
        &bed,
        &format!(
            r#"{{"version":2,"elements":[{{"active":true,"attrPath":"legacyPackages.x86_64-linux.a\u0000b","originalUrl":"flake:nixpkgs","storePaths":["{HELLO}"],"url":"github:NixOS/nixpkgs/abc"}}]}}"#
        ),
        "cannot write a flake: ",
    )
    .stderr_has("NUL character");
}

#[test]
fn a_manifest_nix_that_does_not_parse_is_bad_input() {
    let bed = Bed::new();
    let profile = bed.path().join("profiles/broken-env");
    std::fs::create_dir_all(&profile).expect("dir");
    std::fs::write(profile.join("manifest.nix"), "[ { name = \"x\"; ").expect("write");
    migrate(&bed, &["--profile", profile.to_str().expect("path")], None)
        .code(2)
        .no_stdout()
        .stderr_has(&format!(
            "fp-migrate: error: {}: not a manifest.nix that Nix can read: ",
            profile.join("manifest.nix").display()
        ))
        .stderr_has("error: syntax error");
}

#[test]
fn broken_text_of_nix_profile_list_says_the_line() {
    let bed = Bed::new();
    refused(
        &bed,
        "0 flake:nixpkgs#legacyPackages.x86_64-linux.hello\n",
        "stdin: line 1: too few columns (expected `INDEX ORIGINAL#ATTR LOCKED#ATTR STORE-PATH...`",
    );
    refused(
        &bed,
        &format!("0 - - {HELLO}\n1 - - /tmp/hello\n"),
        "stdin: line 2: \"/tmp/hello\" is not in the Nix store",
    );
}

#[test]
fn the_text_of_a_newer_nix_profile_list_points_at_json() {
    let bed = Bed::new();
    // Nix 2.20+ text, as quoted in NixOS/nix#10098 (the name in bold on a terminal).
    let text = "Name:               gdb\nFlake attribute:    legacyPackages.x86_64-linux.gdb\nOriginal flake URL: flake:nixpkgs\nLocked flake URL:   github:NixOS/nixpkgs/7b38b03d76ab71bdc8dc325e3f6338d984cc35ca\nStore paths:        /nix/store/indzcw5wvlhx6vwk7k4iq29q15chvr3d-gdb-11.1\n";
    refused(
        &bed,
        text,
        "stdin: this is the text `nix profile list` prints since Nix 2.17, which fp-migrate does not read",
    )
    .stderr_has("hint: nix profile list --json | fp-migrate > flake.nix");
    refused(
        &bed,
        &format!("\u{1b}[1mIndex:\u{1b}[0m              0\n{}", &text[24..]),
        "stdin: this is the text `nix profile list` prints since Nix 2.17",
    );
}
