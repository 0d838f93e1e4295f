#!/usr/bin/env python3
"""Turns bench/run.sh's JSON lines into the Markdown tables of BENCHMARKS.md.
Usage: bench/report.py [bench/results/latest.jsonl]"""
import json
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest.jsonl"
rows = [json.loads(line) for line in open(path) if line.strip().startswith("{")]


def f(v, fmt="{:.2f}"):
    return fmt.format(v) if isinstance(v, (int, float)) else (v if v is not None else "-")


def kib_per_player(r):
    if "server_rss_mib" in r and "server_rss_before_mib" in r and r.get("players"):
        return f((r["server_rss_mib"] - r["server_rss_before_mib"]) * 1024 / r["players"], "{:.0f}")
    return "-"


def table(header, align, rows, cells):
    """One Markdown table: `header` and `align` lines, then `cells(r)` (the inside of a row) per row."""
    print(header)
    print(align)
    for r in rows:
        print(f"| {cells(r)} |")
    print()


fan = [r for r in rows if r.get("scenario") == "fanout"]
if fan:
    table("| server | proto | merge ms | players | failures | delivered Mb/s | slowest player Mb/s | max frame gap ms "
          "| server CPU % | CPU s / GB | RSS before → with players → after MiB | KiB / player | bench CPU % |",
          "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|", fan,
          lambda r: f"{r['server']} | {r['proto']} | {r['merge']} | {r.get('players')} | {r.get('failures')} "
                    f"| {f(r.get('delivered_mbps'), '{:.0f}')} | {f(r.get('min_player_mbps'))} | {r.get('max_frame_gap_ms', '-')} "
                    f"| {f(r.get('server_cpu_pct'), '{:.1f}')} | {f(r.get('server_cpu_s_per_gb'), '{:.3f}')} "
                    f"| {f(r.get('server_rss_before_mib'), '{:.1f}')} → {f(r.get('server_rss_mib'), '{:.1f}')} → "
                    f"{f(r.get('server_rss_after_close_mib'), '{:.1f}')} | {kib_per_player(r)} | {f(r.get('bench_cpu_pct'), '{:.0f}')}")

    # Ratios measured in the same run.
    def find(server, proto, merge, n):
        for r in fan:
            if (r["server"], r["proto"], r["merge"], r.get("players")) == (server, proto, merge, n):
                return r.get("server_cpu_s_per_gb")
        return None

    def ratio(a, b):
        return f(a / b, "{:.2f} ×") if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0 else "-"

    merges = [m for m in ("auto", 0, 350) if any(r["merge"] == m and r["server"] == "liverelay" for r in fan)]
    table("| players | " + " | ".join(f"ours {p} merge {m} / nginx-rtmp" for m in merges for p in ("RTMP", "HTTP-FLV"))
          + " | ours HTTP-FLV / floor (merge 0) | ours HTTP-FLV / floor (merge 350) |",
          "|--:|" + "--:|" * (2 * len(merges) + 2), sorted({r.get("players") for r in fan}),
          lambda n: f"{n} | " + " | ".join(ratio(find('liverelay', p, m, n), find('nginx-rtmp', 'rtmp', 0, n))
                                           for m in merges for p in ("rtmp", "http"))
                    + f" | {ratio(find('liverelay', 'http', 0, n), find('floor', 'http', 0, n))} "
                    f"| {ratio(find('liverelay', 'http', 350, n), find('floor', 'http', 350, n))}")

# The other scenarios: one table each, of the rows of its scenarios.
for scenarios, header, align, cells in [
    (("streams", "publishers"),
        "| scenario | proto | merge ms | streams | players | failures | delivered Mb/s | slowest player Mb/s | max frame gap ms | server CPU % | CPU s / GB | RSS MiB |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        lambda r: f"{r['scenario']} | {r['proto']} | {r['merge']} | {r.get('streams')} | {r.get('players')} | {r.get('failures')} "
                  f"| {f(r.get('delivered_mbps'), '{:.0f}')} | {f(r.get('min_player_mbps'))} | {r.get('max_frame_gap_ms', '-')} "
                  f"| {f(r.get('server_cpu_pct'), '{:.1f}')} | {f(r.get('server_cpu_s_per_gb'), '{:.3f}')} | {f(r.get('server_rss_mib'), '{:.1f}')}"),
    (("repeat", "scale"),
        "| scenario | server | proto | merge ms | event loops | round | players | failures | delivered Mb/s | slowest player Mb/s "
        "| first frame p50 / p99 ms | server CPU % | CPU s / GB | RSS before → with players → after MiB | KiB / player | bench CPU % |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        lambda r: f"{r['scenario']} | {r['server']} | {r['proto']} | {r['merge']} | {r.get('event_loops', 1)} | {r.get('round', '-')} "
                  f"| {r.get('players')} | {r.get('failures')} | {f(r.get('delivered_mbps'), '{:.0f}')} | {f(r.get('min_player_mbps'))} "
                  f"| {r.get('ttff_p50_ms')} / {r.get('ttff_p99_ms')} | {f(r.get('server_cpu_pct'), '{:.1f}')} "
                  f"| {f(r.get('server_cpu_s_per_gb'), '{:.3f}')} | {f(r.get('server_rss_before_mib'), '{:.1f}')} → "
                  f"{f(r.get('server_rss_mib'), '{:.1f}')} → {f(r.get('server_rss_after_close_mib'), '{:.1f}')} "
                  f"| {kib_per_player(r)} | {f(r.get('bench_cpu_pct'), '{:.0f}')}"),
    (("ingest",),
        "| server | proto | publishers | media Mb/s | loopback Mb/s | server CPU % | CPU ms per s per media Mb/s | RSS MiB |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
        lambda r: f"{r['server']} | {r['proto']} | {r.get('publishers')} | {r.get('media_mbps')} | {r.get('lo_mbps')} "
                  f"| {r.get('server_cpu_pct')} | {r.get('cpu_ms_per_s_per_mbps')} | {r.get('server_rss_mib')}"),
    (("late_joiner", "burst500"),
        "| scenario | proto | merge ms | players | failures | first frame p50 ms | p99 ms |",
        "|---|---|--:|--:|--:|--:|--:|",
        lambda r: f"{r['scenario']} | {r['proto']} | {r['merge']} | {r.get('players')} | {r.get('failures')} "
                  f"| {r.get('ttff_p50_ms')} | {r.get('ttff_p99_ms')}"),
    (("g2g",),
        "| proto | merge ms | players | stamped frames | glass-to-glass p50 ms | p99 ms | failures |",
        "|---|--:|--:|--:|--:|--:|--:|",
        lambda r: f"{r['proto']} | {r['merge']} | {r.get('players')} | {r.get('g2g_frames')} | {r.get('g2g_p50_ms')} "
                  f"| {r.get('g2g_p99_ms')} | {r.get('failures')}"),
    (("slow_viewer",),
        "| proto | policy | reading players | stalled | before: fps min / mean | gap p50 / p99 / max ms "
        "| during: fps min / mean | gap p50 / p99 / max ms | reading players lost | stalled: ended by server / playing after resume | failures |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        lambda r: f"{r['proto']} | {r['policy']} | {r.get('players')} | {r.get('stalled_players')} "
                  f"| {r.get('before_fps_min')} / {r.get('before_fps_mean')} "
                  f"| {r.get('before_gap_p50_ms')} / {r.get('before_gap_p99_ms')} / {r.get('before_gap_max_ms')} "
                  f"| {r.get('during_fps_min')} / {r.get('during_fps_mean')} "
                  f"| {r.get('during_gap_p50_ms')} / {r.get('during_gap_p99_ms')} / {r.get('during_gap_max_ms')} "
                  f"| {r.get('during_players_lost')} | {r.get('stalled_ended_by_server')} / {r.get('stalled_playing_after_resume')} "
                  f"| {r.get('failures')}"),
]:
    picked = [r for r in rows if r.get("scenario") in scenarios]
    if picked:
        table(header, align, picked, cells)
