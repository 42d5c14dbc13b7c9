# Your profile, declared. Build and switch to it with:
#
#   nix run .#profile.switch          (or: fp-build | fp-switch)
#   nix run .#profile.rollback        (or: fp-rollback)
#   nix build .#profile               build without switching
#   nix flake update                  newer nixpkgs; then switch again
{
  description = "My Nix profile";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    flakey-profile.url = "github:flakey-profile/flakey-profile";
    flakey-profile.inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs = { self, nixpkgs, flakey-profile }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
    in
    {
      packages = forAllSystems (system:
        let pkgs = nixpkgs.legacyPackages.${system}; in
        {
          profile = flakey-profile.lib.mkProfile {
            inherit pkgs;
            # The packages of your profile.
            paths = with pkgs; [
              hello
              tree
            ];
            # `nix run .#profile.pin` makes `nixpkgs#...` and `<nixpkgs>` this nixpkgs.
            pinned.nixpkgs = nixpkgs;
          };
        });
    };
}
