# lib.mkProfile: a profile is a buildEnv with the commands that switch to it attached.
#
# Uses nothing of `pkgs` but buildEnv, writeShellScriptBin and linkFarm (plus builtins), so an
# offline package set can stand in for nixpkgs in the tests.
{ toolsFor }:
let
  # Quotes a string for the shell, without nixpkgs' lib.
  shellQuote = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
  shellWords = list: builtins.concatStringsSep " " (map shellQuote list);

  # A pin must be a flake source in the store: /nix/store/<hash>-source.
  isFlakeSource = v:
    builtins.match "${builtins.storeDir}/[0-9a-df-np-sv-z]{32}-source" (toString v) != null;

  checkPin = name: value:
    if isFlakeSource value then value
    else throw "lib.mkProfile: pinned.${name} is ${toString value}, which is not a flake source store path (${builtins.storeDir}/<hash>-source); pin a flake input, as in pinned.nixpkgs = nixpkgs;";
in
{
  mkProfile =
    { pkgs
    , name ? "flake-profile"
    , pinned ? { }
    , extraSwitchArgs ? [ ]
    , fpTools ? toolsFor pkgs.system
    , ...
    }@args:
    let
      # Every other argument goes to buildEnv unchanged.
      envArgs = (removeAttrs args [ "pkgs" "pinned" "extraSwitchArgs" "fpTools" ]) // { inherit name; };
      env = pkgs.buildEnv envArgs;

      pins = builtins.mapAttrs checkPin pinned;
      pinNames = builtins.attrNames pins;

      tool = program:
        if fpTools == null
        then throw "lib.mkProfile: fpTools is not set and this flake has no tools for ${pkgs.system}"
        else "${fpTools}/bin/${program}";

      # One link per pinned name, pointing at (and so referencing) the source.
      channels = pkgs.linkFarm "${name}-channels" (map (n: { name = n; path = pins.${n}; }) pinNames);
      pinArgs = builtins.concatMap (n: [ "--pin" "${n}=${pins.${n}}" ]) pinNames;
    in
    env // {
      switch = pkgs.writeShellScriptBin "switch"
        ''exec ${tool "fp-switch"} ${shellWords extraSwitchArgs} "$@" ${env}'';
      rollback = pkgs.writeShellScriptBin "rollback"
        ''exec ${tool "fp-rollback"} ${shellWords extraSwitchArgs} "$@"'';
      # The pins and their channels store path come from this profile, so no flake is read
      # and nothing is built when it runs.
      pin = pkgs.writeShellScriptBin "pin"
        ''exec ${tool "fp-pin"} --no-flake --channels-path ${channels} ${shellWords pinArgs} "$@"'';
      pinned = pins;
      pins = { inherit channels; };
    };
}
