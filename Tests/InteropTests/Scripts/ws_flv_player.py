#!/usr/bin/env python3
"""A WebSocket player for the WS-FLV interop tests, on the third-party websocket-client package
(python3 -m pip install websocket-client): what flv.js/mpegts.js do in a browser, scripted.

Connects to URL, writes the payload of every binary frame to --out (the FLV byte stream, for
ffprobe), optionally pings, plays --seconds, then closes with status 1000 and waits for the
server's close reply. Prints one JSON line: status (101, or the HTTP status of a refused
upgrade), frames, bytes, first_bytes (hex of the first frame's first 3 bytes), pong (the pong's
payload), close_reply (the status code in the server's close frame), server_close (a close the
server started).
"""
import argparse
import json
import time

import websocket
from websocket import ABNF


def code_of(frame):
    data = frame.data or b""
    return int.from_bytes(data[:2], "big") if len(data) >= 2 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out")
    ap.add_argument("--ping", action="store_true")
    a = ap.parse_args()

    result = {"frames": 0, "bytes": 0}
    try:
        ws = websocket.create_connection(a.url, timeout=10, skip_utf8_validation=True)
    except websocket.WebSocketBadStatusException as e:
        result["status"] = e.status_code
        result["error"] = str(e)[:200]
        print(json.dumps(result), flush=True)
        return
    result["status"] = ws.getstatus()
    out = open(a.out, "wb") if a.out else None
    if a.ping:
        ws.ping(b"relay-ping")
    deadline = time.time() + a.seconds
    while time.time() < deadline:
        ws.settimeout(max(0.05, deadline - time.time()))
        try:
            opcode, frame = ws.recv_data_frame(True)
        except websocket.WebSocketTimeoutException:
            break
        except websocket.WebSocketConnectionClosedException:
            result["server_close"] = "connection closed"
            break
        if opcode == ABNF.OPCODE_BINARY:
            if result["frames"] == 0:
                result["first_bytes"] = frame.data[:3].hex()
            result["frames"] += 1
            result["bytes"] += len(frame.data)
            if out:
                out.write(frame.data)
        elif opcode == ABNF.OPCODE_PONG:
            result["pong"] = frame.data.decode("utf-8", "replace")
        elif opcode == ABNF.OPCODE_CLOSE:
            result["server_close"] = code_of(frame)
            break
    if out:
        out.close()
    if "server_close" not in result:
        # Close as a browser does and wait for the server's echo (media may still be queued).
        ws.send_close(1000, b"bye")
        ws.settimeout(5)
        try:
            while True:
                opcode, frame = ws.recv_data_frame(True)
                if opcode == ABNF.OPCODE_CLOSE:
                    result["close_reply"] = code_of(frame)
                    break
        except Exception as e:  # noqa: BLE001 - reported, the test decides
            result["close_error"] = str(e)[:200]
    ws.shutdown()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
