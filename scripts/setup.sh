#!/usr/bin/env bash
# Installs everything Litehouse needs on a fresh Debian 12 (bookworm) machine, and nothing twice:
#   1. Debian packages (compiler, CMake, Boost 1.81, RapidJSON, spdlog/fmt, CLI11, GoogleTest, OpenSSL, libedit,
#      zlib, LZ4, pugixml, yaml-cpp; the sqlite3 CLI, tmux and headless Chromium the tests drive; clang 14 with its sanitizer and libFuzzer runtimes
#      (libclang-rt-14-dev, which clang-14 only recommends) and llvm-symbolizer (llvm-14) for the fuzz
#      targets, whose smoke run is part of `make test`);
#   2. the pinned SQLite amalgamation, taken from the npm package better-sqlite3@13.2.0 and checked by sha256
#      into .cache/sqlite (git-ignored, never committed);
#   3. the npm packages the integration tests and benchmarks drive (tests/integration/package.json).
# Usage: scripts/setup.sh [--no-npm | --bench]   (--bench also installs what the benchmarks use)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(g++ cmake make pkg-config git ca-certificates libboost1.81-dev rapidjson-dev libspdlog-dev libfmt-dev
  libcli11-dev libgtest-dev libgmock-dev libssl-dev openssl protobuf-compiler libprotobuf-dev libedit-dev zlib1g-dev liblz4-dev libpugixml-dev libyaml-cpp-dev sqlite3 tmux nodejs npm
  clang-14 libclang-rt-14-dev llvm-14 chromium)

[ "${1:-}" = "--bench" ] && APT_PACKAGES+=(curl iproute2 libsimdjson-dev libbenchmark-dev postgresql-15 valgrind)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from outside apt (a preinstalled node + npm): accept that.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

SQLITE_SHA256=75a4760a7b9727a4c4c877aec92eacf39e52a8f2921ce00bd33be6d3a8e8e254
SQLITE_DIR=.cache/sqlite
if ! echo "$SQLITE_SHA256  $SQLITE_DIR/sqlite3.c" | sha256sum -c --status 2>/dev/null; then
  echo "setup: fetching the SQLite amalgamation from better-sqlite3@13.2.0" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent better-sqlite3@13.2.0 >/dev/null 2>&1)
  tar -xzf "$tmp"/better-sqlite3-13.2.0.tgz -C "$tmp" package/deps/sqlite3
  if ! echo "$SQLITE_SHA256  $tmp/package/deps/sqlite3/sqlite3.c" | sha256sum -c --status; then
    echo "setup: sqlite3.c does not match the pinned sha256; refusing to build" >&2
    exit 1
  fi
  mkdir -p "$SQLITE_DIR"
  cp "$tmp"/package/deps/sqlite3/sqlite3.{c,h} "$tmp"/package/deps/sqlite3/sqlite3ext.h "$SQLITE_DIR"/
  rm -rf "$tmp"
fi

if [ "${1:-}" != "--no-npm" ]; then
  if [ ! -d tests/integration/node_modules ] || [ tests/integration/package-lock.json -nt tests/integration/node_modules/.package-lock.json ]; then
    echo "setup: installing the npm packages of tests/integration" >&2
    (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
