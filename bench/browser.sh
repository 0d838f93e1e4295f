#!/usr/bin/env bash
# The browser outputs against HTTP-FLV (issue 21's targets in BENCHMARKS.md): PLAYERS (500) players
# of one 2 Mb/s stream per protocol, back to back, PAIRS rounds (default 3), DURATION s each (20):
# HTTP-FLV, HLS (MPEG-TS segments, 500 clients polling), WS-FLV, HTTP fMP4, WS-fMP4. Prints the
# median of each protocol's server CPU seconds per delivered GB over HTTP-FLV's of the same round.
#   bench/browser.sh [OUT.jsonl]   (default bench/results/browser.jsonl; PROTOCOLS to pick, MERGE=auto|0|350,
#                                   HLS_CONFIG='{"segment_ms": 6000}' for the relay's hls section)
source "$(dirname "$0")/lib.sh"
OUT=${1:-$ROOT/bench/results/browser.jsonl}
MERGE=${MERGE:-auto}
PLAYERS=${PLAYERS:-500}
DURATION=${DURATION:-20}
PROTOCOLS=${PROTOCOLS:-flv hls ws-flv fmp4 ws-fmp4}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
[ -n "${SKIP_BUILD:-}" ] || build_release  # SKIP_BUILD=1 BIN=DIR: binaries built elsewhere
make_media
merge_json=$([ "$MERGE" = auto ] && echo '"auto"' || echo "$MERGE")
url_of() {
  case $1 in
    flv) echo "http://127.0.0.1:$HTTP_PORT/live/s.flv" ;;
    hls) echo "http://127.0.0.1:$HTTP_PORT/live/s.m3u8" ;;
    ws-flv) echo "ws://127.0.0.1:$HTTP_PORT/live/s.flv" ;;
    fmp4) echo "http://127.0.0.1:$HTTP_PORT/live/s.mp4" ;;
    ws-fmp4) echo "ws://127.0.0.1:$HTTP_PORT/live/s.mp4" ;;
  esac
}
for i in $(seq "${PAIRS:-3}"); do
  for proto in $PROTOCOLS; do
    start_relay "$MERGE" "${HLS_CONFIG:+, \"hls\": $HLS_CONFIG}"; publish live/s
    line=$(bench play --url "$(url_of "$proto")" --protocol "$proto" --players "$PLAYERS" --duration "$DURATION" \
      --pid "$SERVER_PID" | tail -1) || true
    [ -n "$line" ] || line='{"error":"no output"}'
    echo "{\"scenario\":\"browser\",\"server\":\"liverelay\",\"proto\":\"$proto\",\"merge\":$merge_json,\"round\":$i,\"hls_config\":${HLS_CONFIG:-null},${line:1}" | tee -a "$OUT"
    stop_publisher; stop_server
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def cost(proto, r):
    return next((x.get("server_cpu_s_per_gb") for x in rows if x["proto"] == proto and x["round"] == r), None)
rounds = sorted({x["round"] for x in rows})
for proto in sorted({x["proto"] for x in rows} - {"flv"}):
    ratios = [cost(proto, r) / cost("flv", r) for r in rounds
              if isinstance(cost(proto, r), float) and isinstance(cost("flv", r), float) and cost("flv", r) > 0]
    if ratios:
        print(f"{proto} / HTTP-FLV, server CPU s per delivered GB: " + ", ".join(f"{x:.2f}" for x in ratios)
              + f"; median {statistics.median(ratios):.2f}")
PY
