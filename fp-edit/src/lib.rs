//! `fp-edit`: add packages to and remove them from the `paths` of a flakey-profile flake.nix,
//! as a person would edit it, then build and switch.

pub mod edit;
pub mod name;

/// The unified diff from `old` to `new` of the file `path`, as `diff -u` prints it.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}
