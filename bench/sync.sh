#!/usr/bin/env bash
# Sync and diff benchmark: fjord against kubectl, on fjord's embedded cluster and on a real
# kube-apiserver, in the same invocation.
#
#   bench/sync.sh [--check] [--objects N] [--runs R] [--backend local|real|both]
#
# Builds fjord (release), generates N (default 1000) small objects — ConfigMaps, Services,
# Deployments and ServiceAccounts spread over 4 namespaces — and, on each backend (default both):
#   local: `fjord local-cluster` on a free port with a fresh data directory;
#   real:  the real control plane of scripts/control-plane.sh (etcd, kube-apiserver v1.34,
#          controller-manager, scheduler, kwok nodes; built once and cached), stopped on exit;
# measures, in the same run:
#
#   (a) fresh apply: `fjord sync DIR --app APP --no-wait`  vs  `kubectl apply --server-side -f DIR`
#   (b) sync + wait: `fjord sync DIR --app APP` (waits until healthy)  vs  `kubectl apply
#                    --server-side -f DIR` then `kubectl wait --for=condition=Available`
#   (c) no-op diff:  `fjord diff DIR --app APP --kubeconfig K`  vs  `kubectl diff --server-side -f DIR`
#
# Every sync run applies its own copy of the objects into its own, freshly created namespaces, so
# each one is a first apply; the no-op diffs then run against what the first sync run of the same
# tool applied. Each fjord run uses its own application name (`bench-1`, `bench-2`, ...) so that
# one run's objects are never another's extraneous resources. On the real backend the Deployments
# roll out (ReplicaSets, Pods made Ready by kwok); before each measurement the script waits until
# every Deployment is Available, so no run pays for the previous run's rollout. The median of R
# (default 3) runs is reported with the kubectl/fjord ratio; the table also goes to
# bench/results/sync.txt after the stamp of bench/stamp.sh (commit, CPU, kernel, rustc, versions).
#
# This is a report: it exits 0 even when a fjord command is missing or fails (then says so).
# With --check, a missing or failing fjord command (or a diff that finds differences right after
# a sync) makes it exit 1. A backend that fails to start fails the run with its log tail.
# FJORD_BIN=/path/to/fjord skips the build and uses that binary.
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
objects=1000
runs=3
backend=both
while [[ $# -gt 0 ]]; do
  case "$1" in
    --check) check=1 ;;
    --objects) objects="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --backend) backend="$2"; shift ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/sync.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
case "$backend" in
  local) backends=(local) ;;
  real) backends=(real) ;;
  both) backends=(local real) ;;
  *) echo "bench/sync.sh: --backend must be local, real or both, not '$backend'" >&2; exit 2 ;;
esac

unset KUBECTL_EXTERNAL_DIFF
for tool in kubectl python3; do
  command -v "$tool" >/dev/null || { echo "bench/sync.sh: $tool is required" >&2; exit 2; }
done

if [[ -n "${FJORD_BIN:-}" ]]; then
  fjord="$FJORD_BIN"
else
  echo "building fjord (release)..." >&2
  cargo build --release -q --locked -p fjord
  fjord="${CARGO_TARGET_DIR:-target}/release/fjord"
fi
[[ -x "$fjord" ]] || { echo "bench/sync.sh: no fjord binary at $fjord" >&2; exit 2; }

tmp="$(mktemp -d)"
srv=""
real_dir=""
cleanup() {
  if [[ -n "$srv" ]]; then
    kill "$srv" 2>/dev/null || true
    wait "$srv" 2>/dev/null || true
  fi
  if [[ -n "$real_dir" ]]; then
    scripts/control-plane.sh stop "$real_dir" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_backend B: starts backend B; sets kc (its kubeconfig) and k (kubectl with it).
start_backend() {
  if [[ "$1" == local ]]; then
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    "$fjord" local-cluster --data-dir "$tmp/data" --addr "127.0.0.1:$port" --sim-delay-ms 0 \
      >"$tmp/cluster.log" 2>&1 &
    srv=$!
    kc="$tmp/data/kubeconfig"
  else
    real_dir="$tmp/real"
    echo "starting the real control plane..." >&2
    if ! scripts/control-plane.sh start "$real_dir" >"$tmp/real-start.log" 2>&1; then
      echo "bench/sync.sh: the real control plane did not start:" >&2
      tail -n 40 "$tmp/real-start.log" >&2
      exit 2
    fi
    kc="$real_dir/kubeconfig"
  fi
  k=(kubectl --kubeconfig="$kc" --cache-dir="$tmp/kcache-$1")
  local ready=0
  for _ in $(seq 600); do
    if [[ -s "$kc" ]] && "${k[@]}" get ns >/dev/null 2>&1; then ready=1; break; fi
    [[ "$1" == real ]] || kill -0 "$srv" 2>/dev/null || break
    sleep 0.1
  done
  if [[ "$ready" != 1 ]]; then
    echo "bench/sync.sh: the $1 cluster did not come up; its log:" >&2
    if [[ "$1" == local ]]; then tail -n 20 "$tmp/cluster.log" >&2; else tail -n 40 "$tmp/real-start.log" >&2; fi
    exit 2
  fi
  if [[ "$1" == real ]]; then add_pod_capacity; fi
}

# add_pod_capacity: kwok's two default nodes hold 220 Pods; every set's Deployments (one Pod
# each) must fit, so add fake kwok nodes of 500 Pods each.
add_pod_capacity() {
  local pods=$(( (objects / 4 + 1) * runs * 4 )) n
  for n in $(seq 0 $(( (pods - 1) / 500 ))); do
    "${k[@]}" create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Node","metadata":{"name":"bench-node-$n",
 "annotations":{"node.alpha.kubernetes.io/ttl":"0","kwok.x-k8s.io/node":"fake"},
 "labels":{"kubernetes.io/hostname":"bench-node-$n","kubernetes.io/os":"linux","type":"kwok"}},
 "status":{"allocatable":{"cpu":"500","memory":"4000Gi","pods":"500"},
           "capacity":{"cpu":"500","memory":"4000Gi","pods":"500"}}}
EOF
  done
}

# stop_backend B
stop_backend() {
  if [[ "$1" == local ]]; then
    kill "$srv" 2>/dev/null || true
    wait "$srv" 2>/dev/null || true
    srv=""
  else
    scripts/control-plane.sh stop "$real_dir" >/dev/null 2>&1 || true
    real_dir=""
  fi
}

# settle B: on the real backend, waits until every Deployment is Available (the previous run's
# rollout is over), so that a measurement never shares the machine with it.
settle() {
  [[ "$1" == real ]] || return 0
  local _i pending
  for _i in $(seq 600); do
    pending="$("${k[@]}" get deployments --all-namespaces -o \
      jsonpath='{range .items[*]}{.spec.replicas}/{.status.availableReplicas}{"\n"}{end}' 2>/dev/null |
      awk -F/ '$1 != $2 { n++ } END { print n + 0 }')" || pending=1
    [[ "$pending" == 0 ]] && return 0
    sleep 0.5
  done
  echo "bench/sync.sh: warning: $pending Deployments still not available after 300 s" >&2
}

# Does this fjord have the sync/diff commands yet?
have_sync=1
have_diff=1
"$fjord" sync --help >/dev/null 2>&1 || have_sync=0
"$fjord" diff --help >/dev/null 2>&1 || have_diff=0

# One object set per sync run and tool: f1..fR for fjord, n1..nR for fjord --no-wait, k1..kR
# for kubectl, w1..wR for kubectl followed by the wait for the rollout.
python3 - "$tmp/sets" "$objects" "$runs" <<'PY'
import os, sys

root, total, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kinds = ["ConfigMap", "Service", "Deployment", "ServiceAccount"]
namespaces = 4


def obj(kind, ns, i):
    name = f"{kind.lower()}-{i}"
    if kind == "ConfigMap":
        return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
                f"data:\n  index: \"{i}\"\n  greeting: hello-{i}\n")
    if kind == "Service":
        return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
                f"spec:\n  selector:\n    app: app-{i}\n  ports:\n  - name: http\n    port: 80\n"
                f"    targetPort: 8080\n")
    if kind == "Deployment":
        return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
                f"spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: app-{i}\n"
                f"  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n"
                f"      containers:\n      - name: app\n        image: nginx:1.27\n"
                f"        ports:\n        - containerPort: 8080\n")
    return f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: {ns}\n"


for tool in ("f", "n", "k", "w"):
    for r in range(1, runs + 1):
        prefix = f"{tool}{r}"
        d = os.path.join(root, prefix)
        os.makedirs(d)
        nss = [f"bench-{prefix}-ns{n}" for n in range(namespaces)]
        with open(os.path.join(root, f"{prefix}-namespaces.yaml"), "w") as f:
            f.write("".join(f"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n" for ns in nss))
        files = {}
        for i in range(total):
            kind = kinds[i % len(kinds)]
            ns = nss[(i // len(kinds)) % namespaces]
            key = (kind, ns)
            files.setdefault(key, []).append(obj(kind, ns, i))
        for (kind, ns), docs in sorted(files.items()):
            with open(os.path.join(d, f"{ns}-{kind.lower()}.yaml"), "w") as f:
                f.write("---\n".join(docs))
PY

now() { date +%s.%N; }
results="$tmp/results.tsv"
: >"$results"
failed_fjord=0

# timed LABEL RUN EXPECT -- CMD...: runs CMD, appends "LABEL RUN SECONDS RC" to the results.
timed() {
  local label="$1" run="$2"
  shift 3
  local t0 t1 rc=0
  t0=$(now)
  "$@" >"$tmp/$label-$run.out" 2>&1 || rc=$?
  t1=$(now)
  printf '%s\t%s\t%s\t%s\n' "$label" "$run" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" "$rc" >>"$results"
  return 0
}

# apply_and_wait R: kubectl's equivalent of `fjord sync`, which waits until what it applied is
# healthy: apply set wR, then wait until its Deployments are Available.
apply_and_wait() {
  "${k[@]}" apply --server-side -f "$tmp/sets/w$1" || return
  local n
  for n in 0 1 2 3; do
    "${k[@]}" wait --for=condition=Available deployment --all -n "bench-w$1-ns$n" --timeout=300s || return
  done
}

server_versions=""
for b in "${backends[@]}"; do
  start_backend "$b"
  for ns_file in "$tmp"/sets/*-namespaces.yaml; do
    "${k[@]}" apply -f "$ns_file" >/dev/null
  done
  server_versions+="${server_versions:+, }$b $("${k[@]}" version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("serverVersion",{}).get("gitVersion","?"))' 2>/dev/null || echo '?')"
  for r in $(seq "$runs"); do
    if [[ "$have_sync" == 1 ]]; then
      settle "$b"
      timed "$b-fjord-sync" "$r" -- "$fjord" sync "$tmp/sets/f$r" --app "bench-$r" --kubeconfig "$kc"
      settle "$b"
      timed "$b-fjord-sync-nowait" "$r" -- "$fjord" sync "$tmp/sets/n$r" --app "bench-n$r" --no-wait --kubeconfig "$kc"
    fi
    settle "$b"
    timed "$b-kubectl-apply" "$r" -- "${k[@]}" apply --server-side -f "$tmp/sets/k$r"
    settle "$b"
    timed "$b-kubectl-apply-wait" "$r" -- apply_and_wait "$r"
  done
  settle "$b"
  for r in $(seq "$runs"); do
    if [[ "$have_diff" == 1 && "$have_sync" == 1 ]]; then
      timed "$b-fjord-diff" "$r" -- "$fjord" diff "$tmp/sets/f1" --app bench-1 --kubeconfig "$kc"
    fi
    timed "$b-kubectl-diff" "$r" -- "${k[@]}" diff --server-side -f "$tmp/sets/k1"
  done
  stop_backend "$b"
done

mkdir -p bench/results
# The stamp (commit, CPU, kernel, rustc, tool and server versions) heads the results file.
stamp="$(bench/stamp.sh "fjord=$fjord" kubectl "kube-apiserver=$server_versions")"
load="$(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" "$objects" "$runs" "$have_sync" "$have_diff" "$tmp" "${backends[*]}" \
  "$load" >"$tmp/table.txt" <<'PY'
import statistics, sys
from collections import defaultdict

path, objects, runs, have_sync, have_diff, tmp, backends, load = sys.argv[1:9]
rows = defaultdict(list)
for line in open(path):
    label, run, secs, rc = line.rstrip("\n").split("\t")
    rows[label].append((int(run), float(secs), int(rc)))


def cell(label, ok_codes=(0,)):
    runs_ = rows.get(label)
    if not runs_:
        return None, "not run"
    bad = [(r, rc) for r, _, rc in runs_ if rc not in ok_codes]
    med = statistics.median(s for _, s, _ in runs_)
    if bad:
        r, rc = bad[0]
        if label.endswith("-diff") and rc == 1:
            return None, f"NOT IN SYNC (run {r}, exit 1)"
        return None, f"FAILED (run {r} exit {rc})"
    return med, f"{med:8.3f} s"


print(f"fjord sync/diff benchmark (load {load} when done)")
print(f"{objects} objects (ConfigMap, Service, Deployment, ServiceAccount over 4 namespaces), "
      f"median of {runs} runs")
print()
print(f"{'backend':<8} {'measurement':<14} {'fjord':>28} {'kubectl':>28} {'kubectl/fjord':>14}")
failures = []
for b in backends.split():
    for name, f_label, k_label, k_ok in [
        ("fresh apply", f"{b}-fjord-sync-nowait", f"{b}-kubectl-apply", (0,)),
        ("sync + wait", f"{b}-fjord-sync", f"{b}-kubectl-apply-wait", (0,)),
        ("no-op diff", f"{b}-fjord-diff", f"{b}-kubectl-diff", (0,)),
    ]:
        f_med, f_text = cell(f_label)
        k_med, k_text = cell(k_label, k_ok)
        if f_label.endswith("fjord-sync") and have_sync != "1":
            f_text = "unavailable (no `fjord sync`)"
        if f_label.endswith("fjord-diff") and have_diff != "1":
            f_text = "unavailable (no `fjord diff`)"
        elif f_label.endswith("fjord-diff") and have_sync != "1":
            f_text = "skipped (needs `fjord sync`)"
        ratio = f"{k_med / f_med:13.2f}x" if f_med and k_med else f"{'-':>14}"
        print(f"{b:<8} {name:<14} {f_text:>28} {k_text:>28} {ratio}")
        for label in (f_label, k_label):
            for run, _, rc in rows.get(label, []):
                if rc != 0 and (label, run, rc) not in failures:
                    failures.append((label, run, rc))
print()
print("`fresh apply`: `fjord sync --no-wait` (dry run of every object, then the apply) against "
      "`kubectl apply --server-side`; `sync + wait`: `fjord sync`, which waits until what it applied "
      "is healthy, against kubectl apply followed by `kubectl wait --for=condition=Available`. On the "
      "real backend the rollout itself (kube-controller-manager's ReplicaSets and Pods, at its "
      "default 20 requests/s) bounds `sync + wait` for both tools.")
print("local: `fjord local-cluster` (on-disk data dir, simulation delay 0); real: kube-apiserver "
      "v1.34 + etcd + kube-controller-manager + kube-scheduler + kwok (scripts/control-plane.sh)")

if failures:
    print()
    for label, run, rc in failures:
        print(f"{label} run {run} exited {rc}; last lines of its output:")
        try:
            lines = open(f"{tmp}/{label}-{run}.out", errors="replace").read().splitlines()
        except OSError:
            lines = []
        for l in lines[-8:]:
            print(f"    {l}")
PY

{ echo "$stamp"; echo; cat "$tmp/table.txt"; } >bench/results/sync.txt
cat bench/results/sync.txt

if [[ "$have_sync" != 1 || "$have_diff" != 1 ]]; then
  echo
  echo "NOTE: this fjord binary lacks $( [[ $have_sync != 1 ]] && echo '`fjord sync`' )$( [[ $have_sync != 1 && $have_diff != 1 ]] && echo ' and ' )$( [[ $have_diff != 1 ]] && echo '`fjord diff`' ); only kubectl was measured for those rows."
  failed_fjord=1
fi
if awk -F'\t' '$1 ~ /-fjord-/ && $4 != 0 { bad = 1 } END { exit !bad }' "$results"; then
  failed_fjord=1
fi

if [[ "$check" == 1 && "$failed_fjord" == 1 ]]; then
  echo "bench/sync.sh --check: a fjord command is missing or failed" >&2
  exit 1
fi
exit 0
