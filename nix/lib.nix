# lib.mkProfile: a profile is a buildEnv with the commands that switch to it attached.
#
# Uses nothing of `pkgs` but buildEnv, writeText, writeShellScriptBin, linkFarm and
# `stdenv.hostPlatform.system` (or `system`, for a package set without stdenv.hostPlatform; current
# nixpkgs warns on `pkgs.system`, so it is read only there), plus builtins and no nixpkgs lib, so
# any package set with those, like the tests' offline one, can stand in for nixpkgs.
# `toolsFor { system, pkgs }` gives the default `fpTools` for a profile of `pkgs` (the package set
# given to mkProfile; `system` is its platform), or null when there are none.
{ toolsFor }:
let
  # Quotes a string for the shell, without nixpkgs' lib.
  shellQuote = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
  shellWords = list: builtins.concatStringsSep " " (map shellQuote list);

  # A pin must be a flake source in the store: /nix/store/<hash>-source.
  isFlakeSource = v:
    builtins.match "${builtins.storeDir}/[0-9a-df-np-sv-z]{32}-source" (toString v) != null;

  # The platform the package set builds for: stdenv.hostPlatform.system, which current nixpkgs
  # wants read instead of its deprecated `system` alias; `system` only where it is all there is.
  systemOf = pkgs: pkgs.stdenv.hostPlatform.system or pkgs.system;

  # True, or an evaluation error saying which pin is wrong and why.
  checkPin = name: value:
    isFlakeSource value
    || throw "lib.mkProfile: pinned.${name} is ${toString value}, which is not a flake source store path (${builtins.storeDir}/<hash>-source); pin a flake input, as in pinned.nixpkgs = nixpkgs;";
in
{
  mkProfile =
    { pkgs
    , name ? "flake-profile"
    , pinned ? { }
    , extraSwitchArgs ? [ ]
    , fpTools ? toolsFor { system = systemOf pkgs; inherit pkgs; }
    , nixProfileManifest ? true
    , ...
    }@args:
    let
      # The store paths the env is made of: each package's installed outputs.
      extraOutputs = args.extraOutputsToInstall or [ ];
      outputsOf = p:
        if builtins.isAttrs p then
          builtins.concatMap (o: if p ? ${o} then [ "${p.${o}}" ] else [ ])
            (unique ((p.meta.outputsToInstall or [ "out" ]) ++ extraOutputs))
        else [ "${p}" ];
      unique = list: builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ] list;
      declared = map outputsOf (args.paths or [ ]);

      # The declared store paths, one a line, for the marker below.
      declaredList = pkgs.writeText "flakey-profile-declared" (builtins.concatStringsSep "\n" (builtins.concatLists declared) + "\n");
      # A version 2 manifest (Nix 2.8 onward), so `nix profile list` shows the packages and
      # `nix profile install` adds to them instead of replacing them.
      manifest = pkgs.writeText "manifest.json" (builtins.toJSON {
        version = 2;
        elements = map (paths: { active = true; storePaths = paths; }) declared;
      });
      # Our marker, `.flakey-profile.json`: it tells generations made by flakey-profile from
      # others, and lists the env's direct references (the declared paths and every store path
      # a link of the env points into, so propagated packages too) so the tools can diff
      # generations without asking the store.
      ourPostBuild = ''
        rm -f "$out/.flakey-profile.json"
        {
          printf '{"version":1,"name":%s,"storePaths":[' ${shellQuote (builtins.toJSON name)}
          sep=
          for p in $( { cat ${declaredList}; find "$out" -type l -exec readlink {} +; } \
                      | sed -n 's|^\(${builtins.storeDir}/[^/]*\).*|\1|p' | sort -u ); do
            printf '%s"%s"' "$sep" "$p"
            sep=,
          done
          printf ']}\n'
        } > "$out/.flakey-profile.json"
      '' + (if nixProfileManifest then ''
        rm -f "$out/manifest.json" && cp ${manifest} "$out/manifest.json"
      '' else "");

      # Every other argument goes to buildEnv unchanged (postBuild gets our lines appended).
      envArgs = (removeAttrs args [ "pkgs" "pinned" "extraSwitchArgs" "fpTools" "nixProfileManifest" ]) // {
        inherit name;
        postBuild = (args.postBuild or "") + "\n" + ourPostBuild;
      };
      env = pkgs.buildEnv envArgs;

      pinNames = builtins.attrNames pinned;
      # Checked when the profile is evaluated, not only when a pin is used.
      pinsAreSources = builtins.all (n: checkPin n pinned.${n}) pinNames;

      tool = program:
        if fpTools == null
        then throw "lib.mkProfile: fpTools is not set and flakey-profile has no tools for ${systemOf pkgs}"
        else "${fpTools}/bin/${program}";

      # One link per pinned name, pointing at (and so referencing) the source.
      channels = pkgs.linkFarm "${name}-channels" (map (n: { name = n; path = pinned.${n}; }) pinNames);
      pinArgs = builtins.concatMap (n: [ "--pin" "${n}=${pinned.${n}}" ]) pinNames;
    in
    assert pinsAreSources;
    env // {
      switch = pkgs.writeShellScriptBin "switch"
        ''exec ${tool "fp-switch"} ${shellWords extraSwitchArgs} "$@" ${env}'';
      rollback = pkgs.writeShellScriptBin "rollback"
        ''exec ${tool "fp-rollback"} ${shellWords extraSwitchArgs} "$@"'';
      # The pins and their channels store path come from this profile, so no flake is read
      # and nothing is built when it runs.
      pin = pkgs.writeShellScriptBin "pin"
        ''exec ${tool "fp-pin"} --no-flake --channels-path ${channels} ${shellWords pinArgs} "$@"'';
      inherit pinned;
      pins = { inherit channels; };
    };
}
