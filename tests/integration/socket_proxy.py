#!/usr/bin/env python3
"""An allow-list proxy for the Docker engine's unix socket, for microscaler's Docker backend.

    socket_proxy.py --listen /run/mss-proxy.sock --upstream /var/run/docker.sock \
        --owner INSTANCE_ID [--log FILE] [--mode 660] [--group GID] [--allow-host-network]

Only the requests the Docker backend makes pass, each checked by method and path (an optional
/vX.Y API prefix first); every other one is answered 403 with a Docker-style {"message": ...}:

    GET    /_ping, /version
    GET    /containers/json       only with a label filter naming com.microscaling.* labels
    POST   /containers/create     only with our owner and task labels, and no host-level
                                  HostConfig (privileged, binds, mounts, devices, added
                                  capabilities, security options, the host's namespaces)
    POST   /containers/{id}/start, /containers/{id}/stop
    DELETE /containers/{id}
    GET    /containers/{id}/json
    POST   /images/create         (the pull at start)
    GET    /events

and every request naming a container ({id}) passes only if that container carries
com.microscaling.owner=INSTANCE_ID (or, for the instance "default", the Go program's
com.microscaling.microscaling-in-a-box label): the proxy asks the engine first.

So whoever holds the proxy's socket cannot exec into, stop or remove other containers, start
privileged ones, mount the host's files, or use the rest of the API (build, volumes, networks,
swarm, plugins). It cannot make a create safe in every way (an image is still code run on the
host's kernel): it narrows root-equivalence, it does not remove it.

One line per request goes to the log: `allow METHOD PATH` or `deny METHOD PATH reason=...`.
Python 3 standard library only; one thread per connection.
"""
import argparse
import http.client
import json
import os
import re
import socket
import socketserver
import sys
import threading
import urllib.parse

OWNER_LABEL = "com.microscaling.owner"
TASK_LABEL = "com.microscaling.task"
LEGACY_LABEL = "com.microscaling.microscaling-in-a-box"
MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024

ID = r"(?P<id>[A-Za-z0-9][A-Za-z0-9_.-]{0,127})"
# (method, path pattern without the version prefix, check)
RULES = [
    ("GET", r"/_ping", None),
    ("HEAD", r"/_ping", None),
    ("GET", r"/version", None),
    ("GET", r"/containers/json", "list"),
    ("POST", r"/containers/create", "create"),
    ("POST", r"/containers/" + ID + r"/start", "owned"),
    ("POST", r"/containers/" + ID + r"/stop", "owned"),
    ("DELETE", r"/containers/" + ID, "owned"),
    ("GET", r"/containers/" + ID + r"/json", "owned"),
    ("POST", r"/images/create", None),
    ("GET", r"/events", None),
]
RULES = [(m, re.compile(r"(?:/v[0-9]+\.[0-9]+)?" + p), c) for m, p, c in RULES]

# HostConfig fields that reach beyond the container: refused on create whatever their value
# (a false/empty value is allowed).
HOST_LEVEL = ["Privileged", "Binds", "Mounts", "Devices", "DeviceRequests", "DeviceCgroupRules",
              "CapAdd", "SecurityOpt", "Sysctls", "VolumesFrom", "VolumeDriver", "CgroupParent",
              "Runtime"]
# Namespace modes that would share the host's (or another container's) namespace.
SHARED_NS = ["NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode"]


class Denied(Exception):
    pass


class Proxy:
    def __init__(self, upstream, owner, log, allow_host_network=False):
        self.allow_host_network = allow_host_network
        self.upstream = upstream
        self.owner = owner
        self.log = log
        self.lock = threading.Lock()

    def note(self, line):
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()

    def upstream_conn(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.upstream)
        return s

    def owned(self, cid):
        """True if the container carries our owner label (asks the engine)."""
        c = http.client.HTTPConnection("localhost", timeout=30)
        c.sock = self.upstream_conn()
        try:
            c.request("GET", "/containers/%s/json" % urllib.parse.quote(cid, safe=""))
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        if r.status == 404:
            raise Denied("no such container")
        if r.status != 200:
            raise Denied("inspect answered %d" % r.status)
        labels = (json.loads(body).get("Config") or {}).get("Labels") or {}
        if labels.get(OWNER_LABEL) == self.owner and TASK_LABEL in labels:
            return
        if self.owner == "default" and LEGACY_LABEL in labels:
            return
        raise Denied("container not owned by %s" % self.owner)

    def check(self, method, target, body):
        path, _, query = target.partition("?")
        for m, pat, what in RULES:
            mt = pat.fullmatch(path)
            if not mt or m != method:
                continue
            if what == "owned":
                self.owned(mt.group("id"))
            elif what == "list":
                self.check_list(query)
            elif what == "create":
                self.check_create(body)
            return
        raise Denied("not on the allow-list")

    def check_list(self, query):
        q = urllib.parse.parse_qs(query)
        try:
            labels = json.loads(q["filters"][0])["label"]
        except (KeyError, IndexError, ValueError, TypeError):
            raise Denied("a list must filter on our labels")
        if not labels or not all(isinstance(x, str) and x.startswith("com.microscaling.")
                                 for x in labels):
            raise Denied("a list must filter on com.microscaling.* labels only")

    def check_create(self, body):
        try:
            spec = json.loads(body or b"{}")
        except ValueError:
            raise Denied("create body is not JSON")
        if not isinstance(spec, dict):
            raise Denied("create body is not an object")
        labels = spec.get("Labels") or {}
        if labels.get(OWNER_LABEL) != self.owner or not labels.get(TASK_LABEL):
            raise Denied("create without our owner and task labels")
        hc = spec.get("HostConfig") or {}
        if not isinstance(hc, dict):
            raise Denied("HostConfig is not an object")
        for k in HOST_LEVEL:
            if hc.get(k):
                raise Denied("HostConfig.%s is not allowed" % k)
        for k in SHARED_NS:
            v = hc.get(k) or ""
            if k == "NetworkMode" and v == "host" and self.allow_host_network:
                continue
            if v == "host" or v.startswith("container:"):
                raise Denied("HostConfig.%s=%s is not allowed" % (k, v))


def read_head(rfile):
    """The request line and headers, or None at EOF."""
    lines, size = [], 0
    while True:
        line = rfile.readline(MAX_HEAD + 1)
        if not line:
            return None
        size += len(line)
        if size > MAX_HEAD:
            raise Denied("request head over %d bytes" % MAX_HEAD)
        if line in (b"\r\n", b"\n"):
            if not lines:
                continue  # stray blank line between requests
            return lines
        lines.append(line)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        px = self.server.proxy
        up = None
        pump = None
        try:
            while True:
                try:
                    head = read_head(self.rfile)
                except Denied as e:
                    self.refuse("?", "?", str(e))
                    return
                if head is None:
                    return
                try:
                    method, target, _version = head[0].decode("latin-1").split()
                except ValueError:
                    self.refuse("?", "?", "malformed request line")
                    return
                headers = {}
                for h in head[1:]:
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    self.refuse(method, target, "chunked request bodies are not supported")
                    return
                n = int(headers.get("content-length", "0") or 0)
                if n < 0 or n > MAX_BODY:
                    self.refuse(method, target, "body too large")
                    return
                body = self.rfile.read(n) if n else b""
                try:
                    px.check(method, target, body)
                except Denied as e:
                    self.refuse(method, target, str(e))
                    return
                except OSError as e:
                    self.refuse(method, target, "engine unreachable: %s" % e, status=502)
                    return
                px.note("allow %s %s" % (method, target))
                if up is None:
                    up = px.upstream_conn()
                    pump = threading.Thread(target=self.pump, args=(up,), daemon=True)
                    pump.start()
                up.sendall(b"".join(head) + b"\r\n" + body)
        except OSError:
            pass
        finally:
            if up is not None:
                try:
                    up.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                up.close()

    def pump(self, up):
        """Engine to client, as it comes (answers and the /events stream alike)."""
        try:
            while True:
                d = up.recv(65536)
                if not d:
                    break
                self.wfile.write(d)
                self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def refuse(self, method, target, why, status=403):
        self.server.proxy.note("deny %s %s reason=%s" % (method, target, json.dumps(why)))
        body = json.dumps({"message": "socket proxy: %s %s: %s" % (method, target, why)}).encode()
        reason = {403: "Forbidden", 502: "Bad Gateway"}.get(status, "Error")
        try:
            self.wfile.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                             % (status, reason.encode(), len(body)) + body)
            self.wfile.flush()
        except OSError:
            pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", required=True, help="unix socket to create")
    ap.add_argument("--upstream", required=True, help="the engine's unix socket")
    ap.add_argument("--owner", required=True, help="MSS_INSTANCE_ID of the agent")
    ap.add_argument("--log", help="file for one line per request (default stderr)")
    ap.add_argument("--mode", default="660", help="octal mode of the listening socket")
    ap.add_argument("--group", type=int, help="group id of the listening socket")
    ap.add_argument("--allow-host-network", action="store_true",
                    help="let creates use NetworkMode=host (tasks with networkMode host)")
    a = ap.parse_args()
    log = open(a.log, "a") if a.log else sys.stderr
    try:
        os.unlink(a.listen)
    except FileNotFoundError:
        pass
    srv = Server(a.listen, Handler)
    os.chmod(a.listen, int(a.mode, 8))
    if a.group is not None:
        os.chown(a.listen, -1, a.group)
    srv.proxy = Proxy(a.upstream, a.owner, log, a.allow_host_network)
    srv.proxy.note("listening %s upstream=%s owner=%s" % (a.listen, a.upstream, a.owner))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
