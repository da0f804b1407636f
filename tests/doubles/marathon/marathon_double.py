#!/usr/bin/python3
"""A test double of Marathon's REST API (v2), for microscaler's integration tests. Not Marathon.

It keeps apps in memory (optionally mirrored to a --state file, so a killed and restarted double
comes back with the same apps) and answers the part of the API a scaler uses, with Marathon's
status codes, headers and body shapes: GET /v2/apps[?embed=apps.counts], GET/PUT /v2/apps/{id},
GET /v2/deployments, DELETE /v2/deployments/{id}. Tasks start, become healthy and die after
configurable delays, and every scale is a deployment that locks the app (409) until it is done,
unless ?force=true. Test control lives under /_double/ (see README.md beside this file).
Python 3 standard library only.
"""
import argparse
import base64
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
APPS = {}          # id -> app dict
DEPLOYMENTS = {}   # id -> {"id", "app", "until" (epoch s or None), "injected": bool}
HISTORY = []       # every request to /v2: {"t", "method", "path", "query", "status", "body", "user"}
FAULTS = []        # injected responses: {"status", "count", "method", "prefix", "body"}
ARGS = None


def now():
    return time.time()


def log(msg):
    sys.stderr.write("marathon-double: %s\n" % msg)
    sys.stderr.flush()


# ---- app model --------------------------------------------------------------------------------

def new_app(app_id, instances, health=False):
    app = {"id": app_id, "instances": 0, "tasks": [], "health": health,
           "version": iso(now()), "seq": 0}
    scale(app, instances, lag=False)
    return app


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def scale(app, n, lag=True):
    """Set instances to n: new tasks run after --lag-ms, surplus tasks die after --kill-lag-ms."""
    t = now()
    live = [k for k in app["tasks"] if k["gone_at"] is None]
    if n > len(live):
        for _ in range(n - len(live)):
            app["seq"] += 1
            start = t + (ARGS.lag_ms / 1000.0 if lag else 0)
            app["tasks"].append({"id": "%s.%d" % (app["id"].strip("/").replace("/", "_"),
                                                  app["seq"]),
                                 "run_at": start,
                                 "healthy_at": start + (ARGS.health_lag_ms / 1000.0 if lag else 0),
                                 "gone_at": None})
    elif n < len(live):
        # Marathon kills the youngest tasks first by default (killSelection YOUNGEST_FIRST).
        for k in sorted(live, key=lambda k: k["run_at"], reverse=True)[:len(live) - n]:
            k["gone_at"] = t + (ARGS.kill_lag_ms / 1000.0 if lag else 0)
    app["instances"] = n
    app["version"] = iso(t)


def settle(t):
    """Drop dead tasks and finished deployments."""
    for app in APPS.values():
        app["tasks"] = [k for k in app["tasks"] if k["gone_at"] is None or k["gone_at"] > t]
    for dep_id in list(DEPLOYMENTS):
        d = DEPLOYMENTS[dep_id]
        app = APPS.get(d["app"])
        if d["injected"]:
            if d["until"] is not None and d["until"] <= t:
                del DEPLOYMENTS[dep_id]
            continue
        if app is None or not busy(app, t):
            del DEPLOYMENTS[dep_id]


def busy(app, t):
    return any(k["run_at"] > t or k["gone_at"] is not None for k in app["tasks"])


def counts(app, t):
    running = [k for k in app["tasks"] if k["run_at"] <= t]
    staged = len(app["tasks"]) - len(running)
    healthy = len([k for k in running if k["healthy_at"] <= t and k["gone_at"] is None]) \
        if app["health"] else 0
    return {"tasksStaged": staged, "tasksRunning": len(running), "tasksHealthy": healthy,
            "tasksUnhealthy": 0}


def app_json(app, t, with_counts):
    j = {"id": app["id"], "cmd": "sleep 3600", "cpus": 0.1, "mem": 32.0, "disk": 0,
         "instances": app["instances"], "version": app["version"],
         "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}}]
         if app["health"] else [],
         "deployments": [{"id": d["id"]} for d in DEPLOYMENTS.values() if d["app"] == app["id"]]}
    if with_counts:
        j.update(counts(app, t))
    return j


def locked_by(app_id):
    return [d for d in DEPLOYMENTS.values() if d["app"] == app_id]


def save_state():
    if not ARGS.state:
        return
    doc = {i: {"instances": a["instances"], "health": a["health"]} for i, a in APPS.items()}
    tmp = ARGS.state + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, ARGS.state)


def norm_id(raw):
    """Marathon ids are absolute paths; a relative id is taken from the root group."""
    raw = raw.strip("/")
    return "/" + raw


# ---- HTTP -------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    server_version = "Jetty(9.3.z-SNAPSHOT)"  # what Marathon's embedded server calls itself
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        if ARGS.verbose:
            log(fmt % a)

    def reply(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Marathon-Leader", "http://127.0.0.1:%d" % ARGS.port)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self._status = status

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # Authentication as Marathon's HTTP basic auth plugin and DC/OS tokens do it: 401 with a
    # challenge when no (valid) credentials came, 403 for an identity not allowed to do this.
    def identity(self):
        h = self.headers.get("Authorization") or ""
        if h.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
            except Exception:
                return None
            for u, p in ARGS.users:
                if u == user and p == pw:
                    return user
            return None
        if h.startswith("token="):
            return "token" if ARGS.token and h[6:] == ARGS.token else None
        return None

    def authorised(self, method):
        if not ARGS.users and not ARGS.token:
            return "anonymous"
        who = self.identity()
        if who is None:
            self.reply(401, {"message": "Not Authenticated!"},
                       {"WWW-Authenticate": 'Basic realm="Mesosphere"'})
            return None
        writes = method in ("PUT", "POST", "DELETE")
        if who in ARGS.forbidden or (writes and who in ARGS.readonly):
            self.reply(403, {"message": "Not Authorized to perform this action!"})
            return None
        return who

    def handle_one(self, method):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        body = self.read_body() if method in ("PUT", "POST", "DELETE") else b""
        self._status = 0
        t = now()
        if url.path.startswith("/_double/"):
            return self.control(method, url.path, q, body)
        who = None
        try:
            fault = self.fault(method, url.path)
            if fault:
                self.reply(fault["status"], fault.get("body") or {"message": "injected fault"})
                return
            who = self.authorised(method)
            if who is None:
                return
            with LOCK:
                settle(t)
                self.api(method, url.path, q, body, t)
        finally:
            with LOCK:
                HISTORY.append({"t": t, "method": method, "path": url.path, "query": url.query,
                                "status": self._status, "body": body.decode(errors="replace"),
                                "user": who})

    def fault(self, method, path):
        with LOCK:
            for f in FAULTS:
                if f["count"] != 0 and (f.get("method") in (None, method)) and \
                        path.startswith(f.get("prefix", "/v2/")):
                    f["count"] -= 1
                    return f
        return None

    def api(self, method, path, q, body, t):
        prefix = ARGS.prefix.rstrip("/")
        if not path.startswith(prefix + "/v2/"):
            return self.reply(404, {"message": "Not Found"})
        path = path[len(prefix):]
        embed = q.get("embed", [])
        if path in ("/v2/apps", "/v2/apps/") and method == "GET":
            sel = q.get("id", [""])[0]
            apps = [app_json(a, t, "apps.counts" in embed) for i, a in sorted(APPS.items())
                    if sel in i]
            return self.reply(200, {"apps": apps})
        if path.startswith("/v2/apps/"):
            app_id = norm_id(path[len("/v2/apps/"):])
            app = APPS.get(app_id)
            if method == "GET":
                if not app:
                    return self.reply(404, {"message": "App '%s' does not exist" % app_id})
                return self.reply(200, {"app": app_json(app, t, "app.counts" in embed or
                                                        not embed)})
            if method == "PUT":
                return self.put_app(app_id, app, q, body, t)
            return self.reply(405, {"message": "HTTP 405 Method Not Allowed"})
        if path == "/v2/deployments" and method == "GET":
            return self.reply(200, [{"id": d["id"], "affectedApps": [d["app"]],
                                     "steps": [{"actions": [{"action": "ScaleApplication",
                                                             "app": d["app"]}]}],
                                     "currentStep": 1, "totalSteps": 1}
                                    for d in DEPLOYMENTS.values()])
        if path.startswith("/v2/deployments/") and method == "DELETE":
            dep = DEPLOYMENTS.pop(path[len("/v2/deployments/"):], None)
            if not dep:
                return self.reply(404, {"message": "DeploymentPlan %s does not exist"
                                        % path[len("/v2/deployments/"):]})
            return self.reply(202 if q.get("force") == ["true"] else 200,
                              None if q.get("force") == ["true"]
                              else {"deploymentId": str(uuid.uuid4()), "version": iso(t)})
        return self.reply(404, {"message": "Not Found"})

    def put_app(self, app_id, app, q, body, t):
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return self.reply(400, {"message": "Invalid JSON",
                                    "details": [{"path": "/", "errors": ["error.expected.jsobject"]}]})
        if not app:
            return self.reply(404, {"message": "App '%s' does not exist" % app_id})
        n = doc.get("instances") if isinstance(doc, dict) else None
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            return self.reply(422, {"message": "Object is not valid",
                                    "details": [{"path": "/instances",
                                                 "errors": ["error.min"]}]})
        locks = locked_by(app_id)
        force = q.get("force") == ["true"]
        if locks and not force:
            for d in locks:  # a lock injected for a number of refusals ends after them
                if d.get("puts") is not None:
                    d["puts"] -= 1
                    if d["puts"] <= 0:
                        del DEPLOYMENTS[d["id"]]
            return self.reply(409, {
                "message": "App is locked by one or more deployments. Override with the option "
                           "'?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
                "deployments": [{"id": d["id"]} for d in locks]})
        for d in locks:  # force: the running deployments are cancelled, not rolled back
            del DEPLOYMENTS[d["id"]]
        scale(app, n)
        dep = {"id": str(uuid.uuid4()), "app": app_id, "until": None, "injected": False}
        if busy(app, t):
            DEPLOYMENTS[dep["id"]] = dep
        save_state()
        self.reply(200, {"deploymentId": dep["id"], "version": app["version"]},
                   {"Marathon-Deployment-Id": dep["id"],
                    "Location": "http://127.0.0.1:%d%s/v2/apps%s" % (ARGS.port,
                                                                     ARGS.prefix.rstrip("/"),
                                                                     app_id)})

    # ---- test control ------------------------------------------------------------------------
    def control(self, method, path, q, body):
        doc = json.loads(body or b"{}") if body else {}
        t = now()
        with LOCK:
            settle(t)
            if path == "/_double/apps" and method == "POST":
                app_id = norm_id(doc["id"])
                APPS[app_id] = new_app(app_id, int(doc.get("instances", 0)),
                                       bool(doc.get("health", False)))
                save_state()
                return self.reply(201, app_json(APPS[app_id], t, True))
            if path == "/_double/apps" and method == "GET":
                return self.reply(200, {"apps": [app_json(a, t, True) for a in APPS.values()]})
            if path == "/_double/apps" and method == "DELETE":
                APPS.pop(norm_id(doc["id"]), None)
                save_state()
                return self.reply(204)
            if path == "/_double/lock" and method == "POST":
                # A deployment from someone else: for `ms` milliseconds, or for `puts` refused
                # PUTs, or (neither) until unlocked or overridden with ?force=true.
                dep = {"id": str(uuid.uuid4()), "app": norm_id(doc["app"]), "injected": True,
                       "until": t + doc["ms"] / 1000.0 if "ms" in doc else None,
                       "puts": int(doc["puts"]) if "puts" in doc else None}
                DEPLOYMENTS[dep["id"]] = dep
                return self.reply(201, {"id": dep["id"]})
            if path == "/_double/unlock" and method == "POST":
                for d in locked_by(norm_id(doc["app"])):
                    del DEPLOYMENTS[d["id"]]
                return self.reply(204)
            if path == "/_double/fault" and method == "POST":
                # The next `count` requests (optionally of `method`, under `prefix`) get `status`.
                FAULTS.append({"status": int(doc["status"]), "count": int(doc.get("count", 1)),
                               "method": doc.get("method"), "prefix": doc.get("prefix", "/"),
                               "body": doc.get("body")})
                return self.reply(201, {})
            if path == "/_double/history" and method == "GET":
                return self.reply(200, HISTORY)
            if path == "/_double/history" and method == "DELETE":
                HISTORY.clear()
                return self.reply(204)
        return self.reply(404, {"message": "no such control endpoint"})

    def do_GET(self):
        self.handle_one("GET")

    def do_PUT(self):
        self.handle_one("PUT")

    def do_POST(self):
        self.handle_one("POST")

    def do_DELETE(self):
        self.handle_one("DELETE")


def main():
    global ARGS
    p = argparse.ArgumentParser(description="Marathon REST API test double (not Marathon)")
    p.add_argument("--port", type=int, default=0, help="0: any free port, printed on stdout")
    p.add_argument("--prefix", default="", help="path prefix, e.g. /service/marathon (DC/OS)")
    p.add_argument("--lag-ms", type=int, default=1000, help="staged -> running delay")
    p.add_argument("--health-lag-ms", type=int, default=500, help="running -> healthy delay")
    p.add_argument("--kill-lag-ms", type=int, default=300, help="kill -> gone delay")
    p.add_argument("--user", action="append", default=[], help="USER:PASSWORD; turns auth on")
    p.add_argument("--token", default="", help="accepted 'Authorization: token=<t>'; auth on")
    p.add_argument("--readonly", action="append", default=[], help="user that gets 403 on writes")
    p.add_argument("--forbidden", action="append", default=[], help="user that gets 403 always")
    p.add_argument("--app", action="append", default=[], help="ID:INSTANCES[:health]")
    p.add_argument("--state", default="", help="file the apps are kept in across restarts")
    p.add_argument("--verbose", action="store_true")
    ARGS = p.parse_args()
    ARGS.users = [tuple(u.split(":", 1)) for u in ARGS.user]
    if ARGS.state and os.path.exists(ARGS.state):
        with open(ARGS.state) as f:
            for app_id, a in json.load(f).items():
                APPS[app_id] = new_app(app_id, a["instances"], a["health"])
    for spec in ARGS.app:
        parts = spec.split(":")
        app_id = norm_id(parts[0])
        if app_id not in APPS:
            APPS[app_id] = new_app(app_id, int(parts[1]) if len(parts) > 1 else 0,
                                   len(parts) > 2 and parts[2] == "health")
    save_state()
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    ARGS.port = srv.server_address[1]
    print(ARGS.port, flush=True)
    log("listening on 127.0.0.1:%d%s" % (ARGS.port, ARGS.prefix))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
