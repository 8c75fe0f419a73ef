#!/usr/bin/env bash
# Vector index benchmark: recall@10 of vector_top_k against exact search, and query and insert time
# beside exact search (an unindexed table), over VECTOR_N random vectors of VECTOR_DIMS dimensions
# (100,000 x 128 by default), VECTOR_QUERIES queries. VECTOR_OPTIONS are the index's options as SQL
# string arguments (default: 'compress_neighbors=float8', 'max_neighbors=48', 'insert_l=100',
# 'search_l=1000', the cheapest setting measured past recall@10 0.95 at 100,000 x 128; see
# src/vector/DESIGN.md). Prints a Markdown report.
# Usage: bench/vector_index.sh   (make bench builds first)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VECTOR_BENCH_BIN:-build/release/bench/vector_index_bench}
N=${VECTOR_N:-100000}
DIMS=${VECTOR_DIMS:-128}
QUERIES=${VECTOR_QUERIES:-100}
OPTIONS=${VECTOR_OPTIONS:-"'compress_neighbors=float8', 'max_neighbors=48', 'insert_l=100', 'search_l=1000'"}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$("$BIN" "$dir" "$N" "$DIMS" "$QUERIES" "$OPTIONS" | grep '^RESULT')
get() { sed -E "s/.*[[:space:]]$1=([^[:space:]]+).*/\1/" <<<"$out"; }
cat <<MD
## Vector index: $N random vectors, $DIMS dimensions, $QUERIES queries, options: $OPTIONS

| | exact search (no index) | vector_top_k (index) |
|---|---|---|
| recall@10 | 1 | $(get recall_at_10) |
| query, ms each | $(get exact_query_ms) | $(get index_query_ms) |
| insert, µs per row (1000 rows a transaction) | $(get plain_insert_us) | $(get indexed_insert_us) |
MD
