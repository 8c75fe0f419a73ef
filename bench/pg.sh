#!/usr/bin/env bash
# The peer of bench/run.sh: PostgreSQL 15 from Debian, started here on a loopback port in a temporary
# directory (as the `postgres` user when run as root), driven by its own pgbench with the same shapes
# of work: point SELECT by primary key (`pgbench -S`, simple and prepared protocol) and a durable
# 1-row INSERT (synchronous_commit on, PostgreSQL's default; its WAL flushes group concurrent commits),
# with 1 and 32 connections.
#
# Run: prints one line per figure, `PG <workload> <connections> <tps>`, each the median of BENCH_RUNS
# runs of BENCH_SECONDS seconds.
# Sourced (bench/run.sh's paired rounds): defines pg_start, pg_run_once WORKLOAD CONNECTIONS (one
# run; prints its tps) and pg_stop, and runs nothing.
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_SECONDS_PER_RUN=${BENCH_SECONDS:-5}
PG_RUNS=${BENCH_RUNS:-3}

pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pgb() { pg_as "$PGBIN/pgbench" -h 127.0.0.1 -p "$pg_port" -U bench "$@" postgres; }

# Starts PostgreSQL with pgbench's tables (scale 1) and bench_ins; sets pg_dir and pg_port.
pg_start() {
  [ -x "$PGBIN/postgres" ] || { echo "bench/pg.sh: PostgreSQL 15 is not installed (scripts/setup.sh --bench)" >&2; return 1; }
  pg_dir=$(mktemp -d)
  pg_port=$((20000 + RANDOM % 20000))
  [ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
  pg_as "$PGBIN/initdb" -D "$pg_dir/data" -A trust -U bench >/dev/null
  pg_as "$PGBIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=64" start >/dev/null
  pgb -i -q -s 1 >/dev/null 2>&1
  pg_as "$PGBIN/psql" -h 127.0.0.1 -p "$pg_port" -U bench -q -c \
    "CREATE TABLE bench_ins(id serial PRIMARY KEY, name text, value real)" postgres
  echo "INSERT INTO bench_ins(name, value) VALUES ('name', 0.5);" >"$pg_dir/insert.sql"
  chmod a+r "$pg_dir/insert.sql"
}

# Stops it and removes its directory.
pg_stop() {
  [ -n "${pg_dir:-}" ] || return 0
  pg_as "$PGBIN/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
  pg_dir=""
}

# One run of WORKLOAD (select-simple, select-prepared, insert) with CONNECTIONS; prints its tps.
pg_run_once() {
  local conns=$2 args=()
  case $1 in
    select-simple) args=(-S -M simple) ;;
    select-prepared) args=(-S -M prepared) ;;
    insert) args=(-M simple -f "$pg_dir/insert.sql") ;;
    *) echo "bench/pg.sh: unknown workload $1" >&2; return 1 ;;
  esac
  pgb -n -c "$conns" -j "$((conns < 2 ? 1 : 2))" -T "$PG_SECONDS_PER_RUN" "${args[@]}" 2>/dev/null |
    sed -nE 's/^tps = ([0-9.]+).*/\1/p' | head -1 | awk '{printf "%.0f\n", $1}'
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  trap pg_stop EXIT
  pg_start
  median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
  for conns in 1 32; do
    for workload in select-simple select-prepared insert; do
      vals=()
      for _ in $(seq "$PG_RUNS"); do vals+=("$(pg_run_once "$workload" "$conns")"); done
      echo "PG $workload $conns $(printf '%s\n' "${vals[@]}" | median)"
    done
  done
fi
