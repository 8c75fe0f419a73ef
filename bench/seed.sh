# Sourced by bench/run.sh and bench/instructions.sh: seed_tables URL creates the benchmark's tables on the
# server at URL, `bench` with 10,000 rows (the point SELECTs' keys 1..10000) and an empty `bench_ins`.
seed_tables() {
  curl -sf "$1/v2/pipeline" -H 'content-type: application/json' -d '{"requests":[{"type":"sequence","sql":"CREATE TABLE bench(id INTEGER PRIMARY KEY, name TEXT, value REAL); CREATE TABLE bench_ins(id INTEGER PRIMARY KEY, name TEXT, value REAL); WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 10000) INSERT INTO bench SELECT n, printf(\"name-%d\", n), n * 0.5 FROM c;"},{"type":"close"}]}' >/dev/null
}
