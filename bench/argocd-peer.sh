#!/usr/bin/env bash
# Argo CD as the benchmark peer: build it once, and start/stop its application controller, repo
# server and redis against a given kubeconfig (the real control plane of scripts/control-plane.sh).
# How it runs here is described in ../shared/reference/argocd-peer.md.
#
#   bench/argocd-peer.sh build                  # prints the binary's path (cached per commit)
#   bench/argocd-peer.sh start KUBECONFIG DIR   # CRDs, namespace argocd, config, default project,
#                                               # redis + repo server + controller; writes DIR/env
#   bench/argocd-peer.sh start-server KUBECONFIG DIR
#                                               # argocd-server (API) on the objects already
#                                               # there; adds only what is missing (namespace,
#                                               # CRDs, config maps, argocd-secret, default
#                                               # project); reuses DIR's redis and repo server
#                                               # or starts its own; appends to DIR/env
#   bench/argocd-peer.sh stop DIR               # stops what `start`/`start-server DIR` started
#
# Environment:
#   ARGOCD_SRC   bare git dir of argoproj/argo-cd (default /work/.mirror/argoproj+argo-cd/repo)
#   ARGOCD_REV   commit or ref to build (default HEAD of ARGOCD_SRC)
#   ARGOCD_BIN   use this argocd binary and skip the build
#
# The binary is cached in ${XDG_CACHE_HOME:-$HOME/.cache}/fjord/argocd/<commit>/argocd; the build
# log stays next to it and its tail is printed when the build fails. DIR/env holds the pids and
# ports (REDIS_PID, REPO_PID, CTRL_PID, REDIS_PORT, REPO_PORT, CTRL_METRICS_PORT; start-server
# adds SERVER_PID, SERVER_PORT, SERVER_METRICS_PORT and SERVER_STARTED, the epoch second at which
# argocd-server was spawned, so that a caller can time its first answer).
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

# wait_http URL PID NAME LOG [SECONDS]: poll URL until it answers, failing with the log's tail
# when the process dies or SECONDS (default 60) pass.
wait_http() {
  local url=$1 pid=$2 name=$3 log=$4 secs=${5:-60}
  for _ in $(seq 1 $((secs * 10))); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "argocd-peer: $name exited; last lines of $log:" >&2; tail -n 30 "$log" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "argocd-peer: $name did not answer $url in $secs s; last lines of $log:" >&2
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

# peer_env DIR KUBECONFIG: the environment Argo CD's processes expect outside a cluster.
peer_env() {
  local dir=$1 kc=$2
  export PATH=$dir/bin:$PATH KUBECONFIG=$kc ARGOCD_FAKE_IN_CLUSTER=true ARGOCD_GPG_ENABLED=false \
    TMPDIR=$dir/tmp ARGOCD_TLS_DATA_PATH=$dir/tls ARGOCD_SSH_DATA_PATH=$dir/ssh \
    ARGOCD_GNUPGHOME=$dir/gnupg ARGOCD_ASK_PASS_SOCK=$dir/tmp/askpass.sock
}

# prepare DIR: DIR/bin with the role symlinks and the wrappers the repo server runs.
prepare() {
  local dir=$1 bin src
  mkdir -p "$dir"/{bin,tmp,tls,ssh,gnupg,static}
  bin=$(build)
  src=$(src_dir)
  ln -sf "$bin" "$dir/bin/argocd-application-controller"
  ln -sf "$bin" "$dir/bin/argocd-repo-server"
  ln -sf "$bin" "$dir/bin/argocd-server"
  cp "$src/hack/git-verify-wrapper.sh" "$src/hack/gpg-wrapper.sh" "$dir/bin/"
}

# env_get DIR NAME: the last value of NAME in DIR/env (empty when absent).
env_get() {
  [[ -f $1/env ]] || return 0
  sed -n "s/^$2=//p" "$1/env" | tail -n 1
}

start_redis() {
  local dir=$1 redis_port redis_pid
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    >"$dir/redis.log" 2>&1 &
  redis_pid=$!
  echo "REDIS_PID=$redis_pid" >>"$dir/env"
  echo "REDIS_PORT=$redis_port" >>"$dir/env"
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0
    kill -0 "$redis_pid" 2>/dev/null || { tail -n 20 "$dir/redis.log" >&2; die "redis exited"; }
    sleep 0.1
  done
  die "redis did not answer on port $redis_port in 10 s"
}

start_repo_server() {
  local dir=$1 repo_port repo_metrics repo_pid
  repo_port=$(free_port); repo_metrics=$(free_port)
  argocd-repo-server --disable-tls --client-ca-path '' \
    --redis "127.0.0.1:$(env_get "$dir" REDIS_PORT)" \
    --address 127.0.0.1 --port "$repo_port" --metrics-address 127.0.0.1 \
    --metrics-port "$repo_metrics" --loglevel warn >"$dir/repo-server.log" 2>&1 &
  repo_pid=$!
  echo "REPO_PID=$repo_pid" >>"$dir/env"
  echo "REPO_PORT=$repo_port" >>"$dir/env"
  wait_http "http://127.0.0.1:$repo_metrics/metrics" "$repo_pid" "repo server" \
    "$dir/repo-server.log"
}

start() {
  local kc=$1 dir=$2 src
  [[ -f $kc ]] || die "kubeconfig $kc does not exist"
  command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  prepare "$dir"
  src=$(src_dir)
  install_objects "$kc" "$src" "$dir"

  local ctrl_metrics ctrl_pid
  ctrl_metrics=$(free_port)
  peer_env "$dir" "$kc"
  : >"$dir/env"
  start_redis "$dir"
  start_repo_server "$dir"

  argocd-application-controller --kubeconfig "$kc" --namespace argocd \
    --redis "127.0.0.1:$(env_get "$dir" REDIS_PORT)" \
    --repo-server "127.0.0.1:$(env_get "$dir" REPO_PORT)" --repo-server-plaintext \
    --commit-server "127.0.0.1:1" --metrics-port "$ctrl_metrics" --loglevel warn \
    >"$dir/controller.log" 2>&1 &
  ctrl_pid=$!
  echo "CTRL_PID=$ctrl_pid" >>"$dir/env"
  echo "CTRL_METRICS_PORT=$ctrl_metrics" >>"$dir/env"
  wait_http "http://127.0.0.1:$ctrl_metrics/healthz" "$ctrl_pid" "application controller" \
    "$dir/controller.log"
  cat "$dir/env"
}

# ensure_objects KUBECONFIG SRC DIR: what argocd-server needs, each created only when absent, so
# that it serves what another tool made already (fjord's CRDs, fjord server's argocd-secret).
ensure_objects() {
  local kc=$1 src=$2 dir=$3 k f crd
  k=(kubectl --kubeconfig "$kc")
  for crd in application appproject; do
    "${k[@]}" get crd "${crd}s.argoproj.io" >/dev/null 2>&1 \
      || "${k[@]}" create -f "$src/manifests/crds/$crd-crd.yaml" >/dev/null
  done
  local n=0
  until "${k[@]}" wait --for=condition=Established --timeout=10s \
      crd/applications.argoproj.io crd/appprojects.argoproj.io >/dev/null 2>&1; do
    n=$((n + 1))
    [[ $n -lt 100 ]] || die "the Application and AppProject CRDs were not Established in time"
    sleep 0.2
  done
  "${k[@]}" get namespace argocd >/dev/null 2>&1 || "${k[@]}" create namespace argocd >/dev/null
  for f in argocd-cm argocd-cmd-params-cm argocd-rbac-cm; do
    "${k[@]}" -n argocd get configmap "$f" >/dev/null 2>&1 \
      || "${k[@]}" -n argocd create -f "$src/manifests/base/config/$f.yaml" >/dev/null
  done
  # Without a server.secretkey argocd-server generates one itself on its first start.
  "${k[@]}" -n argocd get secret argocd-secret >/dev/null 2>&1 \
    || "${k[@]}" -n argocd create -f "$src/manifests/base/config/argocd-secret.yaml" >/dev/null
  # argocd-server reads its Secret and ConfigMaps through informers filtered on this label.
  "${k[@]}" -n argocd label --overwrite secret argocd-secret app.kubernetes.io/part-of=argocd \
    >/dev/null
  if ! "${k[@]}" -n argocd get appproject default >/dev/null 2>&1; then
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
  fi
}

# start_server KUBECONFIG DIR: argocd-server over plain HTTP on 127.0.0.1 with authentication on
# (the admin password hash in argocd-secret; when there is none, argocd-server makes one and
# writes argocd-initial-admin-secret). Dex is not run.
start_server() {
  local kc=$1 dir=$2 src port metrics pid
  [[ -f $kc ]] || die "kubeconfig $kc does not exist"
  command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ -z $(env_get "$dir" SERVER_PID) ]] || die "$dir/env already lists an argocd-server"
  prepare "$dir"
  src=$(src_dir)
  ensure_objects "$kc" "$src" "$dir"
  [[ -f $dir/static/index.html ]] \
    || echo '<!doctype html><title>Argo CD</title>' >"$dir/static/index.html"
  peer_env "$dir" "$kc"
  touch "$dir/env"
  [[ -n $(env_get "$dir" REDIS_PORT) ]] || start_redis "$dir"
  [[ -n $(env_get "$dir" REPO_PORT) ]] || start_repo_server "$dir"

  port=$(free_port); metrics=$(free_port)
  echo "SERVER_STARTED=$(date +%s.%N)" >>"$dir/env"
  argocd-server --kubeconfig "$kc" --namespace argocd --insecure \
    --address 127.0.0.1 --port "$port" --metrics-address 127.0.0.1 --metrics-port "$metrics" \
    --redis "127.0.0.1:$(env_get "$dir" REDIS_PORT)" \
    --repo-server "127.0.0.1:$(env_get "$dir" REPO_PORT)" --repo-server-plaintext \
    --staticassets "$dir/static" --loglevel warn >"$dir/server.log" 2>&1 &
  pid=$!
  echo "SERVER_PID=$pid" >>"$dir/env"
  echo "SERVER_PORT=$port" >>"$dir/env"
  echo "SERVER_METRICS_PORT=$metrics" >>"$dir/env"
  # /healthz answers once its Application and AppProject informers have listed everything.
  wait_http "http://127.0.0.1:$port/healthz" "$pid" "argocd-server" "$dir/server.log" 300
  cat "$dir/env"
}

stop() {
  local dir=$1 v pid
  [[ -f $dir/env ]] || return 0
  for v in SERVER_PID CTRL_PID REPO_PID REDIS_PID; do
    pid=$(sed -n "s/^$v=//p" "$dir/env")
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; fi
  done
  for v in SERVER_PID CTRL_PID REPO_PID REDIS_PID; do
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
  start-server)
    [[ $# -eq 3 ]] || die "usage: $0 start-server KUBECONFIG DIR"; start_server "$2" "$3" ;;
  stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 build | start KUBECONFIG DIR | start-server KUBECONFIG DIR | stop DIR" ;;
esac
