#!/usr/bin/env bash
# Stalls within a run: bench/run.sh's paired rounds of the 1-row INSERT at 32 connections (PostgreSQL's
# pgbench, then Litehouse over HTTP, then over WebSocket protobuf, 5 s each, back to back on one
# server), with hrana_load counting the requests answered in every 250 ms (HRANA_LOAD_TICK_MS). A
# median hides a round that ran at a quarter of its rate for three seconds; this shows it.
# Usage: bench/stalls.sh [ROUNDS] [DURABILITY]   (defaults: 7, relaxed)
# Prints one line per Litehouse run: its rate, p50/p99, its slowest 250 ms and how many of its 250 ms
# ran below half the run's median (stalled), then the totals.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LITEHOUSE_BIN:-build/release/litehouse}
LOAD=${LOAD_BIN:-build/release/bench/hrana_load}
ROUNDS=${1:-7}
DURABILITY=${2:-relaxed}
export BENCH_SECONDS=5
source bench/pg.sh   # pg_start, pg_run_once, pg_stop
source bench/seed.sh # seed_tables

dir=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; [ -n "${pid:-}" ] && wait "$pid" 2>/dev/null; pg_stop; rm -rf "$dir"; }
trap cleanup EXIT
pg_start
"$BIN" serve --db-path "$dir/db" --http-listen-addr 127.0.0.1:0 --log-level info --durability "$DURABILITY" 2>"$dir/log" &
pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -nE 's|.*listening on (http://127\.0\.0\.1:[0-9]+).*|\1|p' "$dir/log" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "stalls: the server did not start" >&2; cat "$dir/log" >&2; exit 1; }
seed_tables "$url"

stalled_total=0 ticks_total=0
for r in $(seq "$ROUNDS"); do
  pg=$(pg_run_once insert 32)
  for mode in http ws-protobuf; do
    result=$(HRANA_LOAD_TICK_MS=250 "$LOAD" "$url" "$mode" insert 32 5 2>"$dir/ticks")
    read -r median slowest stalled ticks < <(awk '{print $3}' "$dir/ticks" | sort -n |
      awk '{a[NR] = $1} END {m = a[int((NR + 1) / 2)]; s = 0; for (i = 1; i <= NR; i++) if (a[i] < m / 2) s++; print m, a[1], s, NR}')
    stalled_total=$((stalled_total + stalled)) ticks_total=$((ticks_total + ticks))
    rate=$(awk -v r="$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")" -v s="$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$result")" 'BEGIN {printf "%.0f", r / s}')
    echo "round $r $mode: PG $pg/s, Litehouse $rate/s ($(sed -E 's/.*(p50_us=[0-9]+ p99_us=[0-9]+).*/\1/' <<<"$result")); 250 ms: median $((median * 4))/s, slowest $((slowest * 4))/s, $stalled of $ticks below half the median"
  done
done
echo "stalled: $stalled_total of $ticks_total quarter-seconds below half their run's median"
