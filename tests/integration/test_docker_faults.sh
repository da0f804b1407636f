#!/usr/bin/env bash
# The Docker backend when the engine is late or gives up: a drain asked for before the engine
# ever answered must not claim to be clean (or leave adopted containers behind), and containers
# whose restart policy the engine gave up on are replaced, not waited for.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/mss-dkf.XXXXXX)
on_exit "rm -rf $T"
OWNER=faults
OURS="com.microscaling.owner=$OWNER"

apps() { # apps MIN MAX [extra config JSON]
	cat >"$T/apps.json" <<JSON
{"maxContainers":5,"apps":[{"name":"web","priority":1,"minContainers":$1,"maxContainers":$2,
 "config":{"image":"mss-test:latest","stopTimeout":1${3:-}}}]}
JSON
}
agent() { # agent LOG DOCKER_HOST [ENV...]
	local log=$1 host=$2; shift 2
	start_agent "$log" MSS_SCHEDULER=DOCKER MSS_CONFIG=FILE "MSS_CONFIG_FILE=$T/apps.json" \
		MSS_MONITOR=none MSS_TICK_MS=100 MSS_PULL_IMAGES=false "DOCKER_HOST=$host" \
		MSS_INSTANCE_ID=$OWNER "$@"
}
running_is() { [ "$(count_running "$OURS")" -eq "$1" ] && [ "$(count_labelled "$OURS")" -eq "$1" ]; }

# --- the engine never answered: nothing is known, so nothing is known to be drained ------------
apps 1 1
agent "$T/a.log" "unix://$T/no-engine.sock" MSS_SHUTDOWN_TIMEOUT=1
check "the agent waits for an engine that is not there" wait_for 10 grep -q 'engine unreachable' "$T/a.log"
kill -TERM "$AGENT_PID"
if wait_exit "$AGENT_PID" 15; then
	check "a drain without any view of the engine exits 1, not 0 ($EXIT_STATUS)" [ "$EXIT_STATUS" -eq 1 ]
else
	not_ok "a drain without any view of the engine ends (still running after 15 s)"
fi

dockerd_start || { not_ok "private dockerd starts"; finish; exit 1; }
D=$DOCKER_CLI

# --- SIGTERM before the first list came back: the drain waits for it and removes what it finds --
pre=$($D run -d --label com.microscaling.task=web --label "$OURS" mss-test:latest)
apps 1 1
dpid=$(cat "$DOCKERD_DIR/dockerd.pid")
kill -STOP "$dpid" # the engine is slow to answer
on_exit "kill -CONT $dpid 2>/dev/null"
agent "$T/b.log" "$DOCKER_HOST" MSS_SHUTDOWN_TIMEOUT=20
# Its signal handlers are in place once the backend starts (a slow start, e.g. under valgrind,
# would otherwise die of the SIGTERM)
wait_for 10 grep -q 'msg=connecting' "$T/b.log"
kill -TERM "$AGENT_PID"
sleep 0.5
kill -CONT "$dpid"
if wait_exit "$AGENT_PID" 25; then
	check "a drain asked for before the first view exits 0 once done ($EXIT_STATUS)" [ "$EXIT_STATUS" -eq 0 ]
else
	not_ok "a drain asked for before the first view ends (still running after 25 s)"
fi
check "and it removed the container it then found" bash -c "! $D ps -aq --no-trunc | grep -q $pre"
check "nothing of ours is left" running_is 0

# --- on-failure and a clean exit: the engine does not restart it, we replace it -----------------
apps 1 1 ',"command":"/bin/sh -c \"sleep 1; exit 0\"","restartPolicy":"on-failure"'
agent "$T/c.log" "$DOCKER_HOST" MSS_SHUTDOWN_TIMEOUT=10
check "a container the engine will not restart is replaced (and again)" wait_for 20 bash -c \
	"[ \$(grep -c 'msg=\"container exited\" task=web' $T/c.log) -ge 2 ]"
check "the task is not left waiting for a restart that never comes" wait_for 10 running_is 1
kill -TERM "$AGENT_PID"
if wait_exit "$AGENT_PID" 20; then
	check "and the drain is clean ($EXIT_STATUS)" [ "$EXIT_STATUS" -eq 0 ]
else
	not_ok "the drain ends (still running after 20 s)"
fi
check "nothing of ours is left" running_is 0

# --- always, crash-looping: the drain does not wait for the engine's restart backoff ------------
apps 1 1 ',"command":"/bin/sh -c \"sleep 0.3; exit 1\"","restartPolicy":"always"'
agent "$T/d.log" "$DOCKER_HOST" MSS_SHUTDOWN_TIMEOUT=10
check "a crash-looping container is restarted by the engine, not replaced" wait_for 20 bash -c \
	"[ \$(grep -c 'msg=\"container exited\" task=web' $T/d.log) -ge 4 ]"
check "one container all along" bash -c "[ \$($D ps -aq --filter label=$OURS | wc -l) -eq 1 ]"
kill -TERM "$AGENT_PID"
if wait_exit "$AGENT_PID" 20; then
	check "its drain is clean ($EXIT_STATUS)" [ "$EXIT_STATUS" -eq 0 ]
else
	not_ok "its drain ends (still running after 20 s)"
fi
check "nothing of ours is left" running_is 0

finish
