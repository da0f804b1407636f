#!/usr/bin/env bash
# The HTTP API with the toy scheduler: every endpoint and its errors (404, 405, 400, 401, 403,
# 413), promtool on a live scrape, a real Prometheus scraping /metrics, the event stream (SSE and
# websocket), pause and resume, dry-run, and the dashboard in headless Chromium.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/mss-http.XXXXXX)
on_exit "rm -rf $T"
HERE="$ROOT/tests/integration"
ART="$ROOT/tests/artifacts"
TOKEN=t0ken-for-tests
APPS='{"maxContainers":10,"apps":[
 {"name":"web","priority":1,"minContainers":1,"maxContainers":4},
 {"name":"worker","priority":2,"minContainers":0,"maxContainers":4}]}'
BASE=(MSS_SCHEDULER=TOY MSS_CONFIG=ENVVAR "MSS_CONFIG_DATA=$APPS" MSS_MONITOR=none MSS_TICK_MS=100
      MSS_TOY_START_MS=50 MSS_TOY_STOP_MS=50)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# http METHOD PATH [CURL ARGS...]: the status code; the body in $T/body, the headers in $T/hdr.
http() {
	local m=$1 p=$2; shift 2
	curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" "$@" "$URL$p"
}
auth=(-H "Authorization: Bearer $TOKEN")
# json EXPR: evaluate a Python expression over the last body (d).
json() { python3 -c "import json,sys; d=json.load(open('$T/body')); print($1)" 2>/dev/null; }
task_field() { http GET "/api/v1/tasks/$1" >/dev/null; json "d['$2']"; }
is() { [ "$1" = "$2" ]; }
listening_port() { sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$1" | head -1; }

# --- settings: a bad address, or one that cannot be listened on, is exit 2 with one line -------
env -i PATH="$PATH" "${BASE[@]}" MSS_HTTP_ADDR=nope:80 "$BIN" >"$T/bad.out" 2>"$T/bad.err"
rc=$?
check "a malformed MSS_HTTP_ADDR exits 2 with one line naming it" \
	bash -c '[ $0 -eq 2 ] && [ "$(grep -c . "$1")" -eq 1 ] && grep -q MSS_HTTP_ADDR "$1"' $rc "$T/bad.err"
BUSY=$(free_port)
python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',$BUSY)); s.listen(); time.sleep(30)" &
BUSY_PID=$!
on_exit "kill $BUSY_PID 2>/dev/null"
sleep 0.3
env -i PATH="$PATH" "${BASE[@]}" MSS_HTTP_ADDR=127.0.0.1:$BUSY "$BIN" >"$T/busy.out" 2>"$T/busy.err"
rc=$?
check "an address in use exits 2 with one line naming MSS_HTTP_ADDR" \
	bash -c '[ $0 -eq 2 ] && [ "$(grep -c . "$1")" -eq 1 ] && grep -q "MSS_HTTP_ADDR: cannot listen" "$1"' $rc "$T/busy.err"
kill "$BUSY_PID" 2>/dev/null

# --- the agent, and a real Prometheus scraping it ----------------------------------------------
start_agent "$T/agent.log" "${BASE[@]}" MSS_HTTP_ADDR=127.0.0.1:0 MSS_HTTP_TOKEN=$TOKEN
wait_for 10 grep -q 'msg=listening' "$T/agent.log"
PORT=$(listening_port "$T/agent.log")
URL="http://127.0.0.1:$PORT"
check "the agent logs the address it listens on (port $PORT)" [ -n "$PORT" ]
check "it listens on 127.0.0.1 only, not every interface" \
	bash -c "[ \"\$(ss -ltnH 'sport = :$PORT' | awk '{print \$4}')\" = 127.0.0.1:$PORT ]"
PROM_PORT=$(free_port)
cat >"$T/prom.yml" <<EOF
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: microscaler
    static_configs: [{targets: ['127.0.0.1:$PORT']}]
EOF
prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/prom-data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$T/prom.log" 2>&1 &
PROM_PID=$!
on_exit "kill $PROM_PID 2>/dev/null; wait $PROM_PID 2>/dev/null"

running_is() { [ "$(task_field "$1" running)" = "$2" ] && [ "$(task_field "$1" demand)" = "$2" ]; }
check "both tasks scale to their max (4 and 4)" wait_for 10 bash -c \
	"$(declare -f http json task_field running_is); T=$T URL=$URL; running_is web 4 && running_is worker 4"

# --- every endpoint --------------------------------------------------------------------------------
code=$(http GET /)
check "GET / is the dashboard page (200, text/html)" bash -c '[ $0 = 200 ] && grep -qi "content-type: text/html" "$1" && grep -q "<canvas\|EventSource" "$2"' "$code" "$T/hdr" "$T/body"
check "the page loads nothing from elsewhere (no CDN)" bash -c '! grep -Eq "(src|href)=\"?(https?:)?//" "$0"' "$T/body"
code=$(http GET /healthz)
check "GET /healthz is 200" bash -c '[ $0 = 200 ] && grep -q "\"status\":\"ok\"" "$1"' "$code" "$T/body"
code=$(http GET /readyz)
check "GET /readyz is 200 once the config is in and the backend answers" \
	bash -c '[ $0 = 200 ] && grep -q "\"ready\":true" "$1"' "$code" "$T/body"
code=$(http GET /api/v1/tasks)
check "GET /api/v1/tasks lists both tasks" is "$code $(json "','.join(t['name'] for t in d['tasks'])")" "200 web,worker"
check "GET /api/v1/tasks has the budget (10, 8 used)" is "$(json "d['budget']['containers'], d['budget']['used']")" "10 8"
code=$(http GET /api/v1/tasks/worker)
check "GET /api/v1/tasks/worker is that task" is "$code $(json "d['name'], d['running'], d['max']")" "200 worker 4 4"
code=$(http GET /api/v1/history)
check "GET /api/v1/history has points for each task" is "$code $(json "len(d['tasks']), all(t['points'] for t in d['tasks'])")" "200 2 True"
python3 - "$PORT" >"$T/head.out" 2>&1 <<'EOF'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("HEAD", "/metrics")
r = c.getresponse()
print(r.status, int(r.getheader("content-length") or 0) > 0, r.read() == b"")
c.request("GET", "/healthz")  # the same connection: nothing was left on it
print(c.getresponse().status)
EOF
check "HEAD /metrics is 200 with a length and no body, and the connection goes on" \
	is "$(tr '\n' ' ' <"$T/head.out")" "200 True True 200 "

# --- /metrics --------------------------------------------------------------------------------------
code=$(http GET /metrics)
cp "$T/body" "$T/metrics.txt"
check "GET /metrics is 200 in the text format 0.0.4" bash -c '[ $0 = 200 ] && grep -qi "content-type: text/plain; version=0.0.4" "$1"' "$code" "$T/hdr"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1
check "promtool check metrics passes on a live scrape$( [ -s "$T/promtool.out" ] && echo ": $(head -c 300 "$T/promtool.out")")" \
	bash -c "promtool check metrics <$T/metrics.txt >/dev/null 2>&1"
missing=""
for m in microscaler_task_demand_containers microscaler_task_requested_containers \
	microscaler_task_running_containers microscaler_task_pending_start_containers \
	microscaler_task_pending_stop_containers microscaler_task_min_containers \
	microscaler_task_max_containers microscaler_task_metric_value \
	microscaler_task_metric_age_seconds microscaler_containers_started_total \
	microscaler_containers_stopped_total microscaler_containers_crashed_total \
	microscaler_scaling_actions_total microscaler_backend_requests_total \
	microscaler_backend_request_errors_total microscaler_backend_request_duration_seconds \
	microscaler_websocket_reconnects_total microscaler_decision_to_request_seconds \
	microscaler_loop_tick_lag_seconds microscaler_build_info; do
	grep -q "^# TYPE $m " "$T/metrics.txt" || missing="$missing $m"
done
check "every documented family is there${missing:+ (missing:$missing)}" [ -z "$missing" ]
check "per-task series carry task=\"...\"" grep -q '^microscaler_task_running_containers{task="web"} 4$' "$T/metrics.txt"
check "scaling actions are counted by direction" grep -q '^microscaler_scaling_actions_total{task="worker",direction="up"} [1-9]' "$T/metrics.txt"
check "the decision-to-request latency has observations" grep -q '^microscaler_decision_to_request_seconds_count [1-9]' "$T/metrics.txt"
check "build info names the version and the backend" grep -q "^microscaler_build_info{version=\"$(cat "$ROOT/VERSION")\",.*scheduler=\"TOY\"" "$T/metrics.txt"

# --- errors --------------------------------------------------------------------------------------
code=$(http GET /nope)
check "an unknown path is 404 with a JSON error" bash -c '[ $0 = 404 ] && grep -q "\"error\":\"not found: /nope\"" "$1"' "$code" "$T/body"
code=$(http GET /api/v1/tasks/nosuch)
check "an unknown task is 404" bash -c '[ $0 = 404 ] && grep -q nosuch "$1"' "$code" "$T/body"
code=$(http DELETE /metrics)
check "a wrong method is 405 with Allow" bash -c '[ $0 = 405 ] && grep -qi "^allow: GET, HEAD" "$1"' "$code" "$T/hdr"
code=$(http GET /api/v1/pause)
check "GET on a control path is 405 (Allow: POST)" bash -c '[ $0 = 405 ] && grep -qi "^allow: POST" "$1"' "$code" "$T/hdr"
code=$(http POST /api/v1/pause)
check "control without a token is 401 with WWW-Authenticate" bash -c '[ $0 = 401 ] && grep -qi "^www-authenticate: Bearer" "$1"' "$code" "$T/hdr"
code=$(http POST /api/v1/pause -H "Authorization: Bearer wrong")
check "control with a wrong token is 403" is "$code $(json "d['error']")" "403 wrong token"
code=$(http PUT /api/v1/tasks/web "${auth[@]}" --data '{"min":')
check "bad JSON is 400 naming where" bash -c '[ $0 = 400 ] && grep -q "invalid JSON at byte [0-9]" "$1"' "$code" "$T/body"
code=$(http PUT /api/v1/tasks/web "${auth[@]}" --data '{"min":"two"}')
check "a bad field is 400 naming it" bash -c '[ $0 = 400 ] && grep -q "min: expected a whole number" "$1"' "$code" "$T/body"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
code=$(http POST /api/v1/pause "${auth[@]}" --data-binary @"$T/big.json")
check "a body over 64 KiB is 413" is "$code" 413
code=$(http PUT /api/v1/tasks/web "${auth[@]}" -H "Transfer-Encoding: chunked" --data-binary @"$T/big.json")
check "a chunked body is 411 (lws 4.1 cannot read one): send a Content-Length" is "$code" 411
python3 - "$PORT" <<'EOF' >"$T/junk.out" 2>&1
import socket, sys
for junk in [b"GARBAGE\r\n\r\n", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", b"\x00\xff" * 100,
             b"POST /api/v1/pause HTTP/1.1\r\nContent-Length: -5\r\n\r\n"]:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
    s.sendall(junk)
    try:
        s.recv(4096)
    except OSError:
        pass
    s.close()
EOF
code=$(http GET /healthz)
check "junk requests (garbage, a 20 KB path, binary, a negative length) leave it serving" \
	bash -c '[ $0 = 200 ] && kill -0 $1' "$code" "$AGENT_PID"

# --- the event stream ----------------------------------------------------------------------------
curl -s -N "$URL/api/v1/events" >"$T/sse.out" &
SSE_PID=$!
on_exit "kill $SSE_PID 2>/dev/null"
python3 - "$PORT" >"$T/ws.out" 2>&1 <<EOF &
import json, sys
sys.path.insert(0, "$HERE")
import wsclient
w = wsclient.WebSocket("ws://127.0.0.1:%s/api/v1/events" % sys.argv[1])
try:
    while True:
        e = json.loads(w.recv())
        print(json.dumps(e), flush=True)
except Exception as ex:
    print("closed", ex, flush=True)
EOF
WS_PID=$!
on_exit "kill $WS_PID 2>/dev/null"
check "SSE: the stream replays the recent events first" wait_for 5 grep -q '"type":"scale","task":"web","from":0,' "$T/sse.out"
check "websocket: the same events, one JSON per message" wait_for 5 grep -q '"type": "scale", "task": "web", "from": 0,' "$T/ws.out"
code=$(http PUT /api/v1/tasks/web "${auth[@]}" --data '{"demand":2}')
check "PUT /api/v1/tasks/web {\"demand\":2} pins the demand" is "$code $(json "d['overrides']['demand'], d['min'], d['max']")" "200 2 2 2"
check "SSE: a scaling event arrives when demand changes (4 -> 2, requested)" \
	wait_for 5 grep -q '"type":"scale","task":"web","from":4,"to":2,"reason":"[^"]*","result":"requested"' "$T/sse.out"
check "SSE: then the container event (2 stopped)" \
	wait_for 5 grep -q '"type":"container","task":"web","action":"stopped","count":2,"from":4,"to":2' "$T/sse.out"
check "websocket: the scaling event too" wait_for 5 grep -q '"task": "web", "from": 4, "to": 2' "$T/ws.out"
check "SSE frames carry an id" grep -q '^id: [0-9]' "$T/sse.out"
check "the demand reached the backend (web runs 2)" wait_for 5 bash -c \
	"$(declare -f http json task_field running_is); T=$T URL=$URL; running_is web 2"

# --- pause and resume ---------------------------------------------------------------------------
code=$(http POST "/api/v1/pause?task=web" "${auth[@]}")
check "POST /api/v1/pause?task=web pauses it" is "$code $(task_field web paused) $(task_field worker paused)" "200 True False"
http PUT /api/v1/tasks/web "${auth[@]}" --data '{"demand":3}' >/dev/null
sleep 1 # ten ticks
check "paused: a new pinned demand (3) is not applied, nothing moves" is "$(task_field web demand) $(task_field web running)" "2 2"
code=$(http POST /api/v1/resume "${auth[@]}" -H 'Content-Type: application/json' --data '{"task":"web"}')
check "POST /api/v1/resume {\"task\":\"web\"} resumes it" is "$code $(task_field web paused)" "200 False"
check "resumed: web scales to 3" wait_for 5 bash -c \
	"$(declare -f http json task_field running_is); T=$T URL=$URL; running_is web 3"
check "pause and resume are events on the stream" \
	bash -c 'grep -q "\"type\":\"control\",\"task\":\"web\",\"action\":\"pause\"" "$0" && grep -q "\"action\":\"resume\"" "$0"' "$T/sse.out"

# --- dry-run -------------------------------------------------------------------------------------
code=$(http POST /api/v1/dry-run "${auth[@]}" --data '{"enabled":true}')
check "POST /api/v1/dry-run {\"enabled\":true} turns it on" is "$code $(json "d['dry_run']")" "200 True"
actions_before=$(grep -cE 'comp=scheduler msg=(start|stop) ' "$T/agent.log")
http PUT /api/v1/tasks/web "${auth[@]}" --data '{"demand":1}' >/dev/null
check "dry-run: the decision is made (web demand 1)" wait_for 5 bash -c "[ \"\$($(declare -f http json task_field); T=$T URL=$URL; task_field web demand)\" = 1 ]"
check "dry-run: it is reported with result dry-run" wait_for 5 grep -q '"task":"web","from":3,"to":1,"reason":"[^"]*","result":"dry-run"' "$T/sse.out"
sleep 0.6
actions_after=$(grep -cE 'comp=scheduler msg=(start|stop) ' "$T/agent.log")
check "dry-run: no backend call (no start or stop; web still runs 3)" is "$actions_after $(task_field web running)" "$actions_before 3"
http GET /metrics >/dev/null
check "dry-run shows in /metrics" grep -q '^microscaler_dry_run 1$' "$T/body"
code=$(http POST "/api/v1/dry-run?enabled=false" "${auth[@]}")
check "dry-run off: the backend catches up (web runs 1)" wait_for 5 bash -c \
	"$(declare -f http json task_field running_is); T=$T URL=$URL; running_is web 1"
code=$(http PUT /api/v1/tasks/web "${auth[@]}" --data '{"demand":null}')
check "{\"demand\":null} clears the override: web goes back to 4" wait_for 5 bash -c \
	"$(declare -f http json task_field running_is); T=$T URL=$URL; running_is web 4"

# --- a real Prometheus, queried ------------------------------------------------------------------
prom_series() { # the task labels of the series a query returns, sorted
	curl -s "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys; print(",".join(sorted(r["metric"].get("task","-") for r in json.load(sys.stdin)["data"]["result"])))' 2>/dev/null
}
check "Prometheus scraped /metrics: up == 1" wait_for 20 bash -c "[ \"\$($(declare -f prom_series); PROM_PORT=$PROM_PORT prom_series 'up{job=\"microscaler\"} == 1')\" = - ]"
check "Prometheus returns microscaler_task_running_containers for web and worker" \
	wait_for 10 bash -c "[ \"\$($(declare -f prom_series); PROM_PORT=$PROM_PORT prom_series microscaler_task_running_containers)\" = web,worker ]"
# A change Prometheus sees happen (the ones above may all predate its first scrape).
http PUT /api/v1/tasks/web "${auth[@]}" --data '{"demand":3}' >/dev/null
check "Prometheus returns the increase of scaling actions after a change it saw" \
	wait_for 15 bash -c "[ -n \"\$($(declare -f prom_series); PROM_PORT=$PROM_PORT prom_series 'sum by (task) (increase(microscaler_scaling_actions_total[1m])) > 0')\" ]"

http PUT /api/v1/tasks/web "${auth[@]}" --data '{"demand":null}' >/dev/null
python3 - "$PROM_PORT" "$ROOT/docs/grafana-dashboard.json" >"$T/grafana.out" 2>&1 <<'EOF'
import json, sys, urllib.parse, urllib.request
port, path = sys.argv[1], sys.argv[2]
bad, with_data, n = [], 0, 0
for p in json.load(open(path))["panels"]:
    for t in p.get("targets", []):
        n += 1
        q = (t["expr"].replace("$instance", ".*").replace("$task", ".*")
             .replace("$__rate_interval", "1m"))
        url = "http://127.0.0.1:%s/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
        try:
            r = json.load(urllib.request.urlopen(url, timeout=5))
            with_data += bool(r["data"]["result"])
        except Exception as e:
            bad.append("%s: %s" % (q, e))
print("%d queries, %d with data, %d refused%s" % (n, with_data, len(bad), "".join("\n  " + b for b in bad)))
EOF
check "every query of docs/grafana-dashboard.json runs on Prometheus ($(head -1 "$T/grafana.out"))" \
	grep -q ", 0 refused$" "$T/grafana.out"

# --- the dashboard in headless Chromium ------------------------------------------------------------
if command -v chromium >/dev/null; then
	timeout 100 python3 "$HERE/dashboard_check.py" "$URL" "$TOKEN" "$ART/dashboard.png" >"$T/dash.out" 2>&1
	rc=$?
	cat "$T/dash.out"
	PASSES=$((PASSES + $(grep -c '^ok - ' "$T/dash.out")))
	FAILS=$((FAILS + $(grep -c '^not ok - ' "$T/dash.out")))
	[ $rc -ne 0 ] && ! grep -q '^not ok - ' "$T/dash.out" && not_ok "the dashboard check ran (exit $rc)"
else
	not_ok "the dashboard in headless Chromium (chromium is not installed: make deps)"
fi

# --- without MSS_HTTP_TOKEN the control calls are disabled -----------------------------------------
A1=$AGENT_PID
start_agent "$T/notoken.log" "${BASE[@]}" MSS_HTTP_ADDR=127.0.0.1:0
wait_for 10 grep -q 'msg=listening' "$T/notoken.log"
P2=$(listening_port "$T/notoken.log")
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Authorization: Bearer x' "http://127.0.0.1:$P2/api/v1/pause")
check "without MSS_HTTP_TOKEN control is 403 saying so" bash -c '[ $0 = 403 ] && grep -q MSS_HTTP_TOKEN "$1"' "$code" "$T/body"
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 10
AGENT_PID=$A1

# --- figures, then a clean shutdown with the streams open -----------------------------------------
# Request to whole answer on one kept-alive connection, measured by the client (Python's own
# overhead included), 500 of each.
python3 - "$PORT" <<'EOF'
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
out = []
for path in ["/healthz", "/api/v1/tasks", "/metrics"]:
    ts = []
    for _ in range(500):
        t = time.perf_counter()
        c.request("GET", path)
        c.getresponse().read()
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    out.append("%s p50 %.2f ms, p99 %.2f ms" % (path, ts[250], ts[495]))
print("# latency, 500 kept-alive requests each: " + "; ".join(out))
EOF
echo "# agent RSS with the API on and 2 streams open: $(awk '/VmRSS/ {print $2, $3}' /proc/$AGENT_PID/status)"
kill -TERM "$AGENT_PID"
if wait_exit "$AGENT_PID" 10; then
	check "SIGTERM with streams open drains and exits 0" [ "$EXIT_STATUS" -eq 0 ]
else
	not_ok "SIGTERM with streams open drains and exits 0 (still running)"
fi
check "the followers get the drain event before the server goes" wait_for 3 grep -q '"action":"drain"' "$T/sse.out"
check "the SSE client sees the stream end" wait_for 3 bash -c "! kill -0 $SSE_PID 2>/dev/null"
finish
