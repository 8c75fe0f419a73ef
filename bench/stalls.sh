#!/usr/bin/env bash
# Stalls within a run: bench/run.sh's paired rounds of the 1-row INSERT at 32 connections (PostgreSQL's
# pgbench, then Litehouse over HTTP, then over WebSocket protobuf, 5 s each, back to back on one
# server), with hrana_load counting the requests answered in every 250 ms (HRANA_LOAD_TICK_MS). A
# median hides a round that ran at a quarter of its rate for three seconds; this shows it.
# Usage: bench/stalls.sh [ROUNDS] [DURABILITY]   (defaults: 7, relaxed)
# Prints one line per Litehouse run: its rate, p50/p99, its slowest 250 ms, and how many of its 250 ms
# ran below half the median 250 ms of all this transport's runs (stalled); then the totals.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LITEHOUSE_BIN:-build/release/litehouse}
LOAD=${LOAD_BIN:-build/release/bench/hrana_load}
ROUNDS=${1:-7}
DURABILITY=${2:-relaxed}
export BENCH_SECONDS=5
source bench/pg.sh   # pg_start, pg_run_once, pg_stop
source bench/seed.sh # seed_tables
source bench/serve.sh # start_litehouse

dir=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; [ -n "${pid:-}" ] && wait "$pid" 2>/dev/null; pg_stop; rm -rf "$dir"; }
trap cleanup EXIT
pg_start
start_litehouse "$dir/db" "$dir/log" --durability "$DURABILITY"
seed_tables "$url"

declare -A line
for r in $(seq "$ROUNDS"); do
  pg=$(pg_run_once insert 32)
  for mode in http ws-protobuf; do
    result=$(HRANA_LOAD_TICK_MS=250 "$LOAD" "$url" "$mode" insert 32 5 2>"$dir/ticks.$mode.$r")
    rate=$(awk -v r="$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")" -v s="$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$result")" 'BEGIN {printf "%.0f", r / s}')
    line[$mode,$r]="round $r $mode: PG $pg/s, Litehouse $rate/s ($(sed -E 's/.*(p50_us=[0-9]+ p99_us=[0-9]+).*/\1/' <<<"$result"))"
  done
done
stalled_total=0 ticks_total=0
for mode in http ws-protobuf; do
  median=$(cat "$dir"/ticks.$mode.* | awk '{print $3}' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  for r in $(seq "$ROUNDS"); do
    read -r slowest stalled ticks < <(awk -v m="$median" 'NR == 1 || $3 < min {min = $3} $3 < m / 2 {s++} END {print min, s + 0, NR}' "$dir/ticks.$mode.$r")
    stalled_total=$((stalled_total + stalled)) ticks_total=$((ticks_total + ticks))
    echo "${line[$mode,$r]}; 250 ms: slowest $((slowest * 4))/s, $stalled of $ticks below half of $((median * 4))/s"
  done
done
echo "stalled: $stalled_total of $ticks_total quarter-seconds below half their transport's median"
