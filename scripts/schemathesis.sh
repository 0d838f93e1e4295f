#!/usr/bin/env bash
# Runs Schemathesis against openapi.yaml on a live relay: the admin API (with a bearer token) on a
# free loopback port, every other listener on loopback too, one ffmpeg publisher (when ffmpeg is
# installed) so stream answers carry real tracks and players. Fails on any 5xx or any answer that
# breaks the spec. Bounded: SCHEMATHESIS_EXAMPLES examples per operation (default 40), and at most
# SCHEMATHESIS_MAX_TIME seconds (default 120).
#
#   scripts/schemathesis.sh                      # builds and runs the debug relay (.build)
#   SCRATCH=.build-x CONFIGURATION=release scripts/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SCRATCH=${SCRATCH:-.build}
CONFIGURATION=${CONFIGURATION:-debug}
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-40}
MAX_TIME=${SCHEMATHESIS_MAX_TIME:-120}

command -v schemathesis >/dev/null || { echo "schemathesis is not installed (pip install schemathesis)" >&2; exit 1; }
swift build -c "$CONFIGURATION" --scratch-path "$SCRATCH" --product relay >/dev/null
BIN=$(swift build -c "$CONFIGURATION" --scratch-path "$SCRATCH" --show-bin-path)

WORK=$(mktemp -d /tmp/liverelay-schemathesis.XXXXXX)
RELAY_PID=
FFMPEG_PID=
PLAYER_PID=
# Stops a restart loop (by its pid) and the ffmpeg it is running.
stop_loop() {
  local pid=$1
  [ -n "$pid" ] || return 0
  local children
  children=$(pgrep -P "$pid" || true)
  kill "$pid" 2>/dev/null || true
  [ -n "$children" ] && kill $children 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  touch "$WORK/stop"
  stop_loop "$PLAYER_PID"
  stop_loop "$FFMPEG_PID"
  if [ -n "$RELAY_PID" ]; then
    kill "$RELAY_PID" 2>/dev/null || true
    wait "$RELAY_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ADMIN_PORT=$(free_port)
RTMP_PORT=$(free_port)
GB_MIN=$(( 42000 + RANDOM % 2000 ))
TOKEN="schemathesis-$RANDOM$RANDOM"

cat > "$WORK/config.json" <<JSON
{
  "log_level": "warning",
  "rtmp": {"host": "127.0.0.1", "port": $RTMP_PORT},
  "http_flv": {"host": "127.0.0.1", "port": 0},
  "rtsp": {"host": "127.0.0.1", "port": 0},
  "webrtc": {"host": "127.0.0.1", "port": 0},
  "jt1078": {"host": "127.0.0.1", "port": 0},
  "source": {"receive_timeout_ms": 0, "idle_timeout_ms": 0},
  "gb28181": {"host": "127.0.0.1", "shared_udp_port": 0, "shared_tcp_port": 0,
              "port_min": $GB_MIN, "port_max": $(( GB_MIN + 199 )), "connect_retry_ms": 60000,
              "receivers": [{"stream": "gb/config", "ssrc": "0100000009", "mode": "udp"}]},
  "admin": {"host": "127.0.0.1", "port": $ADMIN_PORT, "token": "$TOKEN", "max_body_bytes": 16384}
}
JSON

"$BIN/relay" --config "$WORK/config.json" >"$WORK/relay.log" 2>&1 &
RELAY_PID=$!
for _ in $(seq 1 100); do
  if python3 - "$ADMIN_PORT" "$TOKEN" 2>/dev/null <<'PY'
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/api/v1/server", headers={"Authorization": f"Bearer {sys.argv[2]}"})
urllib.request.urlopen(req, timeout=2).read()
PY
  then break; fi
  kill -0 "$RELAY_PID" 2>/dev/null || { echo "relay exited:" >&2; cat "$WORK/relay.log" >&2; exit 1; }
  sleep 0.1
done

if command -v ffmpeg >/dev/null; then
  # A publisher and a player, each restarted when the API closes or kicks it, so stream and player
  # answers carry real tracks and counters all through the run.
  ( while [ ! -e "$WORK/stop" ]; do
      ffmpeg -hide_banner -loglevel error -re -f lavfi -i "testsrc=size=320x240:rate=25" \
        -f lavfi -i "sine=frequency=440:sample_rate=44100" -t 600 \
        -c:v libx264 -preset ultrafast -g 50 -c:a aac -f flv "rtmp://127.0.0.1:$RTMP_PORT/live/test" \
        </dev/null >>"$WORK/ffmpeg.log" 2>&1
      sleep 0.5
    done ) &
  FFMPEG_PID=$!
  sleep 2
  ( while [ ! -e "$WORK/stop" ]; do
      ffmpeg -hide_banner -loglevel error -i "rtmp://127.0.0.1:$RTMP_PORT/live/test" -c copy -f null - \
        </dev/null >>"$WORK/player.log" 2>&1
      sleep 0.5
    done ) &
  PLAYER_PID=$!
  sleep 1
fi

echo "schemathesis: relay pid $RELAY_PID, admin on 127.0.0.1:$ADMIN_PORT, $EXAMPLES examples per operation"
status=0
SCHEMATHESIS_HOOKS="$ROOT/scripts/schemathesis_hooks.py" \
  schemathesis --config-file "$ROOT/scripts/schemathesis.toml" run "$ROOT/openapi.yaml" \
  --url "http://127.0.0.1:$ADMIN_PORT" \
  -H "Authorization: Bearer $TOKEN" \
  --checks all \
  --max-examples "$EXAMPLES" \
  --max-time "$MAX_TIME" \
  --request-timeout 10 \
  --suppress-health-check filter_too_much \
  --workers 1 \
  --seed "${SCHEMATHESIS_SEED:-20261122}" \
  --report junit --report-dir "$WORK/report" \
  || status=$?

if ! kill -0 "$RELAY_PID" 2>/dev/null; then
  echo "relay died during the run:" >&2
  tail -50 "$WORK/relay.log" >&2
  status=1
fi
if grep -q "internal error" "$WORK/relay.log"; then
  echo "relay logged internal errors:" >&2
  grep "internal error" "$WORK/relay.log" | head -20 >&2
  status=1
fi
exit $status
