#!/usr/bin/env bash
# Back-to-back pairs for the headline ratio of BENCHMARKS.md: 500 RTMP players of one 2 Mb/s
# stream, LiveRelay (merge 350) then nginx-rtmp, PAIRS times (default 4), 20 s each.
#   bench/pairs.sh [OUT.jsonl]    (default bench/results/pairs.jsonl)
source "$(dirname "$0")/lib.sh"
OUT=${1:-$ROOT/bench/results/pairs.jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
build_release
make_media
for i in $(seq "${PAIRS:-4}"); do
  for server in liverelay nginx-rtmp; do
    if [ $server = liverelay ]; then start_relay 350; merge=350; else start_nginx; merge=0; fi
    publish live/s
    line=$(bench play --url "rtmp://127.0.0.1:$RTMP_PORT/live/s" --players 500 --duration 20 --pid "$SERVER_PID" | tail -1) || true
    echo "{\"scenario\":\"repeat\",\"server\":\"$server\",\"proto\":\"rtmp\",\"merge\":$merge,\"round\":$i,${line:1}" | tee -a "$OUT"
    stop_publisher; stop_server
  done
done
