#!/usr/bin/env bash
# Benchmark: fp-migrate on a generated 10,000-element manifest (release build).
#
#   fp-migrate/bench/migrate.sh [ELEMENTS] [RUNS] [VERSION]
#
# Generates a version 3 manifest (as `nix profile list --json` of Nix 2.20+ prints it; with
# VERSION 2, the array of Nix 2.9-2.19, whose element names fp-migrate derives itself) with
# ELEMENTS elements (default 10000) from 3 nixpkgs revisions and 20 other flakes, with default,
# named and all outputs, some priorities, inactive and store-path-only elements; then runs
# fp-migrate RUNS times (default 5) and prints each wall time and the best and median.
# Record the figures in fp-migrate/bench/RESULTS.md.
set -euo pipefail

elements=${1:-10000}
runs=${2:-5}
version=${3:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet -p fp-migrate --manifest-path "$root/Cargo.toml"
bin="$root/target/release/fp-migrate"

awk -v n="$elements" -v version="$version" 'BEGIN {
  alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
  printf "{\"elements\":%s", (version == 3 ? "{" : "[")
  for (i = 0; i < n; i++) {
    hash = ""
    x = i * 7919 + 13
    for (j = 0; j < 32; j++) { hash = hash substr(alphabet, (x % 32) + 1, 1); x = int(x / 3) + j * 31 + i }
    name = sprintf("pkg%05d", i)
    path = sprintf("/nix/store/%s-%s-1.%d", hash, name, i % 10)
    if (i > 0) printf ","
    key = (version == 3) ? sprintf("\"%s\":", name) : ""
    if (i % 500 == 499) {
      printf "%s{\"active\":true,\"priority\":5,\"storePaths\":[\"%s\"]}", key, path
      continue
    }
    if (i % 4 == 3) {
      flake = sprintf("github:owner%d/repo%d", i % 20, i % 20)
      url = sprintf("github:owner%d/repo%d/%040d", i % 20, i % 20, i % 20)
      attr = sprintf("packages.x86_64-linux.%s", name)
    } else {
      flake = "flake:nixpkgs"
      url = sprintf("github:NixOS/nixpkgs/%040d?narHash=sha256-%043d%%3D", i % 3, i % 3)
      attr = sprintf("legacyPackages.x86_64-linux.%s", name)
    }
    outputs = "null"
    if (i % 17 == 0) outputs = "[\"out\",\"man\"]"
    if (i % 29 == 0) outputs = "[\"*\"]"
    priority = (i % 13 == 0) ? 4 : 5
    active = (i % 101 == 0) ? "false" : "true"
    printf "%s{\"active\":%s,\"attrPath\":\"%s\",\"originalUrl\":\"%s\",\"outputs\":%s,\"priority\":%d,\"storePaths\":[\"%s\"],\"url\":\"%s\"}", key, active, attr, flake, outputs, priority, path, url
  }
  printf "%s,\"version\":%d}\n", (version == 3 ? "}" : "]"), version
}' > "$work/manifest.json"

echo "manifest: version $version, $elements elements, $(wc -c < "$work/manifest.json") bytes"
"$bin" -q "$work/manifest.json" > "$work/flake.nix" 2> "$work/warnings"
echo "flake.nix: $(wc -l < "$work/flake.nix") lines; $(wc -l < "$work/warnings") warning lines"
if command -v nix-instantiate > /dev/null; then
  nix-instantiate --parse "$work/flake.nix" > /dev/null && echo "nix-instantiate --parse: ok"
fi

times=()
for ((r = 1; r <= runs; r++)); do
  start=$(date +%s%N)
  "$bin" -q "$work/manifest.json" > /dev/null 2>&1
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  times+=("$ms")
  echo "run $r: ${ms} ms"
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "best: ${sorted[0]} ms, median: ${sorted[$((runs / 2))]} ms ($runs runs, $elements elements, version $version)"
