#!/usr/bin/env bash
# Image updater benchmark: N Applications (default 100) watching one image in a real
# docker-registry, on fjord's local cluster: registry requests per update cycle (counted by a
# proxy), the time for one new tag to reach every app, CPU and RSS, next to Argo CD Image
# Updater's per-cycle cost read from its code (see bench/image_updater_bench/updater.py).
#
#   bench/image-updater.sh [--apps N] [--interval S] [--cycles C] [--keep]
#
# Numbers, not assertions. The table goes to stdout and bench/results/image-updater.txt after
# bench/stamp.sh's stamp. FJORD_BIN=/path/to/fjord skips the release build. Needs Debian's
# docker-registry and git (scripts/test.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."

fjord="${FJORD_BIN:-}"
if [[ -z "$fjord" ]]; then
  cargo build --release -q -p fjord
  fjord="${CARGO_TARGET_DIR:-target}/release/fjord"
fi
command -v docker-registry >/dev/null 2>&1 || { echo "docker-registry not found: apt-get install docker-registry" >&2; exit 1; }

out=bench/results/image-updater.txt
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
{
  bench/stamp.sh "fjord=$fjord" "docker-registry=$(docker-registry --version 2>/dev/null | head -1)"
  echo
  python3 bench/image_updater_bench/updater.py --fjord "$fjord" "$@"
} | tee "$tmp"
cp "$tmp" "$out"
echo "written to $out"
