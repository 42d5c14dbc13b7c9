//! Where Nix versions differ, the tools follow the running Nix: each test asks real Nix what it
//! does in a fresh HOME and checks the tools against that, so the same test holds on Nix 2.8,
//! 2.26 and 2.34, Lix and Determinate Nix.

use fp_testkit::{nix_version, Bed};
use std::path::{Path, PathBuf};

/// The profile the tools take by default, as `fp-generations --json` reports it (it creates
/// nothing, so Nix is asked afterwards in the same untouched HOME).
fn tools_default_profile(bed: &Bed, nix_config: &str) -> PathBuf {
    let run = bed
        .tool("fp-generations")
        .arg("--json")
        .env("NIX_CONFIG", nix_config)
        .run()
        .success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    PathBuf::from(doc["profile"].as_str().expect("profile"))
}

/// Lets nix-env pick its default profile in the bed's fresh HOME (it creates the user's
/// profile link when missing) and returns where that link points. `nix-env -q` only reads the
/// profile, so the machine's profiles stay as they are.
fn nix_env_default_profile(bed: &Bed, nix_config: &str, link: &Path) -> PathBuf {
    assert!(
        std::fs::symlink_metadata(link).is_err(),
        "{link:?} exists already"
    );
    let _ = bed
        .command("nix-env")
        .arg("-q")
        .env("NIX_CONFIG", nix_config)
        .run();
    let target = std::fs::read_link(link)
        .unwrap_or_else(|e| panic!("nix-env made no profile link {}: {e}", link.display()));
    link.parent().expect("link dir").join(target)
}

#[test]
fn the_default_profile_is_where_nix_env_puts_it() {
    let bed = Bed::new();
    let ours = tools_default_profile(&bed, bed.nix_config());
    let theirs = nix_env_default_profile(&bed, bed.nix_config(), &bed.home().join(".nix-profile"));
    assert_eq!(ours, theirs, "Nix {:?}", fp_testkit::nix_version());
}

/// Runs `nix-env -q` in the bed's fresh HOME with `nix_config` and `$NIX_STATE_HOME` set to
/// `state` (when given), and returns the profile link it made: one of `candidates`.
fn link_nix_env_makes(
    bed: &Bed,
    nix_config: &str,
    state: Option<&Path>,
    candidates: &[PathBuf],
) -> PathBuf {
    let mut cmd = bed
        .command("nix-env")
        .arg("-q")
        .env("NIX_CONFIG", nix_config);
    if let Some(state) = state {
        cmd = cmd.env("NIX_STATE_HOME", state);
    }
    let _ = cmd.run();
    candidates
        .iter()
        .find(|l| l.symlink_metadata().is_ok())
        .unwrap_or_else(|| panic!("nix-env made none of the links {candidates:?}"))
        .clone()
}

/// Nix 2.14 added `use-xdg-base-directories` (Determinate Nix and Lix have it): the user's
/// link is then `$XDG_STATE_HOME/nix/profile` instead of `~/.nix-profile`. Older Nix does not
/// know the setting, and both it and the tools keep `~/.nix-profile`. Which link the running
/// nix-env makes is what it does.
#[test]
fn the_default_profile_follows_use_xdg_base_directories() {
    let bed = Bed::new();
    let config = format!("{}use-xdg-base-directories = true\n", bed.nix_config());
    let ours = tools_default_profile(&bed, &config);
    let candidates = [
        bed.state_home().join("nix/profile"),
        bed.home().join(".nix-profile"),
    ];
    let link = link_nix_env_makes(&bed, &config, None, &candidates);
    let theirs = link
        .parent()
        .expect("dir")
        .join(std::fs::read_link(&link).expect("link"));
    assert_eq!(ours, theirs, "Nix {:?}", nix_version());
}

/// `$NIX_STATE_HOME` replaces `$XDG_STATE_HOME/nix` for the Nix that reads it (upstream 2.25
/// and later, Determinate Nix); older Nix and Lix ignore it. Under `use-xdg-base-directories`
/// the tools read the profile link from where the running nix-env makes and reads it: the link
/// nix-env made is pointed at another profile, which the tools must then find.
#[test]
fn the_default_profile_follows_nix_state_home_where_nix_does() {
    let bed = Bed::new();
    let config = format!("{}use-xdg-base-directories = true\n", bed.nix_config());
    let state = bed.path().join("nix-state");
    let candidates = [
        state.join("profile"),
        bed.state_home().join("nix/profile"),
        bed.home().join(".nix-profile"),
    ];
    let link = link_nix_env_makes(&bed, &config, Some(&state), &candidates);
    let elsewhere = bed.path().join("profiles/elsewhere");
    std::fs::remove_file(&link).expect("remove link");
    std::os::unix::fs::symlink(&elsewhere, &link).expect("relink");
    let run = bed
        .tool("fp-generations")
        .arg("--json")
        .env("NIX_CONFIG", &config)
        .env("NIX_STATE_HOME", &state)
        .run()
        .success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(
        doc["profile"].as_str(),
        Some(elsewhere.to_str().expect("utf-8")),
        "Nix {:?} made {}",
        nix_version(),
        link.display()
    );
}

/// `fp-build --update` relocks with this Nix's spelling (`nix flake update` became
/// `nix flake update --flake` in 2.19): `-v` shows the command, and it must have worked.
#[test]
fn update_uses_this_nixs_spelling() {
    let bed = Bed::new();
    let flake = bed.profile_flake("flake1", 1, &["hello"]);
    let run = bed
        .tool("fp-build")
        .arg(&flake)
        .args(["--update", "-v"])
        .run()
        .success();
    let spelled = if nix_version().flake_update_has_flake_option() {
        "flake update --flake"
    } else {
        "flake update "
    };
    assert!(run.stderr.contains(spelled), "{}", run.stderr);
    assert!(flake.join("flake.lock").exists());
}
