#!/usr/bin/env bash
# The peer of bench/run.sh: PostgreSQL 15 from Debian, started here on a loopback port in a temporary
# directory (as the `postgres` user when run as root), driven by its own pgbench with the same shapes
# of work: point SELECT by primary key (`pgbench -S`, simple and prepared protocol) and a durable
# 1-row INSERT (synchronous_commit on, PostgreSQL's default; its WAL flushes group concurrent commits),
# with 1 and 32 connections. Prints one line per figure: `PG <workload> <connections> <tps>`, each the
# median of BENCH_RUNS runs of BENCH_SECONDS seconds.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
RUNS=${BENCH_RUNS:-3}
[ -x "$PGBIN/postgres" ] || { echo "bench/pg.sh: PostgreSQL 15 is not installed (scripts/setup.sh --bench)" >&2; exit 1; }

dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
cleanup() { as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U bench >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=64" start >/dev/null
pgb() { as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U bench "$@" postgres; }
pgb -i -q -s 1 >/dev/null 2>&1
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U bench -q -c \
  "CREATE TABLE bench_ins(id serial PRIMARY KEY, name text, value real)" postgres
echo "INSERT INTO bench_ins(name, value) VALUES ('name', 0.5);" >"$dir/insert.sql"
chmod a+r "$dir/insert.sql"

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
run() {  # workload connections pgbench-args...
  local name=$1 conns=$2
  shift 2
  local jobs=$((conns < 2 ? 1 : 2)) vals=()
  for _ in $(seq "$RUNS"); do
    vals+=("$(pgb -n -c "$conns" -j "$jobs" -T "$SECONDS_PER_RUN" "$@" 2>/dev/null |
      sed -nE 's/^tps = ([0-9.]+).*/\1/p' | head -1 | awk '{printf "%.0f", $1}')")
  done
  echo "PG $name $conns $(printf '%s\n' "${vals[@]}" | median)"
}
for conns in 1 32; do
  run select-simple "$conns" -S -M simple
  run select-prepared "$conns" -S -M prepared
  run insert "$conns" -M simple -f "$dir/insert.sql"
done
