# Sourced by scripts/demo, scripts/test and bench/run: the environment, and `setup`, which
# installs what is missing, all of it in one place, one apt-get after the other, before any
# parallel work: one `apt-get update` at most, and nothing at all on a second run. Needs root (or
# sudo) when something is missing; apt's lock held by another apt (unattended-upgrades) is
# waited for.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $*"
  fi
}

# What each part of the work needs, as "COMMAND-OR-FILE DEBIAN-PACKAGE" lines: the package is
# installed when the command is not on PATH (or the absolute path does not exist).
#   build: the tools and the demo: Nix (Debian's nix-bin), and the C compiler and C library
#          headers (the tools compile SQLite in to read the Nix store's database).
#   roots: making and entering the Debian roots of the other Nix versions (nix-versions.sh),
#          and unpacking Nix release tarballs (zstd).
#   test:  what the test suites run on this machine besides Nix: ssh and ssh-keygen (remote
#          tests), /usr/bin/time, man, useradd and setpriv (the multi-user test), script
#          (tests with a terminal), git (git flakes), ps.
#   bench: hyperfine.
#   fresh: scripts/fresh-machine's clone of the checkout (git).
declare -A setup_needs=(
  [build]='nix nix-bin
nix-env nix-bin
cc gcc
/usr/include/stdio.h libc6-dev'
  [roots]='mmdebstrap mmdebstrap
zstd zstd
unshare util-linux
flock util-linux
chroot coreutils
mount mount
awk mawk'
  [test]='git git
ssh openssh-client
ssh-keygen openssh-client
/usr/bin/time time
man man-db
useradd passwd
setpriv util-linux
script bsdutils
ps procps
jq jq'
  [bench]='hyperfine hyperfine'
  [fresh]='git git'
)

# The Debian packages that the parts "$@" (names in setup_needs) need and this machine lacks,
# one per line, each once.
missing_packages() {
  local part check package
  for part in "$@"; do
    [ -n "${setup_needs[$part]+x}" ] || die "setup: unknown part '$part'"
    while read -r check package; do
      case $check in
        /*) [ -e "$check" ] && continue ;;
        *) command -v "$check" >/dev/null && continue ;;
      esac
      printf '%s\n' "$package"
    done <<< "${setup_needs[$part]}"
  done | awk '!seen[$0]++'
}

# apt-get as root, non-interactive, waiting up to 10 minutes for dpkg's lock when another apt
# (unattended-upgrades, a package manager window) holds it.
apt_get() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

# `apt-get update`, once per run; while another apt holds the package lists' lock
# (/var/lib/apt/lists/lock, which older apt does not wait for), it tries again for 10 minutes.
apt_updated=
apt_update() {
  [ -z "$apt_updated" ] || return 0
  local out waited=0
  until out=$(apt_get update -qq 2>&1); do
    if ! grep -q 'Could not get lock' <<< "$out" || [ "$waited" -ge 600 ]; then
      printf '%s\n' "$out" >&2
      die "apt-get update failed"
    fi
    [ "$waited" -gt 0 ] || say "waiting for another apt to finish (it holds /var/lib/apt/lists/lock)"
    sleep 5
    waited=$((waited + 5))
  done
  apt_updated=1
}

# Installs, in one apt-get run, what the parts "$@" need and this machine lacks; nothing when
# nothing is missing.
install_missing() {
  local packages
  mapfile -t packages < <(missing_packages "$@")
  [ "${#packages[@]}" -gt 0 ] || return 0
  command -v apt-get >/dev/null ||
    die "missing: ${packages[*]} (Debian package names); this is not a Debian-like system, so install them yourself (Nix: https://nixos.org/download) and run this again"
  say "installing ${packages[*]} (apt)"
  apt_update
  apt_get install -y -qq "${packages[@]}" >/dev/null ||
    die "apt-get install ${packages[*]} failed"
  mapfile -t packages < <(missing_packages "$@")
  [ "${#packages[@]}" -eq 0 ] || die "still missing after apt-get install: ${packages[*]}"
}

ensure_cargo() {
  if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null || die "cargo is not installed; install the Rust toolchain (https://rustup.rs) and run this again"
}

# Makes this machine ready for the parts "$@" (see setup_needs): installs what is missing, and
# for "build" checks that cargo is there (the one thing it does not install).
setup() {
  case " $* " in *" build "*) ensure_cargo ;; esac
  install_missing "$@"
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
