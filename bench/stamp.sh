#!/usr/bin/env bash
# Prints the stamp every file in bench/results/ starts with: which code was measured, on what
# machine, against which tools. One `key: value` line each:
#
#   commit   the checkout's HEAD, `+dirty` when the work tree differs from it
#   date     UTC, when the stamp was taken
#   cpu      model name from /proc/cpuinfo, cores online, architecture
#   kernel   `uname -srv`
#   rustc    `rustc --version` (the compiler of the measured fjord, unless FJORD_BIN is set)
#
# then one line per TOOL argument:
#
#   fjord=BIN          `BIN --version`
#   kubectl            kubectl's client version and the kustomize built into it
#   kustomize          a standalone `kustomize version`, else kubectl's built-in one
#   argocd             the Argo CD bench/argocd-peer.sh builds (VERSION file and commit of
#                      ARGOCD_SRC at ARGOCD_REV), or "not built"
#   NAME=TEXT          printed as `NAME: TEXT` (versions only the caller knows, e.g. a server's)
#
#   bench/stamp.sh fjord=target/release/fjord kubectl
#
# Missing tools print `?`, never fail: a stamp must not stop a benchmark.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

stamp_commit() {
  local sha dirty=""
  sha=$(git -C "$root" rev-parse HEAD 2>/dev/null) || { echo "?"; return; }
  # --no-optional-locks: never take the index lock (a stamp must not disturb other git users).
  git --no-optional-locks -C "$root" diff --quiet HEAD -- 2>/dev/null || dirty="+dirty"
  if [[ -z "$dirty" ]] && [[ -n "$(git --no-optional-locks -C "$root" ls-files --others --exclude-standard 2>/dev/null | head -1)" ]]; then
    dirty="+untracked"
  fi
  echo "$sha$dirty"
}

stamp_cpu() {
  local model
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
  # Some architectures (arm64) name no model; their implementer/part lines are all there is.
  [[ -n "$model" ]] || model=$(sed -n 's/^\(CPU implementer\|CPU part\)[[:space:]]*: /\1 /p' \
    /proc/cpuinfo 2>/dev/null | sort -u | paste -sd ' ')
  echo "${model:-?}, $(nproc 2>/dev/null || echo '?') cores online, $(uname -m)"
}

kubectl_json() {
  kubectl version --client -o json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin).get('$1') or '?')" 2>/dev/null || echo '?'
}

tool_line() {
  case "$1" in
  fjord=*)
    local bin=${1#fjord=}
    echo "fjord: $("$bin" --version 2>/dev/null || echo "? ($bin)")"
    ;;
  kubectl)
    if command -v kubectl >/dev/null 2>&1; then
      local client
      client=$(kubectl version --client -o json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])' 2>/dev/null || echo '?')
      echo "kubectl: $client (kustomize $(kubectl_json kustomizeVersion))"
    else
      echo "kubectl: ? (not on PATH)"
    fi
    ;;
  kustomize)
    if command -v kustomize >/dev/null 2>&1; then
      echo "kustomize: $(kustomize version 2>/dev/null | head -1)"
    elif command -v kubectl >/dev/null 2>&1; then
      echo "kustomize: $(kubectl_json kustomizeVersion) (built into kubectl)"
    else
      echo "kustomize: ? (not on PATH)"
    fi
    ;;
  argocd)
    local src=${ARGOCD_SRC:-/work/.mirror/argoproj+argo-cd/repo} rev=${ARGOCD_REV:-HEAD} c v
    if c=$(git --git-dir="$src" rev-parse "$rev^{commit}" 2>/dev/null) &&
      [[ -x "${XDG_CACHE_HOME:-$HOME/.cache}/fjord/argocd/$c/argocd" ]]; then
      v=$(git --git-dir="$src" show "$c:VERSION" 2>/dev/null | head -1)
      echo "argocd: Argo CD ${v:-?} (${c:0:12})"
    else
      echo "argocd: not built (bench/argocd-peer.sh build)"
    fi
    ;;
  *=*) echo "${1%%=*}: ${1#*=}" ;;
  *) echo "$1: ?" ;;
  esac
}

echo "commit: $(stamp_commit)"
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu: $(stamp_cpu)"
echo "kernel: $(uname -srv)"
echo "rustc: $(rustc --version 2>/dev/null || echo '?')"
for tool in "$@"; do
  tool_line "$tool"
done
