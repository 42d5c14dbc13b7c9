# `import <this directory> { }`, as nixpkgs is imported without flakes: the package set of the
# running system (or `system`), at the revision the test bed wrote.
{ system ? builtins.currentSystem, ... }:
import ./pkgs.nix {
  inherit system;
  revision = if builtins.pathExists ./revision.nix then import ./revision.nix else 1;
}
