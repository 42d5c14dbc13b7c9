# flakey-profile without flakes: `import flakey-profile { pkgs = import nixpkgs { }; }` gives
#
#   lib       { mkProfile }, as `import (flakey-profile + "/lib")` (tools built with the
#             profile's own pkgs unless fpTools is given)
#   packages  the tools built with `pkgs`: default (all of them), fp-build, fp-switch, ...
#   overlay   adds the tools (and flakey-profile, all of them) to a package set
#
# `pkgs` is needed only for `packages`; by default it is `<nixpkgs>`.
{ pkgs ? import <nixpkgs> { } }:
{
  lib = import ./lib;
  packages = import ./nix/packages.nix { inherit pkgs; src = ./.; };
  overlay = import ./nix/overlay.nix { src = ./.; };
}
