#!/usr/bin/env bash
# fjord's whole test suite, from a fresh machine: installs what the tests need, then runs the
# format check, clippy and every test (unit, parity, end-to-end through the real binary).
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
[ -x /usr/bin/prometheus ] || packages+=(prometheus)           # scrapes the controller's /metrics
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

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Build artefacts live outside the checkout, so a fresh clone on a warm machine reuses them
# (CI clones anew every run). Set CARGO_TARGET_DIR to choose another place.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fjord/target}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked "$@"
# A short, bounded fuzz pass over every target and its kept regression inputs (README: Fuzzing).
./scripts/fuzz.sh "${FJORD_FUZZ_SECONDS:-20}"
