"""Drive the built-in dashboard in headless Chromium over the DevTools protocol (stdlib only) and
check it against the running agent: it renders every task, its chart follows a demand change,
the page's pause button pauses scaling and its resume button restarts it. Prints one TAP-style
line per check ("ok - ..." / "not ok - ...") and saves a screenshot.

usage: dashboard_check.py BASE_URL TOKEN SCREENSHOT.png [--shot-only]
(--shot-only: no checks, just the picture; docs/dashboard.png is one of the `make run` demo.)
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsclient  # noqa: E402

BASE, TOKEN, SHOT = sys.argv[1], sys.argv[2], sys.argv[3]
SHOT_ONLY = sys.argv[4:] == ["--shot-only"]  # just the picture (the README's)
FAILS = 0


def report(ok, name):
    global FAILS
    print(("ok - " if ok else "not ok - ") + name, flush=True)
    if not ok:
        FAILS += 1


def api(method, path, body=None):
    req = urllib.request.Request(BASE + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + TOKEN,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def task(name):
    return api("GET", "/api/v1/tasks/" + name)


class Browser:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mss-chromium.")
        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             "--disable-dev-shm-usage", "--user-data-dir=" + self.dir,
             "--window-size=1280,860", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = None
        deadline = time.time() + 30
        while time.time() < deadline and port is None:
            line = self.proc.stderr.readline()
            if not line:
                break
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = m.group(1)
        if port is None:
            raise RuntimeError("chromium did not start its DevTools endpoint")
        targets = json.loads(urllib.request.urlopen(
            "http://127.0.0.1:%s/json/list" % port, timeout=5).read())
        page = next(t for t in targets if t["type"] == "page")
        self.ws = wsclient.WebSocket(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m["result"]

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        return r["result"].get("value")

    def wait(self, expr, secs=10):
        deadline = time.time() + secs
        while time.time() < deadline:
            try:
                if self.eval(expr):
                    return True
            except RuntimeError:
                pass
            time.sleep(0.1)
        return False

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def chart_last(b, name):
    """The demand, requested and running values the task's chart shows at its right edge."""
    v = b.eval("(document.querySelector('.card[data-task=\"%s\"] canvas') || {dataset:{}})"
               ".dataset.last || ''" % name)
    return [int(x) for x in v.split(",")] if v else None


def screenshot(b):
    shot = b.call("Page.captureScreenshot", format="png")
    os.makedirs(os.path.dirname(os.path.abspath(SHOT)), exist_ok=True)
    with open(SHOT, "wb") as f:
        f.write(base64.b64decode(shot["data"]))


def main():
    names = [t["name"] for t in api("GET", "/api/v1/tasks")["tasks"]]
    b = Browser()
    if SHOT_ONLY:
        b.call("Page.navigate", url=BASE + "/")
        b.wait("document.getElementById('state').textContent.startsWith('live')")
        time.sleep(2.5)
        screenshot(b)
        b.close()
        return 0
    try:
        b.call("Page.enable")
        t0 = time.time()
        b.call("Page.navigate", url=BASE + "/#token=" + TOKEN)
        rendered = b.wait("document.querySelectorAll('.card').length === %d && "
                          "document.getElementById('state').textContent.startsWith('live')"
                          % len(names))
        report(rendered, "the dashboard renders a card per task (%s) and goes live in %.1f s"
               % (", ".join(names), time.time() - t0))
        report(b.wait("document.querySelectorAll('#events .ev').length > 0"),
               "the dashboard lists the recent events")
        report(b.eval("location.hash") == "", "the token is taken off the address bar")

        # The chart follows a demand change (a pinned demand through the API) within a second
        # or two of the change.
        name = names[0]
        before = chart_last(b, name)
        want = 1 if before and before[0] != 1 else 2
        api("PUT", "/api/v1/tasks/" + name, {"demand": want})
        t0 = time.time()
        moved = b.wait("((document.querySelector('.card[data-task=\"%s\"] canvas') || "
                       "{dataset:{}}).dataset.last || '').split(',')[0] === '%d'" % (name, want))
        report(moved, "the chart of %s moves from demand %s to %d (%.1f s after the change)"
               % (name, before[0] if before else "?", want, time.time() - t0))
        b.wait("((document.querySelector('.card[data-task=\"%s\"] canvas') || {dataset:{}})"
               ".dataset.last || '') === '%d,%d,%d'" % (name, want, want, want), 10)

        # The page's pause button pauses scaling: a new pinned demand is not applied until the
        # page's resume button is pressed. (All tasks: a paused task is no donor of capacity.)
        b.eval("document.getElementById('pause-all').click()")
        paused = False
        deadline = time.time() + 5
        while time.time() < deadline and not paused:
            paused = all(task(n)["paused"] for n in names)
            time.sleep(0.1)
        report(paused, "the pause button pauses every task")
        report(b.wait("document.querySelectorAll('.card.is-paused').length === %d" % len(names)),
               "the cards show paused")
        held = task(name)["demand"]
        api("PUT", "/api/v1/tasks/" + name, {"demand": held + 1})
        time.sleep(1.5)
        report(task(name)["demand"] == held,
               "while paused, demand stays at %d (pinned to %d)" % (held, held + 1))
        b.eval("document.getElementById('resume-all').click()")
        t0 = time.time()
        resumed = False
        while time.time() < t0 + 8 and not resumed:
            t = task(name)
            resumed = not t["paused"] and t["demand"] == held + 1 and t["running"] == held + 1
            time.sleep(0.1)
        report(resumed, "the resume button restarts scaling: %s reaches %d (%.1f s)"
               % (name, held + 1, time.time() - t0))
        b.wait("((document.querySelector('.card[data-task=\"%s\"] canvas') || {dataset:{}})"
               ".dataset.last || '') === '%d,%d,%d'" % (name, held + 1, held + 1, held + 1), 5)

        # A card's own button pauses that task alone.
        b.eval("document.querySelector('.card[data-task=\"%s\"] button').click()" % name)
        one = False
        deadline = time.time() + 5
        while time.time() < deadline and not one:
            one = [task(n)["paused"] for n in names] == [n == name for n in names]
            time.sleep(0.1)
        report(one, "a card's pause button pauses only its task (%s)" % name)
        api("POST", "/api/v1/resume")
        api("PUT", "/api/v1/tasks/" + name, {"demand": None})
        time.sleep(2.5)
        screenshot(b)
        report(os.path.getsize(SHOT) > 10000, "a screenshot is saved to " + SHOT)
    finally:
        b.close()
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
