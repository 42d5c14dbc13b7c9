# The tools as Nix packages: one per tool, each built alone from the workspace with its shell
# completions and man page, and `default` with all of them.
{ pkgs, src }:
let
  workspace = builtins.fromTOML (builtins.readFile (src + "/Cargo.toml"));
  version = workspace.workspace.package.version;

  descriptions = {
    fp-build = "Build a flakey-profile flake and print the store path of the profile";
    fp-switch = "Switch a Nix profile to a built env with nix-env --set, showing what changes";
    fp-rollback = "Roll a Nix profile back to an earlier generation, showing what changes";
    fp-pin = "Pin the flake registry and NIX_PATH to the sources a profile was built from";
    fp-migrate = "Turn a nix profile (manifest.json or manifest.nix) into a flakey-profile flake.nix";
    fp-generations = "List and delete the generations of a Nix profile; never the current one";
    fp-diff = "Show which packages changed between two generations or store paths of a Nix profile";
    fp = "flakey-profile's front command: fp build, fp switch, ... run fp-build, fp-switch, ...";
  };
  tools = builtins.attrNames descriptions;

  canRun = pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;

  mkTool = name: pkgs.rustPlatform.buildRustPackage {
    pname = name;
    inherit version src;
    cargoLock.lockFile = src + "/Cargo.lock";
    cargoBuildFlags = [ "--package" name ];
    # The integration tests need a Nix store and profiles; the Nix build runs the unit tests.
    cargoTestFlags = [ "--package" name "--lib" ];
    nativeBuildInputs = [ pkgs.installShellFiles ];
    postInstall = pkgs.lib.optionalString canRun ''
      installShellCompletion --cmd ${name} \
        --bash <($out/bin/${name} --generate-completions bash) \
        --zsh <($out/bin/${name} --generate-completions zsh) \
        --fish <($out/bin/${name} --generate-completions fish)
      $out/bin/${name} --generate-man > ${name}.1
      installManPage ${name}.1
    '';
    meta = {
      description = descriptions.${name};
      homepage = "https://github.com/flakey-profile/flakey-profile";
      license = pkgs.lib.licenses.mit;
      mainProgram = name;
      platforms = pkgs.lib.platforms.unix;
    };
  };

  byName = builtins.listToAttrs (map (name: { inherit name; value = mkTool name; }) tools);
in
byName // {
  default = pkgs.symlinkJoin {
    name = "flakey-profile-${version}";
    paths = builtins.attrValues byName;
    meta = {
      description = "flakey-profile: declarative Nix user profiles from a flake";
      mainProgram = "fp-switch";
    };
  };
}
