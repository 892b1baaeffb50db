#!/usr/bin/env bash
# A real Kubernetes control plane for fjord's tests, built from Go modules (issue 11):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake kubelets),
# on loopback, on ports picked at start.
#
#   scripts/control-plane.sh build        build the five binaries once (cached, see below);
#                                         prints the bin folder
#   scripts/control-plane.sh start DIR    build if needed, then start everything in DIR and wait
#                                         until it is ready; writes DIR/kubeconfig (admin),
#                                         DIR/env, DIR/pids and DIR/logs/*.log
#   scripts/control-plane.sh stop DIR     stop what `start DIR` started
#   scripts/control-plane.sh env DIR      print shell exports for the running control plane
#
# FJORD_CP_APISERVER_ARGS adds flags to kube-apiserver (feature gates, admission plugins).
#
# The Go wrapper modules are under testkit/control-plane/{kube,etcd,kwok}. Binaries go to
# ${XDG_CACHE_HOME:-$HOME/.cache}/fjord/control-plane/<hash>/bin, where <hash> covers those
# modules' go.mod/go.sum, the build flags below and the Go version; a complete folder is reused.
# GOCACHE and GOMODCACHE stay at Go's defaults, so a rebuild after a change only relinks.
# Any failure prints the log tail of the failing step or component and exits non-zero.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODS="$ROOT/testkit/control-plane"

# ---- build flags (part of the cache hash) -------------------------------------------------
KUBE_VERSION=v1.34.2
KUBE_MINOR=34
# The release's tag time (module proxy .info), so that the binaries are reproducible.
KUBE_BUILD_DATE=2025-11-11T19:00:37Z
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
KWOK_STAGES="node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete"
# As kubernetes' hack/lib/golang.sh: static, trimmed, stripped, tags selinux,notest.
GO_BUILD_FLAGS="-mod=readonly -trimpath -buildvcs=false -tags=selinux,notest"
kube_ldflags() {
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$KUBE_MINOR"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$KUBE_BUILD_DATE"
  done
  printf '%s' "$ld"
}
ETCD_LDFLAGS="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"
KWOK_LDFLAGS="-s -w"
BINARIES="etcd kube-apiserver kube-controller-manager kube-scheduler kwok"

die() { echo "control-plane: $*" >&2; exit 1; }

cache_root() { echo "${XDG_CACHE_HOME:-$HOME/.cache}/fjord/control-plane"; }

build_hash() {
  command -v go >/dev/null 2>&1 || die "go is not installed (needed to build the control plane)"
  {
    local m
    for m in kube etcd kwok; do
      echo "== $m"; cat "$MODS/$m/go.mod" "$MODS/$m/go.sum"
    done
    echo "== flags"
    echo "$GO_BUILD_FLAGS | $(kube_ldflags) | $ETCD_LDFLAGS | $KWOK_LDFLAGS | $KWOK_STAGES"
    echo "== go"; go env GOVERSION GOOS GOARCH
  } | sha256sum | cut -c1-16
}

# Prints the folder holding bin/ and kwok-stages.yaml of the current build.
build_dir() { echo "$(cache_root)/$(build_hash)"; }

build_complete() {
  local out="$1" b
  [ -f "$out/complete" ] && [ -f "$out/kwok-stages.yaml" ] || return 1
  for b in $BINARIES; do [ -x "$out/bin/$b" ] || return 1; done
}

cmd_build() {
  local out; out="$(build_dir)"
  if build_complete "$out"; then echo "$out/bin"; return 0; fi
  mkdir -p "$out"
  # One builder at a time per hash (parallel test processes may all call build).
  exec 9>"$out.lock"
  flock 9
  if build_complete "$out"; then echo "$out/bin"; return 0; fi
  local tmp="$out/bin.tmp.$$" log="$out/build.log" t0=$SECONDS
  rm -rf "$tmp"; mkdir -p "$tmp"; : >"$log"
  echo "control-plane: building $BINARIES into $out (log: $log)" >&2
  step() { # step NAME MODULE-DIR ARGS...: runs `go ARGS` in the module, logging; fails loudly
    local name="$1" dir="$2"; shift 2
    echo "== $name: go $*" >>"$log"
    local s=$SECONDS
    if ! (cd "$dir" && CGO_ENABLED=0 go "$@") >>"$log" 2>&1; then
      echo "control-plane: building $name failed; last lines of $log:" >&2
      tail -n 40 "$log" >&2
      rm -rf "$tmp"
      exit 1
    fi
    echo "control-plane: built $name in $((SECONDS - s))s" >&2
  }
  # shellcheck disable=SC2086
  step etcd "$MODS/etcd" build $GO_BUILD_FLAGS -ldflags "$ETCD_LDFLAGS" -o "$tmp/etcd" .
  # shellcheck disable=SC2086
  step kwok "$MODS/kwok" build $GO_BUILD_FLAGS -ldflags "$KWOK_LDFLAGS" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
  # shellcheck disable=SC2086
  step kube "$MODS/kube" build $GO_BUILD_FLAGS -ldflags "$(kube_ldflags)" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
  # kwok v0.8.0 has no built-in stages: take the fast ones from the module's kustomize/stage/.
  local kw s
  kw="$(cd "$MODS/kwok" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" 2>>"$log" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || kw=""
  if [ -z "$kw" ] || [ ! -d "$kw/kustomize/stage" ]; then
    tail -n 20 "$log" >&2; rm -rf "$tmp"; die "kwok's module folder (stage files) not found"
  fi
  : >"$tmp/kwok-stages.yaml"
  for s in $KWOK_STAGES; do
    [ -f "$kw/kustomize/stage/$s.yaml" ] || die "kwok stage $s.yaml missing in $kw"
    { cat "$kw/kustomize/stage/$s.yaml"; echo "---"; } >>"$tmp/kwok-stages.yaml"
  done
  rm -rf "${out:?}/bin"
  mv "$tmp/kwok-stages.yaml" "$out/kwok-stages.yaml"
  mv "$tmp" "$out/bin"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$out/complete"
  echo "control-plane: build complete in $((SECONDS - t0))s" >&2
  echo "$out/bin"
}

# ---- start/stop -----------------------------------------------------------------------------

# free_ports N: N distinct currently free loopback TCP ports, one per line.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
EOF
}

# A minimal openssl config per certificate, so the system's openssl.cnf does not matter.
make_cert() { # make_cert NAME SUBJECT EXTENSIONS...: NAME.key/NAME.crt signed by ca
  local name="$1" subj="$2"; shift 2
  {
    printf '[req]\ndistinguished_name=dn\n[dn]\n[ext]\n'
    printf '%s\n' "$@"
  } >"$name.cnf"
  openssl req -new -newkey rsa:2048 -nodes -subj "$subj" -keyout "$name.key" -out "$name.csr" \
    -config "$name.cnf" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
    -extfile "$name.cnf" -extensions ext -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.cnf"
}

make_pki() { # in DIR/pki
  mkdir -p "$1" || die "cannot create $1"
  (
    cd "$1"
    printf '[req]\ndistinguished_name=dn\nx509_extensions=ext\n[dn]\n[ext]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n' >ca.cnf
    openssl req -x509 -new -newkey rsa:2048 -nodes -days 7 -subj /CN=fjord-test-ca \
      -keyout ca.key -out ca.crt -config ca.cnf 2>/dev/null
    rm -f ca.cnf
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    local client=("basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=clientAuth")
    make_cert apiserver /CN=kube-apiserver basicConstraints=critical,CA:FALSE \
      keyUsage=critical,digitalSignature,keyEncipherment extendedKeyUsage=serverAuth \
      "subjectAltName=IP:127.0.0.1,IP:::1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    make_cert admin "/O=system:masters/CN=fjord-test-admin" "${client[@]}"
    make_cert controller-manager /CN=system:kube-controller-manager "${client[@]}"
    make_cert scheduler /CN=system:kube-scheduler "${client[@]}"
    # The aggregator's client identity; KCM and the scheduler read its CA from the API server's
    # extension-apiserver-authentication ConfigMap (without it they log errors at start).
    make_cert front-proxy-client /CN=front-proxy-client "${client[@]}"
  ) || true # errexit does not apply inside `( ) ||`: check what it made instead
  local f
  for f in ca.crt ca.key sa.key sa.pub apiserver.crt admin.crt controller-manager.crt \
           scheduler.crt front-proxy-client.crt front-proxy-client.key; do
    [ -s "$1/$f" ] || die "making certificates in $1 failed ($f missing; is openssl working?)"
  done
}

# cached_pki DEST: copies a PKI made at most two days ago (certificates last seven) from the cache
# into DEST, making a new one when there is none; saves ~2 s of openssl per start.
cached_pki() {
  local c; c="$(cache_root)/pki"
  mkdir -p "$(cache_root)"
  (
    flock 8
    if [ ! -f "$c/complete" ] || [ -n "$(find "$c/complete" -mmin +2880 2>/dev/null)" ]; then
      rm -rf "$c.tmp"
      make_pki "$c.tmp"
      touch "$c.tmp/complete"
      rm -rf "$c"
      mv "$c.tmp" "$c"
    fi
  ) 8>"$(cache_root)/pki.lock" || die "making the cached certificates in $c failed"
  cp -r "$c" "$1" || die "copying certificates into $1 failed"
}

# fjord_stages FILE: kwok's stages from the build, its pod-ready and pod-complete made to leave
# Pods annotated fjord.dev/simulate alone, then fjord's own stages for those
# (testkit/control-plane/kwok/fjord-stages.yaml).
fjord_stages() {
  awk '
    /^---/ { mark = 0 }
    /^  name: pod-(ready|complete)$/ { mark = 1 }
    { print }
    mark && /^    matchExpressions:$/ {
      print "    - key: '"'"'.metadata.annotations[\"fjord.dev/simulate\"]'"'"'"
      print "      operator: '"'"'DoesNotExist'"'"'"
    }' "$1"
  echo "---"
  cat "$MODS/kwok/fjord-stages.yaml"
}

write_kubeconfig() { # write_kubeconfig FILE PKI USER SERVER
  local b64="base64 -w0"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: fjord-test
  cluster:
    server: $4
    certificate-authority-data: $($b64 <"$2/ca.crt")
users:
- name: $3
  user:
    client-certificate-data: $($b64 <"$2/$3.crt")
    client-key-data: $($b64 <"$2/$3.key")
contexts:
- name: fjord-test
  context:
    cluster: fjord-test
    user: $3
    namespace: default
current-context: fjord-test
EOF
  chmod 600 "$1"
}

log_tail() { # log_tail COMPONENT
  echo "---- last lines of $DIR/logs/$1.log ----" >&2
  tail -n 30 "$DIR/logs/$1.log" >&2 2>/dev/null || true
  echo "----" >&2
}

launch() { # launch NAME BINARY ARGS...: starts in its own session, records NAME PID
  local name="$1" bin="$2"; shift 2
  setsid "$BIN/$bin" "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$DIR/pids"
}

pid_of() { awk -v n="$1" '$1==n {print $2}' "$DIR/pids"; }

# curl as the admin against the API server
api() { curl -sS --max-time 5 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" "$@"; }

FAILED=""
# wait_for NAME TIMEOUT-S CMD...: polls CMD until it succeeds; fails if NAME's process dies.
# NAME "-" means no single process to watch (all are checked).
wait_for() {
  local name="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout)) n p
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    while read -r n p; do
      if ! kill -0 "$p" 2>/dev/null; then FAILED="$n"; echo "control-plane: $n exited" >&2; return 1; fi
    done <"$DIR/pids"
    if [ $SECONDS -ge $deadline ]; then
      FAILED="$name"; echo "control-plane: timed out after ${timeout}s waiting for $name: $*" >&2
      return 1
    fi
    sleep 0.2
  done
}

node_ready() { # the Node's Ready condition is True (the API server pretty-prints for curl)
  api -f "https://127.0.0.1:$API_PORT/api/v1/nodes/$1" | tr -d ' \t\n' | grep '"type":"Ready","status":"True"' >/dev/null
}

# ours PID: the process is still one this DIR started (every component names DIR in its
# arguments), so a recycled PID is never signalled.
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' '\n' <"/proc/$1/cmdline" | grep -F "$DIR/" >/dev/null; }

stop_pids() {
  [ -f "$DIR/pids" ] || return 0
  local n p pids=() i
  # reverse start order
  while read -r n p; do ours "$p" && pids=("$p" "${pids[@]}"); done <"$DIR/pids"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.2
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -f "$DIR/pids"
}

start_once() { # one attempt on fresh ports; returns 1 on failure (FAILED names the component)
  local ports
  mapfile -t ports < <(free_ports 6)
  ETCD_PORT=${ports[0]} ETCD_PEER_PORT=${ports[1]} API_PORT=${ports[2]}
  KCM_PORT=${ports[3]} SCHED_PORT=${ports[4]} KWOK_PORT=${ports[5]}
  local api_url="https://127.0.0.1:$API_PORT" pki="$DIR/pki" k
  rm -rf "$DIR/etcd" "$DIR/logs" "$DIR/pids"; mkdir -p "$DIR/logs"; : >"$DIR/pids"
  for k in admin controller-manager scheduler; do
    write_kubeconfig "$DIR/$k.kubeconfig" "$pki" "$k" "$api_url"
  done
  cp "$DIR/admin.kubeconfig" "$DIR/kubeconfig"

  launch etcd etcd --name=node0 --data-dir="$DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="node0=http://127.0.0.1:$ETCD_PEER_PORT" \
    --auto-compaction-retention=1 --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) \
    --unsafe-no-fsync --log-level=warn
  wait_for etcd 30 curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" || return 1

  launch kube-apiserver kube-apiserver \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --secure-port="$API_PORT" --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --requestheader-client-ca-file="$pki/ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$pki/front-proxy-client.crt" --proxy-client-key-file="$pki/front-proxy-client.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 \
    --authorization-mode=Node,RBAC --allow-privileged=true \
    --cert-dir="$DIR/certs-apiserver" ${FJORD_CP_APISERVER_ARGS:-}
  wait_for kube-apiserver 90 api -f "$api_url/readyz" || return 1
  T_READYZ=$SECONDS

  launch kube-controller-manager kube-controller-manager \
    --kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$DIR/certs-kcm" \
    --leader-elect=false --use-service-account-credentials=true \
    --root-ca-file="$pki/ca.crt" --service-account-private-key-file="$pki/sa.key" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --controllers='*' --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics
  launch kube-scheduler kube-scheduler \
    --kubeconfig="$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig="$DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --cert-dir="$DIR/certs-scheduler" \
    --leader-elect=false --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics
  # kwok plays the kubelets of the Nodes annotated kwok.x-k8s.io/node=fake; their kubelet
  # endpoint is kwok's own server on loopback.
  launch kwok kwok --kubeconfig="$DIR/admin.kubeconfig" --config="$DIR/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=127.0.0.1 --node-port="$KWOK_PORT" --cidr=10.244.0.0/16 \
    --node-lease-duration-seconds=40 --server-address="127.0.0.1:$KWOK_PORT"

  local i
  for i in 0 1; do
    api -f -X POST -H 'Content-Type: application/json' "$api_url/api/v1/nodes" -d @- >/dev/null <<EOF || { FAILED=kube-apiserver; echo "control-plane: creating node kwok-node-$i failed" >&2; return 1; }
{"apiVersion":"v1","kind":"Node","metadata":{"name":"kwok-node-$i",
 "annotations":{"node.alpha.kubernetes.io/ttl":"0","kwok.x-k8s.io/node":"fake"},
 "labels":{"kubernetes.io/hostname":"kwok-node-$i","kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","type":"kwok"}},
 "status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110"},"capacity":{"cpu":"32","memory":"256Gi","pods":"110"}}}
EOF
  done

  wait_for kube-controller-manager 60 curl -skf --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz" || return 1
  wait_for kube-scheduler 60 curl -skf --max-time 2 "https://127.0.0.1:$SCHED_PORT/readyz" || return 1
  wait_for kwok 60 node_ready kwok-node-0 || return 1
  wait_for kwok 60 node_ready kwok-node-1 || return 1
  # Pods are refused until the serviceaccount controller made the namespace's `default` SA.
  wait_for kube-controller-manager 60 api -f "$api_url/api/v1/namespaces/default/serviceaccounts/default" || return 1
}

cmd_start() {
  local t0=$SECONDS attempt
  mkdir -p "$DIR"; DIR="$(cd "$DIR" && pwd)"
  if [ -f "$DIR/pids" ]; then
    local n p
    while read -r n p; do
      ours "$p" && die "$n is still running from $DIR (scripts/control-plane.sh stop $DIR)"
    done <"$DIR/pids"
    rm -f "$DIR/pids" # left by a run that died
  fi
  BIN="$(cmd_build)"; STAGES="$(dirname "$BIN")/kwok-stages.yaml"
  local tb=$SECONDS
  command -v openssl >/dev/null || die "openssl is needed"
  command -v curl >/dev/null || die "curl is needed"
  command -v python3 >/dev/null || die "python3 is needed (free ports)"
  cached_pki "$DIR/pki"
  fjord_stages "$STAGES" >"$DIR/kwok-stages.yaml" || die "writing $DIR/kwok-stages.yaml failed"
  local tp=$SECONDS
  # Interrupted half-way: leave nothing running.
  trap 'stop_pids; exit 130' INT TERM
  for attempt in 1 2 3; do
    FAILED=""
    if start_once; then
      cat >"$DIR/env" <<EOF
export KUBECONFIG=$DIR/kubeconfig
export FJORD_CP_API=https://127.0.0.1:$API_PORT
export FJORD_CP_ETCD=http://127.0.0.1:$ETCD_PORT
export FJORD_CP_KWOK=127.0.0.1:$KWOK_PORT
EOF
      trap - INT TERM
      echo "control-plane: ready at https://127.0.0.1:$API_PORT in $((SECONDS - tb))s (build check $((tb - t0))s, certificates $((tp - tb))s, /readyz after $((T_READYZ - tp))s, nodes Ready after $((SECONDS - tp))s); kubeconfig $DIR/kubeconfig" >&2
      return 0
    fi
    local n=${FAILED:-unknown}
    # A port picked free may be taken before the component binds it: retry on fresh ports.
    if grep -qs 'address already in use' "$DIR"/logs/*.log && [ $attempt -lt 3 ]; then
      echo "control-plane: a port was taken (attempt $attempt); retrying on fresh ports" >&2
      stop_pids
      continue
    fi
    echo "control-plane: start failed in $n" >&2
    [ -f "$DIR/logs/$n.log" ] && log_tail "$n"
    stop_pids
    exit 1
  done
}

cmd_stop() {
  [ -f "$DIR/pids" ] || { echo "control-plane: nothing running in $DIR" >&2; return 0; }
  stop_pids
  rm -f "$DIR/env"
  echo "control-plane: stopped" >&2
}

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

case "${1:-}" in
  build) cmd_build ;;
  start) [ $# -eq 2 ] || usage; DIR="$2"; cmd_start ;;
  stop) [ $# -eq 2 ] || usage; DIR="$(cd "$2" 2>/dev/null && pwd)" || die "no such folder: $2"; cmd_stop ;;
  env) [ $# -eq 2 ] || usage; DIR="$(cd "$2" 2>/dev/null && pwd)" || die "no such folder: $2"
    [ -f "$DIR/env" ] || die "$DIR/env missing: not started"; cat "$DIR/env" ;;
  *) usage ;;
esac
