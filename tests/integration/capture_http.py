#!/usr/bin/env python3
"""A loopback HTTP server that records what it is sent, for tests of what leaves the agent.

    capture_http.py PORTFILE LOGFILE

Writes its port to PORTFILE, then for each connection appends the request head and body to
LOGFILE (a `--` line after each) and answers 200 with {"depth": 7}. A websocket upgrade is
recorded the same way and refused (the answer is not 101).
"""
import socket
import sys
import threading


def serve(c, out, lock):
    data = b""
    c.settimeout(5)
    try:
        while b"\r\n\r\n" not in data:
            d = c.recv(4096)
            if not d:
                break
            data += d
        head, _, body = data.partition(b"\r\n\r\n")
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v.strip() or 0)
        while len(body) < n:
            d = c.recv(65536)
            if not d:
                break
            body += d
        with lock:
            out.write(head + b"\r\n\r\n" + body + b"\r\n--\r\n")
            out.flush()
        reply = b'{"depth": 7}'
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n" % len(reply) + reply)
    except OSError:
        pass
    finally:
        c.close()


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    out = open(sys.argv[2], "ab")
    lock = threading.Lock()
    with open(sys.argv[1], "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, out, lock), daemon=True).start()


if __name__ == "__main__":
    main()
