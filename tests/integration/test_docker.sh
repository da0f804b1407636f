#!/usr/bin/env bash
# The Docker backend against a real, private engine: scale 0->N->M->0, adoption, ownership,
# replacement of a killed container, engine restart, missing image, bad DOCKER_HOST, the drain,
# and that the agent's own environment never reaches a container.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/mss-dk.XXXXXX)
on_exit "rm -rf $T"
dockerd_start || { not_ok "private dockerd starts"; finish; exit 1; }
OWNER=itest
OURS="com.microscaling.owner=$OWNER"
D=$DOCKER_CLI

apps() { # apps MIN MAX [extra app JSON]
	cat >"$T/apps.json" <<JSON
{"maxContainers":20,"apps":[{"name":"web","priority":1,"minContainers":$1,"maxContainers":$2,
 "config":{"image":"mss-test:latest","command":"/bin/sleep 3600","env":["FOO=bar"],
           "labels":{"team":"core"},"stopTimeout":1}}${3:-}]}
JSON
}
agent() { # agent LOG [ENV...]
	local log=$1; shift
	start_agent "$log" MSS_SCHEDULER=DOCKER MSS_CONFIG=FILE "MSS_CONFIG_FILE=$T/apps.json" \
		MSS_MONITOR=none MSS_TICK_MS=100 MSS_PULL_IMAGES=false "DOCKER_HOST=$DOCKER_HOST" \
		MSS_INSTANCE_ID=$OWNER MSS_RECONCILE_S=2 SECRET_TOKEN=hunter2 "$@"
}
running_is() { [ "$(count_running "$OURS")" -eq "$1" ] && [ "$(count_labelled "$OURS")" -eq "$1" ]; }

# --- ownership: containers that are not ours are never touched -------------------------------
# (restart=always: the engine restart below must not be what stops them)
$D run -d --restart always --name stranger mss-test:latest >/dev/null
$D run -d --restart always --name other-owner --label com.microscaling.task=web \
	--label com.microscaling.owner=someone-else mss-test:latest >/dev/null
# --- adoption: two of ours exist before the agent starts --------------------------------------
pre1=$($D run -d --label com.microscaling.task=web --label "$OURS" mss-test:latest)
pre2=$($D run -d --label com.microscaling.task=web --label "$OURS" mss-test:latest)

apps 2 2
agent "$T/a.log"
check "agent connects to the engine" wait_for 10 grep -q 'msg=connected' "$T/a.log"
sleep 1 # give a wrong agent the chance to create or stop something
check "pre-existing owned containers are adopted, not replaced" \
	bash -c "kill -0 $AGENT_PID && grep -q 'msg=adopted task=web id=$pre1' $T/a.log && [ \"\$($D ps -q --no-trunc --filter label=$OURS | sort | tr '\n' ' ')\" = \"\$(printf '%s\n' $pre1 $pre2 | sort | tr '\n' ' ')\" ]"

apps 5 5
kill -HUP "$AGENT_PID"
check "scale up to 5" wait_for 20 running_is 5
id=$($D ps -q --no-trunc --filter label=$OURS | head -1)
check "containers carry our labels and the task's own" bash -c \
	"$D inspect -f '{{index .Config.Labels \"com.microscaling.task\"}} {{index .Config.Labels \"team\"}}' $id | grep -qx 'web core'"
check "the task's env reaches the container" bash -c "$D inspect -f '{{.Config.Env}}' $id | grep -q FOO=bar"
check "the agent's own environment never does" bash -c \
	"env=\$($D inspect -f '{{.Config.Env}}' $id) && [ -n \"\$env\" ] && ! grep -q SECRET_TOKEN <<<\"\$env\""

apps 2 2
kill -HUP "$AGENT_PID"
check "scale down to 2, stopped containers removed" wait_for 20 running_is 2

victim=$($D ps -q --filter label=$OURS | head -1)
$D kill "$victim" >/dev/null
check "a container killed from outside is replaced and removed" wait_for 10 bash -c \
	"$(declare -f running_is count_running count_labelled); D=$D OURS=$OURS DOCKER_CLI=$D; running_is 2 && ! $D ps -aq | grep -q ^$victim"
check "the crash is logged" grep -q 'msg="container exited" task=web' "$T/a.log"

# --- the engine goes away and comes back ------------------------------------------------------
kill "$(cat "$DOCKERD_DIR/dockerd.pid")"
wait_for 20 bash -c "! kill -0 $(cat "$DOCKERD_DIR/dockerd.pid") 2>/dev/null"
check "losing the engine is logged" wait_for 10 grep -q 'msg="engine unreachable"' "$T/a.log"
sleep 1
check "the agent survives the engine going away" kill -0 "$AGENT_PID"
dockerd --data-root "$DOCKERD_DIR/data" --exec-root "$DOCKERD_DIR/exec" --pidfile "$DOCKERD_DIR/dockerd.pid" \
	-H "$DOCKER_HOST" --bridge none --iptables=false --ip6tables=false --log-level warn \
	>>"$DOCKERD_DIR/dockerd.log" 2>&1 &
wait_for 30 $D version >/dev/null 2>&1
check "after the engine returns: reconverged, no orphans" wait_for 30 running_is 2
check "the return is logged once" bash -c "[ \$(grep -c 'engine reachable again' $T/a.log) -eq 1 ]"
lines=$(grep -c 'engine unreachable' "$T/a.log")
check "the outage is logged once, not once per retry ($lines)" [ "$lines" -eq 1 ]

# --- drain --------------------------------------------------------------------------------------
kill -TERM "$AGENT_PID"
if wait_exit "$AGENT_PID" 30; then
	check "SIGTERM drain exits 0" [ "$EXIT_STATUS" -eq 0 ]
else
	not_ok "SIGTERM drain exits (still running after 30 s)"
fi
check "the drain leaves zero owned containers" running_is 0
check "containers that are not ours are untouched" bash -c \
	"[ \"\$($D inspect -f '{{.State.Running}}' stranger other-owner | tr '\n' ' ')\" = 'true true ' ]"

# --- a missing image fails that task only --------------------------------------------------------
apps 1 1 ',{"name":"ghost","priority":2,"minContainers":1,"maxContainers":1,"config":{"image":"no-such-image:1"}}'
agent "$T/b.log"
check "the good task still runs" wait_for 20 running_is 1
check "the missing image is a clear error for that task" wait_for 10 grep -q 'task=ghost error=.*No such image' "$T/b.log"
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 30
check "and the drain is still clean" [ "${EXIT_STATUS:-1}" -eq 0 ]
check "nothing of ours is left" running_is 0

# --- pulls on, no registry: the failure is logged, the local image still runs ---------------------
apps 1 1
agent "$T/p.log" MSS_PULL_IMAGES=true
check "a failed pull is logged with the image" wait_for 20 grep -q 'msg="pull failed" image=mss-test:latest' "$T/p.log"
check "the task still runs from the local image" wait_for 20 running_is 1
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 30
check "drain after a failed pull exits 0" [ "${EXIT_STATUS:-1}" -eq 0 ]

# --- the deadline: containers that ignore SIGTERM, a grace longer than the deadline ---------------
# (busybox sleep as PID 1 ignores SIGTERM, so a graceful stop waits the whole stopTimeout)
cat >"$T/apps.json" <<JSON
{"maxContainers":5,"apps":[{"name":"stubborn","minContainers":3,"maxContainers":3,
 "config":{"image":"mss-test:latest","stopTimeout":60}}]}
JSON
agent "$T/f.log" MSS_SHUTDOWN_TIMEOUT=1
check "three stubborn containers run" wait_for 20 running_is 3
t0=$(date +%s%N)
kill -TERM "$AGENT_PID"
if wait_exit "$AGENT_PID" 20; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	check "past the deadline the drain is forced and exits 1" [ "$EXIT_STATUS" -eq 1 ]
	check "the forced drain takes the deadline, not the grace (${ms} ms)" [ "$ms" -lt 8000 ]
	check "the forced drain still leaves zero owned containers" running_is 0
else
	not_ok "a forced drain exits (still running after 20 s)"
fi

# --- a bad DOCKER_HOST is refused ----------------------------------------------------------------
env -i PATH="$PATH" MSS_SCHEDULER=DOCKER MSS_CONFIG=DEMO DOCKER_HOST=ssh://nope "$BIN" >"$T/c.log" 2>&1
rc=$?
check "bad DOCKER_HOST exits 2 naming it" bash -c "[ $rc -eq 2 ] && grep -q DOCKER_HOST $T/c.log"

finish
