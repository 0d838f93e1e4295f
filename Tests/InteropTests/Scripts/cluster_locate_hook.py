#!/usr/bin/env python3
"""A cluster's on_locate hook for the tests: every stream is on the origin given by --origin,
except names starting with live/nothing (404). Prints its port, then each body it receives."""
import argparse, http.server, json

parser = argparse.ArgumentParser()
parser.add_argument("--origin", required=True)
args = parser.parse_args()

class Locate(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        print(json.dumps(body, sort_keys=True), flush=True)
        if str(body.get("stream", "")).startswith("live/nothing"):
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps({"url": args.origin, "node": "origin"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Locate)
print(server.server_address[1], flush=True)
server.serve_forever()
