#!/usr/bin/env bash
# Back-to-back rounds for the headline ratio of BENCHMARKS.md: 500 players of one 2 Mb/s stream
# joining at once, LiveRelay RTMP and HTTP-FLV at the shipped config (MERGE=auto: the adaptive
# window) then nginx-rtmp, PAIRS rounds (default 3), 20 s each; prints the median ratios.
#   bench/pairs.sh [OUT.jsonl]    (default bench/results/pairs.jsonl; MERGE=350 or 0 to compare)
source "$(dirname "$0")/lib.sh"
OUT=${1:-$ROOT/bench/results/pairs.jsonl}
MERGE=${MERGE:-auto}
PLAYERS=${PLAYERS:-500}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
build_release
make_media
merge_json=$([ "$MERGE" = auto ] && echo '"auto"' || echo "$MERGE")
for i in $(seq "${PAIRS:-3}"); do
  for run in liverelay:rtmp liverelay:http nginx-rtmp:rtmp; do
    server=${run%%:*}; proto=${run##*:}
    if [ "$server" = liverelay ]; then start_relay "$MERGE"; m=$merge_json; else start_nginx; m=0; fi
    publish live/s
    url=$([ "$server" = nginx-rtmp ] && echo "rtmp://127.0.0.1:$RTMP_PORT/live/s" || play_url "$proto" live/s)
    line=$(bench play --url "$url" --players "$PLAYERS" --duration 20 --pid "$SERVER_PID" | tail -1) || true
    [ -n "$line" ] || line='{"error":"no output"}'
    echo "{\"scenario\":\"repeat\",\"server\":\"$server\",\"proto\":\"$proto\",\"merge\":$m,\"round\":$i,${line:1}" | tee -a "$OUT"
    stop_publisher; stop_server
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def cost(server, proto, r):
    return next((x.get("server_cpu_s_per_gb") for x in rows if x["server"] == server and x["proto"] == proto and x["round"] == r), None)
for proto in ("rtmp", "http"):
    ratios = []
    for r in sorted({x["round"] for x in rows}):
        ours, nginx = cost("liverelay", proto, r), cost("nginx-rtmp", "rtmp", r)
        if ours and nginx: ratios.append(ours / nginx)
    if ratios:
        print(f"LiveRelay {proto} / nginx-rtmp RTMP, CPU s per GB: " + ", ".join(f"{x:.2f}" for x in ratios)
              + f"; median {statistics.median(ratios):.2f}")
PY
