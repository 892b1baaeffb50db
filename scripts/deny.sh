#!/usr/bin/env bash
# `cargo deny check` against deny.toml: licenses, duplicate versions (bans), sources, and the
# RustSec advisories. Installs cargo-deny (pinned, from crates.io) into a cache the first time:
# ~10 minutes on 2 cores, then instant.
#
# bans, licenses and sources need nothing from the network (the crates are already in cargo's
# cache once the workspace has been built) and always run, offline and --locked.
#
# advisories need the RustSec database, a git clone of github.com/RustSec/advisory-db kept under
# $CARGO_HOME/advisory-dbs. The script fetches it; when that fails (no network) it checks against
# an earlier fetch's copy, or else against the committed snapshot (see below). The check always
# runs.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
tools="${FJORD_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fjord/tools}"
deny="$tools/bin/cargo-deny"
if ! [ -x "$deny" ] || [ "$("$deny" --version 2>/dev/null)" != "cargo-deny $version" ]; then
  echo "installing cargo-deny $version into $tools (once)"
  # Without CARGO_TARGET_DIR, cargo install builds in a temporary directory it removes after.
  env -u CARGO_TARGET_DIR nice -n 19 \
    cargo install --quiet --locked --root "$tools" --version "$version" cargo-deny
fi

# cargo-deny reads the metadata of every locked crate, those of other platforms too (windows-sys,
# android_system_properties), which a Linux build never downloads: fetch them first. Without
# network a warm cargo cache still has them; a cold one makes the check below name what is
# missing.
cargo fetch --locked --quiet || echo "cargo fetch failed: checking against cargo's cache" >&2

# bans, licenses, sources: no network.
"$deny" --offline --locked check bans licenses sources

# advisories: fetch the database; else use a copy an earlier fetch left; else (no network, as on
# this project's CI machines) build the committed snapshot deny/advisory-snapshot.json into the
# place cargo-deny reads (scripts/advisory-snapshot.py: the facts of every advisory concerning a
# locked crate, taken from a checkout of the database; refresh it where github.com is reachable).
db=$("$deny" -L debug --offline --locked check advisories 2>&1 \
  | sed -n "s/.*Opening advisory database at '\(.*\)'.*/\1/p" | head -n1 || true)
if [ -z "$db" ]; then
  echo "cargo deny did not say where it keeps the advisory database" >&2
  exit 1
fi
fetch_log="$(mktemp)"
trap 'rm -f "$fetch_log"' EXIT
if [ -f "$db/FJORD-SNAPSHOT" ]; then
  rm -rf "$db"  # a snapshot is rebuilt from the committed file below if the fetch fails
fi
if "$deny" fetch db >"$fetch_log" 2>&1; then
  echo "advisories: the RustSec database, fetched now"
elif [ -d "$db/.git" ]; then
  echo "advisories: could not update the RustSec database; using the copy in $db" >&2
else
  echo "advisories: the RustSec database could not be fetched ($(grep -m1 -oE 'Could not resolve host: [^ ]+|fatal: .*' "$fetch_log" || echo "see cargo deny fetch db"));" \
    "using the committed snapshot: $(python3 -c 'import json; d=json.load(open("deny/advisory-snapshot.json")); print(d["commit"][:12], "of", d["date"])')" >&2
  python3 scripts/advisory-snapshot.py build "$db" >/dev/null
fi
"$deny" --offline --locked check advisories
