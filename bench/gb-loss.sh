#!/usr/bin/env bash
# GB28181 over an impaired UDP link (issue 19): the share of video frames a device sends that an
# RTMP player receives. One 2 Mb/s 720p25 H.264 + G.711 A-law camera (relay-bench gb-send, core 1)
# to the shared UDP port of the relay (core 0, shipped config apart from its ports); one RTMP
# player (relay-bench play) attached before the camera starts, so it sees every frame from the
# first key frame on.
#   bench/gb-loss.sh [OUT.jsonl]   (default bench/results/gb-loss.jsonl; DURATION=40 SEED=1
#                                   CASES="loss1 reorder05 loss1-keyframe")
# Cases: loss1 = 1 % random packet loss; reorder05 = 0.5 % of packets sent up to 3 packets late
# (within one frame interval, < 40 ms); loss1-keyframe = 1 % loss with
# gb28181.loss_policy "next_key_frame" (what every loss cost before: video frozen until the next
# key frame). Frames sent: gb-send's own count; received: the player's.
source "$(dirname "$0")/lib.sh"
OUT=${1:-$ROOT/bench/results/gb-loss.jsonl}
DURATION=${DURATION:-40}
SEED=${SEED:-1}
CASES=${CASES:-loss1 reorder05 loss1-keyframe}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
build_release
make_media
ALAW=$WORK/tone.alaw
ffmpeg -y -hide_banner -loglevel error -f lavfi -i "sine=frequency=1000:sample_rate=8000" -t 10 -ac 1 -c:a pcm_alaw -f alaw "$ALAW"

for case in $CASES; do
  policy=next_frame; impair=()
  case $case in
    loss1) impair=(--loss 1) ;;
    reorder05) impair=(--reorder 0.5 --reorder-window 3) ;;
    loss1-keyframe) impair=(--loss 1); policy=next_key_frame ;;
    *) echo "unknown case $case" >&2; exit 2 ;;
  esac
  GB_PORT=$(free_port)
  GB28181="{\"enabled\": true, \"host\": \"127.0.0.1\", \"shared_udp_port\": $GB_PORT, \"shared_tcp_port\": -1,
            \"loss_policy\": \"$policy\",
            \"receivers\": [{\"stream\": \"gb/cam\", \"ssrc\": \"0100000001\", \"mode\": \"udp\", \"port\": 0}]}"
  start_relay auto
  bench play --url "$(play_url rtmp gb/cam)" --players 1 --duration $((DURATION + 3)) --pid "$SERVER_PID" \
    >"$WORK/play-$case.txt" 2>&1 &
  PLAY=$!
  sleep 1
  bench gb-send --video "$ANNEXB" --audio "$ALAW" --loop --mode udp --port "$GB_PORT" --ssrc 0100000001 \
    --duration "$DURATION" --seed "$SEED" "${impair[@]}" >"$WORK/send-$case.txt" 2>&1
  wait "$PLAY" || true
  stop_server
  python3 - "$case" "$policy" "$WORK/send-$case.txt" "$WORK/play-$case.txt" "$SEED" <<'PY' | tee -a "$OUT"
import json, sys
case, policy, send, play, seed = sys.argv[1:]
def last_json(path):
    lines = [l for l in open(path) if l.startswith("{")]
    return json.loads(lines[-1]) if lines else {}
s, p = last_json(send), last_json(play)
sent, got = s.get("video_frames", 0), p.get("video_frames", 0)
print(json.dumps({"scenario": "gb-loss", "case": case, "loss_policy": policy, "seed": int(seed), "sent_frames": sent,
                  "played_frames": got, "delivered_pct": round(100 * got / sent, 1) if sent else None,
                  "packets": s.get("packets"), "lost_packets": s.get("lost"), "reordered_packets": s.get("reordered"),
                  "player_failures": p.get("failures"), "max_frame_gap_ms": p.get("max_frame_gap_ms")}))
PY
done
