{
  description = "flakey-profile: declarative Nix user profiles from a flake";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
      pkgsFor = system: nixpkgs.legacyPackages.${system};
      tools = builtins.attrNames (import ./nix/tools.nix);
    in
    {
      # lib.mkProfile { pkgs, name ? "flake-profile", pinned ? {}, extraSwitchArgs ? [], fpTools ? ..., ... }
      lib = import ./nix/lib.nix {
        toolsFor = { system, ... }: self.packages.${system}.default or null;
      };

      templates.default = {
        path = ./templates/default;
        description = "A Nix profile declared in a flake, switched with flakey-profile";
      };
      templates.no-flake = {
        path = ./templates/no-flake;
        description = "A Nix profile declared in a default.nix (no flakes), switched with flakey-profile";
      };

      packages = forAllSystems (system: import ./nix/packages.nix { pkgs = pkgsFor system; src = ./.; });

      apps = forAllSystems (system: builtins.listToAttrs (map
        (name: {
          inherit name;
          value = { type = "app"; program = "${self.packages.${system}.${name}}/bin/${name}"; };
        })
        tools));

      # Adds fp-build, fp-switch, ... and flakey-profile (all of them) to a package set.
      overlays.default = import ./nix/overlay.nix { src = ./.; };

      devShells = forAllSystems (system:
        let pkgs = pkgsFor system; in
        {
          default = pkgs.mkShell {
            packages = [ pkgs.cargo pkgs.rustc pkgs.clippy pkgs.rustfmt pkgs.nix pkgs.hyperfine ];
          };
        });

      checks = forAllSystems (system:
        let pkgs = pkgsFor system; in
        self.packages.${system} // {
          # The library against real nixpkgs: a small profile and its pins.
          profile = self.lib.mkProfile {
            inherit pkgs;
            paths = [ pkgs.hello ];
            pinned.nixpkgs = nixpkgs;
          };
          channels = (self.lib.mkProfile { inherit pkgs; paths = [ ]; pinned.nixpkgs = nixpkgs; }).pins.channels;
        });

      formatter = forAllSystems (system: (pkgsFor system).nixpkgs-fmt);
    };
}
