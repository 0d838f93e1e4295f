#!/usr/bin/env bash
# CI smoke of the bench tools (~15 s): the debug build's relay with a short ffmpeg-made clip,
# relay-bench play over HTTP-FLV, RTMP and RTSP, push + play --latency, a stalled player, and relay-floor.
# Fails when any player fails. Not a benchmark: no figures are kept.
#   bench/smoke.sh   (after `swift build`; BIN=path/to/binaries to use another build)
BIN=${BIN:-$(cd "$(dirname "$0")/.." && swift build --show-bin-path)}
RELAY_TASKSET="" LOAD_TASKSET=""
source "$(dirname "$0")/lib.sh"
MEDIA=$WORK/smoke.flv ANNEXB=$WORK/smoke.h264
ffmpeg -hide_banner -loglevel error -f lavfi -i "testsrc2=size=320x240:rate=25" -f lavfi -i "sine=frequency=440" \
  -t 4 -map 0:v -map 1:a -c:v libx264 -preset ultrafast -g 25 -bf 0 -pix_fmt yuv420p -c:a aac -f flv "$MEDIA"
make_media
start_relay auto
publish live/s
bench play --url "http://127.0.0.1:$HTTP_PORT/live/s.flv" --players 5 --duration 2 --pid "$SERVER_PID" | tail -1
bench play --url "rtmp://127.0.0.1:$RTMP_PORT/live/s" --players 5 --duration 2 | tail -1
bench play --url "rtsp://127.0.0.1:$RTSP_PORT/live/s" --players 5 --duration 2 | tail -1
bench push --url "rtmp://127.0.0.1:$RTMP_PORT/live/g" --input "$ANNEXB" --stamp --duration 6 >/dev/null &
PUSH=$!
sleep 1.5
bench play --url "http://127.0.0.1:$HTTP_PORT/live/g.flv" --players 2 --duration 2 --latency | tail -1
wait $PUSH
stop_publisher; stop_server
# A stalled player (small buffers, short write timeout) is ended by the server; the others play on.
start_relay 0 ', "player": {"write_timeout_ms": 500, "send_buffer_bytes": 16384, "max_pending_bytes": 65536}'
publish live/s
out=$(bench play --url "http://127.0.0.1:$HTTP_PORT/live/s.flv" --players 3 --stall 1 --stall-after 1 --duration 8 | tail -1)
echo "$out"
[[ $out == *'"stalled_ended_by_server":1'* && $out == *'"during_players_lost":0'* ]] || { echo "stalled player not ended" >&2; exit 1; }
stop_publisher; stop_server
start_floor 0
bench play --url "http://127.0.0.1:$HTTP_PORT/live/s.flv" --players 5 --duration 2 | tail -1
stop_server
echo "bench smoke: ok"
