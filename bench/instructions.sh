#!/usr/bin/env bash
# Instructions the server executes per request (user space, all its threads), counted by valgrind's
# callgrind while bench/hrana_load drives it. Unlike a rate, the count does not move with the
# machine's speed, which on a shared 2-core VM drifts by a third within minutes: it is how a change of
# a few percent is shown (docs/BENCHMARKS.md). The kernel's share (the socket calls) is not counted.
#
#   bench/instructions.sh MODE OP CONNECTIONS [SECONDS]    e.g. ws-protobuf select 8
#   prints: INSTRUCTIONS mode=... op=... requests=N per_request=I
# LITEHOUSE_BIN and LOAD_BIN name the binaries (build/release's by default); CALLGRIND_OUT=FILE keeps
# the profile for callgrind_annotate. Counting starts after a 1-second warm-up run, so start-up,
# seeding and connection set-up are not in it.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/seed.sh  # seed_tables
BIN=${LITEHOUSE_BIN:-build/release/litehouse}
LOAD=${LOAD_BIN:-build/release/bench/hrana_load}
[ $# -ge 3 ] || { echo "usage: $0 MODE OP CONNECTIONS [SECONDS]" >&2; exit 2; }
mode=$1 op=$2 conns=$3 secs=${4:-3}
command -v valgrind >/dev/null || { echo "bench/instructions.sh: valgrind is not installed (scripts/setup.sh --bench)" >&2; exit 1; }

dir=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$pid" ] && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/cg.out" \
  "$BIN" serve --db-path "$dir/db" --http-listen-addr "127.0.0.1:$port" --log-level warn 2>"$dir/log" &
pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 300); do curl -sf "$url/health" >/dev/null && break; sleep 0.1; done
curl -sf "$url/health" >/dev/null || { echo "bench/instructions.sh: server did not start" >&2; cat "$dir/log" >&2; exit 1; }
seed_tables "$url"

"$LOAD" "$url" "$mode" "$op" "$conns" 1 >/dev/null
callgrind_control -i on "$pid" >/dev/null 2>&1
out=$("$LOAD" "$url" "$mode" "$op" "$conns" "$secs")
callgrind_control -i off "$pid" >/dev/null 2>&1
callgrind_control -d "$pid" >/dev/null 2>&1
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

requests=$(echo "$out" | grep -o 'requests=[0-9]*' | cut -d= -f2)
total=$(cat "$dir"/cg.out* | awk '/^totals:/ {s += $2} END {print s + 0}')
[ "${requests:-0}" -gt 0 ] || { echo "bench/instructions.sh: no request was answered: $out" >&2; exit 1; }
[ -n "${CALLGRIND_OUT:-}" ] && cp "$dir/cg.out.1" "$CALLGRIND_OUT"
echo "INSTRUCTIONS mode=$mode op=$op requests=$requests per_request=$((total / requests))"
