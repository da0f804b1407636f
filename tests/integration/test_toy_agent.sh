#!/usr/bin/env bash
# The whole agent with the toy scheduler: the exit-status contract, scaling, SIGTERM drain, the
# shutdown deadline, the second signal, and SIGHUP reload of a FILE config.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/mss-toy.XXXXXX)
on_exit "rm -rf $T"
BASE=(MSS_SCHEDULER=TOY MSS_CONFIG=DEMO MSS_MONITOR=LOG MSS_TICK_MS=100 MSS_TOY_START_MS=50 MSS_TOY_STOP_MS=50)

# --- command line and configuration errors: exit 2 with the field named ---------------------
out=$("$BIN" --version); check "--version prints the version" grep -q "^microscaler $(cat "$ROOT/VERSION")" <<<"$out"
out=$("$BIN" --help)
check "--help lists every setting with its default" bash -c \
	'grep -q "MSS_TICK_MS *500" <<<"$1" && grep -q "MSS_SHUTDOWN_TIMEOUT *30" <<<"$1" && grep -q "MSS_SCHEDULER *DOCKER" <<<"$1"' _ "$out"
env -i "${BASE[@]}" "$BIN" --check-config >"$T/cc" 2>&1
check "--check-config on the demo config exits 0 and prints the tasks" bash -c '[ $0 -eq 0 ] && grep -q consumer "$1" && grep -q remainder "$1"' $? "$T/cc"

bad() { # bad NAME EXPECTED-TEXT ENV...
	local name=$1 want=$2; shift 2
	env -i PATH="$PATH" "$@" "$BIN" --check-config >"$T/bad" 2>&1
	local rc=$?
	if [ $rc -eq 2 ] && grep -q -- "$want" "$T/bad" && [ "$(grep -c . "$T/bad")" -eq 1 ]; then ok "$name"
	else not_ok "$name (exit $rc: $(head -c 300 "$T/bad"))"; fi
}
bad "unknown scheduler exits 2 naming MSS_SCHEDULER" MSS_SCHEDULER MSS_SCHEDULER=NOPE MSS_CONFIG=DEMO
bad "non-numeric tick exits 2 naming MSS_TICK_MS" MSS_TICK_MS MSS_TICK_MS=fast MSS_SCHEDULER=TOY MSS_CONFIG=DEMO
bad "unknown monitor exits 2 naming MSS_MONITOR" MSS_MONITOR MSS_MONITOR=GRAPHITE MSS_SCHEDULER=TOY MSS_CONFIG=DEMO
bad "malformed JSON exits 2 with the byte offset" "byte 19" MSS_SCHEDULER=TOY MSS_CONFIG=ENVVAR 'MSS_CONFIG_DATA={"maxContainers":1,}'
bad "min above max exits 2 naming the app" "apps\[0\]" MSS_SCHEDULER=TOY MSS_CONFIG=ENVVAR \
	'MSS_CONFIG_DATA={"maxContainers":9,"apps":[{"name":"a","minContainers":5,"maxContainers":2}]}'
bad "duplicate task names exit 2" "duplicate" MSS_SCHEDULER=TOY MSS_CONFIG=ENVVAR \
	'MSS_CONFIG_DATA={"maxContainers":9,"apps":[{"name":"a"},{"name":"a"}]}'
bad "unknown ruleType exits 2 naming ruleType" ruleType MSS_SCHEDULER=TOY MSS_CONFIG=ENVVAR \
	'MSS_CONFIG_DATA={"maxContainers":9,"apps":[{"name":"a","ruleType":"Magic"}]}'
bad "unknown metricType exits 2 naming metricType" metricType MSS_SCHEDULER=TOY MSS_CONFIG=ENVVAR \
	'MSS_CONFIG_DATA={"maxContainers":9,"apps":[{"name":"a","ruleType":"Queue","metricType":"Psychic"}]}'
bad "a field of the wrong type exits 2 naming it" "maxContainers" MSS_SCHEDULER=TOY MSS_CONFIG=ENVVAR \
	'MSS_CONFIG_DATA={"maxContainers":"ten","apps":[]}'
env -i PATH="$PATH" MSS_SCHEDULER=TOY MSS_CONFIG=DEMO "$BIN" --bogus >/dev/null 2>&1
check "an unknown argument exits 2" [ $? -eq 2 ]

# --- scaling and a clean drain -----------------------------------------------------------------
running_of() { # running_of LOG TASK: the latest running count the LOG monitor printed
	grep "msg=counts task=$2 " "$1" | tail -1 | sed -n 's/.* running=\([0-9]*\).*/\1/p'
}
positive() { local n; n=$(running_of "$1" "$2"); [ -n "$n" ] && [ "$n" -gt 0 ]; }

start_agent "$T/run.log" "${BASE[@]}"
check "the demo scales both tasks up" wait_for 10 bash -c "$(declare -f running_of positive); positive $T/run.log consumer && positive $T/run.log remainder"
check "every scaling action logs task, from, to and reason" \
	grep -qE 'msg=scale task=[a-z]+ from=[0-9]+ to=[0-9]+ reason=' "$T/run.log"
kill -TERM "$AGENT_PID"
if wait_exit "$AGENT_PID" 10; then
	check "SIGTERM drains and exits 0" [ "$EXIT_STATUS" -eq 0 ]
else
	not_ok "SIGTERM drains and exits 0 (still running after 10 s)"
fi
check "after the drain every task is at zero" bash -c "[ \"\$($(declare -f running_of); running_of $T/run.log consumer)\" = 0 ] && [ \"\$($(declare -f running_of); running_of $T/run.log remainder)\" = 0 ]"
check "the drain logs that all finished" grep -q 'msg="shutdown: all finished"' "$T/run.log"

# --- a closed stdout (the log reader died) must not kill the agent ------------------------------
mkfifo "$T/logpipe"
env -i PATH="$PATH" "${BASE[@]}" "$BIN" >"$T/logpipe" 2>"$T/pipe.err" &
PIPE_PID=$!
on_exit "kill -9 $PIPE_PID 2>/dev/null"
head -n 1 "$T/logpipe" >/dev/null # read one line, then close the pipe: later writes get EPIPE
sleep 0.5                          # several ticks of log lines written into the closed pipe
check "the agent survives its stdout being closed (SIGPIPE ignored)" kill -0 "$PIPE_PID"
kill -TERM "$PIPE_PID"
if wait_exit "$PIPE_PID" 10; then
	check "and still drains and exits 0" [ "$EXIT_STATUS" -eq 0 ]
else
	not_ok "and still drains and exits 0 (still running after 10 s)"
fi

# --- the deadline: stops slower than MSS_SHUTDOWN_TIMEOUT --------------------------------------
start_agent "$T/slow.log" "${BASE[@]}" MSS_TOY_STOP_MS=20000 MSS_SHUTDOWN_TIMEOUT=0.5
wait_for 10 bash -c "$(declare -f running_of positive); positive $T/slow.log remainder"
t0=$(date +%s%N)
kill -TERM "$AGENT_PID"
if wait_exit "$AGENT_PID" 10; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	check "a drain past the deadline exits 1" [ "$EXIT_STATUS" -eq 1 ]
	check "the deadline is honoured (exited in ${ms} ms)" [ "$ms" -lt 3000 ]
	check "the forced exit logs what was left" grep -q 'msg="left behind"' "$T/slow.log"
else
	not_ok "a drain past the deadline exits (still running after 10 s)"
fi

# --- a second signal stops the wait for graceful stops ------------------------------------------
start_agent "$T/twice.log" "${BASE[@]}" MSS_TOY_STOP_MS=60000 MSS_SHUTDOWN_TIMEOUT=60
wait_for 10 bash -c "$(declare -f running_of positive); positive $T/twice.log remainder"
kill -TERM "$AGENT_PID"
wait_for 5 grep -q 'msg="shutdown: draining"' "$T/twice.log"
kill -INT "$AGENT_PID"
if wait_exit "$AGENT_PID" 5; then
	check "a second signal forces the drain and exits 1" [ "$EXIT_STATUS" -eq 1 ]
else
	not_ok "a second signal forces the drain (still running after 5 s)"
fi

# --- SIGHUP reloads a FILE config --------------------------------------------------------------
cat >"$T/apps.json" <<'JSON'
{"maxContainers":6,"apps":[{"name":"alpha","priority":1,"minContainers":2,"maxContainers":2}]}
JSON
start_agent "$T/hup.log" MSS_SCHEDULER=TOY MSS_CONFIG=FILE "MSS_CONFIG_FILE=$T/apps.json" \
	MSS_MONITOR=LOG MSS_TICK_MS=100 MSS_TOY_START_MS=20 MSS_TOY_STOP_MS=20
check "FILE config: alpha reaches its minimum" wait_for 10 bash -c "[ \"\$($(declare -f running_of); running_of $T/hup.log alpha)\" = 2 ]"
cat >"$T/apps.json" <<'JSON'
{"maxContainers":6,"apps":[{"name":"beta","priority":1,"minContainers":3,"maxContainers":3}]}
JSON
kill -HUP "$AGENT_PID"
check "SIGHUP adds the new task" wait_for 10 bash -c "[ \"\$($(declare -f running_of); running_of $T/hup.log beta)\" = 3 ]"
check "SIGHUP drains and drops the removed task" wait_for 10 grep -q 'msg="task removed" task=alpha' "$T/hup.log"
echo '{"maxContainers":' >"$T/apps.json"
kill -HUP "$AGENT_PID"
check "a bad reload is logged and the old config kept" wait_for 5 grep -q 'reload failed' "$T/hup.log"
check "the agent keeps running after a bad reload" kill -0 "$AGENT_PID"
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 10
check "and still drains cleanly" [ "${EXIT_STATUS:-1}" -eq 0 ]

finish
