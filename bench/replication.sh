#!/usr/bin/env bash
# Replication benchmark (issue #13): BENCH_RUNS runs of bench/replication.mjs (a primary and a read
# replica on loopback, the real @libsql/client), medians printed as a Markdown table.
# Usage: bench/replication.sh   (make bench runs it after bench/run.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${LITEHOUSE_BIN:-build/release/litehouse}")
RUNS=${BENCH_RUNS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$RUNS"); do
  (cd tests/integration && node ../../bench/replication.mjs "$BIN" "$SECONDS_PER_RUN") | grep '^RESULT' >>"$out"
done
field() { grep "^RESULT $1 " "$out" | sed -E "s/.* $2=([0-9.]+).*/\1/" | median; }
echo "| replication (median of $RUNS runs) | value |"
echo "|---|---:|"
echo "| control: the same read on the primary, p50 / p99 (ms) | $(field lag_control p50_ms) / $(field lag_control p99_ms) |"
echo "| lag at 1,000 commits/s, p50 (ms) | $(field lag p50_ms) |"
echo "| lag at 1,000 commits/s, p99 (ms) | $(field lag p99_ms) |"
echo "| the same, primary and replica pinned to cores 0 and 1 (as on two machines), p50 / p99 (ms) | $(field lag_pinned p50_ms) / $(field lag_pinned p99_ms) |"
echo "| primary commits/s, 32 WebSocket writers | $(field apply primary_commits_per_s) |"
echo "| replica transactions applied/s, same window | $(field apply replica_txns_per_s) |"
echo "| replica catch-up after the load stops (ms) | $(field apply catch_up_ms) |"
echo "| bootstrap of a $(( $(field bootstrap bytes | cut -d. -f1) / 1000000 )) MB database (ms) | $(field bootstrap ms) |"
echo "| embedded replica sync() of $(field sync frames) frames (ms) | $(field sync ms) |"
