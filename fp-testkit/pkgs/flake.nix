# The offline package set of flakey-profile's tests: a tiny stand-in for nixpkgs.
#
# `legacyPackages.<system>` has a few packages built with /bin/sh (tests run with the sandbox
# off, so the builders use the host's coreutils) and the `pkgs` functions lib.mkProfile may use.
# The test bed copies this directory and writes `revision.nix` (1 or 2) next to it: revision 2
# changes hello's version, drops cowsay and adds jq.
{
  description = "flakey-profile offline test package set";

  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      revision = if builtins.pathExists ./revision.nix then import ./revision.nix else 1;
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
    in
    {
      legacyPackages = forAll (system: import ./pkgs.nix { inherit system revision; });
    };
}
