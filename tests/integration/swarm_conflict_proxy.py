#!/usr/bin/python3
"""Test helper for test_swarm.sh: a byte-for-byte proxy from a unix socket to dockerd's that, while
the file given by --budget holds a number above 0, makes another client's write land between
microscaler's read and its write: just before forwarding a POST /services/{id}/update, it updates
the same service itself (docker service update --label-add) and decrements the number. The
engine then answers microscaler's update with "update out of sequence". stdlib only.
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import threading

UPDATE = re.compile(rb"POST /v[0-9.]+/services/([A-Za-z0-9_.-]+)/update\?version=")
ARGS = None
LOCK = threading.Lock()


def take_budget():
    with LOCK:
        try:
            n = int(open(ARGS.budget).read().strip() or 0)
        except (OSError, ValueError):
            return False
        if n <= 0:
            return False
        with open(ARGS.budget, "w") as f:
            f.write(str(n - 1))
        return True


def interfere(service):
    env = dict(os.environ, DOCKER_HOST="unix://" + ARGS.upstream)
    r = subprocess.run([ARGS.docker, "service", "update", "--detach", "--label-add",
                        "conflict=%d" % os.getpid(), service], env=env,
                       capture_output=True, text=True)
    sys.stderr.write("proxy: conflicting update of %s: rc=%d %s\n"
                     % (service, r.returncode, r.stderr.strip()))
    sys.stderr.flush()


def pipe(src, dst, watch):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if watch:
                m = UPDATE.search(data)
                if m and take_budget():
                    interfere(m.group(1).decode())
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        up.connect(ARGS.upstream)
    except OSError:
        client.close()
        return
    threading.Thread(target=pipe, args=(up, client, False), daemon=True).start()
    pipe(client, up, True)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--budget", required=True, help="file: conflicts still to inject")
    p.add_argument("--docker", default="/usr/bin/docker")
    ARGS = p.parse_args()
    if os.path.exists(ARGS.listen):
        os.unlink(ARGS.listen)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(ARGS.listen)
    srv.listen(64)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
