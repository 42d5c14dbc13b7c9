# The overlay: adds fp-build, fp-switch, ... (one package per tool) and flakey-profile (all of
# them) to a package set, built from `src` with that package set.
{ src }:
final: prev:
let tools = import ./packages.nix { pkgs = final; inherit src; }; in
(removeAttrs tools [ "default" ]) // { flakey-profile = tools.default; }
