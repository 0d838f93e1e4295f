#!/usr/bin/env bash
# Origin/edge cluster (issue 23's targets in BENCHMARKS.md): PostgreSQL as the registry (a
# throwaway server on a free port), one origin relay, EDGES (4) edge relays, all on loopback.
#  - first: the first viewer of a stream on an edge (the lookup and the edge's RTMP pull of the
#    origin included) against a later viewer of the same stream on that edge; ROUNDS (5) streams;
#  - fanout: one stream published to the origin, PLAYERS (500) players on each edge for
#    DURATION s (20): every player's share of the bitrate, and the origin's players of the
#    stream (the edges' pulls: one each).
#   bench/cluster.sh [OUT.jsonl]   (default bench/results/cluster.jsonl; SCENARIOS="first fanout";
#                                   PROTO=rtmp|flv for the players; SKIP_BUILD=1 BIN=DIR)
source "$(dirname "$0")/lib.sh"
OUT=${1:-$ROOT/bench/results/cluster.jsonl}
EDGES=${EDGES:-4}
PLAYERS=${PLAYERS:-500}
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-5}
PROTO=${PROTO:-rtmp}
SCENARIOS=${SCENARIOS:-first fanout}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
[ -n "${SKIP_BUILD:-}" ] || build_release
make_media
has() { [[ " $SCENARIOS " == *" $1 "* ]]; }

# PostgreSQL: initdb + pg_ctl in $WORK/pg (as postgres when root: initdb refuses root).
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
PG_DIR=$WORK/pg; mkdir -p "$PG_DIR"; PG_PORT=$(free_port)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && { chmod o+x "$WORK"; chown postgres "$PG_DIR"; }
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U liverelay -A trust -E UTF8 --no-locale --no-sync --no-instructions >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
pg_stop() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true; }
trap 'pg_stop; cleanup' EXIT
as_pg "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U liverelay liverelay

# start_node NAME EDGE(true|false) -> sets NODE_RTMP NODE_HTTP NODE_ADMIN NODE_PID
start_node() {
  NODE_RTMP=$(free_port); NODE_HTTP=$(free_port); NODE_ADMIN=$(free_port)
  cat > "$WORK/$1.json" <<JSON
{"log_level": "warning", "event_loops": ${EVENT_LOOPS:-1},
 "rtmp": {"host": "127.0.0.1", "port": $NODE_RTMP}, "http_flv": {"host": "127.0.0.1", "port": $NODE_HTTP},
 "admin": {"host": "127.0.0.1", "port": $NODE_ADMIN},
 "rtsp": {"enabled": false}, "gb28181": {"enabled": false}, "jt1078": {"enabled": false}, "webrtc": {"enabled": false},
 "limits": {"max_connections_per_ip": 0},
 "source": {"merge_write_ms": "auto", "idle_timeout_ms": 0},
 "pull": {"on_demand_idle_ms": 60000},
 "cluster": {"enabled": true, "node_id": "$1", "edge": $2,
             "postgres_url": "postgres://liverelay@127.0.0.1:$PG_PORT/liverelay"}}
JSON
  $RELAY_TASKSET "$BIN/relay" --config "$WORK/$1.json" >"$WORK/$1.log" 2>&1 &
  NODE_PID=$!; PIDS+=($NODE_PID)
  wait_port "$NODE_ADMIN" || { cat "$WORK/$1.log" >&2; return 1; }
}

start_node origin false
ORIGIN_PID=$NODE_PID; RTMP_PORT=$NODE_RTMP; ORIGIN_ADMIN=$NODE_ADMIN
EDGE_RTMP=(); EDGE_HTTP=(); EDGE_PID=()
for e in $(seq "$EDGES"); do
  start_node "edge-$e" true
  EDGE_RTMP+=("$NODE_RTMP"); EDGE_HTTP+=("$NODE_HTTP"); EDGE_PID+=("$NODE_PID")
done

edge_url() {  # edge_url INDEX STREAM
  case $PROTO in
    rtmp) echo "rtmp://127.0.0.1:${EDGE_RTMP[$1]}/$2" ;;
    flv) echo "http://127.0.0.1:${EDGE_HTTP[$1]}/$2.flv" ;;
  esac
}

# record TAGS -- relay-bench play args…: appends relay-bench's JSON line with the tags.
record() {
  local tags=$1; shift; shift
  local line
  line=$(bench "$@" | tail -1) || true
  [ -n "$line" ] || line='{"error":"no output"}'
  echo "{\"scenario\":$tags,${line:1}" | tee -a "$OUT"
}

origin_players() {  # the origin's players of STREAM (the edges' pulls)
  curl -s "http://127.0.0.1:$ORIGIN_ADMIN/api/v1/players?stream=$(python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$1")" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}

if has first; then
  for i in $(seq "$ROUNDS"); do
    publish "live/first$i"
    e=$(( (i - 1) % EDGES ))
    record "\"first\",\"viewer\":\"first\",\"proto\":\"$PROTO\",\"edge\":$((e + 1)),\"round\":$i" -- \
      play --url "$(edge_url "$e" "live/first$i")" --players 1 --duration 2
    record "\"first\",\"viewer\":\"later\",\"proto\":\"$PROTO\",\"edge\":$((e + 1)),\"round\":$i" -- \
      play --url "$(edge_url "$e" "live/first$i")" --players 1 --duration 2
    stop_publisher
  done
fi

if has fanout; then
  publish live/fan
  for e in $(seq 0 $((EDGES - 1))); do
    bench play --url "$(edge_url "$e" live/fan)" --players "$PLAYERS" --duration "$DURATION" --pid "${EDGE_PID[$e]}" \
      >"$WORK/fan-$e.out" 2>"$WORK/fan-$e.err" &
    FAN[$e]=$!
  done
  sleep $(( DURATION / 2 ))
  PULLS=$(origin_players live/fan)
  for e in $(seq 0 $((EDGES - 1))); do
    wait "${FAN[$e]}" || true
    line=$(tail -1 "$WORK/fan-$e.out"); [ -n "$line" ] || line='{"error":"no output"}'
    echo "{\"scenario\":\"fanout\",\"proto\":\"$PROTO\",\"edge\":$((e + 1)),\"edges\":$EDGES,\"origin_pulls\":$PULLS,${line:1}" | tee -a "$OUT"
  done
  stop_publisher
fi
