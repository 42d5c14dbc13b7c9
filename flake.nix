{
  description = "flakey-profile: declarative Nix user profiles from a flake";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
    in
    {
      lib = import ./nix/lib.nix {
        toolsFor = system: self.packages.${system}.default or null;
      };

      templates.default = {
        path = ./templates/default;
        description = "A profile declared in a flake, switched with flakey-profile";
      };

      packages = forAllSystems (system:
        import ./nix/packages.nix { pkgs = nixpkgs.legacyPackages.${system}; src = self; });

      overlays.default = final: prev: import ./nix/packages.nix { pkgs = final; src = self; };
    };
}
