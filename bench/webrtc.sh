#!/usr/bin/env bash
# WHEP against RTMP (issue 22's targets in BENCHMARKS.md), one fresh relay per run:
#  - fan-out: PLAYERS (200) viewers of one 2 Mb/s H.264 + G.711 stream (the shared FLV with its
#    audio made PCMA, so both protocols carry the same media), DURATION s (20), PAIRS rounds (3):
#    server CPU seconds per delivered GB of each, and WHEP's over RTMP's per round;
#  - first frame: 50 late joiners (5 a second) per protocol: from the request and, for WHEP,
#    from the SDP answer;
#  - glass-to-glass: one `relay-bench push --stamp` publisher, one viewer per protocol,
#    LATENCY_SECONDS (40) of stamped frames.
#   bench/webrtc.sh [OUT.jsonl]   (default bench/results/webrtc.jsonl; SCENARIOS="fanout ttff g2g" to pick;
#                                  SKIP_BUILD=1 BIN=DIR: binaries built elsewhere)
source "$(dirname "$0")/lib.sh"
OUT=${1:-$ROOT/bench/results/webrtc.jsonl}
PLAYERS=${PLAYERS:-200}
DURATION=${DURATION:-20}
LATENCY_SECONDS=${LATENCY_SECONDS:-40}
SCENARIOS=${SCENARIOS:-fanout ttff g2g}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
[ -n "${SKIP_BUILD:-}" ] || build_release
make_media
G711=$WORK/h264_pcma.flv
ffmpeg -y -hide_banner -loglevel error -i "$MEDIA" -map 0:v -map 0:a -c:v copy -c:a pcm_alaw -ar 8000 -ac 1 -f flv "$G711"
MEDIA=$G711

has() { [[ " $SCENARIOS " == *" $1 "* ]]; }

# start_webrtc_relay: the relay with WHEP on (its UDP port on loopback, the candidate it offers).
start_webrtc_relay() {
  start_relay auto ", \"webrtc\": {\"host\": \"127.0.0.1\", \"port\": $(free_port)}"
}

url_of() {
  case $1 in
    whep) echo "http://127.0.0.1:$HTTP_PORT/$2/whep" ;;
    rtmp) echo "rtmp://127.0.0.1:$RTMP_PORT/$2" ;;
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

if has fanout; then
  for i in $(seq "${PAIRS:-3}"); do
    for proto in whep rtmp; do
      start_webrtc_relay; publish live/s
      record "\"fanout\",\"server\":\"liverelay\",\"proto\":\"$proto\",\"round\":$i" -- \
        play --url "$(url_of "$proto" live/s)" --players "$PLAYERS" --duration "$DURATION" --pid "$SERVER_PID"
      stop_publisher; stop_server
    done
  done
fi

if has ttff; then
  start_webrtc_relay; publish live/s
  for proto in whep rtmp; do
    record "\"ttff\",\"server\":\"liverelay\",\"proto\":\"$proto\"" -- \
      play --url "$(url_of "$proto" live/s)" --players 50 --ramp 5 --duration 1
  done
  stop_publisher; stop_server
fi

if has g2g; then
  start_webrtc_relay
  bench push --url "rtmp://127.0.0.1:$RTMP_PORT/live/g" --input "$ANNEXB" --stamp \
    --duration $((2 * (LATENCY_SECONDS + 5) + 10)) >"$WORK/push.log" 2>&1 & PUSH_PID=$!; PIDS+=($PUSH_PID); sleep 3
  for proto in whep rtmp; do
    record "\"g2g\",\"server\":\"liverelay\",\"proto\":\"$proto\"" -- \
      play --url "$(url_of "$proto" live/g)" --players 1 --duration "$LATENCY_SECONDS" --latency
  done
  kill "$PUSH_PID" 2>/dev/null || true; wait "$PUSH_PID" 2>/dev/null || true; stop_server
fi

python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def get(scenario, proto, key, rnd=None):
    return next((x.get(key) for x in rows if x.get("scenario") == scenario and x.get("proto") == proto
                 and (rnd is None or x.get("round") == rnd)), None)
rounds = sorted({x["round"] for x in rows if x.get("scenario") == "fanout"})
ratios = []
for r in rounds:
    w, m = get("fanout", "whep", "server_cpu_s_per_gb", r), get("fanout", "rtmp", "server_cpu_s_per_gb", r)
    if isinstance(w, float) and isinstance(m, float) and m > 0:
        ratios.append(w / m)
        print(f"round {r}: WHEP {w:.3f} s/GB ({get('fanout', 'whep', 'server_cpu_pct', r)} % CPU, min player "
              f"{get('fanout', 'whep', 'min_player_mbps', r)} Mb/s), RTMP {m:.3f} s/GB: {w / m:.2f} x")
if ratios:
    print(f"WHEP / RTMP, server CPU s per delivered GB: median {statistics.median(ratios):.2f} x")
for proto in ("whep", "rtmp"):
    if get("ttff", proto, "ttff_p50_ms") is not None:
        print(f"{proto} late joiners: first frame p50 {get('ttff', proto, 'ttff_p50_ms')} ms, p99 {get('ttff', proto, 'ttff_p99_ms')} ms"
              + (f"; after the answer p50 {get('ttff', proto, 'ttff_after_answer_p50_ms')} ms, p99 {get('ttff', proto, 'ttff_after_answer_p99_ms')} ms"
                 if proto == "whep" else ""))
    if get("g2g", proto, "g2g_p50_ms") is not None:
        print(f"{proto} glass-to-glass: p50 {get('g2g', proto, 'g2g_p50_ms')} ms, p95 {get('g2g', proto, 'g2g_p95_ms')} ms,"
              f" p99 {get('g2g', proto, 'g2g_p99_ms')} ms ({get('g2g', proto, 'g2g_frames')} frames)")
PY
