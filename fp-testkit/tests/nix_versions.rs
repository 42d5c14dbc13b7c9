//! Where Nix versions differ, the tools follow the running Nix: each test asks real Nix what it
//! does in a fresh HOME and checks the tools against that, so the same test holds on Nix 2.8,
//! 2.26 and 2.34.

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

/// Nix 2.14 added `use-xdg-base-directories` (Determinate Nix and Lix have it): the user's
/// link is then `$XDG_STATE_HOME/nix/profile` instead of `~/.nix-profile`. Older Nix does not
/// know the setting, and both it and the tools keep `~/.nix-profile`. Which link the running
/// nix-env made is what it does.
#[test]
fn the_default_profile_follows_use_xdg_base_directories() {
    let bed = Bed::new();
    let config = format!("{}use-xdg-base-directories = true\n", bed.nix_config());
    let ours = tools_default_profile(&bed, &config);
    let xdg = bed.state_home().join("nix/profile");
    let home = bed.home().join(".nix-profile");
    bed.command("nix-env")
        .arg("-q")
        .env("NIX_CONFIG", &config)
        .run();
    let link = if xdg.symlink_metadata().is_ok() {
        xdg
    } else {
        home
    };
    let theirs = nix_env_default_profile(&bed, &config, &link);
    assert_eq!(ours, theirs, "Nix {:?}", fp_testkit::nix_version());
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
