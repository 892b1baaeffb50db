#!/usr/bin/env bash
# Regenerates the parity goldens: for every case under testdata/render/parity/<case>/, runs
# `kubectl kustomize <dir> <flags>` (the line in case.args) with the case dir as cwd and writes
# its stdout to expected.yaml. Reports NEW / CHANGED / FAILED cases.
#
# Usage: testdata/render/regen.sh [--check] [FILTER]
#   --check   do not write anything; exit 1 if any golden is stale, missing or kubectl fails
#   FILTER    only cases whose directory name contains this substring
#
# kubectl must be the one pinned for parity (kustomize v5.5.0). A case that kubectl cannot
# render is not a parity case: fix it or move it to testdata/render/errors/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
check=0
filter=""
for arg in "$@"; do
    case "$arg" in
        --check) check=1 ;;
        -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) filter=$arg ;;
    esac
done

command -v kubectl >/dev/null || { echo "regen.sh: kubectl not found on PATH" >&2; exit 2; }
version=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p')
if [[ "$version" != "v5.5.0" ]]; then
    echo "regen.sh: warning: kubectl bundles kustomize '${version:-unknown}', goldens are for v5.5.0" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

total=0 same=0 changed=0 new=0 failed=0
for dir in "$here"/parity/*/; do
    dir=${dir%/}
    name=$(basename "$dir")
    [[ -n "$filter" && "$name" != *"$filter"* ]] && continue
    total=$((total + 1))
    if [[ ! -f "$dir/case.args" ]]; then
        echo "FAILED  $name: no case.args"
        failed=$((failed + 1))
        continue
    fi
    read -r -a args < "$dir/case.args" || true
    if ! (cd "$dir" && kubectl kustomize "${args[@]}" >"$tmp/out" 2>"$tmp/err"); then
        echo "FAILED  $name: kubectl kustomize ${args[*]}"
        sed 's/^/        /' "$tmp/err" | head -n 5
        failed=$((failed + 1))
        continue
    fi
    if [[ ! -f "$dir/expected.yaml" ]]; then
        echo "NEW     $name"
        new=$((new + 1))
    elif cmp -s "$tmp/out" "$dir/expected.yaml"; then
        same=$((same + 1))
        continue
    else
        echo "CHANGED $name"
        diff -u "$dir/expected.yaml" "$tmp/out" | sed -n '3,20p' | sed 's/^/        /' || true
        changed=$((changed + 1))
    fi
    if [[ $check -eq 0 ]]; then
        cp "$tmp/out" "$dir/expected.yaml"
    fi
done

echo "regen: $total cases: $same unchanged, $changed changed, $new new, $failed failed$([[ $check -eq 1 ]] && echo ' (check only, nothing written)')"
if [[ $failed -gt 0 ]]; then
    exit 1
fi
if [[ $check -eq 1 && $((changed + new)) -gt 0 ]]; then
    exit 1
fi
