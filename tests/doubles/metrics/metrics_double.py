#!/usr/bin/env python3
"""A test double for HTTP metric sources: answers GET /<name>[?query] with the file <dir>/<name>.

The tests write those files (atomically: write, then rename) to change what a source reads:
  stats    nsqd's /stats?format=json body, in either of its two shapes
  metrics  a Prometheus text exposition that a real Prometheus scrapes
  queue    any JSON document for the HTTP source
A missing file answers 404; a file <name>.status holding a number answers with that status.
Usage: metrics_double.py --dir DIR [--port N] (0: pick one and print it on stdout).
"""
import argparse
import http.server
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        name = self.path.split("?", 1)[0].strip("/") or "index"
        base = os.path.join(self.server.dir, os.path.basename(name))
        status = 200
        try:
            with open(base + ".status") as f:
                status = int(f.read().strip())
        except (OSError, ValueError):
            pass
        try:
            with open(base, "rb") as f:
                body = f.read()
        except OSError:
            status, body = 404, b'{"message":"no such file"}'
        ctype = "text/plain; version=0.0.4" if name == "metrics" else "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.dir = a.dir
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
