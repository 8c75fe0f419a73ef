#!/usr/bin/env bash
# Backup benchmark (issue #14): BENCH_RUNS runs of bench/backup.mjs (litehouse and the real
# Litestream 0.3.13 in the same run, local folders and s3rver on loopback), medians printed as a
# Markdown table.
# Usage: bench/backup.sh   (make bench runs it after bench/replication.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${LITEHOUSE_BIN:-build/release/litehouse}")
RUNS=${BENCH_RUNS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$RUNS"); do
  (cd tests/integration && node ../../bench/backup.mjs "$BIN" "$SECONDS_PER_RUN") | grep '^RESULT' >>"$out"
done
field() { grep "^RESULT $1" "$out" | sed -E "s/.* $2=([0-9.]+).*/\1/" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
on=$(field "throughput backup=on" commits_per_s)
off=$(field "throughput backup=off" commits_per_s)
echo "| backup (median of $RUNS runs) | Litehouse | Litestream 0.3.13 |"
echo "|---|---:|---:|"
echo "| lag at 1,000 commits/s, 10 ms intervals, p50 (ms) | $(field lag_litehouse p50_ms) | $(field lag_litestream p50_ms) |"
echo "| lag at 1,000 commits/s, 10 ms intervals, p99 (ms) | $(field lag_litehouse p99_ms) | $(field lag_litestream p99_ms) |"
echo "| restore of $(( $(field "restore store=folder tool=litehouse" bytes | cut -d. -f1) / 1000000 )) MB + $(field "restore store=folder tool=litehouse" segments) segments from a folder (ms) | $(field "restore store=folder tool=litehouse" ms) | $(field "restore store=folder tool=litestream" ms) |"
echo "| the same from s3rver, both through the listing proxy (ms) | $(field "restore store=s3rver tool=litehouse" ms) | $(field "restore store=s3rver tool=litestream" ms) |"
echo "| commits/s, 32 WebSocket writers, backup off / on (10 ms) | $off / $on ($(ratio "$on" "$off")x) | |"
