# The tools, by name, with the description their Nix package carries: the one list the
# packages (nix/packages.nix), the flake's apps, the tests of every tool (fp-testkit's tools())
# and the benchmarks take them from. A new tool is a workspace crate with a binary of the same
# name, and a line here.
{
  fp = "flakey-profile's front command: fp build, fp switch, ... run fp-build, fp-switch, ...";
  fp-build = "Build a flakey-profile flake and print the store path of the profile";
  fp-switch = "Switch a Nix profile to a built env with nix-env --set, showing what changes";
  fp-rollback = "Roll a Nix profile back to an earlier generation, showing what changes";
  fp-pin = "Pin the flake registry and NIX_PATH to the sources a profile was built from";
  fp-migrate = "Turn a nix profile (manifest.json or manifest.nix) into a flakey-profile flake.nix";
  fp-generations = "List and delete the generations of a Nix profile; never the current one";
  fp-diff = "Show which packages changed between two generations or store paths of a Nix profile";
  fp-doctor = "Check a machine for what breaks flakey-profile, each problem with its exact fix";
  fp-edit = "Add and remove packages in a flakey-profile flake.nix, then build and switch";
}
