#!/usr/bin/env bash
# The Marathon backend against the Marathon test double (tests/doubles/marathon, not Marathon):
# scale up and down with a running count that lags, group ids under a DC/OS path prefix, a 409
# storm retried on the 250 ms doubling timeline while another app keeps scaling, force after
# MSS_MARATHON_FORCE_AFTER_S, auth failures (401/403) logged once, the API down then back, and
# the drain on SIGTERM.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/mss-mt.XXXXXX)
on_exit "rm -rf $T"
PY=/usr/bin/python3 # Debian's, stdlib only
DOUBLE="$ROOT/tests/doubles/marathon/marathon_double.py"
PREFIX=/service/marathon

# double_start NAME [ARGS...]: a double on a free port (or --port P); sets PORT and DOUBLE_PID.
double_start() {
	local name=$1; shift
	: >"$T/$name.port"
	"$PY" "$DOUBLE" --state "$T/$name.state" "$@" >"$T/$name.port" 2>>"$T/$name.err" &
	DOUBLE_PID=$!
	disown "$DOUBLE_PID" # killed on purpose below: no job-control noise
	on_exit "kill -9 $DOUBLE_PID 2>/dev/null"
	wait_for 10 test -s "$T/$name.port" || { echo "double $name did not start"; return 1; }
	PORT=$(head -1 "$T/$name.port")
}
ctl() { # ctl METHOD PATH [JSON]
	curl -sf -X "$1" "http://127.0.0.1:$PORT/_double/${2#/}" ${3:+-H 'Content-Type: application/json' -d "$3"}
}
instances() { # instances APP_ID: desired instances the double holds
	ctl GET apps | "$PY" -c "import json,sys; print([a['instances'] for a in json.load(sys.stdin)['apps'] if a['id']=='$1'][0])"
}
instances_is() { [ "$(instances "$1")" = "$2" ]; }
# PUT history of one app: "<ms since the first> <status> <query>" per line.
puts_of() {
	ctl GET history | "$PY" -c "
import json,sys
h=[x for x in json.load(sys.stdin) if x['method']=='PUT' and x['path'].endswith('$1')]
for x in h: print(round((x['t']-h[0]['t'])*1000), x['status'], x['query'] or '-')"
}
apps() { # apps WEB WORKER: both tasks pinned (min = max)
	cat >"$T/apps.json" <<JSON
{"maxContainers":20,"apps":[
 {"name":"web","priority":1,"minContainers":$1,"maxContainers":$1,"config":{"image":"x"}},
 {"name":"worker","priority":2,"minContainers":$2,"maxContainers":$2,
  "config":{"image":"x","service":"grp/worker"}}]}
JSON
}
agent() { # agent LOG [ENV...]
	local log=$1; shift
	start_agent "$log" MSS_SCHEDULER=MARATHON MSS_CONFIG=FILE "MSS_CONFIG_FILE=$T/apps.json" \
		MSS_MONITOR=LOG MSS_TICK_MS=100 "MSS_MARATHON_API=http://127.0.0.1:$PORT$PREFIX/" "$@"
}
stop_agent() { # stop_agent [STATUS]: SIGTERM, expect that exit status (default 0) within 15 s
	kill -TERM "$AGENT_PID"
	wait_exit "$AGENT_PID" 15 && [ "$EXIT_STATUS" -eq "${1:-0}" ]
}

double_start main --prefix "$PREFIX" --lag-ms 1500 --kill-lag-ms 1500 --app /web:1 --app /grp/worker:2 ||
	{ not_ok "the Marathon double starts"; finish; exit 1; }

# --- scale up and down; running follows tasksRunning, not instances ---------------------------
apps 3 1
agent "$T/a.log"
check "connects through the DC/OS path prefix" wait_for 10 grep -qs 'msg=connected' "$T/a.log"
check "web scaled up to 3 instances" wait_for 10 instances_is /web 3
check "group app /grp/worker (service grp/worker) scaled down to 1" wait_for 10 instances_is /grp/worker 1
check "running lags requested while Marathon launches (pending_starts counted)" wait_for 5 \
	grep -q 'task=web demand=3 requested=3 running=1 pending_starts=2' "$T/a.log"
check "running catches up once tasksRunning does" wait_for 10 \
	grep -q 'task=web demand=3 requested=3 running=3 pending_starts=0' "$T/a.log"
apps 1 2
kill -HUP "$AGENT_PID"
check "web scaled down to 1" wait_for 10 instances_is /web 1
check "stops are pending until Marathon reports them gone" wait_for 3 \
	grep -q 'task=web demand=1 requested=1 running=3 pending_starts=0 pending_stops=2' "$T/a.log"
wait_for 10 grep -q 'task=web demand=1 requested=1 running=1 pending_starts=0 pending_stops=0' "$T/a.log"
wait_for 10 grep -q 'task=worker demand=2 requested=2 running=2 pending_starts=0 pending_stops=0' "$T/a.log"

# --- a 409 storm: four refusals, then success, on the 250/500/1000/2000 ms timeline -----------
ctl DELETE history
ctl POST lock '{"app":"/web","puts":4}' >/dev/null
apps 4 3
kill -HUP "$AGENT_PID"
check "after four 409s web reaches 4" wait_for 15 instances_is /web 4
puts_of /web >"$T/storm"
echo "# 409 storm timeline (ms status): $(tr '\n' ' ' <"$T/storm")"
check "five PUTs: four 409 then 200" bash -c \
	"[ \"\$(cut -d' ' -f2 $T/storm | tr '\n' ' ')\" = '409 409 409 409 200 ' ]"
# Lower bound tight (never early); upper bound loose enough for a loaded 2-core machine.
check "retries 250, 500, 1000, 2000 ms apart (-5 ms, +max(150 ms, 20%))" "$PY" -c "
t=[int(l.split()[0]) for l in open('$T/storm')]
gaps=[b-a for a,b in zip(t,t[1:])]
assert all(w-5 <= g <= w+max(150,w//5) for g,w in zip(gaps,[250,500,1000,2000])), gaps"
check "the other app is not held up by the lock" "$PY" -c "
import json,urllib.request
h=json.load(urllib.request.urlopen('http://127.0.0.1:$PORT/_double/history'))
puts=[x for x in h if x['method']=='PUT']
w=[x['t'] for x in puts if x['path'].endswith('/grp/worker') and x['status']==200]
web=[x['t'] for x in puts if x['path'].endswith('/web') and x['status']==200]
assert w and web and w[0] < web[0], (w, web)"
check "the lock is logged once, not once per retry" bash -c \
	"[ \$(grep -c 'msg=\"app locked by a deployment, retrying\" task=web' $T/a.log) -eq 1 ]"
check "the log names Marathon's message" grep -q "App is locked by one or more deployments" "$T/a.log"

# --- the API goes away and comes back ----------------------------------------------------------
kill -9 "$DOUBLE_PID"
check "losing Marathon is logged" wait_for 5 grep -q 'msg="API unreachable or refusing"' "$T/a.log"
sleep 1.5
check "the agent survives it" kill -0 "$AGENT_PID"
double_start main --port "$PORT" --prefix "$PREFIX" --lag-ms 300 --kill-lag-ms 300
check "the return is logged" wait_for 10 grep -q 'msg="API reachable again"' "$T/a.log"
check "the outage is logged once" bash -c "[ \$(grep -c 'API unreachable or refusing' $T/a.log) -eq 1 ]"
apps 2 3
kill -HUP "$AGENT_PID"
check "scaling works again after the outage" wait_for 10 instances_is /web 2

# --- drain on SIGTERM: every app to 0 instances, exit 0 once Marathon reports them gone ------
check "SIGTERM drain exits 0" stop_agent
check "the drain leaves web and the group app at 0 instances" \
	[ "$(instances /web) $(instances /grp/worker)" = '0 0' ]

# --- force after MSS_MARATHON_FORCE_AFTER_S ------------------------------------------------------
ctl DELETE history
ctl POST lock '{"app":"/web"}' >/dev/null   # held until overridden
apps 2 0
agent "$T/f.log" MSS_MARATHON_FORCE_AFTER_S=1
check "a lock held past MSS_MARATHON_FORCE_AFTER_S is overridden with force=true" \
	wait_for 10 instances_is /web 2
puts_of /web >"$T/force"
echo "# force timeline (ms status query): $(tr '\n' ' ' <"$T/force")"
check "409s until 1 s, then one PUT ?force=true answered 200" "$PY" -c "
rows=[l.split() for l in open('$T/force')]
assert [r[1] for r in rows[:-1]] == ['409']*(len(rows)-1) and rows[-1][1:] == ['200','force=true'], rows
assert 1000 <= int(rows[-1][0]) <= 2000, rows
assert all(r[2] == '-' for r in rows[:-1]), rows"
check "forcing is logged loudly" grep -q 'level=error comp=marathon msg="forcing past a deployment lock" task=web' "$T/f.log"
check "drain after forcing exits 0" stop_agent

# --- auth: 401 without credentials, 403 for a user not allowed, then the right ones ------------
double_start auth --lag-ms 100 --user ops:pw --user viewer:pw --user intruder:pw --readonly viewer \
	--forbidden intruder --token s3cr3t --app /web:1 --app /grp/worker:1
PREFIX=
apps 2 1
agent "$T/n.log" MSS_SHUTDOWN_TIMEOUT=1
sleep 2
check "no credentials: 401 logged once, agent alive" bash -c \
	"kill -0 $AGENT_PID && [ \$(grep -c 'level=error.*401 Not Authenticated' $T/n.log) -eq 1 ]"
check "and nothing was scaled" instances_is /web 1
check "a drain with Marathon refusing every request is not clean: exit 1 at the deadline" \
	stop_agent 1
agent "$T/x.log" MSS_MARATHON_USER=intruder MSS_MARATHON_PASSWORD=pw MSS_SHUTDOWN_TIMEOUT=1
sleep 2
check "a forbidden user: 403 logged once with Marathon's message" bash -c \
	"kill -0 $AGENT_PID && [ \$(grep -c '403 Not Authorized to perform this action' $T/x.log) -eq 1 ]"
stop_agent 1
agent "$T/r.log" MSS_MARATHON_USER=viewer MSS_MARATHON_PASSWORD=pw MSS_SHUTDOWN_TIMEOUT=1
sleep 3
check "a read-only user: counts work, the refused PUT is logged once and retried" bash -c \
	"grep -q msg=connected $T/r.log && [ \$(grep -c 'msg=\"scale failed\" task=web.*403' $T/r.log) -eq 1 ] &&
	 [ \$(curl -s http://127.0.0.1:$PORT/_double/history | grep -o '\"method\": \"PUT\"' | wc -l) -ge 2 ]"
check "a drain whose scale-down is refused ends at the deadline with exit 1" stop_agent 1
agent "$T/b.log" MSS_MARATHON_USER=ops MSS_MARATHON_PASSWORD=pw
check "basic auth with the right user scales" wait_for 10 instances_is /web 2
stop_agent
apps 3 1
agent "$T/t.log" MSS_MARATHON_TOKEN=s3cr3t
check "a DC/OS token (Authorization: token=...) scales" wait_for 10 instances_is /web 3
check "drain with a token exits 0" stop_agent

# --- bad settings are refused before any I/O ------------------------------------------------------
env -i PATH="$PATH" MSS_SCHEDULER=MARATHON MSS_CONFIG=DEMO MSS_MARATHON_API=ftp://m "$BIN" >"$T/c.log" 2>&1
rc=$?
check "a bad MSS_MARATHON_API exits 2 naming it" bash -c "[ $rc -eq 2 ] && grep -q MSS_MARATHON_API $T/c.log"
env -i PATH="$PATH" MSS_SCHEDULER=MARATHON MSS_CONFIG=DEMO MSS_MARATHON_PASSWORD=x "$BIN" >"$T/c.log" 2>&1
rc=$?
check "a password without a user exits 2 naming it" bash -c "[ $rc -eq 2 ] && grep -q MSS_MARATHON_PASSWORD $T/c.log"

finish
