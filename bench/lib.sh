# Shared helpers for the bench scripts: build, start/stop the relay and a publisher.
# Usage: source bench/lib.sh  (from the repo root)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=${SCRATCH:-$ROOT/.build-bench}
BIN=$SCRATCH/release
MEDIA=${MEDIA:-$ROOT/../shared/media/h264_aac_720p.flv}
WORK=$(mktemp -d /tmp/liverelay-bench.XXXXXX)
PIDS=()

cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

build_release() {
  (cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product relay >/dev/null \
     && swift build -c release --scratch-path "$SCRATCH" --product relay-bench >/dev/null)
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_relay MERGE_MS [extra json sections] -> sets RELAY_PID RTMP_PORT HTTP_PORT
start_relay() {
  local merge=$1 extra=${2:-}
  RTMP_PORT=$(free_port); HTTP_PORT=$(free_port)
  cat > "$WORK/config.json" <<JSON
{"log_level": "warning",
 "rtmp": {"host": "127.0.0.1", "port": $RTMP_PORT},
 "http_flv": {"host": "127.0.0.1", "port": $HTTP_PORT},
 "source": {"merge_write_ms": $merge}${extra}}
JSON
  ${RELAY_TASKSET:-taskset -c 0} "$BIN/relay" --config "$WORK/config.json" >"$WORK/relay.log" 2>&1 &
  RELAY_PID=$!; PIDS+=($RELAY_PID)
  for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$HTTP_PORT) 2>/dev/null && return 0
    sleep 0.1
  done
  echo "relay did not start" >&2; cat "$WORK/relay.log" >&2; return 1
}

stop_relay() { kill "$RELAY_PID" 2>/dev/null || true; wait "$RELAY_PID" 2>/dev/null || true; }

# publish STREAM -> sets PUB_PID (ffmpeg -re looping the clip)
publish() {
  ${LOAD_TASKSET:-taskset -c 1} ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$MEDIA" -c copy -f flv \
    "rtmp://127.0.0.1:$RTMP_PORT/$1" >"$WORK/pub-$(echo "$1" | tr / _).log" 2>&1 &
  PUB_PID=$!; PIDS+=($PUB_PID)
  sleep 2
}

bench() { ${LOAD_TASKSET:-taskset -c 1} "$BIN/relay-bench" "$@"; }
