# Shared helpers for the bench scripts: build, start/stop the relay, nginx-rtmp, the floor and
# publishers. Server pinned to core 0 (RELAY_TASKSET), load to core 1 (LOAD_TASKSET).
# Usage: source bench/lib.sh  (from anywhere)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=${SCRATCH:-$ROOT/.build-bench}
BIN=${BIN:-$SCRATCH/release}
MEDIA=${MEDIA:-$ROOT/../shared/media/h264_aac_720p.flv}
ANNEXB=${ANNEXB:-$ROOT/../shared/media/h264_720p.h264}
WORK=$(mktemp -d /tmp/liverelay-bench.XXXXXX)
RELAY_TASKSET=${RELAY_TASKSET-taskset -c 0}
LOAD_TASKSET=${LOAD_TASKSET-taskset -c 1}
PIDS=()

cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

build_release() {
  (cd "$ROOT" && for p in relay relay-bench relay-floor; do
     swift build -c release --scratch-path "$SCRATCH" --product "$p" >/dev/null || exit 1
   done)
}

# make_media: test media made with ffmpeg when ../shared/media is absent (a user's clone).
make_media() {
  if [ ! -f "$MEDIA" ]; then
    MEDIA=$WORK/h264_aac_720p.flv
    ffmpeg -y -hide_banner -loglevel error -f lavfi -i "testsrc2=size=1280x720:rate=25" \
      -f lavfi -i "sine=frequency=440:sample_rate=44100" -t 20 -map 0:v -map 1:a \
      -c:v libx264 -profile:v main -preset veryfast -tune zerolatency -bf 0 -g 50 -keyint_min 50 -sc_threshold 0 \
      -b:v 2M -maxrate 2M -bufsize 2M -pix_fmt yuv420p -c:a aac -b:a 128k -ac 2 -ar 44100 -f flv "$MEDIA"
  fi
  if [ ! -f "$ANNEXB" ]; then
    ANNEXB=$WORK/h264_720p.h264
    ffmpeg -y -hide_banner -loglevel error -i "$MEDIA" -map 0:v -c copy -bsf:v h264_mp4toannexb -f h264 "$ANNEXB"
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}

# start_relay MERGE_MS|auto [extra json sections] -> sets SERVER_PID RTMP_PORT HTTP_PORT RTSP_PORT
# (auto: the shipped adaptive merge; GB28181 / JT1078 set: those sections instead of disabled;
# EVENT_LOOPS: the server's event loops, 1 by default.)
start_relay() {
  local merge=$1 extra=${2:-} admin='{"enabled": false}'
  local gb=${GB28181:-'{"enabled": false}'} jt=${JT1078:-'{"enabled": false}'}
  # WEBRTC: the webrtc section (WHEP/WHIP media on a free UDP port of loopback unless set).
  local webrtc=${WEBRTC:-'{"host": "127.0.0.1", "port": 0}'}
  [ "$merge" = auto ] && merge='"auto"'
  # ADMIN_PORT set: the admin API listens there (bench/soak.sh asks it what is left at the end).
  [ -n "${ADMIN_PORT:-}" ] && admin="{\"enabled\": true, \"host\": \"127.0.0.1\", \"port\": $ADMIN_PORT}"
  RTMP_PORT=$(free_port); HTTP_PORT=$(free_port); RTSP_PORT=$(free_port)
  cat > "$WORK/config.json" <<JSON
{"log_level": "warning", "event_loops": ${EVENT_LOOPS:-1},
 "rtmp": {"host": "127.0.0.1", "port": $RTMP_PORT},
 "http_flv": {"host": "127.0.0.1", "port": $HTTP_PORT},
 "rtsp": {"host": "127.0.0.1", "port": $RTSP_PORT},
 "admin": $admin, "gb28181": $gb, "jt1078": $jt, "webrtc": $webrtc,
 "limits": {"max_connections_per_ip": 0},
 "source": {"merge_write_ms": $merge, "idle_timeout_ms": 0}${extra}}
JSON
  $RELAY_TASKSET "$BIN/relay" --config "$WORK/config.json" >"$WORK/relay.log" 2>&1 &
  SERVER_PID=$!; PIDS+=($SERVER_PID)
  wait_port "$HTTP_PORT" || { cat "$WORK/relay.log" >&2; return 1; }
}

# start_nginx -> sets SERVER_PID RTMP_PORT (nginx + libnginx-mod-rtmp, one process, no master)
start_nginx() {
  RTMP_PORT=$(free_port)
  mkdir -p "$WORK/nginx"
  cat > "$WORK/nginx/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
error_log $WORK/nginx/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 10000; }
rtmp {
  server {
    listen 127.0.0.1:$RTMP_PORT;
    chunk_size 4096;
    application live { live on; }
  }
}
CONF
  $RELAY_TASKSET nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/out.log" 2>&1 &
  SERVER_PID=$!; PIDS+=($SERVER_PID)
  wait_port "$RTMP_PORT" || { cat "$WORK/nginx/error.log" >&2; return 1; }
}

# start_floor MERGE_MS -> sets SERVER_PID HTTP_PORT (the fan-out floor program)
start_floor() {
  HTTP_PORT=$(free_port)
  $RELAY_TASKSET "$BIN/relay-floor" --input "$MEDIA" --port "$HTTP_PORT" --merge-ms "$1" >"$WORK/floor.log" 2>&1 &
  SERVER_PID=$!; PIDS+=($SERVER_PID)
  wait_port "$HTTP_PORT"
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# publish STREAM -> sets PUB_PID (ffmpeg -re looping the FLV clip, H.264 2 Mb/s + AAC)
publish() {
  $LOAD_TASKSET ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$MEDIA" -c copy -f flv \
    "rtmp://127.0.0.1:$RTMP_PORT/$1" >"$WORK/pub-$(echo "$1" | tr / _).log" 2>&1 &
  PUB_PID=$!; PIDS+=($PUB_PID)
  sleep 2.5
}

stop_publisher() { kill "$PUB_PID" 2>/dev/null || true; wait "$PUB_PID" 2>/dev/null || true; }

bench() { $LOAD_TASKSET "$BIN/relay-bench" "$@"; }

# play_url PROTO STREAM -> the URL a player of the running server uses (rtmp, http = HTTP-FLV, rtsp)
play_url() {
  case $1 in
    rtmp) echo "rtmp://127.0.0.1:$RTMP_PORT/$2" ;;
    http) echo "http://127.0.0.1:$HTTP_PORT/$2.flv" ;;
    rtsp) echo "rtsp://127.0.0.1:$RTSP_PORT/$2" ;;
  esac
}
