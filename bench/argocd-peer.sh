#!/usr/bin/env bash
# Argo CD as the benchmark peer: build it once, and start/stop its application controller, repo
# server and redis against a given kubeconfig (the real control plane of scripts/control-plane.sh).
# How it runs here is described in ../shared/reference/argocd-peer.md.
#
#   bench/argocd-peer.sh build                  # prints the binary's path (cached per commit)
#   bench/argocd-peer.sh start KUBECONFIG DIR   # CRDs, namespace argocd, config, default project,
#                                               # redis + repo server + controller; writes DIR/env
#   bench/argocd-peer.sh stop DIR               # stops what `start DIR` started
#
# Environment:
#   ARGOCD_SRC   bare git dir of argoproj/argo-cd (default /work/.mirror/argoproj+argo-cd/repo)
#   ARGOCD_REV   commit or ref to build (default HEAD of ARGOCD_SRC)
#   ARGOCD_BIN   use this argocd binary and skip the build
#
# The binary is cached in ${XDG_CACHE_HOME:-$HOME/.cache}/fjord/argocd/<commit>/argocd; the build
# log stays next to it and its tail is printed when the build fails. DIR/env holds the pids and
# ports (REDIS_PID, REPO_PID, CTRL_PID, REDIS_PORT, REPO_PORT, CTRL_METRICS_PORT).
set -euo pipefail

ARGOCD_SRC=${ARGOCD_SRC:-/work/.mirror/argoproj+argo-cd/repo}
ARGOCD_REV=${ARGOCD_REV:-HEAD}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/fjord/argocd

die() { echo "argocd-peer: $*" >&2; exit 1; }

commit() { git --git-dir="$ARGOCD_SRC" rev-parse "$ARGOCD_REV^{commit}"; }

# Extract the tree (without docs/, some of whose files may be absent) once per commit.
src_dir() {
  local c out
  c=$(commit) || die "cannot resolve $ARGOCD_REV in $ARGOCD_SRC"
  out=$CACHE/$c/src
  if [[ ! -f $out/.extracted ]]; then
    rm -rf "$out" && mkdir -p "$out"
    git --git-dir="$ARGOCD_SRC" archive "$c" -- . ':(exclude)docs' | tar -x -C "$out" \
      || die "extracting $c from $ARGOCD_SRC failed"
    touch "$out/.extracted"
  fi
  echo "$out"
}

build() {
  if [[ -n ${ARGOCD_BIN:-} ]]; then
    [[ -x $ARGOCD_BIN ]] || die "ARGOCD_BIN=$ARGOCD_BIN is not executable"
    echo "$ARGOCD_BIN"
    return
  fi
  local c dir src log
  c=$(commit) || die "cannot resolve $ARGOCD_REV in $ARGOCD_SRC"
  dir=$CACHE/$c
  if [[ -x $dir/argocd ]]; then echo "$dir/argocd"; return; fi
  src=$(src_dir)
  log=$dir/build.log
  echo "argocd-peer: building Argo CD $c (about 10 minutes on 2 cores; log $log)" >&2
  if ! (cd "$src" && CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags='-s -w' \
        -o "$dir/argocd.tmp" ./cmd) >"$log" 2>&1; then
    echo "argocd-peer: go build failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  mv "$dir/argocd.tmp" "$dir/argocd"
  echo "$dir/argocd"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL PID NAME LOG: poll URL until it answers, failing with the log's tail when the
# process dies or 60 s pass.
wait_http() {
  local url=$1 pid=$2 name=$3 log=$4
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "argocd-peer: $name exited; last lines of $log:" >&2; tail -n 30 "$log" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "argocd-peer: $name did not answer $url in 60 s; last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
}

# The objects argocd-server and the install manifests normally make.
install_objects() {
  local kc=$1 src=$2 dir=$3 k
  k=(kubectl --kubeconfig "$kc")
  "${k[@]}" create -f "$src/manifests/crds/application-crd.yaml" \
    -f "$src/manifests/crds/appproject-crd.yaml" >/dev/null
  # kubectl wait fails at once while a new CRD has no conditions yet: poll it.
  local n=0
  until "${k[@]}" wait --for=condition=Established --timeout=10s \
      crd/applications.argoproj.io crd/appprojects.argoproj.io >/dev/null 2>&1; do
    n=$((n + 1))
    [[ $n -lt 100 ]] || die "Argo CD's CRDs were not Established in time"
    sleep 0.2
  done
  "${k[@]}" create namespace argocd >/dev/null
  local f
  for f in argocd-cm argocd-cmd-params-cm argocd-rbac-cm argocd-secret; do
    "${k[@]}" -n argocd create -f "$src/manifests/base/config/$f.yaml" >/dev/null
  done
  "${k[@]}" -n argocd patch secret argocd-secret --type merge \
    -p "{\"stringData\":{\"server.secretkey\":\"$(head -c 24 /dev/urandom | base64)\"}}" >/dev/null
  cat >"$dir/default-project.yaml" <<'EOF'
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: default
  namespace: argocd
spec:
  sourceRepos: ["*"]
  destinations: [{server: "*", namespace: "*"}]
  clusterResourceWhitelist: [{group: "*", kind: "*"}]
EOF
  "${k[@]}" create -f "$dir/default-project.yaml" >/dev/null
}

start() {
  local kc=$1 dir=$2 bin src
  [[ -f $kc ]] || die "kubeconfig $kc does not exist"
  command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
  mkdir -p "$dir"/{bin,tmp,tls,ssh,gnupg}
  dir=$(cd "$dir" && pwd)
  bin=$(build)
  src=$(src_dir)
  ln -sf "$bin" "$dir/bin/argocd-application-controller"
  ln -sf "$bin" "$dir/bin/argocd-repo-server"
  cp "$src/hack/git-verify-wrapper.sh" "$src/hack/gpg-wrapper.sh" "$dir/bin/"
  install_objects "$kc" "$src" "$dir"

  local redis_port repo_port repo_metrics ctrl_metrics
  redis_port=$(free_port); repo_port=$(free_port); repo_metrics=$(free_port); ctrl_metrics=$(free_port)
  export PATH=$dir/bin:$PATH KUBECONFIG=$kc ARGOCD_FAKE_IN_CLUSTER=true ARGOCD_GPG_ENABLED=false \
    TMPDIR=$dir/tmp ARGOCD_TLS_DATA_PATH=$dir/tls ARGOCD_SSH_DATA_PATH=$dir/ssh \
    ARGOCD_GNUPGHOME=$dir/gnupg ARGOCD_ASK_PASS_SOCK=$dir/tmp/askpass.sock

  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    >"$dir/redis.log" 2>&1 &
  local redis_pid=$!
  echo "REDIS_PID=$redis_pid" >"$dir/env"
  echo "REDIS_PORT=$redis_port" >>"$dir/env"
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    kill -0 "$redis_pid" 2>/dev/null || { tail -n 20 "$dir/redis.log" >&2; die "redis exited"; }
    sleep 0.1
  done

  argocd-repo-server --disable-tls --client-ca-path '' --redis "127.0.0.1:$redis_port" \
    --address 127.0.0.1 --port "$repo_port" --metrics-address 127.0.0.1 \
    --metrics-port "$repo_metrics" --loglevel warn >"$dir/repo-server.log" 2>&1 &
  local repo_pid=$!
  echo "REPO_PID=$repo_pid" >>"$dir/env"
  echo "REPO_PORT=$repo_port" >>"$dir/env"
  wait_http "http://127.0.0.1:$repo_metrics/metrics" "$repo_pid" "repo server" "$dir/repo-server.log"

  argocd-application-controller --kubeconfig "$kc" --namespace argocd \
    --redis "127.0.0.1:$redis_port" --repo-server "127.0.0.1:$repo_port" --repo-server-plaintext \
    --commit-server "127.0.0.1:1" --metrics-port "$ctrl_metrics" --loglevel warn \
    >"$dir/controller.log" 2>&1 &
  local ctrl_pid=$!
  echo "CTRL_PID=$ctrl_pid" >>"$dir/env"
  echo "CTRL_METRICS_PORT=$ctrl_metrics" >>"$dir/env"
  wait_http "http://127.0.0.1:$ctrl_metrics/healthz" "$ctrl_pid" "application controller" \
    "$dir/controller.log"
  cat "$dir/env"
}

stop() {
  local dir=$1 v pid
  [[ -f $dir/env ]] || return 0
  for v in CTRL_PID REPO_PID REDIS_PID; do
    pid=$(sed -n "s/^$v=//p" "$dir/env")
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; fi
  done
  for v in CTRL_PID REPO_PID REDIS_PID; do
    pid=$(sed -n "s/^$v=//p" "$dir/env")
    [[ -n $pid ]] || continue
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$dir/env"
}

case ${1:-} in
  build) build ;;
  start) [[ $# -eq 3 ]] || die "usage: $0 start KUBECONFIG DIR"; start "$2" "$3" ;;
  stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 build | start KUBECONFIG DIR | stop DIR" ;;
esac
