# Sourced by bench scripts: start_litehouse DB_DIR LOG_FILE [serve flags...] starts `$BIN serve` on a
# free loopback port, logging at info or below (its "listening on" line names the port; a later
# --log-level in the flags overrides it), and sets `pid`, `port` and `url`. Exits the script when the
# server is not listening within 10 s.
start_litehouse() {
  local db=$1 logfile=$2
  shift 2
  "$BIN" serve --db-path "$db" --http-listen-addr 127.0.0.1:0 --log-level info "$@" 2>"$logfile" &
  pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(sed -nE 's/.*listening on http:\/\/127\.0\.0\.1:([0-9]+).*/\1/p' "$logfile" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "bench: the server did not start" >&2; cat "$logfile" >&2; exit 1; }
  url=http://127.0.0.1:$port
}
