# Packages and pkgs functions of the offline package set (see flake.nix).
{ system, revision }:
let
  # Builders run /bin/sh with the host's tools; the tests run with `sandbox = false`.
  hostPath = "/usr/bin:/bin";

  # Quotes a string for the shell, without nixpkgs' lib.
  esc = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";

  shDerivation = { name, script, ... }@args:
    derivation ((removeAttrs args [ "script" ]) // {
      inherit system;
      builder = "/bin/sh";
      args = [ "-c" script ];
      PATH = hostPath;
    });

  # A package with bin/<pname> printing its name and version; optionally a `man` output.
  mkPackage = { pname, version ? "", withMan ? false }:
    let
      name = if version == "" then pname else "${pname}-${version}";
      drv = shDerivation ({
        inherit name;
        script = ''
          mkdir -p "$out/bin"
          printf '#!/bin/sh\necho %s\n' ${esc "${pname} ${version}"} > "$out/bin/${pname}"
          chmod +x "$out/bin/${pname}"
        '' + (if withMan then ''
          mkdir -p "$man/share/man/man1"
          echo '.TH ${pname} 1' > "$man/share/man/man1/${pname}.1"
        '' else "");
      } // (if withMan then { outputs = [ "out" "man" ]; } else { }));
    in
    drv // { inherit pname version; meta = { description = "test package ${pname}"; }; };

  # Links every file below $1 into $2 (real directories, symlinked files); a file that is
  # already there is a collision unless $3 is 1.
  linkTree = ''
    link_tree() {
      src=$1; dst=$2; ignore=$3
      mkdir -p "$dst"
      (cd "$src" && find -L . -mindepth 1) | while IFS= read -r rel; do
        rel=''${rel#./}
        if [ -d "$src/$rel" ]; then
          mkdir -p "$dst/$rel"
        elif [ -e "$dst/$rel" ] || [ -L "$dst/$rel" ]; then
          if [ "$ignore" != 1 ]; then
            echo "collision between $src/$rel and $(readlink "$dst/$rel")" >&2
            exit 1
          fi
        else
          ln -s "$src/$rel" "$dst/$rel"
        fi
      done
    }
  '';

  buildEnv =
    { name
    , paths
    , pathsToLink ? [ "/" ]
    , extraOutputsToInstall ? [ ]
    , postBuild ? ""
    , ignoreCollisions ? false
    , passthru ? { }
    , meta ? { }
    , ...
    }:
    let
      extra = builtins.concatLists (map
        (p: builtins.concatMap (o: if p ? ${o} then [ p.${o} ] else [ ]) extraOutputsToInstall)
        paths);
      all = paths ++ extra;
      links = builtins.concatStringsSep "\n" (builtins.concatMap
        (p: map
          (sub0: let sub = if sub0 == "/" then "" else sub0; in ''[ -d ${esc "${p}${sub}"} ] && link_tree ${esc "${p}${sub}"} "$out"${esc sub} ${if ignoreCollisions then "1" else "0"}'')
          pathsToLink)
        all);
    in
    (shDerivation {
      inherit name;
      script = linkTree + ''
        mkdir -p "$out"
        set -e
      '' + links + "\n" + postBuild;
    }) // passthru // { inherit meta; };

  runCommand = name: env: script: shDerivation (env // { inherit name script; });

  writeText = name: text: shDerivation {
    inherit name text;
    script = ''printf '%s' "$text" > "$out"'';
  };

  writeShellScript = name: text: shDerivation {
    inherit name;
    text = "#!/bin/sh\n" + text;
    script = ''printf '%s' "$text" > "$out"; chmod +x "$out"'';
  };

  writeShellScriptBin = name: text: shDerivation {
    inherit name;
    text = "#!/bin/sh\n" + text;
    script = ''mkdir -p "$out/bin"; printf '%s' "$text" > "$out/bin/${name}"; chmod +x "$out/bin/${name}"'';
  } // { meta.mainProgram = name; };

  # entries: a list of { name, path } or an attribute set name -> path.
  linkFarm = name: entries:
    let
      list = if builtins.isList entries then entries
        else map (n: { name = n; path = entries.${n}; }) (builtins.attrNames entries);
    in
    shDerivation {
      inherit name;
      script = ''
        mkdir -p "$out"
      '' + builtins.concatStringsSep "\n" (map
        (e: ''mkdir -p "$(dirname "$out"/${esc e.name})" && ln -s ${esc e.path} "$out"/${esc e.name}'')
        list);
    };

  symlinkJoin = { name, paths, postBuild ? "", ... }:
    buildEnv { inherit name paths postBuild; };

  packages = {
    hello = mkPackage { pname = "hello"; version = if revision == 1 then "1.0" else "1.1"; withMan = true; };
    tree = mkPackage { pname = "tree"; version = "2.1"; };
    motd = mkPackage { pname = "motd"; };
    # An attribute name with a dot, which `nix profile` records unquoted (`...my.tool`).
    "my.tool" = mkPackage { pname = "my.tool"; version = "0.1"; withMan = true; };
    ripgrep = mkPackage { pname = "ripgrep"; version = "14.1.0"; };
    # A package inside a nested set, as nixpkgs has them (`python3Packages.black`).
    python3Packages = { black = mkPackage { pname = "black"; version = "24.2.0"; }; };
  } // (if revision == 1 then {
    cowsay = mkPackage { pname = "cowsay"; version = "3.7.0"; };
  } else {
    jq = mkPackage { pname = "jq"; version = "1.7"; };
  });
  # A warning as nixpkgs' lib.warn gives it: Nix's own builtins.warn where Nix has it (2.23 and
  # later), else a trace starting "evaluation warning:".
  warn = msg: value:
    if builtins ? warn then builtins.warn msg value
    else builtins.trace "evaluation warning: ${msg}" value;
in
packages // {
  inherit revision;
  # As in current nixpkgs: the platform is stdenv.hostPlatform.system, and `pkgs.system` is a
  # deprecated alias that warns each time it is read.
  system = warn "'system' has been renamed to/replaced by 'stdenv.hostPlatform.system'" system;
  stdenv = { hostPlatform = { inherit system; }; buildPlatform = { inherit system; }; };
  inherit buildEnv runCommand writeText writeShellScript writeShellScriptBin linkFarm symlinkJoin;
}
