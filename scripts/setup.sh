# Sourced by scripts/demo and scripts/test: installs what is missing and sets up the environment.
# Installs Nix with Debian's nix-bin (apt) when `nix` is not on PATH; needs root (or sudo) for that.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $*"
  fi
}

ensure_nix() {
  if command -v nix >/dev/null && command -v nix-env >/dev/null; then
    return
  fi
  if command -v apt-get >/dev/null; then
    say "installing Nix (Debian's nix-bin)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nix-bin >/dev/null
  else
    die "Nix is not installed and this is not a Debian-like system; install Nix (https://nixos.org/download) and run this again"
  fi
  command -v nix >/dev/null || die "nix is still not on PATH after installing nix-bin"
}

ensure_cargo() {
  if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null || die "cargo is not installed; install the Rust toolchain (https://rustup.rs) and run this again"
}

# Single-user Nix as root needs no daemon and no build users; without root, Debian's Nix talks
# to nix-daemon (you must be in the nix-users group).
nix_config() {
  local registry=$1
  printf 'experimental-features = nix-command flakes\nsubstituters =\nsandbox = false\nflake-registry = %s\n' "$registry"
  if [ "$(id -u)" = 0 ] && [ -z "${NIX_REMOTE:-}" ]; then
    printf 'build-users-group =\n'
  fi
}

ensure_nix
# The tools compile SQLite in (to read the Nix store's database) with the C compiler cargo
# also links with: gcc and the C library headers, installed when missing.
ensure_build_deps() {
  if command -v cc >/dev/null && [ -e /usr/include/stdio.h ]; then
    return
  fi
  command -v apt-get >/dev/null ||
    die "no C compiler; install one (gcc and the C library headers) and run this again"
  say "installing gcc and libc6-dev (the tools compile SQLite in)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null
}

# Inside a Debian root the tools were built outside (bench/run --nix): no cargo needed there.
if [ -z "${FP_PREBUILT:-}" ]; then
  ensure_cargo
  ensure_build_deps
fi
