#!/usr/bin/env bash
# Litehouse benchmark: point SELECT by primary key and single-row INSERT over Hrana, by HTTP (as
# @libsql/client sends them: one execute + close per request) and by WebSocket (JSON and Protobuf,
# one execute per round trip on an open stream), with 1 and 32 concurrent connections, all driven by
# the same closed-loop generator (bench/hrana_load.cc), beside the same work on in-process SQLite
# (bench/sqlite_inproc.cc, same SQLite build and pragmas) in the same run; plus the server's resident
# memory idle, under load, and with 1000 idle WebSocket connections.
# Each figure is the median of BENCH_RUNS runs of BENCH_SECONDS seconds. Prints a Markdown report.
# Usage: bench/run.sh   (make bench builds first)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LITEHOUSE_BIN:-build/release/litehouse}
INPROC=${INPROC_BIN:-build/release/bench/sqlite_inproc}
LOAD=${LOAD_BIN:-build/release/bench/hrana_load}
CLIENT=${CLIENT_BIN:-build/release/bench/client_latency}
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
RUNS=${BENCH_RUNS:-3}
PAIRED_ROUNDS=${BENCH_PAIRED_ROUNDS:-7}

dir=$(mktemp -d)
log=$dir/server.log
source bench/pg.sh  # pg_start, pg_run_once, pg_stop: the paired rounds below
source bench/seed.sh  # seed_tables
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; pg_stop; rm -rf "$dir"; }
trap cleanup EXIT

# Starts a server on a free port with DB_DIR, LOG_FILE and any further serve flags; sets pid and url.
start_server() {
  local db=$1 logfile=$2
  shift 2
  "$BIN" serve --db-path "$db" --http-listen-addr 127.0.0.1:0 --log-level warn "$@" 2>"$logfile" &
  pid=$!
  # --log-level warn hides the "listening" line; find the port from the socket table instead.
  local port=""
  for _ in $(seq 100); do
    port=$(ss -ltnpH 2>/dev/null | awk -v p="pid=$pid," '$0 ~ p {split($4, a, ":"); print a[length(a)]}' | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "bench: server did not start" >&2; cat "$logfile" >&2; exit 1; }
  url=http://127.0.0.1:$port
}
start_server "$dir/db" "$log"
port=${url##*:}

# The tables, and 10,000 rows of bench, through the server at $url itself.
seed() { seed_tables "$url"; }
seed

rss_kib() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$pid/status"; }
rss_idle=$(rss_kib VmRSS)

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Requests per second of the generator's RESULT line $1.
rate_of() {
  awk -v r="$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$1")" -v s="$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$1")" 'BEGIN {printf "%.0f", r / s}'
}

# RUNS runs of the generator against URL (mode, op, connections); sets m_rps, m_p50 and m_p99 to
# the medians of the runs' rates and latencies.
measure() {
  local vals=() lat50=() lat99=() out
  for _ in $(seq "$RUNS"); do
    out=$("$LOAD" "$1" "$2" "$3" "$4" "$SECONDS_PER_RUN" | grep '^RESULT')
    vals+=("$(rate_of "$out")")
    lat50+=("$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$out")")
    lat99+=("$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$out")")
  done
  m_rps=$(printf '%s\n' "${vals[@]}" | median)
  m_p50=$(printf '%s\n' "${lat50[@]}" | median)
  m_p99=$(printf '%s\n' "${lat99[@]}" | median)
}

MODES="http ws-json ws-protobuf"
declare -A rps p50 p99
for op in select insert; do
  for mode in $MODES; do
    for conns in 1 32; do
      measure "$url" "$mode" "$op" "$conns"
      rps[$op,$mode,$conns]=$m_rps p50[$op,$mode,$conns]=$m_p50 p99[$op,$mode,$conns]=$m_p99
    done
  done
done
rss_load=$(rss_kib VmHWM)

# A long query beside short ones: 32 connections of point SELECTs over HTTP while one client runs a
# ~2-second scan again and again; the SELECTs' latency is what the scan must not stall.
SCAN_SQL='WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 8000000) SELECT count(*) FROM c'
scan_once() { curl -sf "$url/v2/pipeline" -d "{\"requests\":[{\"type\":\"execute\",\"stmt\":{\"sql\":\"$SCAN_SQL\"}},{\"type\":\"close\"}]}" >/dev/null; }
scan_start=$(date +%s.%N); scan_once; scan_secs=$(awk -v a="$scan_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
( end=$((SECONDS + SECONDS_PER_RUN * RUNS + 5)); while [ $SECONDS -lt $end ]; do scan_once; done ) &
scan_pid=$!
measure "$url" http select 32
scan_rps=$m_rps scan_p50=$m_p50 scan_p99=$m_p99
kill "$scan_pid" 2>/dev/null; wait "$scan_pid" 2>/dev/null || true

# Per-call latency of one client, one call at a time: the C++ library and @libsql/client.
declare -A lib_p50 lib_p99 lib_calls
for transport in http ws; do
  for impl in cpp js; do
    c50=(); c99=(); calls=()
    for _ in $(seq "$RUNS"); do
      if [ "$impl" = cpp ]; then
        out=$("$CLIENT" "$transport://127.0.0.1:$port" "$SECONDS_PER_RUN" | grep '^RESULT')
      else
        out=$(cd tests/integration && node ../../bench/client_latency.mjs "$transport://127.0.0.1:$port" "$SECONDS_PER_RUN" | grep '^RESULT')
      fi
      c50+=("$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$out")")
      c99+=("$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$out")")
      calls+=("$(awk -v r="$(sed -E 's/.*calls=([0-9]+).*/\1/' <<<"$out")" -v s="$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$out")" 'BEGIN {printf "%.0f", r / s}')")
    done
    lib_p50[$transport,$impl]=$(printf '%s\n' "${c50[@]}" | median)
    lib_p99[$transport,$impl]=$(printf '%s\n' "${c99[@]}" | median)
    lib_calls[$transport,$impl]=$(printf '%s\n' "${calls[@]}" | median)
  done
done

# Memory per idle WebSocket connection: 1000 connections (hello + open_stream each) held open.
rss_before_idle=$(rss_kib VmRSS)
"$LOAD" "$url" ws-idle select 1000 6 >/dev/null &
idle_pid=$!
sleep 4.5
rss_with_idle=$(rss_kib VmRSS)
wait "$idle_pid"
kill "$pid"; wait "$pid" || true; pid=""

# --durability strong (synchronous=FULL, group commit): the durable INSERT, on a server of its own.
start_server "$dir/strong" "$log.strong" --durability strong
surl=$url
curl -sf "$surl/v2/pipeline" -d '{"requests":[{"type":"execute","stmt":{"sql":"CREATE TABLE bench_ins(id INTEGER PRIMARY KEY, name TEXT, value REAL)"}},{"type":"close"}]}' >/dev/null
declare -A strong_rps strong_p50 strong_p99
for mode in http ws-protobuf; do
  for conns in 1 32; do
    measure "$surl" "$mode" insert "$conns"
    strong_rps[$mode,$conns]=$m_rps strong_p50[$mode,$conns]=$m_p50 strong_p99[$mode,$conns]=$m_p99
  done
done
kill "$pid"; wait "$pid" || true; pid=""

# The peer: PostgreSQL 15 on this machine, in this run.
declare -A pg
while read -r _ workload conns tps; do pg[$workload,$conns]=$tps; done < <(bench/pg.sh)

# Paired rounds for the engine issue's targets: the machine's speed drifts by a third within minutes
# (another tenant), and the figures above are measured minutes apart. Here each round runs
# PostgreSQL, then Litehouse over HTTP, then over WebSocket, back to back on a fresh server; the ratio
# reported is the median of the rounds' own ratios.
one_rps() {
  rate_of "$("$LOAD" "$1" "$2" "$3" "$4" "$SECONDS_PER_RUN" | grep '^RESULT')"
}
pg_start
# workload:op:connections:durability; the strong INSERT on a server of its own, as above.
PAIRED="select-simple:select:1:relaxed select-simple:select:32:relaxed insert:insert:32:relaxed insert:insert:32:strong"
declare -A paired_http paired_ws paired_rounds
for durability in relaxed strong; do
  start_server "$dir/paired-$durability" "$log.paired-$durability" --durability "$durability"
  seed
  for spec in $PAIRED; do
    IFS=: read -r workload op conns d <<<"$spec"
    [ "$d" = "$durability" ] || continue
    hr=() wr=() rounds=()
    for _ in $(seq "$PAIRED_ROUNDS"); do
      p=$(pg_run_once "$workload" "$conns")
      h=$(one_rps "$url" http "$op" "$conns")
      w=$(one_rps "$url" ws-protobuf "$op" "$conns")
      hr+=("$(awk -v a="$h" -v b="$p" 'BEGIN {printf "%.3f", a / b}')")
      wr+=("$(awk -v a="$w" -v b="$p" 'BEGIN {printf "%.3f", a / b}')")
      rounds+=("$p/$h/$w")
    done
    paired_http[$spec]=$(printf '%s\n' "${hr[@]}" | median)
    paired_ws[$spec]=$(printf '%s\n' "${wr[@]}" | median)
    paired_rounds[$spec]=$(IFS=' '; echo "${rounds[*]}")
  done
  kill "$pid"; wait "$pid" || true; pid=""
done
pg_stop

declare -A inproc
for op in select insert; do
  for threads in 1 2; do
    vals=()
    for _ in $(seq "$RUNS"); do
      vals+=("$("$INPROC" "$dir/db/dbs/default/data" "$op" "$threads" "$SECONDS_PER_RUN" | sed 's/ops_per_sec=//')")
    done
    inproc[$op,$threads]=$(printf '%s\n' "${vals[@]}" | median)
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
echo "## Run of $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores; median of $RUNS runs x ${SECONDS_PER_RUN}s"
echo
echo "| operation | path | ops/s | p50 µs | p99 µs | ratio to in-process, 1 thread |"
echo "|---|---|---:|---:|---:|---:|"
for op in select insert; do
  echo "| $op | in-process SQLite, 1 thread | ${inproc[$op,1]} | | | 1.000 |"
  echo "| $op | in-process SQLite, 2 threads | ${inproc[$op,2]} | | | $(ratio "${inproc[$op,2]}" "${inproc[$op,1]}") |"
  for mode in $MODES; do
    for conns in 1 32; do
      echo "| $op | litehouse $mode, $conns conn | ${rps[$op,$mode,$conns]} | ${p50[$op,$mode,$conns]} | ${p99[$op,$mode,$conns]} | $(ratio "${rps[$op,$mode,$conns]}" "${inproc[$op,1]}") |"
    done
  done
done
echo
echo "Against PostgreSQL 15 (Debian, pgbench) in the same run; ratios are Litehouse / PostgreSQL:"
echo
echo "| workload | connections | PostgreSQL | Litehouse HTTP | Litehouse WS protobuf | HTTP / PG | WS / PG |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for conns in 1 32; do
  echo "| point SELECT (PG simple) | $conns | ${pg[select-simple,$conns]} | ${rps[select,http,$conns]} | ${rps[select,ws-protobuf,$conns]} | $(ratio "${rps[select,http,$conns]}" "${pg[select-simple,$conns]}") | $(ratio "${rps[select,ws-protobuf,$conns]}" "${pg[select-simple,$conns]}") |"
  echo "| point SELECT (PG prepared) | $conns | ${pg[select-prepared,$conns]} | ${rps[select,http,$conns]} | ${rps[select,ws-protobuf,$conns]} | $(ratio "${rps[select,http,$conns]}" "${pg[select-prepared,$conns]}") | $(ratio "${rps[select,ws-protobuf,$conns]}" "${pg[select-prepared,$conns]}") |"
  echo "| 1-row INSERT, relaxed (synchronous=NORMAL) vs PG durable | $conns | ${pg[insert,$conns]} | ${rps[insert,http,$conns]} | ${rps[insert,ws-protobuf,$conns]} | $(ratio "${rps[insert,http,$conns]}" "${pg[insert,$conns]}") | $(ratio "${rps[insert,ws-protobuf,$conns]}" "${pg[insert,$conns]}") |"
  echo "| 1-row INSERT, strong (synchronous=FULL, group commit) vs PG durable | $conns | ${pg[insert,$conns]} | ${strong_rps[http,$conns]} | ${strong_rps[ws-protobuf,$conns]} | $(ratio "${strong_rps[http,$conns]}" "${pg[insert,$conns]}") | $(ratio "${strong_rps[ws-protobuf,$conns]}" "${pg[insert,$conns]}") |"
done
echo
echo "Paired rounds ($PAIRED_ROUNDS; each: PostgreSQL, then Litehouse HTTP, then WebSocket protobuf, ${SECONDS_PER_RUN} s each, back to back; a fresh server per durability); the ratio is the median of the rounds' ratios:"
echo
echo "| workload | connections | rounds (PG / HTTP / WS ops/s) | HTTP / PG | WS / PG |"
echo "|---|---:|---|---:|---:|"
for spec in $PAIRED; do
  IFS=: read -r workload op conns d <<<"$spec"
  name=$([ "$op" = select ] && echo "point SELECT (PG simple)" || echo "1-row INSERT, $d vs PG durable")
  echo "| $name | $conns | ${paired_rounds[$spec]} | ${paired_http[$spec]} | ${paired_ws[$spec]} |"
done
echo
echo "Strong durability latency (µs, p50 / p99): HTTP 1 conn ${strong_p50[http,1]} / ${strong_p99[http,1]}, 32 conn ${strong_p50[http,32]} / ${strong_p99[http,32]}; WS protobuf 1 conn ${strong_p50[ws-protobuf,1]} / ${strong_p99[ws-protobuf,1]}, 32 conn ${strong_p50[ws-protobuf,32]} / ${strong_p99[ws-protobuf,32]}."
echo
echo "A ${scan_secs} s scan run again and again beside 32 HTTP connections of point SELECTs: ${scan_rps} SELECT/s, p50 ${scan_p50} µs, p99 ${scan_p99} µs."
echo
echo "Server resident memory: idle $((rss_idle / 1024)) MiB; peak under this load (VmHWM) $((rss_load / 1024)) MiB."
echo
echo "| client library, point SELECT, one call at a time | transport | calls/s | p50 µs | p99 µs | p50 ratio to @libsql/client |"
echo "|---|---|---:|---:|---:|---:|"
for transport in http ws; do
  for impl in cpp js; do
    name=$([ "$impl" = cpp ] && echo "litehouse C++ client" || echo "@libsql/client (Node)")
    echo "| $name | $transport | ${lib_calls[$transport,$impl]} | ${lib_p50[$transport,$impl]} | ${lib_p99[$transport,$impl]} | $(ratio "${lib_p50[$transport,$impl]}" "${lib_p50[$transport,js]}") |"
  done
done
echo
echo "1000 idle WebSocket connections: RSS $((rss_before_idle / 1024)) MiB before, $((rss_with_idle / 1024)) MiB with them held: $(( (rss_with_idle - rss_before_idle) / 1000 )) KiB per connection."
