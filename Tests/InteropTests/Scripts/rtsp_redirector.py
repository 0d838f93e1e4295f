#!/usr/bin/env python3
"""An RTSP server that sends every DESCRIBE elsewhere: OPTIONS is answered 200, DESCRIBE
302 with `Location: <location>` ("self": this server's own URL, a redirect loop). Prints its
port, then one line per request: METHOD URI auth=yes|no. Standard library only."""
import socketserver
import sys

location = sys.argv[1]


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            head = []
            while True:
                line = self.rfile.readline(8192)
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                head.append(line.decode("latin-1").rstrip("\r\n"))
            if not head:
                continue
            method, uri = (head[0].split(" ") + ["", ""])[:2]
            fields = {}
            for field in head[1:]:
                name, _, value = field.partition(":")
                fields[name.strip().lower()] = value.strip()
            print(method, uri, "auth=" + ("yes" if "authorization" in fields else "no"), flush=True)
            cseq = fields.get("cseq", "0")
            if method == "DESCRIBE":
                port = self.server.server_address[1]
                target = f"rtsp://127.0.0.1:{port}/again" if location == "self" else location
                answer = f"RTSP/1.0 302 Moved Temporarily\r\nCSeq: {cseq}\r\nLocation: {target}\r\n\r\n"
            else:
                answer = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n"
            self.wfile.write(answer.encode())


socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
