#!/usr/bin/env bash
# Browser first frame (BENCHMARKS.md): the web console in headless Chromium with a live stream
# preselected, RUNS times, each in a fresh browser (Tests/InteropTests/Scripts/browser_console.py);
# the time from the page's navigation start to its first decoded video frame
# (performance.now() at the first requestVideoFrameCallback), median, p90 and range.
# VIA=webrtc (WHEP) adds the time from the answer set to the first decoded frame (the issue's
# "first frame <= 500 ms after the answer"), median, p90 and range.
#   bench/browser-first-frame.sh [RUNS=10] [VIA=ws|http|llhls|webrtc]
# The release relay (built into .build-bench; BIN=dir for another build), the 720p clip of
# ../shared/media (or one ffmpeg makes), the relay on core 0, ffmpeg and the browser on core 1.
source "$(dirname "$0")/lib.sh"
RUNS=${1:-10}
VIA=${2:-ws}
(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product relay >/dev/null)
make_media
ADMIN_PORT=$(free_port)
start_relay auto
publish live/browser
for _ in $(seq "$RUNS"); do
  $LOAD_TASKSET python3 "$ROOT/Tests/InteropTests/Scripts/browser_console.py" \
    "http://127.0.0.1:$ADMIN_PORT/#/play/live/browser?via=$VIA" --stream live/browser --seconds 1 | tail -1 >>"$WORK/runs.jsonl"
done
stop_publisher
stop_server
python3 - "$WORK/runs.jsonl" "$VIA" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
ok = sorted(r["first_frame_ms"] for r in runs if r.get("first_frame_ms") is not None)
first_byte = sorted(r["first_byte_ms"] for r in runs if r.get("first_byte_ms") is not None)
for r in runs:
    if r.get("first_frame_ms") is None:
        print("failed run:", json.dumps(r)[:400], file=sys.stderr)
summary = {"via": sys.argv[2], "runs": len(runs), "played": len(ok)}
if ok:
    summary.update(first_frame_ms_median=round(statistics.median(ok), 1), first_frame_ms_p90=ok[min(len(ok) - 1, int(len(ok) * 0.9))],
                   first_frame_ms_min=ok[0], first_frame_ms_max=ok[-1])
if first_byte:
    summary["first_byte_ms_median"] = round(statistics.median(first_byte), 1)
answer = sorted(r["answer_to_first_frame_ms"] for r in runs if r.get("answer_to_first_frame_ms") is not None)
if answer:
    summary.update(answer_to_first_frame_ms_median=round(statistics.median(answer), 1),
                   answer_to_first_frame_ms_p90=answer[min(len(answer) - 1, int(len(answer) * 0.9))],
                   answer_to_first_frame_ms_min=answer[0], answer_to_first_frame_ms_max=answer[-1])
print(json.dumps(summary))
sys.exit(0 if ok and len(ok) == len(runs) else 1)
PY
