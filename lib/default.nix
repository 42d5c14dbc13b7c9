# The library without flakes: `import (flakey-profile + "/lib")` gives `{ mkProfile }`, called
# as the flake's `lib.mkProfile` is. There is no flake to take the tools from, so a profile's
# default `fpTools` is built from this same source with the profile's own `pkgs` (give
# `fpTools` to use other ones).
import ../nix/lib.nix {
  toolsFor = { pkgs, ... }: (import ../nix/packages.nix { inherit pkgs; src = ../.; }).default;
}
