#!/usr/bin/env bash
# Figures for the foundation issue: late-joiner time to first frame (10 players joining one by one,
# merge_write_ms 0 and 350) and server CPU/RSS with 1 publisher + 50 HTTP-FLV players for 60 s.
# Server pinned to core 0, load (ffmpeg, relay-bench) to core 1.
source "$(dirname "$0")/lib.sh"
build_release
for merge in 0 350; do
  start_relay "$merge"
  publish live/bench
  echo "## late joiner, merge_write_ms=$merge (10 players, one every 0.7 s)"
  bench play --url "http://127.0.0.1:$HTTP_PORT/live/bench.flv" --players 10 --ramp 1.43 --duration 1 | tail -1
  stop_relay; kill "$PUB_PID" 2>/dev/null || true
done
start_relay 0
publish live/bench
echo "## 1 publisher + 50 HTTP-FLV players, 60 s, merge_write_ms=0"
bench play --url "http://127.0.0.1:$HTTP_PORT/live/bench.flv" --players 50 --duration 60 --pid "$RELAY_PID" | tail -1
echo "peak RSS (VmHWM) of the whole run: $(grep VmHWM /proc/$RELAY_PID/status)"
