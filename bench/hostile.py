#!/usr/bin/env python3
"""The eight hostile-client triggers of the hardening issue, against the real relay binary.

For each trigger: a fresh relay (2 event loops), a victim stream (ffmpeg publishing over RTMP)
with an HTTP-FLV reader, the idle RSS, then the attack. Reported per trigger: relay alive, the
attacker's connection closed, the log line, the slowest admin answer during and after the attack,
the victim's bytes during the attack, and RSS after the attacker left against the idle value.

    bench/hostile.py --bin .build-release/release [--only 1,5] [--media clip.flv --annexb clip.h264]

Loopback only; every loop is bounded in count and time. Exit status 1 when a trigger is not met.
"""
import argparse, json, os, random, re, socket, struct, subprocess, sys, tempfile, threading, time, urllib.request

# ---------------------------------------------------------------- RTMP, raw
def amf0(v):
    if v is None: return b"\x05"
    if isinstance(v, bool): return b"\x01" + bytes([v])
    if isinstance(v, (int, float)): return b"\x00" + struct.pack(">d", v)
    if isinstance(v, str): b = v.encode(); return b"\x02" + struct.pack(">H", len(b)) + b
    if isinstance(v, dict):
        out = b"\x03"
        for k, x in v.items(): kb = k.encode(); out += struct.pack(">H", len(kb)) + kb + amf0(x)
        return out + b"\x00\x00\x09"
    raise TypeError(v)

def chunk(csid, ts, type_id, msid, payload, size=128):
    ext = ts >= 0xFFFFFF
    head = bytes([csid]) + (0xFFFFFF if ext else ts).to_bytes(3, "big") + len(payload).to_bytes(3, "big") \
        + bytes([type_id]) + struct.pack("<I", msid) + (struct.pack(">I", ts) if ext else b"")
    out = [head, payload[:size]]
    for i in range(size, len(payload), size):
        out += [bytes([0xC0 | csid]) + (struct.pack(">I", ts) if ext else b""), payload[i:i + size]]
    return b"".join(out)

def rtmp_handshake(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"\x03" + bytes(8) + os.urandom(1528))
    got = b""
    while len(got) < 1 + 1536 * 2:
        part = s.recv(65536)
        if not part: raise RuntimeError("handshake refused")
        got += part
    s.sendall(got[1:1537])
    return s

def rtmp_publish(port, app, name):
    s = rtmp_handshake(port)
    s.sendall(chunk(3, 0, 20, 0, amf0("connect") + amf0(1) + amf0({"app": app, "tcUrl": f"rtmp://127.0.0.1/{app}"}))
              + chunk(3, 0, 20, 0, amf0("createStream") + amf0(2) + amf0(None))
              + chunk(3, 0, 20, 1, amf0("publish") + amf0(3) + amf0(None) + amf0(name) + amf0("live")))
    wait_for(s, b"NetStream.Publish.Start")
    return s

def set_chunk_size(size): return chunk(2, 0, 1, 0, struct.pack(">I", size))

def wait_for(s, marker, seconds=5):
    got, end = b"", time.time() + seconds
    while marker not in got and time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        try:
            part = s.recv(65536)
        except socket.timeout:
            break
        if not part: break
        got += part
    if marker not in got: raise RuntimeError(f"no {marker!r}")

def closed_within(s, seconds):
    """True when the server closes (or resets) the connection within `seconds`."""
    end = time.time() + seconds
    while time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        try:
            if s.recv(1 << 20) == b"": return True
        except socket.timeout:
            return False
        except OSError:
            return True
    return False

def send_all(s, data, seconds=30):
    """Sends what the server takes within `seconds` (a closed connection ends it); returns bytes sent."""
    s.settimeout(seconds)
    sent, view = 0, memoryview(data)
    try:
        while sent < len(data): sent += s.send(view[sent:sent + (1 << 20)])
    except OSError:
        pass
    return sent

def flv_video_tags(path):
    """(AVC sequence header body, first key frame body) of an FLV file."""
    data = open(path, "rb").read()
    pos, config = 13, None
    while pos + 11 <= len(data):
        t, size = data[pos], int.from_bytes(data[pos + 1:pos + 4], "big")
        body = data[pos + 11:pos + 11 + size]
        pos += 11 + size + 4
        if t == 9 and len(body) > 5:
            if body[1] == 0: config = body
            elif config and body[0] >> 4 == 1: return config, body
    raise RuntimeError("no AVC config and key frame in " + path)

# ---------------------------------------------------------------- RTP / PS, raw
def rtp(seq, ts, ssrc, payload, marker=False, pt=96):
    return struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload

def pack_header():
    return bytes([0, 0, 1, 0xBA, 0x44, 0, 4, 0, 4, 1, 0, 0, 3, 0xF8])

# ---------------------------------------------------------------- the relay
class Relay:
    def __init__(self, bindir, extra):
        self.dir = tempfile.mkdtemp(prefix="hostile-")
        self.ports = {k: free_port() for k in ("rtmp", "http", "rtsp", "admin", "jt", "gb")}
        p = self.ports
        config = {"log_level": "info", "event_loops": 2,
                  "rtmp": {"host": "127.0.0.1", "port": p["rtmp"]},
                  "http_flv": {"host": "127.0.0.1", "port": p["http"]},
                  "rtsp": {"host": "127.0.0.1", "port": p["rtsp"]},
                  "admin": {"host": "127.0.0.1", "port": p["admin"]},
                  "jt1078": {"host": "127.0.0.1", "port": p["jt"]},
                  "gb28181": {"host": "127.0.0.1", "shared_udp_port": p["gb"], "shared_tcp_port": p["gb"]},
                  "webrtc": {"host": "127.0.0.1", "port": 0},
                  "limits": {"max_connections_per_ip": 0}}
        for section, values in extra.items(): config.setdefault(section, {}).update(values)
        open(f"{self.dir}/config.json", "w").write(json.dumps(config))
        self.log = open(f"{self.dir}/relay.log", "w+")
        self.proc = subprocess.Popen([f"{bindir}/relay", "--config", f"{self.dir}/config.json"], stdout=self.log, stderr=self.log)
        wait_port(p["http"])

    def rss(self):
        try:
            for line in open(f"/proc/{self.proc.pid}/status"):
                if line.startswith("VmRSS:"): return int(line.split()[1]) * 1024
        except OSError:
            return 0
        return 0

    def alive(self): return self.proc.poll() is None
    def log_text(self): self.log.flush(); return open(f"{self.dir}/relay.log").read()

    def admin(self, method, path, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.ports['admin']}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(req, timeout=5) as r: return r.status, r.read()

    def stop(self):
        self.proc.terminate()
        try: self.proc.wait(5)
        except subprocess.TimeoutExpired: self.proc.kill()

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def wait_port(port):
    for _ in range(100):
        try: socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); return
        except OSError: time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")

class AdminProbe(threading.Thread):
    """GET /api/v1/server every 50 ms; keeps the slowest answer (a failed call counts 5 s)."""
    def __init__(self, relay):
        super().__init__(daemon=True); self.relay, self.worst, self.running = relay, 0.0, True
    def run(self):
        while self.running:
            t = time.time()
            try: self.relay.admin("GET", "/api/v1/server")
            except Exception: pass
            self.worst = max(self.worst, time.time() - t if self.relay.alive() else 5.0)
            time.sleep(0.05)

class Reader(threading.Thread):
    """An HTTP-FLV player counting the bytes it gets."""
    def __init__(self, port, path):
        super().__init__(daemon=True); self.bytes, self.running = 0, True
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    def run(self):
        while self.running:
            try: part = self.s.recv(65536)
            except OSError: break
            if not part: break
            self.bytes += len(part)
    def stop(self): self.running = False; self.s.close()

# ---------------------------------------------------------------- the triggers
def t1_nal_rewrite(r, a):
    """1-byte NAL lengths, then one ~8 MiB message of ~4.2 M 1-byte NAL units, RTMP player attached."""
    config, _ = flv_video_tags(a.media)
    config = bytearray(config); config[9] = 0xFC  # lengthSizeMinusOne = 0 (byte 4 of the record)
    s = rtmp_publish(r.ports["rtmp"], "live", "nal")
    s.sendall(set_chunk_size(1 << 20))
    s.sendall(chunk(6, 0, 9, 1, bytes(config), 1 << 20))
    s.sendall(chunk(6, 0, 9, 1, bytes([0x17, 1, 0, 0, 0, 3, 0x65, 0x88, 0x84]), 1 << 20))
    time.sleep(1.5)  # the track wait
    player = subprocess.Popen(["ffmpeg", "-loglevel", "quiet", "-i", f"rtmp://127.0.0.1:{r.ports['rtmp']}/live/nal",
                               "-f", "null", "-"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    body = bytes([0x27, 1, 0, 0, 0]) + bytes([1, 0x41]) * ((8 << 20) // 2 - 8)
    send_all(s, chunk(6, 40, 9, 1, body, 1 << 20))
    time.sleep(2)
    player.kill()
    return s

def t2_timestamps(r, a):
    """AAC at 16,777,215 Hz with times alternating 0x80000001 / 0, RTSP player attached."""
    s = rtmp_publish(r.ports["rtmp"], "live", "ts")
    s.sendall(chunk(4, 0, 8, 1, bytes([0xAF, 0, 0x17, 0xFF, 0xFF, 0xFF, 0x88])) + chunk(4, 0, 8, 1, bytes([0xAF, 1, 0x21])))
    time.sleep(1.5)
    rtsp = rtsp_play(r.ports["rtsp"], "live/ts")
    pair = chunk(4, 0x80000001, 8, 1, bytes([0xAF, 1, 0x21])) + chunk(4, 0, 8, 1, bytes([0xAF, 1, 0x21]))
    send_all(s, pair * 200_000, seconds=60)
    time.sleep(2)
    rtsp.close()
    return s

def rtsp_play(port, stream):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    url = f"rtsp://127.0.0.1:{port}/{stream}"
    def ask(text):
        s.sendall(text.encode()); got = b""
        while b"\r\n\r\n" not in got: got += s.recv(65536)
        head, _, rest = got.partition(b"\r\n\r\n")
        m = re.search(rb"Content-Length: *(\d+)", head, re.I)
        while m and len(rest) < int(m.group(1)): rest += s.recv(65536)
        return head.decode(), rest.decode(errors="replace")
    _, sdp = ask(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n")
    control = [l[10:] for l in sdp.splitlines() if l.startswith("a=control:") and not l.endswith("*")][0]
    track = control if control.startswith("rtsp://") else f"{url}/{control}"
    head, _ = ask(f"SETUP {track} RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n")
    session = re.search(r"Session: *([^;\r\n]+)", head, re.I).group(1)
    s.sendall(f"PLAY {url} RTSP/1.0\r\nCSeq: 3\r\nSession: {session}\r\n\r\n".encode())
    return s

def t3_slowloris(r, a):
    """50 play requests declaring a 1 GB body, then silence, with max_connections 60."""
    held = []
    for _ in range(50):
        c = socket.create_connection(("127.0.0.1", r.ports["http"]), timeout=10)
        c.sendall(b"GET /live/victim.flv HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        held.append(c)
    closed = sum(closed_within(c, 3) for c in held)
    # New players and publishers still get in.
    extra = [Reader(r.ports["http"], "/live/victim.flv") for _ in range(5)]
    for e in extra: e.start()
    time.sleep(1.5)
    newcomers = sum(e.bytes > 0 for e in extra)
    for e in extra: e.stop()
    pub = rtmp_publish(r.ports["rtmp"], "live", "late")
    pub.close()
    t3_slowloris.detail = f"{closed}/50 held connections closed in 3 s; {newcomers}/5 new players played; a publisher got in"
    return held[0]

def t4_gb_injection(r, a):
    """The camera's SSRC from another address on the shared UDP port, with a bad pack header."""
    status, _ = r.admin("POST", "/api/v1/gb28181/receivers", {"stream": "gb/cam1", "ssrc": "0100000001", "port": "shared"})
    cam = subprocess.Popen([f"{a.bin}/relay-bench", "gb-send", "--video", a.annexb, "--ssrc", "0100000001",
                            "--port", str(r.ports["gb"]), "--loop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    viewer = Reader(r.ports["http"], "/gb/cam1.flv"); viewer.start()
    time.sleep(1.5)
    before = viewer.bytes
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(20):
        u.sendto(rtp(60000 + i, 0, 100000001, bytes([0, 0, 1, 0xBA]) + os.urandom(200)), ("127.0.0.1", r.ports["gb"]))
    time.sleep(3)
    after = viewer.bytes
    viewer.stop(); cam.kill()
    t4_gb_injection.detail = f"receiver {status}; camera viewer {before} -> {after} bytes across the injection"
    t4_gb_injection.ok = after > before + 10_000
    return None

def t5_ps_recursion(r, a):
    """64 KiB of repeated 00 00 01 E0, and a 65535-byte PSM then repeated 00 00 01 BA (UDP and TCP)."""
    r.admin("POST", "/api/v1/gb28181/receivers", {"stream": "gb/ps", "ssrc": "0100000002", "port": "shared"})
    r.admin("POST", "/api/v1/gb28181/receivers", {"stream": "gb/pt", "ssrc": "0100000003", "port": "shared", "mode": "tcp-passive"})
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pes = pack_header() + bytes([0, 0, 1, 0xE0]) * (64 << 8)
    psm = pack_header() + bytes([0, 0, 1, 0xBC, 0xFF, 0xFF]) + bytes([0, 0, 1, 0xBA]) * (16 << 10)
    for n, frame in enumerate((pes, psm)):
        for i in range(0, len(frame), 1400):
            u.sendto(rtp(n * 1000 + i // 1400, n, 100000002, frame[i:i + 1400], marker=i + 1400 >= len(frame)),
                     ("127.0.0.1", r.ports["gb"]))
    t = socket.create_connection(("127.0.0.1", r.ports["gb"]), timeout=10)
    for n, frame in enumerate((pes, psm)):
        for i in range(0, len(frame), 1400):
            p = rtp(n * 1000 + i // 1400, n, 100000003, frame[i:i + 1400], marker=i + 1400 >= len(frame))
            t.sendall(struct.pack(">H", len(p)) + p)
    time.sleep(2)
    return t

def t6_reorder(r, a):
    """Sequence numbers 65500, 65501, 65510, 10, 3500 with reorder_window 100."""
    r.admin("POST", "/api/v1/gb28181/receivers", {"stream": "gb/seq", "ssrc": "0100000004", "port": "shared"})
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for seq in (65500, 65501, 65510, 10, 3500):
        u.sendto(rtp(seq, seq * 3600, 100000004, pack_header()), ("127.0.0.1", r.ports["gb"]))
    time.sleep(3)
    return None

def t7_tiny_audio(r, a):
    """One key frame, then 1-byte audio messages at one timestamp (up to 32 M; ended by the server)."""
    config, key = flv_video_tags(a.media)
    s = rtmp_publish(r.ports["rtmp"], "live", "tiny")
    s.sendall(chunk(4, 0, 8, 1, bytes([0xAF, 0, 0x12, 0x10])) + chunk(6, 0, 9, 1, config) + chunk(6, 0, 9, 1, key))
    time.sleep(1)
    viewer = Reader(r.ports["http"], "/live/tiny.flv"); viewer.start()
    time.sleep(1)
    block = chunk(4, 40, 8, 1, bytes([0xAF, 1, 0x21])) * 100_000
    sent, start = 0, time.time()
    while sent < 32_000_000 and time.time() - start < 66:
        if send_all(s, block, seconds=10) < len(block): break
        sent += 100_000
    viewer.stop()
    t7_tiny_audio.detail = f"{sent} messages sent before the server hung up"
    return s

def t8_amf_null(r, a):
    """Straight after the handshake, 2 connections each send 4 messages of 8 MiB of AMF0 null."""
    conns = [rtmp_handshake(r.ports["rtmp"]) for _ in range(2)]
    payload = b"\x05" * (8 << 20)
    threads = []
    for c in conns:
        c.sendall(set_chunk_size(1 << 20))
        data = b"".join(chunk(3, 0, 20, 0, payload, 1 << 20) for _ in range(4))
        threads.append(threading.Thread(target=send_all, args=(c, data, 20)))
    for t in threads: t.start()
    for t in threads: t.join()
    return conns[0]

TRIGGERS = [(1, t1_nal_rewrite, {}), (2, t2_timestamps, {"source": {"max_packet_rate": 0}}),
            (3, t3_slowloris, {"limits": {"max_connections": 60}}), (4, t4_gb_injection, {}),
            (5, t5_ps_recursion, {}), (6, t6_reorder, {"gb28181": {"reorder_window": 100}}),
            (7, t7_tiny_audio, {}), (8, t8_amf_null, {})]

def run(n, trigger, extra, a):
    r = Relay(a.bin, extra)
    victim = subprocess.Popen(["ffmpeg", "-loglevel", "quiet", "-re", "-stream_loop", "-1", "-i", a.media, "-c", "copy",
                               "-f", "flv", f"rtmp://127.0.0.1:{r.ports['rtmp']}/live/victim"])
    time.sleep(3)
    reader = Reader(r.ports["http"], "/live/victim.flv"); reader.start()
    probe = AdminProbe(r); probe.start()
    # Idle: the victim and the admin probe running, warmed up (caches full, allocator settled).
    time.sleep(8)
    idle = r.rss()
    probe.worst = 0.0
    victim_before, t0 = reader.bytes, time.time()
    conn, error = None, None
    try:
        conn = trigger(r, a)
    except Exception as e:  # the attack itself failing (e.g. refused at once) is reported, not fatal
        error = f"{type(e).__name__}: {e}"
    attack_s = time.time() - t0
    closed = closed_within(conn, 5) if conn is not None else None
    victim_rate = (reader.bytes - victim_before) * 8 / max(time.time() - t0, 0.001) / 1e6
    peak = r.rss()
    if conn is not None: conn.close()
    # The attacker has left: RSS back within 10 % of idle (waits up to 15 s: the trimmer looks
    # every 5 s).
    end = time.time() + 15
    while time.time() < end and r.rss() > idle * 1.10: time.sleep(0.25)
    after = r.rss()
    probe.running = False; probe.join()
    alive = r.alive()
    log = r.log_text()
    lines = [l for l in log.splitlines() if re.search(r"warning|error|notice|closing|refus|drop", l, re.I)
             and "victim" not in l]
    result = {"trigger": n, "what": trigger.__doc__.strip(), "alive": alive, "attack_closed": closed,
              "admin_worst_ms": round(probe.worst * 1000, 1), "victim_mbps_during": round(victim_rate, 2),
              "rss_idle_mib": round(idle / 2**20, 1), "rss_peak_mib": round(peak / 2**20, 1),
              "rss_after_mib": round(after / 2**20, 1), "attack_s": round(attack_s, 1),
              "log": lines[:3], "detail": getattr(trigger, "detail", ""), "error": error}
    ok = alive and probe.worst < 0.1 and after <= idle * 1.10 and victim_rate > 0.5 and closed is not False \
        and getattr(trigger, "ok", True)
    result["met"] = ok
    reader.stop(); victim.kill(); r.stop()
    return result

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=".build-release/release")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--media", default=os.path.join(here, "../../shared/media/h264_aac_720p.flv"))
    ap.add_argument("--annexb", default=os.path.join(here, "../../shared/media/h264_720p.h264"))
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    only = {int(x) for x in a.only.split(",") if x}
    failed = 0
    for n, trigger, extra in TRIGGERS:
        if only and n not in only: continue
        result = run(n, trigger, extra, a)
        failed += not result["met"]
        print(json.dumps(result), flush=True)
    sys.exit(1 if failed else 0)

if __name__ == "__main__":
    main()
