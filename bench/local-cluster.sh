#!/usr/bin/env bash
# Benchmark of fjord's embedded API server (crates/cluster) on this machine.
#
#   bench/local-cluster.sh [--quick]
#
# Builds the `local_cluster` server and the `cluster_bench` load client (release, no dev-deps), then reports:
# server-side applies/s of small ConfigMaps with 8 concurrent keep-alive clients, list latency
# (p50/p99) at 10k and 100k objects, peak RSS (VmHWM) at 100k, restart time at 100k (spawn to
# /readyz OK), watch fan-out (100 watchers, one write), and, for comparison, `kubectl apply
# --server-side` throughput against the same server (client cost included). Numbers, not
# assertions. The table is also written to bench/results/local-cluster.txt, after the stamp of
# bench/stamp.sh (commit, CPU, kernel, rustc, kubectl version).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=10000,100000
seconds=5
if [[ "${1:-}" == "--quick" ]]; then
  sizes=2000,10000
  seconds=2
fi

cargo build --release -q -p fjord-cluster --features bench --bins
target="${CARGO_TARGET_DIR:-target}/release"
out=bench/results/local-cluster.txt
tmp="$(mktemp -d)"
trap 'kill "${srv:-0}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

{
  # The stamp: commit, CPU, kernel, rustc and the kubectl compared with.
  bench/stamp.sh kubectl
  echo
  echo "fjord local-cluster benchmark"
  echo
  "$target/cluster_bench" --server "$target/local_cluster" --clients 8 --seconds "$seconds" \
    --sizes "$sizes" --watchers 100
} | tee "$tmp/table.txt"

if command -v kubectl >/dev/null; then
  # kubectl apply --server-side against the same server: one invocation applying 500 ConfigMaps,
  # and 20 single-object invocations (process start + discovery cache + request).
  "$target/local_cluster" --data-dir "$tmp/kdata" --addr 127.0.0.1:0 --no-sim 2>"$tmp/srv.log" &
  srv=$!
  for _ in $(seq 200); do grep -q "listening on" "$tmp/srv.log" && break; sleep 0.05; done
  kc="$tmp/kdata/kubeconfig"
  k=(kubectl --kubeconfig="$kc" --cache-dir="$tmp/kcache")
  : > "$tmp/many.yaml"
  for i in $(seq 500); do
    printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: k-%d\n  namespace: default\ndata:\n  key: v%d\n' "$i" "$i" >> "$tmp/many.yaml"
  done
  "${k[@]}" get ns >/dev/null # warm the discovery cache
  t0=$(date +%s.%N)
  "${k[@]}" apply --server-side -f "$tmp/many.yaml" >/dev/null
  t1=$(date +%s.%N)
  for i in $(seq 20); do
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one-%d\ndata:\n  key: v\n' "$i" |
      "${k[@]}" apply --server-side -f - >/dev/null
  done
  t2=$(date +%s.%N)
  kill "$srv"; wait "$srv" 2>/dev/null || true; srv=
  awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
    printf "%-52s  %.0f applies/s (%.2f s for 500 objects)\n", "kubectl apply --server-side, 1 process, 500 objects", 500/(b-a), b-a
    printf "%-52s  %.0f ms per invocation\n", "kubectl apply --server-side, 20 invocations", (c-b)*1000/20
  }' | tee -a "$tmp/table.txt"
fi

cp "$tmp/table.txt" "$out"
echo "written to $out"
