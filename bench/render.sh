#!/usr/bin/env bash
# Render benchmark: `fjord render` against `kubectl kustomize` on the same large generated tree.
#
# Usage: bench/render.sh [--check] [--runs N] [--apps N] [--keep]
#   --check    exit 1 when the two outputs differ (default: report only, always exit 0)
#   --runs N   timed runs per tool (default 3; the median is reported)
#   --apps N   apps in the generated tree, 9 objects each (default 250, about 2,250 objects)
#   --keep     keep the temporary directory (tree and outputs) and print its path
#
# FJORD_BIN=/path/to/fjord skips the build and times that binary instead.
# Builds fjord with `cargo build --release`, generates the tree with bench/gen_tree.py in a
# temporary directory, then times both tools on the top overlay (region/eu-west). Wall time is
# the median over the runs; peak RSS is the median of each run's maximum resident set size
# reported by /usr/bin/time (GNU time; installed with apt-get when missing). The outputs of the
# last runs are compared byte for byte with cmp. The report goes to stdout and, after the stamp of
# bench/stamp.sh, to bench/results/render.txt.
set -euo pipefail

check=0 runs=3 apps=250 keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --check) check=1 ;;
        --runs) runs=${2:?--runs needs a number}; shift ;;
        --apps) apps=${2:?--apps needs a number}; shift ;;
        --keep) keep=1 ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "render.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "render.sh: --runs must be a positive integer" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

command -v kubectl >/dev/null || { echo "render.sh: kubectl not found on PATH" >&2; exit 2; }
command -v python3 >/dev/null || { echo "render.sh: python3 not found on PATH" >&2; exit 2; }
if [[ ! -x /usr/bin/time ]]; then
    echo "render.sh: /usr/bin/time missing, installing the Debian 'time' package" >&2
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get install -y time >&2
fi

if [[ -n "${FJORD_BIN:-}" ]]; then
    fjord=$FJORD_BIN
    echo "using FJORD_BIN=$fjord (no build)" >&2
else
    echo "building fjord (cargo build --release)..." >&2
    (cd "$root" && cargo build --release --bin fjord >&2)
    fjord=${CARGO_TARGET_DIR:-$root/target}/release/fjord
fi
[[ -x "$fjord" ]] || { echo "render.sh: $fjord not found after build" >&2; exit 2; }

tmp=$(mktemp -d)
if [[ $keep -eq 1 ]]; then
    trap 'echo "kept $tmp" >&2' EXIT
else
    trap 'rm -rf "$tmp"' EXIT
fi
echo "generating tree ($apps apps)..." >&2
top=$(python3 "$root/bench/gen_tree.py" "$tmp/tree" --apps "$apps")

# time_runs NAME CMD...: runs CMD $runs times with stdout to $tmp/NAME.out; appends one
# "seconds kilobytes status" line per run to $tmp/NAME.runs.
time_runs() {
    local name=$1; shift
    : > "$tmp/$name.runs"
    for ((i = 1; i <= runs; i++)); do
        local start end status=0
        start=$(date +%s%N)
        /usr/bin/time -f '%M' -o "$tmp/$name.rss" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || status=$?
        end=$(date +%s%N)
        # GNU time prefixes the line with "Command exited with non-zero status N" on failure.
        local rss
        rss=$(tail -n 1 "$tmp/$name.rss")
        echo "$(( (end - start) / 1000000 )) $rss $status" >> "$tmp/$name.runs"
        echo "  $name run $i: $(( (end - start) / 1000000 )) ms, ${rss} KB, exit $status" >&2
    done
}

# median FILE COLUMN: the median of a numeric column.
median() {
    sort -n -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END {
        if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

echo "timing fjord render ($runs runs)..." >&2
time_runs fjord "$fjord" render "$top"
echo "timing kubectl kustomize ($runs runs)..." >&2
time_runs kubectl kubectl kustomize "$top"

fjord_ms=$(median "$tmp/fjord.runs" 1)
kubectl_ms=$(median "$tmp/kubectl.runs" 1)
fjord_kb=$(median "$tmp/fjord.runs" 2)
kubectl_kb=$(median "$tmp/kubectl.runs" 2)
fjord_failed=$(awk '$3 != 0' "$tmp/fjord.runs" | wc -l)
kubectl_failed=$(awk '$3 != 0' "$tmp/kubectl.runs" | wc -l)

objects() {
    if [[ -s "$1" ]]; then
        echo $(( $(grep -c '^---$' "$1" || true) + 1 ))
    else
        echo 0
    fi
}

if [[ $fjord_failed -eq 0 && $kubectl_failed -eq 0 ]] && cmp -s "$tmp/fjord.out" "$tmp/kubectl.out"; then
    verdict=IDENTICAL
else
    verdict=DIFFERENT
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }

# The report: bench/stamp.sh's stamp (commit, CPU, kernel, rustc, kubectl and its kustomize),
# then the table; printed and written to bench/results/render.txt.
report() {
    "$root/bench/stamp.sh" "fjord=$fjord" kubectl
    printf '\nrender benchmark: %s apps, top overlay region/eu-west, %s runs each (median)\n\n' "$apps" "$runs"
    printf '%-22s %14s %14s %12s\n' "" "fjord" "kubectl" "kubectl/fjord"
    printf '%-22s %11s ms %11s ms %12s\n' "wall time" "$fjord_ms" "$kubectl_ms" "$(ratio "$kubectl_ms" "$fjord_ms")"
    printf '%-22s %11s KB %11s KB %12s\n' "peak RSS" "$fjord_kb" "$kubectl_kb" "$(ratio "$kubectl_kb" "$fjord_kb")"
    printf '%-22s %14s %14s\n' "objects" "$(objects "$tmp/fjord.out")" "$(objects "$tmp/kubectl.out")"
    printf '%-22s %14s %14s\n' "failed runs" "$fjord_failed" "$kubectl_failed"
    printf '\noutputs: %s\n' "$verdict"
    if [[ $verdict == DIFFERENT ]]; then
        if [[ $fjord_failed -ne 0 ]]; then
            echo "fjord stderr (last run):"
            head -n 10 "$tmp/fjord.err" | sed 's/^/  | /'
        fi
        if [[ -s "$tmp/fjord.out" && -s "$tmp/kubectl.out" ]]; then
            echo "first differences (- kubectl, + fjord):"
            diff -u "$tmp/kubectl.out" "$tmp/fjord.out" | sed -n '3,22p' | sed 's/^/  /' || true
        fi
    fi
}
mkdir -p "$root/bench/results"
report | tee "$root/bench/results/render.txt"
if [[ $verdict == DIFFERENT && $check -eq 1 ]]; then
    exit 1
fi
exit 0
