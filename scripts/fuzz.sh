#!/usr/bin/env bash
# Runs every cargo-fuzz target under fuzz/ for a bounded time over its seed corpus and kept
# regression inputs (fuzz/corpus/<target>/), and fails on any crash, leak, OOM or timeout.
#
#   scripts/fuzz.sh              # 20 s per target (the test suite's short pass)
#   scripts/fuzz.sh 3600         # one hour per target
#   scripts/fuzz.sh 600 yaml     # only the named targets
#
# Installs the pinned cargo-fuzz when missing. Needs a nightly toolchain; without one it uses
# the stable toolchain with RUSTC_BOOTSTRAP=1. Never skips: a missing tool is an error.
# Builds go to ~/.cache/fjord/fuzz-target (FJORD_FUZZ_CACHE overrides ~/.cache/fjord) so re-runs
# are quick; the corpus each run grows is kept in ~/.cache/fjord/fuzz-corpus/<target>.
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET=${1:-20}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${FJORD_FUZZ_CACHE:-$HOME/.cache/fjord}
target_dir=$cache/fuzz-target
grown=$cache/fuzz-corpus
artifacts=$cache/fuzz-artifacts

die() { echo "fuzz.sh: $*" >&2; exit 1; }
[[ $SECONDS_PER_TARGET =~ ^[1-9][0-9]*$ ]] || die "SECONDS_PER_TARGET must be a positive integer, not '$SECONDS_PER_TARGET'"
command -v cargo >/dev/null || die "cargo is not installed"

# The toolchain: nightly when rustup has it, else stable with RUSTC_BOOTSTRAP=1.
cargo_cmd=(cargo)
if command -v rustup >/dev/null && rustup run nightly rustc --version >/dev/null 2>&1; then
    cargo_cmd=(cargo +nightly)
else
    echo "fuzz.sh: no nightly toolchain; using $(rustc --version) with RUSTC_BOOTSTRAP=1" >&2
    export RUSTC_BOOTSTRAP=1
fi

# The pinned cargo-fuzz.
installed=$(cargo fuzz --version 2>/dev/null || true)
if [[ $installed != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    echo "fuzz.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION (found: ${installed:-none})" >&2
    cargo install cargo-fuzz --version "=$CARGO_FUZZ_VERSION" --locked --force \
        || die "cannot install cargo-fuzz $CARGO_FUZZ_VERSION"
fi

cd "$root"
# fuzz/Cargo.lock is committed: refuse to run with one that would need changing.
"${cargo_cmd[@]}" metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null \
    || die "fuzz/Cargo.lock is out of date with fuzz/Cargo.toml"

mapfile -t all_targets < <("${cargo_cmd[@]}" fuzz list)
((${#all_targets[@]} > 0)) || die "cargo fuzz list found no targets"
targets=("$@")
((${#targets[@]} > 0)) || targets=("${all_targets[@]}")

# -O: optimised; -a: debug assertions (integer overflow panics, as in `cargo test`).
build_flags=(-O -a --target-dir "$target_dir")
echo "fuzz.sh: building ${#all_targets[@]} targets into $target_dir" >&2
"${cargo_cmd[@]}" fuzz build "${build_flags[@]}" || die "cargo fuzz build failed"

max_len() {
    case $1 in
        repo_url) echo 1024 ;;
        seal | webhook) echo 16384 ;;
        *) echo 8192 ;;
    esac
}

# The kustomization target makes a render directory per process under TMPDIR.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fjord-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

failed=()
for t in "${targets[@]}"; do
    [[ -d fuzz/corpus/$t ]] || die "no seed corpus fuzz/corpus/$t for target '$t'"
    mkdir -p "$grown/$t" "$artifacts/$t"
    dict=()
    [[ -f fuzz/dict/$t.dict ]] && dict=(-dict="fuzz/dict/$t.dict")
    echo "fuzz.sh: $t for ${SECONDS_PER_TARGET}s" >&2
    log=$tmp/$t.log
    if TMPDIR=$tmp "${cargo_cmd[@]}" fuzz run "${build_flags[@]}" "$t" "$grown/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -timeout=10 -max_len="$(max_len "$t")" "${dict[@]}" \
        -artifact_prefix="$artifacts/$t/" -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tr '\n' ' ' >&2 || true
        echo >&2
    else
        tail -n 60 "$log" >&2
        crash=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n1 | cut -d' ' -f5 || true)
        echo "fuzz.sh: target '$t' FAILED; input: ${crash:-see the log above}" >&2
        [[ -n $crash ]] && echo "fuzz.sh: reproduce with: cargo +nightly fuzz run ${build_flags[*]} $t $crash" >&2
        failed+=("$t${crash:+ ($crash)}")
    fi
done

if ((${#failed[@]} > 0)); then
    printf 'fuzz.sh: crash in %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${SECONDS_PER_TARGET}s each, no crash" >&2
