//! Helpers of fp-edit's real-Nix tests.

use fp_testkit::Bed;

/// The programs in the profile's current env (`hello`, ...), but the workspace's tools.
pub fn profile_bins(bed: &Bed) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(bed.profile().join("bin"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.retain(|n| !n.starts_with("fp"));
    names
}
