# Sourced by scripts/test, scripts/demo and bench/run (after setup.sh): the Nix versions the
# project is tested on, and how to run a command under each of them.
#
# Every version comes from Debian's archive as the package nix-bin:
#   2.8   Debian 12 (bookworm)   the host's own Nix when it is that version
#   2.26  Debian 13 (trixie)     a root filesystem made with mmdebstrap
#   2.34  Debian unstable (sid)  a root filesystem made with mmdebstrap
# and two other implementations, prebuilt for a Debian sid userland, from tarballs beside the
# checkout ($FP_SHARED_DIR, default ../shared; never copied into the repository):
#   lix          Lix 2.95 (shared/lix/lix-*.tar.zst, at /opt/lix in its root)
#   determinate  Determinate Nix 3.22 (shared/determinate/determinate-nix-*.tar.zst, /opt/dnix)
# Their roots are sid roots with the same packages minus nix-bin (so no upstream Nix can stand
# in for them), plus the packages the tarball's runtime-packages.txt lists; the root's stamp
# holds the tarball's sha256, so a new tarball makes a new root.
# A version the host does not have runs in a root filesystem kept in $FP_ROOTS_DIR (default
# /var/cache/flakey-profile/roots), made once (about 40 s and 300 MB each) and reused. Each root
# has its own /nix, so the stores never mix; its /nix is emptied at the start of every use, so
# every run starts from a fresh store, as on the host's first run.
#
# A command runs inside a root in a mount namespace of its own (unshare): /proc, /dev (with
# /dev/pts, which Nix 2.2x and later need to build), a fresh /tmp and the checkout are mounted
# there and nowhere else. When the command ends, also by a signal, the namespace goes with every
# mount in it, so nothing of the host is ever reachable through a root that is being deleted.

# The versions, oldest first, then the other implementations; the Debian suite each one runs in,
# and the directory of its root under $FP_ROOTS_DIR.
nix_versions=(2.8 2.26 2.34 lix determinate)
declare -A nix_suite=([2.8]=bookworm [2.26]=trixie [2.34]=sid [lix]=sid [determinate]=sid)
declare -A nix_root_name=([2.8]=bookworm [2.26]=trixie [2.34]=sid [lix]=lix [determinate]=determinate)
# For an implementation installed from a tarball: its folder in $shared_dir, the tarball's
# name pattern there, and the bin directory inside the root that goes first on PATH.
shared_dir=${FP_SHARED_DIR:-$repo/../shared}
declare -A nix_tarball=([lix]='lix/lix-*-x86_64-linux.tar.zst'
  [determinate]='determinate/determinate-nix-*-x86_64-linux.tar.zst')
declare -A nix_bin_dir=([lix]=/opt/lix/bin [determinate]=/opt/dnix/bin)

roots_dir=${FP_ROOTS_DIR:-/var/cache/flakey-profile/roots}
debian_mirror=${FP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the tests run besides Nix: git flakes, man pages, /usr/bin/time, useradd/usermod and
# setpriv (the multi-user test), script (tests with a terminal), hyperfine (bench/run), ssh,
# jq (README's examples pipe JSON into it).
root_packages=nix-bin,git,man-db,time,passwd,util-linux,bsdutils,hyperfine,procps,openssh-server,openssh-client,jq

# Whether the host's own nix is version $1 (2.8 matches 2.8.0; lix and determinate never match).
host_has_nix() {
  command -v nix >/dev/null || return 1
  local v
  v=$(nix --version | awk 'NR == 1 {print $NF}')
  [[ $v == "$1" || $v == "$1".* ]]
}

# The root filesystem directory for version $1.
root_dir() { printf '%s/%s\n' "$roots_dir" "${nix_root_name[$1]}"; }

# The tarball of version $1 (lix, determinate), the newest of its pattern; dies when missing.
tarball_of() {
  local files
  # shellcheck disable=SC2206 # the pattern is meant to expand
  files=($shared_dir/${nix_tarball[$1]})
  [ -f "${files[-1]}" ] || die "no tarball for $1 in $shared_dir (${nix_tarball[$1]}; set FP_SHARED_DIR)"
  printf '%s\n' "${files[-1]}"
}

# Fails when anything is mounted at or below $1 (so a delete there cannot reach the host).
nothing_mounted_below() {
  local dir
  dir=$(realpath -m "$1")
  if awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/mounts; then
    die "refusing to delete $dir: something is mounted inside it (see /proc/mounts)"
  fi
}

# Deletes a directory tree that must not have anything mounted in it, on its own file system only.
safe_remove() {
  [ -e "$1" ] || return 0
  nothing_mounted_below "$1"
  rm -rf --one-file-system "$1"
}

# Makes the root filesystem for version $1 unless it exists with the current package list (and,
# for a tarball's implementation, the same tarball). Safe to run for two versions at once (each
# writes its own directory).
ensure_root() {
  local version=$1 dir stamp suite packages=$root_packages tarball='' runtime
  dir=$(root_dir "$version")
  suite=${nix_suite[$version]}
  if [ -n "${nix_tarball[$version]:-}" ]; then
    tarball=$(tarball_of "$version")
    runtime=$(grep -v '^#' "$(dirname "$tarball")/runtime-packages.txt" | paste -sd, -)
    packages=$(tr , '\n' <<< "$root_packages" | grep -vx nix-bin | paste -sd, -),$runtime
  fi
  stamp="$suite $packages"
  [ -z "$tarball" ] || stamp+=" $(sha256sum "$tarball" | cut -d' ' -f1)"
  [ "$version" != lix ] || stamp+=" libarchive-3.7"
  if [ -f "$dir/.flakey-profile-root" ] && [ "$(cat "$dir/.flakey-profile-root")" = "$stamp" ]; then
    return
  fi
  [ -z "$tarball" ] || command -v zstd >/dev/null ||
    die "zstd is needed to unpack $tarball: run \`setup roots\` (scripts/setup.sh) first"
  # Installed by `setup roots` (scripts/setup.sh) before anything runs in parallel.
  command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: run \`setup roots\` (scripts/setup.sh) first"
  say "making the Debian $suite root for Nix $version in $dir (once; about 40 s)"
  mkdir -p "$roots_dir"
  safe_remove "$dir.new"
  # The archive may be a snapshot whose Release files are past their Valid-Until date.
  as_root mmdebstrap --quiet --variant=essential --mode=root --include="$packages" \
    --aptopt='Acquire::Check-Valid-Until "false"' "$suite" "$dir.new" "$debian_mirror" \
    || die "mmdebstrap of Debian $suite failed (see above)"
  if [ -n "$tarball" ]; then
    as_root tar --zstd -xpf "$tarball" -C "$dir.new" || die "cannot unpack $tarball"
  fi
  [ "$version" != lix ] || lix_libarchive_3_7 "$dir.new"
  printf '%s\n' "$stamp" > "$dir.new/.flakey-profile-root"
  safe_remove "$dir"
  mv "$dir.new" "$dir"
}

# Gives the Lix in root $1 Debian 13's libarchive 3.7 (taken from the 2.26 root, made first)
# instead of sid's 3.8. Lix 2.95.3 unpacks `git archive` output (every clean git flake) in a
# thread reading a pipe whose write end it closes only after that thread ends; libarchive 3.8
# reads on to the end of the stream there, so each such fetch waits forever. 3.7 stops at the
# end of the archive. The library goes into Lix's own library directory (its RUNPATH), and the
# libxml2 it needs beside sid's.
lix_libarchive_3_7() {
  local lib=usr/lib/x86_64-linux-gnu from
  from=$(root_dir 2.26)
  [ -e "$from/$lib/libarchive.so.13" ] || die "the Nix 2.26 root must be made before the Lix root"
  as_root cp -L "$from/$lib/libarchive.so.13" "$1/opt/lix/lib/x86_64-linux-gnu/libarchive.so.13"
  as_root cp -L "$from/$lib/libxml2.so.2" "$1/$lib/libxml2.so.2"
  as_root chroot "$1" ldconfig
}

# Empties the root's /nix, so the next use starts with a fresh store and fresh profiles.
fresh_store() {
  local dir
  dir=$(root_dir "$1")
  safe_remove "$dir/nix"
  mkdir -p "$dir/nix"
}

# Runs "$@" with Nix version $1: on the host when it has that version, else inside its root,
# with the checkout (and cargo's target directory, if elsewhere) at the same paths, the
# environment reduced to what a test run needs, and the current directory kept.
with_nix() {
  local version=$1
  shift
  if host_has_nix "$version"; then
    "$@"
    return
  fi
  local dir target gitdir path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  dir=$(root_dir "$version")
  target=${CARGO_TARGET_DIR:-$repo/target}
  # A linked work tree (git worktree) keeps its repository elsewhere: that is mounted too, so
  # Nix and git inside the root see the checkout as a git repository.
  gitdir=$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || printf '%s' "$repo")
  [ -z "${nix_bin_dir[$version]:-}" ] || path=${nix_bin_dir[$version]}:$path
  as_root unshare --mount --propagation private -- bash -euc '
    root=$1 repo=$2 target=$3 roots=$4 cwd=$5 path=$6 gitdir=$7; shift 7
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    # A devpts of its own: builds open a pseudo-terminal (/dev/ptmx resolves to pts/ptmx here).
    mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
    mount -t tmpfs tmpfs "$root/tmp"
    binds=("$repo")
    case $target/ in "$repo"/*) ;; *) binds+=("$target") ;; esac
    case $gitdir/ in "$repo"/*) ;; *) binds+=("$gitdir") ;; esac
    for p in "${binds[@]}"; do
      mkdir -p "$root$p"
      mount --bind "$p" "$root$p"
    done
    # The roots themselves, read-only: tests start other machines from them (overlays).
    mkdir -p "$root$roots"
    mount --bind "$roots" "$root$roots"
    mount -o remount,bind,ro "$root$roots"
    binds+=("$roots")
    set +e
    chroot "$root" /usr/bin/env -i \
      PATH="$path" \
      HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 TERM="${TERM:-dumb}" TMPDIR=/tmp \
      CI="${CI:-}" INSTA_WORKSPACE_ROOT="$repo" INSTA_UPDATE="${INSTA_UPDATE:-}" \
      FP_ROOTS_DIR="$roots" \
      /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"
    status=$?
    # Innermost first; the namespace would drop them anyway when its last process ends.
    umount -R "$root/dev" 2>/dev/null || umount -l "$root/dev"
    for ((i = ${#binds[@]} - 1; i >= 0; i--)); do umount "$root${binds[i]}" 2>/dev/null || true; done
    umount "$root/tmp" "$root/proc" 2>/dev/null || true
    exit $status
  ' with-nix "$dir" "$repo" "$target" "$roots_dir" "$PWD" "$path" "$gitdir" "$@"
}

# Turns "2.34", "all" or "2.8,2.34" into the list of versions to run, or dies naming the choices.
select_versions() {
  local want=$1 v out=()
  if [ "$want" = all ]; then
    printf '%s\n' "${nix_versions[@]}"
    return
  fi
  IFS=, read -ra wanted <<< "$want"
  for v in "${wanted[@]}"; do
    [ -n "${nix_suite[$v]:-}" ] || die "unknown Nix version '$v' (choose from: ${nix_versions[*]} or all)"
    out+=("$v")
  done
  printf '%s\n' "${out[@]}"
}

# Takes this machine's lock on the roots for as long as the calling script runs: one test or
# benchmark run at a time, since a run empties the roots' stores that another would be using.
hold_roots_lock() {
  mkdir -p "$roots_dir"
  exec {roots_lock}>"$roots_dir/.lock"
  if ! flock -n "$roots_lock"; then
    say "waiting for another test or benchmark run on this machine to finish"
    flock "$roots_lock"
  fi
}

# Makes sure every version in "$@" can run: the host's own Nix, or a root made and emptied.
# The Debian roots of every version the host lacks are made in any case: tests start remote
# machines from them (with a Nix other than the one under test). A tarball's root is made when
# its version is asked for.
prepare_versions() {
  local v pids=()
  for v in "${nix_versions[@]}"; do
    if [ -z "${nix_tarball[$v]:-}" ] && ! host_has_nix "$v"; then
      ensure_root "$v" &
      pids+=($!)
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid" || die "could not make a root filesystem"; done
  # Then the tarballs' roots that are asked for (the Lix root takes a library from another).
  pids=()
  for v in "$@"; do
    if [ -n "${nix_tarball[$v]:-}" ]; then
      ensure_root "$v" &
      pids+=($!)
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid" || die "could not make a root filesystem"; done
  # Many tests start nix at once; a store that does not exist yet is made by the first one while
  # the others race it ("creating symlink .../gcroots/profiles: File exists"), so make it here.
  for v in "$@"; do
    host_has_nix "$v" && continue
    fresh_store "$v"
    with_nix "$v" nix-store --init
  done
}
