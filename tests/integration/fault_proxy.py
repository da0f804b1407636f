#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy between microscaler and a private dockerd (unix sockets).

    fault_proxy.py LISTEN_SOCKET UPSTREAM_SOCKET CONTROL_SOCKET [REQUEST_LOG]

REQUEST_LOG gets one line per request ("METHOD TARGET"). Every client connection gets its own
upstream connection (keep-alive on both sides, as libcurl and dockerd do it). Requests and responses are parsed, not just copied, so a fault can hit one
request of a kept-alive connection and chunked streams (/events, pulls) are relayed chunk by
chunk as they arrive.

It is driven at run time over HTTP on CONTROL_SOCKET (curl --unix-socket CONTROL_SOCKET ...):

    POST /rules          body: a JSON list of rules, replacing the current ones (see Rule)
    POST /clear          no rules, events flowing, listening, counters kept
    POST /events/cut     close every open /events stream mid-stream (no final chunk)
    POST /events/end     end every open /events stream cleanly (final chunk)
    POST /events/stall   ?on=1: hold back what the engine sends on open and new /events
                         streams (the connection stays open); ?on=0: deliver what was held
    POST /events/inject  body: bytes sent as one chunk on every open /events stream
    POST /listen         ?on=0: stop accepting (connect() is refused); ?on=1: accept again
    POST /drop           close every client connection now (with a reset)
    GET  /stats          {"requests": n, "hits": [per rule], "events_open": n, ...}

A rule: {"method": regex, "path": regex (matched against the path without /vX.Y), "times": n
(default: every match), "delay_ms": n, "action": ...}. Actions:
    "pass"      forward (after delay_ms)
    "error"     answer `status` (500) with `body` (a JSON error); with "after": true the request
                is forwarded first and the engine's real answer thrown away (the reply is lost)
    "body"      forward, then replace the response body: `body` (a string), or `kind`:
                "truncate" (the first half of the real body, framing valid), "short" (the real
                Content-Length, half the body, then the connection closes), "garbage" (bytes
                that are not JSON), "huge" (`size` bytes of a JSON-looking array that never
                ends); `status` overrides the real one
    "reset"     close the connection with a reset; "after": true forwards the request first
"""
import asyncio
import json
import os
import re
import socket
import struct
import sys

VERSION_PREFIX = re.compile(r"^/v[0-9]+\.[0-9]+(?=/)")


class Rule:
    def __init__(self, d):
        self.method = re.compile(d.get("method", ".*"))
        self.path = re.compile(d.get("path", ".*"))
        self.times = d.get("times")
        self.delay_ms = int(d.get("delay_ms", 0))
        self.action = d.get("action", "pass")
        self.status = int(d.get("status", 500 if self.action == "error" else 0))
        self.body = d.get("body")
        self.kind = d.get("kind")
        self.size = int(d.get("size", 16 << 20))
        self.after = bool(d.get("after", False))
        self.hits = 0

    def match(self, method, path):
        if self.times is not None and self.hits >= self.times:
            return False
        return self.method.fullmatch(method) and self.path.fullmatch(path)


class State:
    def __init__(self):
        self.rules = []
        self.requests = 0
        self.streams = set()  # open /events relays
        self.clients = set()  # every client writer
        self.stall = False
        self.server = None
        self.listen_path = None
        self.upstream = None
        self.cuts = 0
        self.reqlog = None


S = State()


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def abort(writer):
    """Close with a reset (SO_LINGER 0), the way a crashed peer looks."""
    try:
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family == socket.AF_INET:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    except Exception:
        pass


async def read_head(reader):
    """The start line and headers, or None at a clean EOF between messages."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise
        return None
    lines = raw[:-4].split(b"\r\n")
    headers = []
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        headers.append((k.strip().decode("latin-1"), v.strip().decode("latin-1")))
    return lines[0].decode("latin-1"), headers


def hget(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def build_head(start, headers, drop=()):
    drop = {d.lower() for d in drop}
    out = [start] + [f"{k}: {v}" for k, v in headers if k.lower() not in drop]
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")


async def read_chunks(reader):
    """Yield the data of each chunk of a chunked body (trailers consumed)."""
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        yield data


async def read_body(reader, headers):
    """A whole request body (Content-Length or chunked)."""
    if (hget(headers, "Transfer-Encoding") or "").lower() == "chunked":
        parts = [c async for c in read_chunks(reader)]
        return b"".join(parts)
    n = int(hget(headers, "Content-Length") or 0)
    return await reader.readexactly(n) if n else b""


def json_reply(status, body, close=False):
    reason = {200: "OK", 201: "Created", 204: "No Content", 404: "Not Found",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Fault")
    if isinstance(body, str):
        body = body.encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n")
    return head.encode() + body


class Relay:
    """One client connection and its upstream connection."""

    def __init__(self, reader, writer):
        self.cr, self.cw = reader, writer
        self.ur = self.uw = None
        self.events = False
        self.held = []

    async def upstream(self):
        if self.uw is None or self.uw.is_closing():
            self.ur, self.uw = await asyncio.open_unix_connection(S.upstream, limit=1 << 20)

    def close_upstream(self):
        if self.uw is not None:
            self.uw.transport.abort()
        self.ur = self.uw = None

    async def run(self):
        S.clients.add(self.cw)
        try:
            while await self.one():
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError,
                ValueError, OSError):
            pass
        finally:
            S.clients.discard(self.cw)
            S.streams.discard(self)
            self.close_upstream()
            abort(self.cw)

    async def one(self):
        head = await read_head(self.cr)
        if head is None:
            return False
        start, headers = head
        method, target, _ = start.split(" ", 2)
        if (hget(headers, "Expect") or "").lower() == "100-continue":
            self.cw.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await read_body(self.cr, headers)
        S.requests += 1
        if S.reqlog:
            S.reqlog.write(f"{method} {target}\n")
            S.reqlog.flush()
        path = VERSION_PREFIX.sub("", target.split("?", 1)[0])
        rule = next((r for r in S.rules if r.match(method, path)), None)
        if rule:
            rule.hits += 1
            if rule.delay_ms:
                await asyncio.sleep(rule.delay_ms / 1000)
        act = rule.action if rule else "pass"
        if act in ("error", "reset") and not rule.after:
            if act == "reset":
                return False
            self.cw.write(json_reply(rule.status, rule.body or
                                     json.dumps({"message": "injected fault: engine error"})))
            await self.cw.drain()
            return True
        try:
            await self.upstream()
            headers = [(k, v) for k, v in headers
                       if k.lower() not in ("expect", "transfer-encoding", "content-length")]
            if body or method in ("POST", "PUT"):
                headers.append(("Content-Length", str(len(body))))
            self.uw.write(build_head(start, headers) + body)
            await self.uw.drain()
        except OSError:
            return False  # the engine is not there: the client sees the connection close
        self.events = path == "/events" and method == "GET"
        if act == "pass":
            return await self.relay_response(method)
        # The real reply is read in full, then replaced (or lost).
        status, rheaders, rbody, keep = await self.read_response(method)
        if act == "reset":
            return False
        if act == "error":
            self.cw.write(json_reply(rule.status, rule.body or
                                     json.dumps({"message": "injected fault: engine error"})))
            await self.cw.drain()
            return keep
        st = rule.status or status
        if rule.body is not None:
            nb = rule.body.encode()
        elif rule.kind == "truncate":
            nb = rbody[: len(rbody) // 2]
        elif rule.kind == "short":
            head = json_reply(st, rbody).split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            self.cw.write(head + rbody[: len(rbody) // 2])
            await self.cw.drain()
            return False
        elif rule.kind == "garbage":
            nb = b"\x00\xffnot json at all <html>\x01" * 4
        elif rule.kind == "huge":
            unit = b'{"Id":"' + b"a" * 64 + b'","State":"running","Labels":{}},'
            nb = b"[" + unit * (rule.size // len(unit) + 1)
        else:
            nb = rbody
        self.cw.write(json_reply(st, nb))
        await self.cw.drain()
        return keep

    async def read_response(self, method):
        """The engine's whole response (1xx skipped): status, headers, body, keep-alive."""
        while True:
            start, headers = await read_head(self.ur)
            status = int(start.split(" ")[1])
            if status >= 200:
                break
        keep = (hget(headers, "Connection") or "").lower() != "close"
        if method == "HEAD" or status in (204, 304):
            return status, headers, b"", keep
        if (hget(headers, "Transfer-Encoding") or "").lower() == "chunked":
            return status, headers, b"".join([c async for c in read_chunks(self.ur)]), keep
        cl = hget(headers, "Content-Length")
        if cl is not None:
            return status, headers, await self.ur.readexactly(int(cl)), keep
        return status, headers, await self.ur.read(), False

    async def relay_response(self, method):
        """Forward the engine's response as it comes; True if both sides stay open."""
        while True:
            head = await read_head(self.ur)
            if head is None:
                return False
            start, headers = head
            status = int(start.split(" ")[1])
            self.cw.write(build_head(start, headers))
            if status >= 200:
                break
        keep = (hget(headers, "Connection") or "").lower() != "close"
        if method == "HEAD" or status in (204, 304):
            await self.cw.drain()
            return keep
        if (hget(headers, "Transfer-Encoding") or "").lower() == "chunked":
            if self.events:
                S.streams.add(self)
            async for data in read_chunks(self.ur):
                self.send_chunk(data)
                await self.cw.drain()
            self.cw.write(b"0\r\n\r\n")
            S.streams.discard(self)
            await self.cw.drain()
            return keep
        cl = hget(headers, "Content-Length")
        if cl is not None:
            left = int(cl)
            while left:
                data = await self.ur.read(min(left, 1 << 16))
                if not data:
                    raise ConnectionError("upstream closed mid-body")
                self.cw.write(data)
                left -= len(data)
            await self.cw.drain()
            return keep
        while data := await self.ur.read(1 << 16):
            self.cw.write(data)
        await self.cw.drain()
        return False

    def send_chunk(self, data):
        if self.events and S.stall:
            self.held.append(data)
            return
        self.cw.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def flush_held(self):
        held, self.held = self.held, []
        for data in held:
            self.cw.write(b"%x\r\n" % len(data) + data + b"\r\n")


async def on_client(reader, writer):
    await Relay(reader, writer).run()


async def listen(on):
    if on and S.server is None:
        try:
            os.unlink(S.listen_path)
        except FileNotFoundError:
            pass
        S.server = await asyncio.start_unix_server(on_client, S.listen_path, limit=1 << 20)
    elif not on and S.server is not None:
        S.server.close()  # the socket file stays: connect() is refused
        S.server = None


async def control(reader, writer):
    try:
        head = await read_head(reader)
        if head is None:
            return
        start, headers = head
        method, target, _ = start.split(" ", 2)
        body = await read_body(reader, headers)
        path, _, query = target.partition("?")
        on = "on=0" not in query
        out = {"ok": True}
        if path == "/rules":
            S.rules = [Rule(d) for d in json.loads(body or b"[]")]
        elif path == "/clear":
            S.rules = []
            S.stall = False
            for r in list(S.streams):
                r.flush_held()
            await listen(True)
        elif path == "/events/cut":
            S.cuts += len(S.streams)
            out["cut"] = len(S.streams)
            for r in list(S.streams):
                r.close_upstream()
                abort(r.cw)
        elif path == "/events/end":
            out["ended"] = len(S.streams)
            for r in list(S.streams):
                r.cw.write(b"0\r\n\r\n")
                r.close_upstream()
                r.cw.close()
        elif path == "/events/stall":
            S.stall = on
            if not on:
                for r in list(S.streams):
                    r.flush_held()
        elif path == "/events/inject":
            out["injected"] = len(S.streams)
            for r in list(S.streams):
                r.cw.write(b"%x\r\n" % len(body) + body + b"\r\n")
        elif path == "/listen":
            await listen(on)
        elif path == "/drop":
            out["dropped"] = len(S.clients)
            for w in list(S.clients):
                abort(w)
        elif path == "/stats":
            out = {"requests": S.requests, "hits": [r.hits for r in S.rules],
                   "events_open": len(S.streams), "cuts": S.cuts, "stall": S.stall,
                   "held": sum(len(r.held) for r in S.streams),
                   "listening": S.server is not None}
        else:
            writer.write(json_reply(404, '{"message":"no such control"}', close=True))
            return
        writer.write(json_reply(200, json.dumps(out), close=True))
        await writer.drain()
    except Exception as e:  # a bad control call is the test's bug: say so
        writer.write(json_reply(500, json.dumps({"message": repr(e)}), close=True))
    finally:
        writer.close()


async def main():
    S.listen_path, S.upstream, ctl = sys.argv[1:4]
    if len(sys.argv) > 4:
        S.reqlog = open(sys.argv[4], "a")
    await listen(True)
    try:
        os.unlink(ctl)
    except FileNotFoundError:
        pass
    server = await asyncio.start_unix_server(control, ctl)
    log(f"fault_proxy listening={S.listen_path} upstream={S.upstream} control={ctl}")
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
