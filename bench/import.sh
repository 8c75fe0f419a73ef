#!/usr/bin/env bash
# Import benchmark: a ~100 MB dump made by Debian's sqlite3 (.dump of 800,000 rows: integers, reals,
# text, blobs, one index), loaded in the same run by
#   - sqlite3 new.db < dump.sql                      (the reference: in-process, no network)
#   - litehouse shell new.db < dump.sql              (our importer on a local file)
#   - litehouse shell http://127.0.0.1:P < dump.sql  (through a fresh `litehouse serve`, HTTP)
#   - litehouse shell ws://127.0.0.1:P < dump.sql    (the same over WebSocket)
# Each figure is the median of BENCH_RUNS runs (default 3) of wall time, each into an empty database;
# each run's row count is checked. Prints a Markdown table.
# Usage: bench/import.sh   (make bench builds first)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${LITEHOUSE_BIN:-build/release/litehouse}")
RUNS=${BENCH_RUNS:-3}
ROWS=${BENCH_IMPORT_ROWS:-800000}

dir=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

sqlite3 "$dir/source.db" <<SQL
CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT, amount REAL, tag BLOB);
WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $ROWS)
INSERT INTO events SELECT n, 'kind-' || (n % 17), printf('event %d: %s', n, substr(hex(randomblob(24)), 1, 40)),
                          n * 0.25, randomblob(8) FROM c;
CREATE INDEX events_kind ON events(kind);
SQL
sqlite3 "$dir/source.db" .dump >"$dir/dump.sql"
bytes=$(stat -c %s "$dir/dump.sql")
mb=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1e6}')

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
now() { date +%s.%N; }

source bench/serve.sh  # start_litehouse
start_server() {
  rm -rf "$dir/served"
  start_litehouse "$dir/served" "$dir/server.log"
}
stop_server() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

check_rows() {
  local got
  got=$(sqlite3 "$1" "SELECT count(*) FROM events")
  [ "$got" = "$ROWS" ] || { echo "bench: $1 holds $got rows, not $ROWS" >&2; exit 1; }
}

declare -A secs
for way in sqlite3 file http ws; do
  times=()
  for _ in $(seq "$RUNS"); do
    rm -f "$dir"/new.db*
    case $way in
      sqlite3)
        t0=$(now); sqlite3 "$dir/new.db" <"$dir/dump.sql"; t1=$(now)
        check_rows "$dir/new.db" ;;
      file)
        t0=$(now); "$BIN" shell "$dir/new.db" <"$dir/dump.sql"; t1=$(now)
        check_rows "$dir/new.db" ;;
      http|ws)
        start_server
        t0=$(now); "$BIN" shell "$way://127.0.0.1:$port" <"$dir/dump.sql"; t1=$(now)
        stop_server
        check_rows "$dir/served/dbs/default/data" ;;
    esac
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')")
  done
  secs[$way]=$(printf '%s\n' "${times[@]}" | median)
done

echo "### Import of a ${mb} MB sqlite3 dump (${ROWS} rows), median of ${RUNS} runs"
echo
echo "| importer | seconds | MB/s | time vs sqlite3 CLI |"
echo "|---|---:|---:|---:|"
for way in sqlite3 file http ws; do
  case $way in
    sqlite3) name="sqlite3 new.db < dump.sql (Debian's CLI)" ;;
    file) name="litehouse shell new.db < dump.sql" ;;
    http) name="litehouse shell http://… < dump.sql (through litehouse serve)" ;;
    ws) name="litehouse shell ws://… < dump.sql (through litehouse serve)" ;;
  esac
  awk -v n="$name" -v s="${secs[$way]}" -v r="${secs[sqlite3]}" -v m="$mb" \
    'BEGIN {printf "| %s | %.2f | %.1f | %.2fx |\n", n, s, m / s, s / r}'
done
