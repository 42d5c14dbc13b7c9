//! A pin interrupted after it changed things can still be reverted: with the state filesystem
//! full when the history entry is completed, and killed (SIGKILL) before and after nix-env
//! switches the channels, `fp-pin --revert` puts back the registry byte for byte AND the
//! channels. A read-only state directory makes `--revert` refuse before it changes anything.
//!
//! The full filesystem is a small tmpfs mounted over the bed's state directory; the kills happen
//! at real points, inside a wrapper `nix-env` (first on PATH) that blocks on `--set`. Needs root
//! for the mounts; without it the tmpfs and read-only tests say so and return.

use fp_testkit::as_root::Mount;
use fp_testkit::{is_root, kill, Bed, Cmd};
use std::path::{Path, PathBuf};

/// The binary of this crate's tool, as cargo built it for these tests.
const FP_PIN: &str = env!("CARGO_BIN_EXE_fp-pin");

/// A registry formatted as no tool writes it, so only a byte-exact restore matches.
const HAND_WRITTEN: &str =
    "{ \"version\": 2,\n  \"flakes\": [ {\"from\": {\"id\": \"gh\", \"type\": \"indirect\"}, \"to\": {\"type\": \"path\", \"path\": \"/x\"}} ] }\n";

/// The bed's user registry.
fn registry(bed: &Bed) -> PathBuf {
    bed.config_home().join("nix/registry.json")
}

/// A bed with `~/.nix-defexpr/channels -> <bed>/profiles/channels` and a hand-written
/// registry.
fn bed_with_registry() -> Bed {
    let bed = Bed::new();
    let dir = bed.home().join(".nix-defexpr");
    std::fs::create_dir_all(&dir).expect("defexpr");
    std::os::unix::fs::symlink(channels_profile(&bed), dir.join("channels")).expect("link");
    std::fs::create_dir_all(registry(&bed).parent().expect("dir")).expect("dir");
    std::fs::write(registry(&bed), HAND_WRITTEN).expect("registry");
    bed
}

fn channels_profile(bed: &Bed) -> PathBuf {
    bed.path().join("profiles/channels")
}

/// Where the channels profile points (`channels-N-link`), if anywhere.
fn channels_target(bed: &Bed) -> Option<String> {
    std::fs::read_link(channels_profile(bed))
        .ok()
        .map(|t| t.display().to_string())
}

/// fp-pin of the user registry and the channels, pinning nixpkgs to `src`.
fn pin(bed: &Bed, src: &str) -> Cmd {
    bed.tool(FP_PIN)
        .args(["--registry", "user", "--no-flake", "--pin"])
        .arg(format!("nixpkgs={src}"))
}

fn history_len(bed: &Bed) -> usize {
    std::fs::read_dir(bed.state_home().join("flakey-profile/pin-history"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

/// The state after a first, complete pin to revision 1: the registry's bytes then.
fn pinned_once(bed: &Bed) -> Vec<u8> {
    let src = bed.pkgs_source(1);
    pin(bed, &src).run().success();
    assert_eq!(channels_target(bed).as_deref(), Some("channels-1-link"));
    std::fs::read(registry(bed)).expect("registry")
}

/// After reverting the interrupted second pin: the registry is the first pin's, byte for
/// byte, the channels are at the first pin's generation, and the first pin's entry is left.
fn reverted_to_first(bed: &Bed, first: &[u8], what: &str) {
    let run = bed
        .tool(FP_PIN)
        .args(["--revert", "--registry", "user"])
        .run();
    assert_eq!(run.code, 0, "{what}: {}", run.stderr);
    assert!(
        run.stderr.contains("stopped part-way"),
        "{what}: {}",
        run.stderr
    );
    insta::assert_snapshot!(
        format!("revert_{}", what.replace(' ', "_")),
        bed.redact(&run.stderr)
    );
    assert_eq!(std::fs::read(registry(bed)).expect("r"), first, "{what}");
    assert_eq!(
        channels_target(bed).as_deref(),
        Some("channels-1-link"),
        "{what}: {}",
        run.stderr
    );
    assert_eq!(history_len(bed), 1, "{what}");
    // And the first pin still reverts to the hand-written file.
    bed.tool(FP_PIN)
        .args(["--revert", "--registry", "user"])
        .run()
        .success();
    assert_eq!(
        std::fs::read_to_string(registry(bed)).expect("r"),
        HAND_WRITTEN
    );
}

/// Fills the filesystem of `dir` up, then frees one page: room for one small file, not two.
fn fill_but_one_page(dir: &Path) {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).expect("filler");
    let page = [0u8; 4096];
    while file.write_all(&page).is_ok() {}
    let _ = file.sync_all();
    let len = file.metadata().expect("len").len();
    file.set_len(len - (len % 4096) - 4096)
        .expect("free a page");
}

#[test]
fn a_full_state_filesystem_at_the_last_write_leaves_a_revertible_pin() {
    if !is_root() {
        eprintln!("needs root to mount a tmpfs: NOT RUN");
        return;
    }
    let bed = bed_with_registry();
    let _tmpfs = Mount::tmpfs(&bed.state_home(), "256k");
    let first = pinned_once(&bed);
    let src = bed.pkgs_source(2);
    fill_but_one_page(&bed.state_home());
    let run = pin(&bed, &src).run().code(1);
    // It says what changed, and how to undo it.
    assert!(run.stderr.contains("stopped part-way"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "the registry {} was written",
            registry(&bed).display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("switched to generation 2"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("fp-pin --revert"), "{}", run.stderr);
    let error = run.stderr.lines().skip_while(|l| !l.contains("error:"));
    insta::assert_snapshot!(
        "full_filesystem_error",
        bed.redact(&error.collect::<Vec<_>>().join("\n"))
    );
    assert_eq!(channels_target(&bed).as_deref(), Some("channels-2-link"));
    assert_ne!(std::fs::read(registry(&bed)).expect("r"), first);
    std::fs::remove_file(bed.state_home().join("filler")).expect("rm filler");
    reverted_to_first(&bed, &first, "full filesystem");
}

/// Writes the executable script `<dir>/<name>` made by `script` from the real program's path,
/// and returns a PATH with `dir` first, so the tools run the wrapper.
fn wrap_program(bed: &Bed, dir: &Path, name: &str, script: impl FnOnce(&str) -> String) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("dir");
    let real = bed
        .command("sh")
        .args(["-c", &format!("command -v {name}")])
        .run()
        .success()
        .stdout
        .trim()
        .to_string();
    let file = dir.join(name);
    std::fs::write(&file, script(&real)).expect("wrapper");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A PATH whose `nix-env` runs the real one but, for `--set`, touches `<dir>/reached` and
/// blocks (before running it for `before`, after it for `after`), with that `dir`.
fn blocking_nix_env(bed: &Bed, when: &str) -> (String, PathBuf) {
    let dir = bed.path().join(format!("wrap-{when}"));
    let reached = dir.join("reached");
    let block = format!("touch '{}'; while :; do sleep 1; done", reached.display());
    let path = wrap_program(bed, &dir, "nix-env", |real| match when {
        "before" => format!(
            "#!/bin/sh\ncase \" $* \" in *' --set '*) {block};; esac\nexec '{real}' \"$@\"\n"
        ),
        _ => format!(
            "#!/bin/sh\n'{real}' \"$@\" || exit $?\ncase \" $* \" in *' --set '*) {block};; esac\n"
        ),
    });
    (path, dir)
}

#[test]
fn killed_before_and_after_the_channels_switch_the_pin_still_reverts() {
    for when in ["before", "after"] {
        let bed = bed_with_registry();
        let first = pinned_once(&bed);
        let src = bed.pkgs_source(2);
        let (path, wrap) = blocking_nix_env(&bed, when);
        let mut child = pin(&bed, &src).env("PATH", &path).spawn_group();
        let reached = wrap.join("reached");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        while !reached.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{when}: fp-pin ended ({status}) before nix-env --set");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{when}: never reached"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        kill(&mut child, true);
        fp_testkit::wait_for_group(child.id());
        assert_ne!(std::fs::read(registry(&bed)).expect("r"), first, "{when}");
        let expected = if when == "before" {
            "channels-1-link"
        } else {
            "channels-2-link"
        };
        assert_eq!(channels_target(&bed).as_deref(), Some(expected), "{when}");
        reverted_to_first(&bed, &first, when);
    }
}

#[test]
fn a_read_only_state_directory_refuses_revert_before_acting() {
    if !is_root() {
        eprintln!("needs root for a read-only bind mount: NOT RUN");
        return;
    }
    let bed = bed_with_registry();
    let first = pinned_once(&bed);
    {
        let _ro = Mount::read_only(&bed.state_home());
        let run = bed.tool(FP_PIN).arg("--revert").run().code(1).no_stdout();
        assert!(
            run.stderr.contains("nothing was reverted"),
            "{}",
            run.stderr
        );
        assert_eq!(std::fs::read(registry(&bed)).expect("r"), first);
        assert_eq!(channels_target(&bed).as_deref(), Some("channels-1-link"));
        assert_eq!(history_len(&bed), 1);
    }
    bed.tool(FP_PIN).arg("--revert").run().success();
    assert_eq!(
        std::fs::read_to_string(registry(&bed)).expect("r"),
        HAND_WRITTEN
    );
}

#[test]
fn a_channels_switch_by_another_tool_during_the_pin_is_what_revert_goes_back_to() {
    let bed = bed_with_registry();
    pinned_once(&bed);
    let src = bed.pkgs_source(2);
    // While fp-pin builds the channels (after it planned, before it switches), another tool
    // makes a generation of its own in the channels profile.
    let other = bed.pkgs_source(1);
    let profile = channels_profile(&bed);
    let path = wrap_program(&bed, &bed.path().join("wrap-nix"), "nix", |real| {
        format!(
            "#!/bin/sh\ncase \" $* \" in *' build '*) nix-env --profile '{}' --set '{other}' >/dev/null 2>&1 || exit 99;; esac\nexec '{real}' \"$@\"\n",
            profile.display()
        )
    });
    pin(&bed, &src).env("PATH", &path).run().success();
    assert_eq!(channels_target(&bed).as_deref(), Some("channels-3-link"));
    bed.tool(FP_PIN)
        .args(["--revert", "--registry", "user"])
        .run()
        .success();
    // Back to the other tool's generation 2, not to the generation 1 the pin had planned on.
    assert_eq!(channels_target(&bed).as_deref(), Some("channels-2-link"));
}
