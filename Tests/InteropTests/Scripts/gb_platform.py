#!/usr/bin/env python3
"""Plays a GB28181 platform (wvp-GB28181-pro) against a media node in ZLMediaKit's dialect.

It does what such a platform does, in its order and with its parameters (form POSTs with
`secret` first): registers the node (getServerConfig, setServerConfig of its hook URLs), opens
an RTP receiver, has a device (relay-bench gb-send) push PS to it, waits for on_publish and
on_stream_changed, plays the stream with ffprobe, cascades it with startSendRtp to a second
receiver, then lets it go unwatched until on_stream_none_reader closes it.

Prints one JSON line per check: {"check": name, "ok": bool, "detail": ...}; exits 0 when all pass.
Stdlib only, so it runs on a bare Debian python3.
"""
import argparse
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOOKS = ["on_play", "on_publish", "on_server_started", "on_stream_changed", "on_stream_none_reader",
         "on_stream_not_found", "on_server_keepalive", "on_send_rtp_stopped", "on_rtp_server_timeout", "on_record_mp4"]
UNUSED = ["on_flow_report", "on_http_access", "on_record_ts", "on_rtsp_auth", "on_rtsp_realm", "on_shell_login"]

failures = []


def check(name, ok, detail=None):
    print(json.dumps({"check": name, "ok": bool(ok), "detail": detail}), flush=True)
    if not ok:
        failures.append(name)
    return ok


class Hooks:
    """The platform's /index/hook/* endpoints: records every body, answers as wvp does."""

    def __init__(self, replace):
        self.replace = replace  # open-time stream id -> stream_replace
        self.events = []
        self.lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                name = self.path.rsplit("/", 1)[-1]
                with hooks.lock:
                    hooks.events.append((name, body))
                answer = {"code": 0, "msg": "success"}
                if name == "on_publish":
                    if body.get("stream") in hooks.replace:
                        answer.update({"stream_replace": hooks.replace[body["stream"]], "enable_audio": True,
                                       "enable_mp4": False})
                elif name == "on_stream_none_reader":
                    answer["close"] = True
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.prefix = "http://127.0.0.1:%d/index/hook" % self.server.server_address[1]

    def wait(self, name, match=lambda b: True, seconds=15):
        deadline = time.time() + seconds
        while time.time() < deadline:
            with self.lock:
                found = [b for n, b in self.events if n == name and match(b)]
            if found:
                return found[0]
            time.sleep(0.05)
        return None


class Node:
    """The media node's /index/api/* as wvp calls it (ZLMRESTfulUtils.sendPost)."""

    def __init__(self, base, secret):
        self.base = base
        self.secret = secret

    def call(self, route, **params):
        form = [("secret", self.secret)] + [(k, str(v)) for k, v in params.items()]
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request("%s/index/api/%s" % (self.base, route), data=data,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def hex_stream_id(ssrc):
    """wvp's open-time stream id: the SSRC as 8 upper-case hex digits."""
    return "%08X" % int(ssrc)


def port_free(port, udp):
    """Whether the port can be bound again (TCP: as a listener would, past TIME_WAIT)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    if not udp:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def ffprobe(ffprobe_bin, url):
    out = subprocess.run([ffprobe_bin, "-v", "error", "-rw_timeout", "10000000", "-show_entries",
                          "stream=codec_name", "-of", "csv=p=0", url],
                         capture_output=True, text=True, timeout=30)
    return sorted(set(out.stdout.split()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--api", required=True, help="http://HOST:PORT of the node's HTTP port")
    p.add_argument("--secret", required=True)
    p.add_argument("--media-server-id", required=True)
    p.add_argument("--mode", choices=["udp", "tcp-passive", "tcp-active"], default="udp")
    p.add_argument("--bench", required=True, help="relay-bench (its gb-send is the device)")
    p.add_argument("--video", required=True)
    p.add_argument("--audio")
    p.add_argument("--ffprobe", default="ffprobe")
    p.add_argument("--cascade", action="store_true")
    a = p.parse_args()

    tcp_mode = {"udp": 0, "tcp-passive": 1, "tcp-active": 2}[a.mode]
    ssrc = {"udp": "0200000001", "tcp-passive": "0200000002", "tcp-active": "0200000003"}[a.mode]
    stream_id = hex_stream_id(ssrc)
    replaced = "34020000001320000001_3402000000131000000%d" % tcp_mode
    hooks = Hooks({stream_id: replaced})
    node = Node(a.api, a.secret)
    device = None
    try:
        # Registration: poll getServerConfig until data[0] has what the platform needs.
        config = node.call("getServerConfig")
        data = (config.get("data") or [{}])[0]
        check("getServerConfig", config.get("code") == 0 and data.get("general.mediaServerId") == a.media_server_id
              and "hook.alive_interval" in data and "rtmp.port" in data and "rtsp.port" in data
              and "rtp_proxy.port" in data, {k: data.get(k) for k in ["general.mediaServerId", "hook.alive_interval",
                                                                   "rtmp.port", "rtsp.port", "rtp_proxy.port"]})
        check("wrong secret refused", Node(a.api, "nope").call("getServerConfig").get("code") == -100)
        settings = {"hook.enable": "1", "hook.timeoutSec": "30", "hook.alive_interval": "1",
                    "protocol.continue_push_ms": "3000", "rtp_proxy.port_range": "46000-46999"}
        for name in HOOKS:
            settings["hook." + name] = "%s/%s" % (hooks.prefix, name)
        for name in UNUSED:
            settings["hook." + name] = ""
        answer = node.call("setServerConfig", **settings)
        check("setServerConfig", answer.get("code") == 0 and answer.get("changed", 0) >= len(HOOKS), answer)
        data = node.call("getServerConfig")["data"][0]
        check("hook URLs stored", data.get("hook.on_publish") == "%s/on_publish" % hooks.prefix
              and data.get("rtp_proxy.port_range") == "46000-46999", data.get("hook.on_publish"))
        check("on_server_keepalive", hooks.wait("on_server_keepalive", seconds=5) is not None)

        # A live play: getRtpInfo, openRtpServer, the device's INVITE answer, media.
        check("getRtpInfo before open", node.call("getRtpInfo", stream_id=stream_id, app="rtp").get("exist") is False)
        opened = node.call("openRtpServer", app="rtp", stream_id=stream_id, port=0, tcp_mode=tcp_mode,
                           only_track=0, re_use_port=0, ssrc=int(ssrc))
        port = opened.get("port", 0)
        # tcp-active: the port the node connects from (ZLMediaKit binds it from the range too).
        check("openRtpServer", opened.get("code") == 0 and 46000 <= port <= 46999, opened)
        listed = node.call("listRtpServer")
        check("listRtpServer", any(e.get("stream_id") == stream_id and e.get("port") == port for e in listed.get("data", [])), listed)
        send = [a.bench, "gb-send", "--video", a.video, "--loop", "--ssrc", ssrc, "--mode", a.mode]
        if a.audio:
            send += ["--audio", a.audio]
        if a.mode == "tcp-active":
            device = subprocess.Popen(send + ["--port", "0"], stdout=subprocess.PIPE, text=True)
            line = device.stdout.readline().strip()
            host, _, device_port = line.replace("listening on ", "").rpartition(":")
            answer = node.call("connectRtpServer", dst_url="127.0.0.1", dst_port=device_port, app="rtp", stream_id=stream_id)
            check("connectRtpServer", answer.get("code") == 0, answer)
        else:
            device = subprocess.Popen(send + ["--port", str(port)], stdout=subprocess.DEVNULL)

        published = hooks.wait("on_publish", lambda b: b.get("stream") == stream_id)
        check("on_publish", published is not None and published.get("app") == "rtp"
              and published.get("mediaServerId") == a.media_server_id, published)
        changed = hooks.wait("on_stream_changed", lambda b: b.get("regist") is True and b.get("schema") == "rtsp"
                             and b.get("stream") == replaced)
        codecs = sorted(t.get("codec_id") for t in (changed or {}).get("tracks", []))
        check("on_stream_changed regist", changed is not None and changed.get("app") == "rtp"
              and changed.get("originType") == 3 and codecs == ([0, 3] if a.audio else [0]), changed)
        info = node.call("getMediaInfo", vhost="__defaultVhost__", schema="rtsp", app="rtp", stream=replaced)
        check("getMediaInfo", info.get("code") == 0 and info.get("app") == "rtp" and "totalReaderCount" in info, info)
        rtp = node.call("getRtpInfo", stream_id=stream_id, app="rtp")
        check("getRtpInfo", rtp.get("exist") is True and rtp.get("local_port") == port and rtp.get("peer_ip"), rtp)
        seen = ffprobe(a.ffprobe, "%s/rtp/%s.live.flv" % (a.api, replaced))
        check("ffprobe .live.flv", seen == sorted(["h264"] + (["pcm_alaw"] if a.audio else [])), seen)

        if a.cascade:
            # The upper platform's INVITE: another receiver stands in for it.
            upper_ssrc = "0300000001"
            upper = node.call("openRtpServer", app="rtp", stream_id="upper", port=0, tcp_mode=0, ssrc=int(upper_ssrc))
            check("openRtpServer (upper platform)", upper.get("code") == 0, upper)
            sent = node.call("startSendRtp", vhost="__defaultVhost__", app="rtp", stream=replaced, ssrc=upper_ssrc,
                             src_port=0, pt=96, use_ps=1, only_audio=0, is_udp=1, enable_origin_recv_limit=1,
                             udp_rtcp_timeout=500, dst_url="127.0.0.1", dst_port=upper.get("port"))
            check("startSendRtp", sent.get("code") == 0 and sent.get("local_port", 0) > 0, sent)
            arrived = hooks.wait("on_stream_changed", lambda b: b.get("regist") is True and b.get("stream") == "upper"
                                 and b.get("schema") == "rtsp")
            check("cascade arrives", arrived is not None, arrived)
            seen = ffprobe(a.ffprobe, "%s/rtp/upper.live.flv" % a.api)
            check("ffprobe cascade", "h264" in seen, seen)
            media = node.call("getMediaList", vhost="__defaultVhost__", app="rtp", stream=replaced, schema="rtsp")
            readers = [m.get("totalReaderCount") for m in media.get("data", [])]
            check("sender counts as reader", readers and readers[0] >= 1, media)
            stopped = node.call("stopSendRtp", vhost="__defaultVhost__", app="rtp", stream=replaced, ssrc=upper_ssrc)
            check("stopSendRtp", stopped.get("code") == 0, stopped)
            closed = node.call("closeRtpServer", app="rtp", stream_id="upper")
            check("closeRtpServer (upper)", closed.get("code") == 0 and closed.get("hit") == 1, closed)

        # Nobody watches: on_stream_none_reader, the platform answers close, the stream goes.
        idle = hooks.wait("on_stream_none_reader", lambda b: b.get("stream") == replaced, seconds=20)
        check("on_stream_none_reader", idle is not None and idle.get("app") == "rtp", idle)
        gone = hooks.wait("on_stream_changed", lambda b: b.get("regist") is False and b.get("schema") == "rtsp"
                          and b.get("stream") == replaced)
        check("on_stream_changed unregist", gone is not None, gone)
        # wvp then closes the receiver by the replaced name and the stream with force.
        node.call("closeRtpServer", app="rtp", stream_id=replaced)
        node.call("close_streams", vhost="__defaultVhost__", app="rtp", stream=replaced, force=1)
        listed = node.call("listRtpServer")
        check("receiver gone", not any(e.get("stream_id") == stream_id for e in listed.get("data", [])), listed)
        offline = node.call("getMediaInfo", vhost="__defaultVhost__", schema="rtsp", app="rtp", stream=replaced)
        check("getMediaInfo after close", offline.get("code") == -500, offline)
        check("port freed", port_free(port, udp=a.mode == "udp"), port)
    finally:
        if device:
            device.terminate()
            device.wait(5)
        hooks.server.shutdown()
    print(json.dumps({"failures": failures}), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
