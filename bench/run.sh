#!/usr/bin/env bash
# The standard scenarios of BENCHMARKS.md, in one run on one machine: LiveRelay, nginx-rtmp and
# the fan-out floor side by side. Server on core 0, load (publisher + players) on core 1.
#   bench/run.sh [OUT.jsonl]      (DURATION=20 seconds of measurement per run by default;
#                                  SCENARIOS="fanout nginx floor streams publishers ttff g2g slow scale" to pick;
#                                  MERGES="auto 0 350": the merge settings of fanout, ttff and g2g,
#                                  auto = the shipped adaptive window)
# Each run prints relay-bench's JSON line, tagged with the scenario, to OUT (default
# bench/results/latest.jsonl); bench/report.py turns it into the tables of BENCHMARKS.md.
source "$(dirname "$0")/lib.sh"
OUT=${1:-$ROOT/bench/results/latest.jsonl}
DURATION=${DURATION:-20}
SCENARIOS=${SCENARIOS:-fanout nginx floor streams publishers ttff g2g slow scale}
COUNTS=${COUNTS:-50 500 2000}
MERGES=${MERGES:-auto 0 350}
SCALE_COUNTS=${SCALE_COUNTS:-2000 4000}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
build_release
make_media

# merge_tag MERGE: the merge setting as a JSON value ("auto" or ms).
merge_tag() { [ "$1" = auto ] && echo '"auto"' || echo "$1"; }

# record TAGS-JSON -- relay-bench args…: runs relay-bench, appends its JSON line with the tags.
record() {
  local tags=$1; shift; shift
  local line
  line=$(bench "$@" | tail -1) || true
  [ -n "$line" ] || line='{"error":"no output"}'
  echo "{$tags,${line:1}" | tee -a "$OUT"
}

has() { [[ " $SCENARIOS " == *" $1 "* ]]; }

if has fanout; then
  for merge in $MERGES; do for proto in rtmp http; do for n in $COUNTS; do
    start_relay "$merge"; publish live/s
    url=$(play_url "$proto" live/s)
    record "\"scenario\":\"fanout\",\"server\":\"liverelay\",\"proto\":\"$proto\",\"merge\":$(merge_tag "$merge")" -- \
      play --url "$url" --players "$n" --duration "$DURATION" --pid "$SERVER_PID"
    stop_publisher; stop_server
  done; done; done
fi

if has nginx; then
  for n in $COUNTS; do
    start_nginx; publish live/s
    record "\"scenario\":\"fanout\",\"server\":\"nginx-rtmp\",\"proto\":\"rtmp\",\"merge\":0" -- \
      play --url "rtmp://127.0.0.1:$RTMP_PORT/live/s" --players "$n" --duration "$DURATION" --pid "$SERVER_PID"
    stop_publisher; stop_server
  done
fi

if has floor; then
  for merge in 0 350; do for n in $COUNTS; do
    start_floor "$merge"
    record "\"scenario\":\"fanout\",\"server\":\"floor\",\"proto\":\"http\",\"merge\":$merge" -- \
      play --url "http://127.0.0.1:$HTTP_PORT/live/s.flv" --players "$n" --duration "$DURATION" --pid "$SERVER_PID"
    stop_server
  done; done
fi

if has streams; then  # 200 streams x 2 players (relay-bench push: 200 paced H.264 publishers)
  for merge in 0 350; do
    start_relay "$merge"
    bench push --url "rtmp://127.0.0.1:$RTMP_PORT/live/p{i}" --count 200 --input "$ANNEXB" \
      --duration $((DURATION + 40)) >"$WORK/push.log" 2>&1 & PUSH_PID=$!; PIDS+=($PUSH_PID); sleep 8
    record "\"scenario\":\"streams\",\"server\":\"liverelay\",\"proto\":\"http\",\"merge\":$merge" -- \
      play --url "http://127.0.0.1:$HTTP_PORT/live/p{i}.flv" --streams 200 --players 400 --duration "$DURATION" --pid "$SERVER_PID"
    kill "$PUSH_PID" 2>/dev/null || true; wait "$PUSH_PID" 2>/dev/null || true; stop_server
  done
fi

if has publishers; then  # 100 publishers x 1 player
  start_relay 350
  bench push --url "rtmp://127.0.0.1:$RTMP_PORT/live/p{i}" --count 100 --input "$ANNEXB" \
    --duration $((DURATION + 30)) >"$WORK/push.log" 2>&1 & PUSH_PID=$!; PIDS+=($PUSH_PID); sleep 6
  record "\"scenario\":\"publishers\",\"server\":\"liverelay\",\"proto\":\"rtmp\",\"merge\":350" -- \
    play --url "rtmp://127.0.0.1:$RTMP_PORT/live/p{i}" --streams 100 --players 100 --duration "$DURATION" --pid "$SERVER_PID"
  kill "$PUSH_PID" 2>/dev/null || true; wait "$PUSH_PID" 2>/dev/null || true; stop_server
fi

if has ttff; then  # late joiners (one every 0.2 s) and 500 players connecting at once
  for merge in $MERGES; do
    start_relay "$merge"; publish live/s
    for proto in rtmp http rtsp; do
      url=$(play_url "$proto" live/s)
      record "\"scenario\":\"late_joiner\",\"server\":\"liverelay\",\"proto\":\"$proto\",\"merge\":$(merge_tag "$merge")" -- \
        play --url "$url" --players 50 --ramp 5 --duration 1
    done
    record "\"scenario\":\"burst500\",\"server\":\"liverelay\",\"proto\":\"http\",\"merge\":$(merge_tag "$merge")" -- \
      play --url "http://127.0.0.1:$HTTP_PORT/live/s.flv" --players 500 --duration 2
    stop_publisher; stop_server
  done
fi

if has g2g; then  # glass-to-glass: relay-bench push --stamp, players read the capture stamps
  # (auto: one lone player per protocol, as a viewer of a quiet stream; 0 and 350: 10 players)
  for merge in $MERGES; do
    players=$([ "$merge" = auto ] && echo 1 || echo 10)
    seconds=$([ "$players" = 1 ] && echo 40 || echo 8)
    start_relay "$merge"
    bench push --url "rtmp://127.0.0.1:$RTMP_PORT/live/g" --input "$ANNEXB" --stamp \
      --duration $((3 * (seconds + 5) + 10)) >"$WORK/push.log" 2>&1 & PUSH_PID=$!; PIDS+=($PUSH_PID); sleep 3
    for proto in rtmp http rtsp; do
      url=$(play_url "$proto" live/g)
      record "\"scenario\":\"g2g\",\"server\":\"liverelay\",\"proto\":\"$proto\",\"merge\":$(merge_tag "$merge")" -- \
        play --url "$url" --players "$players" --duration "$seconds" --latency
    done
    kill "$PUSH_PID" 2>/dev/null || true; wait "$PUSH_PID" 2>/dev/null || true; stop_server
  done
fi
if has slow; then  # 100 players keep reading while 5 more stop (issue #10): frame gaps before/during
  # A player counts as stuck once its buffers are full: the kernel's send buffer (autotuned, up to
  # 4 MiB = 16 s of this stream) and max_pending_bytes / 2 in SwiftNIO; both are capped here so the
  # drop comes within seconds. skip: a long write_timeout, so the stalled players stay (skipping).
  for policy in close skip; do
    timeout_ms=$([ $policy = close ] && echo 5000 || echo 60000)
    start_relay 0 ", \"player\": {\"slow_policy\": \"$policy\", \"write_timeout_ms\": $timeout_ms, \"send_buffer_bytes\": 262144, \"max_pending_bytes\": 1048576}"
    publish live/s
    for proto in http rtmp; do
      url=$(play_url "$proto" live/s)
      record "\"scenario\":\"slow_viewer\",\"server\":\"liverelay\",\"proto\":\"$proto\",\"merge\":0,\"policy\":\"$policy\"" -- \
        play --url "$url" --players 100 --stall 5 --stall-after 10 --duration 25 --pid "$SERVER_PID"
    done
    stop_publisher; stop_server
  done
fi
if has scale; then  # one event loop on core 0 vs two on both cores (sharing core 1 with the load)
  for loops in 1 2; do for n in $SCALE_COUNTS; do
    if [ "$loops" = 2 ]; then taskset=${SCALE_TASKSET-taskset -c 0,1}; else taskset=$RELAY_TASKSET; fi
    EVENT_LOOPS=$loops RELAY_TASKSET=$taskset start_relay auto; publish live/s
    record "\"scenario\":\"scale\",\"server\":\"liverelay\",\"proto\":\"rtmp\",\"merge\":\"auto\",\"event_loops\":$loops" -- \
      play --url "rtmp://127.0.0.1:$RTMP_PORT/live/s" --players "$n" --duration "$DURATION" --pid "$SERVER_PID"
    stop_publisher; stop_server
  done; done
fi
echo "results: $OUT"
