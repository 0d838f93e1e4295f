#!/usr/bin/env python3
"""Example LiveRelay hook server: Python 3 standard library only.

Point the relay's hooks at it (config.json):

    "hooks": {"on_publish": "http://127.0.0.1:8090/hooks", "on_play": "http://127.0.0.1:8090/hooks",
              "on_publish_done": "http://127.0.0.1:8090/hooks", ...}

What it does:
- on_publish / on_play: token auth. Allows (200) when the publish/play URL's query parameter
  `token` equals --secret, answers 401 {"reason": "bad token"} otherwise. Without --secret every
  session is allowed. With --record the on_publish answer is {"record": true}.
- on_receive_timeout / on_idle_timeout: answers {"keep": true} with --keep, else {} (the relay
  then closes the source).
- every other hook: 200 {}.
- every request is logged to stdout as one JSON line: {"time", "path", "status", "answer", "body"}.
  The first line is {"listening": "HOST:PORT", "port": PORT} (handy with --port 0).

Options: --host, --port (0 picks a free port), --secret, --delay-ms (sleep before answering, for
timeout tests), --keep, --record, --log FILE (append the JSON lines to a file as well).
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AUTH_EVENTS = ("on_publish", "on_play")
TIMEOUT_EVENTS = ("on_receive_timeout", "on_idle_timeout")


class Options:
    secret = None
    delay_ms = 0
    keep = False
    record = False
    log_file = None


OPTIONS = Options()
LOG_LOCK = threading.Lock()


def log_line(obj):
    line = json.dumps(obj, sort_keys=True)
    with LOG_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if OPTIONS.log_file:
            with open(OPTIONS.log_file, "a", encoding="utf-8") as f:
                f.write(line + "\n")


def decide(body):
    """Returns (HTTP status, JSON answer) for one hook body."""
    event = body.get("event", "")
    if event in AUTH_EVENTS:
        params = body.get("params") or {}
        if OPTIONS.secret is not None:
            token = params.get("token")
            if token is None:
                return 401, {"reason": "missing token"}
            if token != OPTIONS.secret:
                return 401, {"reason": "bad token"}
        answer = {"reason": "ok"}
        if event == "on_publish" and OPTIONS.record:
            answer["record"] = True
        return 200, answer
    if event in TIMEOUT_EVENTS:
        return 200, ({"keep": True} if OPTIONS.keep else {})
    return 200, {}


class HookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the relay reuses its connections
    server_version = "LiveRelayExampleHooks/1"

    def do_POST(self):
        received = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            self.answer(400, {"reason": "body is not a JSON object"})
            log_line({"time": received, "path": self.path, "status": 400, "answer": None, "body": raw.decode("utf-8", "replace")})
            return
        if OPTIONS.delay_ms > 0:
            time.sleep(OPTIONS.delay_ms / 1000.0)
        status, answer = decide(body)
        try:
            self.answer(status, answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the relay gave up waiting (its timeout)
        log_line({"time": received, "path": self.path, "status": status, "answer": answer, "body": body})

    def do_GET(self):
        self.answer(200, {"reason": "LiveRelay example hook server: POST hook bodies here"})

    def answer(self, status, obj):
        data = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 - the JSON lines are the log
        pass


class HookServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the listen backlog: the relay opens many connections at once under load


def main():
    parser = argparse.ArgumentParser(description="Example LiveRelay hook server (token auth, event log).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port (printed on the first line)")
    parser.add_argument("--secret", default=None, help="token that on_publish/on_play must carry (?token=...)")
    parser.add_argument("--delay-ms", type=int, default=0, help="sleep this long before answering")
    parser.add_argument("--keep", action="store_true", help="answer {\"keep\": true} to on_receive_timeout/on_idle_timeout")
    parser.add_argument("--record", action="store_true", help="answer {\"record\": true} to on_publish")
    parser.add_argument("--log", default=None, help="also append the JSON lines to this file")
    args = parser.parse_args()
    OPTIONS.secret = args.secret
    OPTIONS.delay_ms = max(0, args.delay_ms)
    OPTIONS.keep = args.keep
    OPTIONS.record = args.record
    OPTIONS.log_file = args.log

    server = HookServer((args.host, args.port), HookHandler)
    host, port = server.server_address[:2]
    log_line({"listening": "%s:%d" % (host, port), "port": port})
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
