#!/usr/bin/env bash
# Remote demand and live counts over the websocket, against the reference server
# (bin/microscaler-demand-server) with the toy scheduler: demand frames scale tasks, metrics frames
# every 500 ms, 20 server kills and restarts, one attempt per backoff step, every fallback policy,
# malformed frames of every kind, SIGTERM connected and disconnected, MSS_CONFIG=SERVER, bearer
# token and TLS; then one short case against a private dockerd.
. "$(dirname "$0")/lib.sh"
SRV="$TOOLS_DIR/microscaler-demand-server"
T=$(mktemp -d /tmp/mss-remote.XXXXXX)
on_exit "rm -rf $T"
SECONDS=0

# The server reads commands from a FIFO the test holds open (read-write, so it never sees EOF and
# a write never blocks while a server restarts).
mkfifo "$T/cmd"
exec 3<>"$T/cmd"
send() { printf '%s\n' "$*" >&3; }

N_SRV=0
srv_start() { # srv_start [ARGS...]: a server on $PORT (0: any, then PORT is set); SRV_PID/ERR/OUT
	N_SRV=$((N_SRV + 1))
	SRV_ERR="$T/srv$N_SRV.err" SRV_OUT="$T/srv$N_SRV.out"
	: >"$SRV_ERR"
	"$SRV" --port "${PORT:-0}" --ts "$@" <&3 >"$SRV_OUT" 2>"$SRV_ERR" &
	SRV_PID=$!
	on_exit "kill -9 $SRV_PID 2>/dev/null"
	wait_for 5 grep -q 'event=listening' "$SRV_ERR" || return 1
	PORT=$(sed -n 's/.*event=listening.* port=\([0-9]*\).*/\1/p' "$SRV_ERR")
}
srv_kill() { kill -9 "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; }
connected() { grep -c 'event=connected' "${1:-$SRV_ERR}"; }
frames() { grep -c '"metrics"' "${1:-$SRV_OUT}"; }
running_of() { # running_of LOG TASK: the latest running count the LOG monitor printed
	grep "msg=counts task=$2 " "$1" | tail -1 | sed -n 's/.* running=\([0-9]*\).*/\1/p'
}
running_is() { [ "$(running_of "$1" "$2")" = "$3" ]; }
count() { grep -c -- "$2" "$1"; }
# How many metrics frames has this server got since the line count $2?
frames_after() { [ "$(frames)" -ge "$1" ]; }

APPS='{"maxContainers":10,"apps":[
 {"name":"web","priority":1,"minContainers":0,"maxContainers":8},
 {"name":"worker","priority":2,"minContainers":1,"maxContainers":4}]}'
agent() { # agent LOG [ENV...]: SERVER engine, SERVER+LOG monitors, toy scheduler; sets AGENT_PID
	local log=$1; shift
	start_agent "$log" MSS_SCHEDULER=TOY MSS_DEMAND_ENGINE=SERVER MSS_MONITOR=SERVER,LOG \
		MSS_CONFIG=ENVVAR "MSS_CONFIG_DATA=$APPS" MSS_API_ADDRESS="127.0.0.1:$PORT" \
		MSS_TICK_MS=100 MSS_TOY_START_MS=20 MSS_TOY_STOP_MS=20 MSS_USER_ID=itest "$@"
}
stop_agent() { # stop_agent PID: SIGTERM, expect exit 0 within 10 s; sets EXIT_STATUS
	kill -TERM "$1"
	wait_exit "$1" 10 || { EXIT_STATUS=timeout; kill -9 "$1"; }
}

# --- demand frames change counts; metrics frames every 500 ms ------------------------------------
srv_start || { not_ok "the demand server starts"; finish; exit 1; }
A="$T/a.log"
# A dead proxy in the environment must not matter: the websocket never uses one.
agent "$A" http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9
A_PID=$AGENT_PID
check "the agent connects (through no proxy, Origin http://localhost/)" \
	wait_for 5 grep -q 'event=upgrade n=1 .*origin=http://localhost/ auth=ok' "$SRV_ERR"
check "min is met before any demand arrives" wait_for 5 running_is "$A" worker 1
send web=3
check "a demand frame scales web to 3" wait_for 5 running_is "$A" web 3
check "the scale is logged with task, from, to and the remote reason" \
	grep -q 'msg=scale task=web from=0 to=3 reason="remote demand"' "$A"
check "a metrics frame reports web 3 running and 3 pending (requested)" wait_for 3 \
	grep -q '"app":"web","runningCount":3,"pendingCount":3' "$SRV_OUT"
send web=50
check "a demand above max is clamped to max (8)" wait_for 5 running_is "$A" web 8
check "the budget holds: web 8 + worker 1 <= 10" [ "$(($(running_of "$A" web) + $(running_of "$A" worker)))" -le 10 ]
n0=$(frames)
wait_for 5 frames_after $((n0 + 7))
# Intervals between the last 7 frames (the --ts prefix is ms since the server started).
iv=$(grep '"metrics"' "$SRV_OUT" | tail -7 | awk 'NR>1{print $1-p} {p=$1}' | sort -n | tr '\n' ' ')
med=$(echo "$iv" | awk '{print $3}')
max=$(echo "$iv" | awk '{print $NF}')
check "metrics frames every ~500 ms (intervals: $iv)" bash -c "[ $med -ge 450 ] && [ $med -le 550 ] && [ $max -lt 900 ]"
check "frames carry the user and a createdAt in seconds" \
	grep -qE '^[0-9]+ \{"user":"itest","metrics":\{"tasks":\[.*\],"createdAt":[0-9]{10}\}\}$' "$SRV_OUT"
send web=2
check "demand down: web to 2" wait_for 5 running_is "$A" web 2

# --- malformed frames of every kind leave it running and scaling -------------------------------
head -c 10000000 /dev/zero | tr '\0' 'x' >"$T/big"
send 'garbage'                 # not a command for the server: it complains, sends nothing
send '{"demand":{"tasks":[{"app":"web","demandCount":3}'   # invalid JSON
send '[1,2,3]'                  # not a demand frame
send web=abc                    # wrong type (a string)
send web=true                   # wrong type
send web=1.5                    # not an integer
send web=-3                     # negative
send web=1e12                   # huge
send web=99999999999999999999999 # huger
send '{"demand":{"tasks":[{"app":"web"}]}}'   # missing key
send '{"demand":{"tasks":[7]}}'               # entry not an object
send nope=4                     # unknown app
send "@$T/big"                  # a 10 MB frame
for i in $(seq 1 20); do send '{"demand":'; done   # a burst: rate-limited logging
send web=5 worker=2
check "after every bad frame it still scales (web 5, worker 2)" \
	wait_for 10 bash -c "$(declare -f running_of running_is); running_is $A web 5 && running_is $A worker 2"
check "the agent is still running" kill -0 "$A_PID"
for p in invalid_json not_a_demand_frame wrong_type not_an_integer out_of_range missing_key \
	entry_not_an_object unknown_app; do
	check "a bad frame or entry is logged: $p" grep -q "problem=$p " "$A"
done
check "the 10 MB frame is discarded with one line, the connection kept" bash -c \
	"grep -q 'msg=\"message over MSS_API_MAX_FRAME discarded, connection kept\" max_bytes=1048576' $A && [ \$(grep -c event=disconnected $SRV_ERR) -eq 0 ]"
check "logging is rate-limited: 21 invalid JSON frames, one line" [ "$(count "$A" 'problem=invalid_json')" -eq 1 ]

# --- the server killed and restarted 20 times --------------------------------------------------
# hold (the default) keeps web 5 / worker 2 through every outage. Each server instance must see
# exactly one upgrade: one connection attempt per backoff step, never a second one in parallel.
scales_before=$(count "$A" 'msg=scale ')
cycles_ok=0
for i in $(seq 1 20); do
	# Two frames at this instance: the connection lived >= 500 ms, so the backoff restarts.
	wait_for 5 frames_after 2 || break
	srv_kill
	wait_for 5 bash -c "[ \$(grep -c 'msg=\"disconnected from the API server' $A) -ge $i ]" || break
	srv_start || break
	wait_for 5 bash -c "[ \$(grep -c 'event=connected' $SRV_ERR) -ge 1 ]" || break
	[ "$(grep -c 'event=upgrade' "$SRV_ERR")" -eq 1 ] || break
	cycles_ok=$i
done
check "20 kills and restarts: reconnected every time, one attempt each ($cycles_ok/20)" [ "$cycles_ok" -eq 20 ]
check "each outage logged once: 20 disconnects, 20 reconnects" bash -c \
	"[ \$(grep -c 'msg=\"disconnected from the API server' $A) -eq 20 ] && [ \$(grep -c 'msg=\"reconnected to the API server' $A) -eq 20 ]"
check "no retry logged at info or above" [ "$(count "$A" 'cannot connect to the API server')" -eq 0 ]
check "hold: no scaling through 20 outages (web 5, worker 2)" bash -c \
	"[ \$(grep -c 'msg=scale ' $A) -eq $scales_before ] && $(declare -f running_of running_is); running_is $A web 5 && running_is $A worker 2"
check "the reconnected server gets the current counts" wait_for 3 \
	grep -q '"app":"web","runningCount":5,"pendingCount":5' "$SRV_OUT"

# --- one attempt per backoff step, counted at a server that refuses every upgrade ----------------
wait_for 5 frames_after 2
srv_kill
srv_start --refuse
REFUSE_ERR=$SRV_ERR
wait_for 5 bash -c "[ \$(grep -c 'event=upgrade' $REFUSE_ERR) -ge 3 ]"
srv_kill
gaps=$(grep 'event=upgrade' "$REFUSE_ERR" | sed 's/t_ms=\([0-9]*\).*/\1/' | awk 'NR>1{printf "%d ", $1-p} {p=$1}')
# Delays 200, 400, 800 ms less up to 20 % jitter: each gap >= 300 ms and about double the last.
check "refused attempts back off (gaps ms: $gaps)" bash -c "echo '$gaps' | awk '{ok=NF>=2; for(i=1;i<=NF;i++){if(\$i<300)ok=0; if(i>1 && \$i<1.5*\$(i-1))ok=0}} END{exit !ok}'"
check "the refused attempts were logged once (one line for the outage)" \
	[ "$(count "$A" 'msg="disconnected from the API server')" -eq 21 ]
srv_start
check "after the refusals it reconnects to a good server" wait_for 8 grep -q 'event=connected' "$SRV_ERR"

# --- fallback policies: hold (A), min (B), local (C) --------------------------------------------
send web=3 worker=2
check "hold: the first frame after the outages applies" wait_for 5 running_is "$A" web 3
B="$T/b.log" C="$T/c.log"
agent "$B" MSS_REMOTE_FALLBACK=min MSS_REMOTE_FALLBACK_AFTER_S=0.5
B_PID=$AGENT_PID
agent "$C" MSS_REMOTE_FALLBACK=local MSS_REMOTE_FALLBACK_AFTER_S=0.5
C_PID=$AGENT_PID
# The server sends its last demand to agents that connect later: B and C start at web 3.
check "new agents get the server's current demand on connect" wait_for 5 bash -c \
	"$(declare -f running_of running_is); running_is $B web 3 && running_is $C web 3"
srv_kill
check "min: after MSS_REMOTE_FALLBACK_AFTER_S every task goes to its min (web 0, worker 1)" wait_for 5 \
	bash -c "$(declare -f running_of running_is); grep -q 'every task goes to its min' $B && running_is $B web 0 && running_is $B worker 1"
check "local: the local engine takes over (remainder web grows to its max 8)" wait_for 5 \
	bash -c "$(declare -f running_of running_is); grep -q 'the local engine takes over' $C && running_is $C web 8"
check "hold: keeps web 3 while min and local have moved" running_is "$A" web 3
# --- SIGTERM while disconnected ----------------------------------------------------------------
stop_agent "$B_PID"
check "SIGTERM while disconnected drains to zero and exits 0" bash -c \
	"[ '$EXIT_STATUS' = 0 ] && $(declare -f running_of running_is); running_is $B web 0 && running_is $B worker 0"
check "frames dropped while disconnected are counted" grep -qE 'msg="api link totals".* frames_dropped=[1-9]' "$B"
srv_start
wait_for 8 bash -c "[ \$(grep -c 'event=connected' $SRV_ERR) -ge 2 ]"
check "local: link back, the local demand holds until the server speaks" running_is "$C" web 8
send web=1
check "local: the server's next frame applies again" wait_for 5 running_is "$C" web 1
# --- SIGTERM while connected ---------------------------------------------------------------------
check "A follows too" wait_for 5 running_is "$A" web 1
stop_agent "$A_PID"
check "SIGTERM while connected drains to zero and exits 0" bash -c \
	"[ '$EXIT_STATUS' = 0 ] && $(declare -f running_of running_is); running_is $A web 0 && running_is $A worker 0"
check "the last metrics frame reaches the server with the final zero counts" \
	grep -q '"user":"itest","metrics":{"tasks":\[{"app":"web","runningCount":0,"pendingCount":0},{"app":"worker","runningCount":0,"pendingCount":0}\]' "$SRV_OUT"
stop_agent "$C_PID"
check "agent C exits 0 as well" [ "$EXIT_STATUS" = 0 ]
srv_kill

# --- MSS_CONFIG=SERVER, bearer token -----------------------------------------------------------
cat >"$T/apps.json" <<'JSON'
{"maxContainers":5,"apps":[{"name":"api","priority":1,"minContainers":2,"maxContainers":3}]}
JSON
cfg_agent() { # cfg_agent LOG [ENV...]: MSS_CONFIG=SERVER, local engine, SERVER monitor
	local log=$1; shift
	start_agent "$log" MSS_SCHEDULER=TOY MSS_CONFIG=SERVER MSS_MONITOR=SERVER,LOG \
		MSS_API_ADDRESS="127.0.0.1:$PORT" MSS_USER_ID=alice MSS_TICK_MS=100 \
		MSS_TOY_START_MS=20 MSS_TOY_STOP_MS=20 "$@"
}
D="$T/d.log"
cfg_agent "$D" MSS_API_TOKEN=s3cret
check "SERVER config: an unreachable server is retried, logged once" \
	wait_for 5 grep -q 'config server unavailable, retrying' "$D"
srv_start --apps "$T/apps.json" --token s3cret --apps-fail 1
check "SERVER config: GET /apps/alice with the token, a 503 retried, then loaded" \
	wait_for 10 grep -q 'msg="loaded from the server" .* tasks=1' "$D"
check "SERVER config: the tasks scale (remainder api to its max 3)" wait_for 5 running_is "$D" api 3
check "the token is accepted on the websocket too" wait_for 5 grep -q 'auth=ok' "$SRV_ERR"
check "the unavailable server was logged once" [ "$(count "$D" 'config server unavailable')" -eq 1 ]
stop_agent "$AGENT_PID"
check "and it drains and exits 0" [ "$EXIT_STATUS" = 0 ]
E="$T/e.log"
cfg_agent "$E" MSS_CONFIG=ENVVAR "MSS_CONFIG_DATA=$APPS" MSS_API_TOKEN=wrong
check "a wrong token: the upgrade is refused and logged once by the agent" wait_for 5 \
	grep -q 'msg="cannot connect to the API server, retrying with backoff"' "$E"
check "the server saw the wrong token" grep -q 'auth=refused' "$SRV_ERR"
stop_agent "$AGENT_PID"
srv_kill
# SIGTERM before the apps arrived: what we own is unknown, so the drain keeps fetching them until
# the deadline; clean (0) if they arrive in time and are drained, not clean (1) otherwise.
cfg_agent "$T/i.log" MSS_SHUTDOWN_TIMEOUT=1
wait_for 5 grep -q 'config server unavailable' "$T/i.log"
stop_agent "$AGENT_PID"
check "SIGTERM while the config never arrives: exit 1 at the deadline" bash -c \
	"[ '$EXIT_STATUS' = 1 ] && grep -q 'the apps have not arrived from the server yet' $T/i.log"
cfg_agent "$T/j.log" MSS_SHUTDOWN_TIMEOUT=20
wait_for 5 grep -q 'config server unavailable' "$T/j.log"
kill -TERM "$AGENT_PID"
wait_for 5 grep -q 'shutdown: draining' "$T/j.log"
srv_start --apps "$T/apps.json"
if wait_exit "$AGENT_PID" 20; then
	check "SIGTERM, then the config arrives: loaded, drained, exit 0" bash -c \
		"[ $EXIT_STATUS = 0 ] && grep -q 'loaded from the server' $T/j.log"
else
	not_ok "SIGTERM, then the config arrives (still running after 20 s)"
fi
srv_kill
bad_config() { # bad_config NAME NEEDLE SERVER-ARGS...: the agent exits 2 with one stderr line
	local name=$1 needle=$2; shift 2
	srv_start "$@"
	env -i PATH="$PATH" MSS_SCHEDULER=TOY MSS_CONFIG=SERVER MSS_MONITOR=none \
		MSS_API_ADDRESS="127.0.0.1:$PORT" MSS_USER_ID=bob "$BIN" >"$T/bad.log" 2>"$T/bad.err"
	local rc=$?
	srv_kill
	if [ $rc -eq 2 ] && [ "$(grep -c . "$T/bad.err")" -eq 1 ] && grep -q -- "$needle" "$T/bad.err"; then
		ok "$name"
	else
		not_ok "$name (exit $rc: $(head -c 300 "$T/bad.err"))"
	fi
}
bad_config "SERVER config: 404 exits 2 with one line" "GET http://127.0.0.1:.*/apps/bob: 404 not found"
echo '{"maxContainers":' >"$T/broken.json"
bad_config "SERVER config: invalid JSON exits 2 with the byte offset" "malformed JSON at byte" --apps "$T/broken.json"
echo '{"maxContainers":1,"apps":[{"name":"a","minContainers":3,"maxContainers":4}]}' >"$T/invalid.json"
bad_config "SERVER config: an invalid config exits 2 naming the problem" "sum of minContainers" --apps "$T/invalid.json"
check_config() { # check_config NAME RC NEEDLE: --check-config against the server on $PORT
	local name=$1 want=$2 needle=$3
	env -i PATH="$PATH" MSS_SCHEDULER=TOY MSS_CONFIG=SERVER MSS_MONITOR=none \
		MSS_API_ADDRESS="127.0.0.1:$PORT" MSS_USER_ID=bob "$BIN" --check-config \
		>"$T/cc.out" 2>"$T/cc.err"
	local rc=$?
	if [ $rc -eq "$want" ] && grep -q -- "$needle" "$T/cc.out" "$T/cc.err"; then ok "$name"
	else not_ok "$name (exit $rc: $(head -c 300 "$T/cc.out" "$T/cc.err"))"; fi
}
srv_start --apps "$T/apps.json"
check_config "--check-config fetches a SERVER config once and prints its tasks" 0 "^api "
srv_kill
check_config "--check-config cannot reach the server: exit 2, no retry loop" 2 "Couldn't connect"
srv_start --apps "$T/invalid.json"
check_config "--check-config with an invalid SERVER config: exit 2 naming it" 2 "sum of minContainers"
srv_kill

# --- wss: the server's certificate is verified ---------------------------------------------------
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
	-subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1; then
	srv_start --cert "$T/cert.pem" --key "$T/key.pem"
	tls_agent() { agent "$@" MSS_API_ADDRESS="wss://localhost:$PORT/agents"; }
	tls_agent "$T/f.log" "MSS_API_CA_FILE=$T/cert.pem"
	check "wss with the server's CA: connects to the URL's path, verified" \
		wait_for 5 grep -q 'msg="connected to the API server" .*path=/agents .*tls=true insecure=false' "$T/f.log"
	check "the path reaches the server" grep -q 'event=connected id=1 path=/agents' "$SRV_ERR"
	stop_agent "$AGENT_PID"
	tls_agent "$T/g.log"
	check "wss with an unknown CA: refused, one line with the TLS reason" wait_for 5 \
		grep -q 'msg="cannot connect to the API server, retrying with backoff".*detail=".*[Vv]erif' "$T/g.log"
	stop_agent "$AGENT_PID"
	tls_agent "$T/h.log" MSS_API_INSECURE=true
	check "MSS_API_INSECURE=true connects, with a loud warning" wait_for 5 bash -c \
		"grep -q 'TLS verification of the API server is OFF' $T/h.log && grep -q 'connected to the API server' $T/h.log"
	stop_agent "$AGENT_PID"
	srv_kill
else
	not_ok "openssl makes a test certificate"
fi

# --- one short case with the real Docker engine: demand frames change running containers ------
if dockerd_start; then
	OURS=com.microscaling.owner=remote-itest
	PORT=0
	srv_start
	start_agent "$T/k.log" MSS_SCHEDULER=DOCKER MSS_DEMAND_ENGINE=SERVER MSS_MONITOR=SERVER,LOG \
		MSS_CONFIG=ENVVAR MSS_API_ADDRESS="127.0.0.1:$PORT" MSS_TICK_MS=100 \
		MSS_PULL_IMAGES=false "DOCKER_HOST=$DOCKER_HOST" MSS_INSTANCE_ID=remote-itest \
		'MSS_CONFIG_DATA={"maxContainers":4,"apps":[{"name":"web","priority":1,"minContainers":0,"maxContainers":3,"config":{"image":"mss-test:latest","stopTimeout":1}}]}'
	wait_for 10 grep -q 'event=connected' "$SRV_ERR"
	send web=2
	check "docker: a demand frame starts 2 containers" wait_for 20 \
		bash -c "[ \$($DOCKER_CLI ps -q --filter label=$OURS --filter status=running | wc -l) -eq 2 ]"
	check "docker: the server sees them running" wait_for 5 \
		grep -q '"app":"web","runningCount":2,"pendingCount":2' "$SRV_OUT"
	send web=1
	check "docker: demand down stops and removes one" wait_for 20 \
		bash -c "[ \$($DOCKER_CLI ps -aq --filter label=$OURS | wc -l) -eq 1 ]"
	kill -TERM "$AGENT_PID"
	if wait_exit "$AGENT_PID" 20; then
		check "docker: SIGTERM drains to zero containers and exits 0" bash -c \
			"[ $EXIT_STATUS -eq 0 ] && [ \$($DOCKER_CLI ps -aq --filter label=$OURS | wc -l) -eq 0 ]"
	else
		not_ok "docker: SIGTERM drains (still running after 20 s)"
	fi
	srv_kill
else
	not_ok "a private dockerd starts"
fi

echo "# $(basename "$0") took ${SECONDS}s"
finish
