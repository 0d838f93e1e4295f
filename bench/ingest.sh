#!/usr/bin/env bash
# Ingest cost (issue 18): server CPU per Mb/s of ingest with N publishers (default 20) and no
# players, for RTMP (LiveRelay and nginx-rtmp in the same run), GB28181 RTP/PS over UDP and over
# TCP (passive, the shared ports) and JT/T 1078. Every publisher sends the same 2 Mb/s 720p25
# H.264 clip (video only, looped, paced in real time) from relay-bench on core 1; the server runs
# on core 0 at the shipped config apart from its ports.
#   bench/ingest.sh [OUT.jsonl]   (default bench/results/ingest.jsonl; PUBLISHERS=20 DURATION=30
#                                  KINDS="rtmp nginx gb-udp gb-tcp jt" ROUNDS=1)
# Publishers start one every STAGGER seconds (default 0.077: not a multiple of the 40 ms frame
# interval), so their frames arrive at independent moments, as independent cameras' do: started
# together, 20 paced publishers send in step and one wake-up of the server reads many of them,
# which made a run's cost depend on how its publishers happened to line up.
# Ingest rate: the media payload bytes LiveRelay counted over the window (admin API
# /api/v1/stats bytes_in: the same clip, so the same figure whatever the protocol's framing);
# nginx-rtmp gets the same 20 RTMP publishers as our RTMP run of the round, so its media rate is
# that run's. The loopback interface's received bytes (/proc/net/dev, headers and TCP ACKs
# included) are reported too, as a check that both RTMP runs carried the same traffic. CPU is
# the server's utime+stime over the same window (/proc/PID/stat).
source "$(dirname "$0")/lib.sh"
OUT=${1:-$ROOT/bench/results/ingest.jsonl}
N=${PUBLISHERS:-20}
DURATION=${DURATION:-30}
KINDS=${KINDS:-rtmp nginx gb-udp gb-tcp jt}   # nginx after rtmp: it takes that run's media rate
STAGGER=${STAGGER:-0.077}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
build_release
make_media

lo_rx() { awk '$1 == "lo:" { print $2 }' /proc/net/dev; }
# media_in: payload bytes received so far (LiveRelay's admin API; 0 for nginx-rtmp).
media_in() {
  [ "$SERVER_KIND" = nginx ] && { echo 0; return; }
  curl -sf "http://127.0.0.1:$ADMIN_PORT/api/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_in"]["total"])'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# measure KIND: waits for the publishers to settle, then samples CPU and loopback bytes over DURATION.
measure() {
  sleep 5
  local t0 c0 b0 m0 t1 c1 b1 m1 rss
  m0=$(media_in); t0=$(date +%s.%N); c0=$(cpu_ticks "$SERVER_PID"); b0=$(lo_rx)
  sleep "$DURATION"
  t1=$(date +%s.%N); c1=$(cpu_ticks "$SERVER_PID"); b1=$(lo_rx); m1=$(media_in)
  rss=$(awk '/VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")
  python3 - "$1" "$N" "$t0" "$t1" "$c0" "$c1" "$b0" "$b1" "$m0" "$m1" "$rss" "$(getconf CLK_TCK)" "${RTMP_MEDIA_MBPS:-0}" <<'PY' | tee -a "$OUT"
import json, sys
kind, n, t0, t1, c0, c1, b0, b1, m0, m1, rss, hz, rtmp_media = sys.argv[1:]
seconds = float(t1) - float(t0)
cpu = (int(c1) - int(c0)) / int(hz)
lo_mbps = (int(b1) - int(b0)) * 8 / seconds / 1e6
media = (int(m1) - int(m0)) * 8 / seconds / 1e6 if kind != "nginx" else float(rtmp_media)
server = "nginx-rtmp" if kind == "nginx" else "liverelay"
proto = "rtmp" if kind == "nginx" else kind
print(json.dumps({"scenario": "ingest", "server": server, "proto": proto, "publishers": int(n),
                  "media_mbps": round(media, 2), "lo_mbps": round(lo_mbps, 1), "server_cpu_s": round(cpu, 2),
                  "server_cpu_pct": round(cpu / seconds * 100, 2),
                  "cpu_ms_per_s_per_mbps": round(cpu / seconds * 1000 / media, 3) if media else None,
                  "server_rss_mib": round(int(rss) / 1024, 1), "seconds": round(seconds, 1)}))
PY
}

# gb_receivers MODE: the static receivers of N GB28181 cameras on the shared ports (SSRC 01000000ii).
gb_receivers() {
  local list="" i
  for i in $(seq 0 $((N - 1))); do
    list+="${list:+,}{\"stream\": \"gb/c$i\", \"ssrc\": \"$(printf '01%08d' "$i")\", \"mode\": \"$1\", \"port\": 0}"
  done
  echo "[$list]"
}

stop_senders() { for p in "${SENDERS[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait "${SENDERS[@]:-}" 2>/dev/null || true; SENDERS=(); }
send_seconds=$((DURATION + 15))
for round in $(seq "${ROUNDS:-1}"); do
for kind in $KINDS; do
  SENDERS=(); SERVER_KIND=$kind; ADMIN_PORT=$(free_port)
  case $kind in
    rtmp|nginx)
      if [ "$kind" = nginx ]; then start_nginx; else start_relay auto; fi
      bench push --url "rtmp://127.0.0.1:$RTMP_PORT/live/p{i}" --count "$N" --input "$ANNEXB" \
        --ramp "$(python3 -c "print(1 / $STAGGER)")" --duration "$send_seconds" >"$WORK/push.log" 2>&1 & SENDERS+=($!) ;;
    gb-udp|gb-tcp)
      mode=$([ "$kind" = gb-udp ] && echo udp || echo tcp-passive)
      GB_PORT=$(free_port)
      GB28181="{\"host\": \"127.0.0.1\", \"shared_udp_port\": $GB_PORT, \"shared_tcp_port\": $GB_PORT, \"receivers\": $(gb_receivers "$mode")}" \
        start_relay auto
      for i in $(seq 0 $((N - 1))); do
        bench gb-send --video "$ANNEXB" --loop --duration "$send_seconds" --mode "$mode" --port "$GB_PORT" \
          --ssrc "$(printf '01%08d' "$i")" >"$WORK/gb-$i.log" 2>&1 & SENDERS+=($!)
        sleep "$STAGGER"
      done ;;
    jt)
      JT_PORT=$(free_port)
      JT1078="{\"host\": \"127.0.0.1\", \"port\": $JT_PORT}" start_relay auto
      for i in $(seq 0 $((N - 1))); do
        bench jt-send --video "$ANNEXB" --loop --duration "$send_seconds" --port "$JT_PORT" \
          --sim "$(printf '139%08d' "$i")" >"$WORK/jt-$i.log" 2>&1 & SENDERS+=($!)
        sleep "$STAGGER"
      done ;;
  esac
  measure "$kind"
  [ "$kind" = rtmp ] && RTMP_MEDIA_MBPS=$(tail -1 "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["media_mbps"])')
  stop_senders; stop_server
done
done
echo "results: $OUT"
