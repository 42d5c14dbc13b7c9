# Your profile, declared without flakes. Build and switch to it with:
#
#   nix run -f . profile.switch       (or: fp-build -f . | fp-switch)
#   nix run -f . profile.rollback     (or: fp-rollback)
#   nix build -f . profile            build without switching
#   nix run -f . profile.pin          make `nixpkgs#...` and `<nixpkgs>` this nixpkgs
#
# The sources are pinned with builtins.fetchTarball and their hashes: nothing to install, and
# Nix checks what it downloads. See README.md beside this file for updating them.
let
  sources = {
    # https://github.com/NixOS/nixpkgs/tree/nixos-unstable
    nixpkgs = builtins.fetchTarball {
      url = "https://github.com/NixOS/nixpkgs/archive/0182a361324364ae3f436a63005877674cf45efb.tar.gz";
      sha256 = "sha256-0NBlEBKkN3lufyvFegY4TYv5mCNHbi5OmBDrzihbBMQ=";
      # A flake source's name, so `profile.pin` can pin the registry to it.
      name = "source";
    };
    # Pin this one too: replace `main` by a commit and add its sha256 (README.md says how).
    flakey-profile = builtins.fetchTarball {
      url = "https://github.com/flakey-profile/flakey-profile/archive/main.tar.gz";
      name = "source";
    };
  };

  pkgs = import sources.nixpkgs { };
  flakey-profile = import (sources.flakey-profile + "/lib");
in
{
  profile = flakey-profile.mkProfile {
    inherit pkgs;
    # The packages of your profile.
    paths = with pkgs; [
      hello
      tree
    ];
    # `nix run -f . profile.pin` makes `nixpkgs#...` and `<nixpkgs>` this nixpkgs.
    pinned = { inherit (sources) nixpkgs; };
  };
}
