#!/usr/bin/env bash
# A local origin/edge pair in one command: a throwaway PostgreSQL (temporary directory, free
# port), `relay` with examples/cluster/origin.json (RTMP 1935, HTTP-FLV 8080, admin 8090) and
# examples/cluster/edge.json (RTMP 1936, HTTP-FLV 8081, admin 8091). Ctrl-C stops everything.
#   bench/cluster-demo.sh            (RELAY=path/to/relay; default: swift build's debug relay)
# then: ffmpeg -re -i clip.flv -c copy -f flv rtmp://127.0.0.1:1935/live/demo
#       ffplay http://127.0.0.1:8081/live/demo.flv     (played from the edge, pulled from the origin)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RELAY=${RELAY:-$ROOT/.build/debug/relay}
[ -x "$RELAY" ] || (cd "$ROOT" && swift build --product relay)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/liverelay-cluster-demo.XXXXXX)
PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PIDS=()
stop() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap stop EXIT INT TERM
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
as_pg "$PG_BIN/initdb" -D "$WORK/data" -U liverelay -A trust -E UTF8 --no-locale --no-instructions >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
as_pg "$PG_BIN/createdb" -h "$WORK" -p "$PG_PORT" -U liverelay liverelay
for node in origin edge; do
  sed "s#127.0.0.1:5432#127.0.0.1:$PG_PORT#" "$ROOT/examples/cluster/$node.json" > "$WORK/$node.json"
  "$RELAY" --config "$WORK/$node.json" > >(sed "s/^/[$node] /") 2>&1 &
  PIDS+=($!)
done
echo "PostgreSQL on 127.0.0.1:$PG_PORT; publish to rtmp://127.0.0.1:1935/live/demo, play http://127.0.0.1:8081/live/demo.flv"
wait
