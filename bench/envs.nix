# A pair of envs for comparing diffs (bench/run, and fp-diff's test against nix store
# diff-closures), built with nix-build and nothing but /bin/sh:
#   nix-build bench/envs.nix --arg count 2000 --arg changed false --arg marker true
# Each package is a file `pkgN-<version>`. With `changed`, every package whose number starts
# with 7 (pkg7, pkg70-79, pkg700-799, ...) goes from 1.0 to 2.0 and grows by exactly 10 KiB
# (so `nix store diff-closures`, which hides changes under 8 KiB, shows each), and the last
# five are replaced by five new ones (`extra0-1.0` ...). With `marker`, the env is made as
# lib.mkProfile makes one (its packages listed in `.flakey-profile.json`); without, it is a
# plain buildEnv-like directory of links to its packages.
{ count ? 2000, changed ? false, marker ? true, system ? builtins.currentSystem }:
let
  isChanged = n: changed && builtins.substring 3 1 n == "7";
  # 10 KiB: 640 times 16 characters.
  pad = builtins.concatStringsSep "" (builtins.genList (_: "0123456789abcdef") 640);
  kept = if changed then count - 5 else count;
  names = builtins.genList (i: "pkg" + toString i) kept
    ++ (if changed then builtins.genList (i: "extra" + toString i) 5 else [ ]);
  pkg = n: builtins.toFile (n + "-" + (if isChanged n then "2.0" else "1.0"))
    (n + (if isChanged n then pad else ""));
  paths = map pkg names;
  declared = builtins.concatStringsSep "," (map (p: "\"" + p + "\"") paths);
in
derivation {
  name = "big-env";
  inherit system;
  builder = "/bin/sh";
  PATH = "/usr/bin:/bin";
  args = [ "-c" (if marker then
    "mkdir $out; printf '{\"version\":1,\"name\":\"big\",\"storePaths\":[%s]}' '${declared}' > $out/.flakey-profile.json"
  else
    "mkdir $out; for p in ${builtins.concatStringsSep " " paths}; do ln -s $p $out/; done") ];
}
