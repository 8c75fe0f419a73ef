#!/usr/bin/env bash
# The installed client library works for someone else's project: `cmake --install` into a fresh
# prefix, build examples/tasks with find_package(litehouse) and again with pkg-config, and run it
# against a local file and against the real server over HTTP and WebSocket.
#   packaging_test.sh SOURCE_DIR BUILD_DIR LITEHOUSE_BIN
set -euo pipefail
src=$1 build=$2 bin=$3
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" >/dev/null
[ -f "$work/prefix/include/litehouse/client.h" ] || fail "client.h not installed"
[ ! -e "$work/prefix/include/litehouse/../engine" ] || fail "internal headers installed"

cmake -S "$src/examples/tasks" -B "$work/tasks-build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/tasks-build" -j2 >/dev/null
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig" \
  g++ -o "$work/tasks-pc" "$src/examples/tasks/main.cc" $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib/x86_64-linux-gnu/pkgconfig" pkg-config --cflags --libs litehouse)
libdir=$(dirname "$(find "$work/prefix" -name 'liblitehouse.so' | head -1)")
export LD_LIBRARY_PATH="$libdir"

run_suite() {  # $1: the tasks binary; the database comes from the environment
  "$1" add "write the report" >/dev/null
  id=$("$1" add "ship it")
  "$1" done "$id"
  out=$("$1" list)
  grep -q "\[ \] write the report" <<<"$out" || fail "list: $out"
  grep -q "\[x\] ship it" <<<"$out" || fail "done: $out"
  if "$1" done 9999 2>/dev/null; then fail "marking a missing task succeeded"; fi
}

# A local file (no URL in the environment: the fallback path).
(cd "$work" && unset LIBSQL_URL TURSO_DATABASE_URL && run_suite "$work/tasks-build/tasks")
[ -f "$work/tasks.db" ] || fail "no local database file"

# The server, over HTTP and WebSocket, reached through TURSO_DATABASE_URL / LIBSQL_URL.
"$bin" serve --db-path "$work/server" --http-listen-addr 127.0.0.1:0 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
port=$(sed -nE 's/.*listening on http:\/\/127\.0\.0\.1:([0-9]+).*/\1/p' "$work/server.log")
[ -n "$port" ] || fail "server did not start: $(cat "$work/server.log")"
TURSO_DATABASE_URL="http://127.0.0.1:$port" run_suite "$work/tasks-pc"
LIBSQL_URL="ws://127.0.0.1:$port" "$work/tasks-build/tasks" list | grep -q "ship it" || fail "ws list"
migrations=$(curl -sf "http://127.0.0.1:$port/v2/pipeline" -d '{"requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM _migrations"}}]}')
grep -q '"value":"2"' <<<"$migrations" || fail "migrations not recorded once: $migrations"
echo "packaging: 1 passed, 0 failed"
