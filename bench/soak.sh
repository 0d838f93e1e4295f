#!/usr/bin/env bash
# Churn and soak: 1 steady publisher + 3 publishers that start and stop at random, and 200 player
# slots (100 HTTP-FLV, 60 RTMP, 40 RTSP/TCP) joining and leaving at random, for SOAK_SECONDS
# (default 1800). relay-bench soak samples the server's RSS and open fds every 10 s; at the end
# the admin API must list no player and the fd count must be back where it started.
#   bench/soak.sh [OUT.jsonl]
source "$(dirname "$0")/lib.sh"
OUT=${1:-$ROOT/bench/results/soak.jsonl}
SECONDS_TOTAL=${SOAK_SECONDS:-1800}
mkdir -p "$(dirname "$OUT")"
build_release
make_media
ADMIN_PORT=$(free_port)
start_relay 350

$LOAD_TASKSET ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i "$MEDIA" -c copy -f flv \
  "rtmp://127.0.0.1:$RTMP_PORT/live/s0" >"$WORK/pub0.log" 2>&1 &
PIDS+=($!)
# Streams 1-3 start and stop at random for the whole run.
(
  end=$((SECONDS + SECONDS_TOTAL))
  while [ $SECONDS -lt $end ]; do
    for k in 1 2 3; do
      $LOAD_TASKSET ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -t $((RANDOM % 40 + 10)) -i "$MEDIA" \
        -c copy -f flv "rtmp://127.0.0.1:$RTMP_PORT/live/s$k" >>"$WORK/pub-side.log" 2>&1 &
    done
    wait
    sleep $((RANDOM % 8 + 2))
  done
) &
SIDE=$!; PIDS+=($SIDE)
sleep 3
fds_start=$(ls /proc/$SERVER_PID/fd | wc -l)

bench soak --url "http://127.0.0.1:$HTTP_PORT/live/s{i}.flv" --streams 4 --players 100 --duration "$SECONDS_TOTAL" \
  --pid "$SERVER_PID" >"$WORK/soak-http.txt" 2>"$WORK/soak-http.err" &
H=$!
bench soak --url "rtmp://127.0.0.1:$RTMP_PORT/live/s{i}" --streams 4 --players 60 --duration "$SECONDS_TOTAL" \
  >"$WORK/soak-rtmp.txt" 2>"$WORK/soak-rtmp.err" &
R=$!
bench soak --url "rtsp://127.0.0.1:$RTSP_PORT/live/s{i}" --streams 4 --players 40 --duration "$SECONDS_TOTAL" \
  >"$WORK/soak-rtsp.txt" 2>"$WORK/soak-rtsp.err" &
T=$!
wait $H $R $T || true
kill $SIDE 2>/dev/null || true
sleep 2
players_left=$(curl -s "http://127.0.0.1:$ADMIN_PORT/api/v1/players" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["players"]) if isinstance(d,dict) and "players" in d else len(d))')
streams_json=$(curl -s "http://127.0.0.1:$ADMIN_PORT/api/v1/streams" | head -c 2000)
echo "streams at the end: $streams_json"
fds_end=$(ls /proc/$SERVER_PID/fd | wc -l)
for p in http rtmp rtsp; do
  line=$(tail -1 "$WORK/soak-$p.txt")
  echo "{\"scenario\":\"soak\",\"proto\":\"$p\",${line:1}" | tee -a "$OUT"
done
echo "{\"scenario\":\"soak_end\",\"players_listed_by_admin\":$players_left,\"fds_at_start\":$fds_start,\"fds_at_end\":$fds_end}" | tee -a "$OUT"
# The RSS/fd samples (every 10 s) beside the JSON lines, for the curve.
cp "$WORK/soak-http.err" "${OUT%.jsonl}-samples.txt"
tail -5 "$WORK/soak-http.err"
grep -iE "error|fatal" "$WORK/relay.log" | head -5 || true
