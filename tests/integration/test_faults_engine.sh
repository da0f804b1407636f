#!/usr/bin/env bash
# Fault injection, part 1: the engine itself fails under a running agent (a real private dockerd
# behind tests/integration/fault_proxy.py). dockerd SIGKILLed during a scale-up and restarted on
# its data-root; the event stream cut, ended and stalled while scaling; every reply slowed; dockerd
# SIGKILLed during a drain, back before the deadline (clean, exit 0) and not back (exit 1, the
# leftovers named, adopted and removed by the next run). After each fault: the engine holds
# exactly what demand says (by owner label, all running), the agent reports the same, it never
# exited, and the foreign container is never named in any request.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
SECONDS=0
faults_setup fengine || { not_ok "private dockerd and the fault proxy start"; finish; exit 1; }
apps 3 3
fagent "$T/a.log" || { not_ok "the agent starts"; finish; exit 1; }
A=$AGENT_PID
reconverges "start" 3 30

# --- dockerd SIGKILLed in the middle of a scale-up, restarted on the same data-root ------------
# (starts answered 0.4 s late, so the kill finds requests in flight)
rules '[{"method":"POST","path":"/containers/[0-9a-f]+/start","delay_ms":400}]'
demand 8
wait_for 20 bash -c "[ \$($D ps -aq --filter label=$OURS | wc -l) -ge 5 ]"
dockerd_kill
clear_faults
mid=$(grep -c '/start' "$T/proxy-requests.log")
check "the SIGKILL came mid scale-up ($mid of 8 starts asked)" [ "$mid" -lt 8 ]
check "the outage is logged" wait_for 10 grep -q 'msg="engine unreachable"' "$T/a.log"
check "the agent lives while the engine is dead" bash -c "sleep 1; kill -0 $A"
check "dockerd restarts on the same data-root" dockerd_restart
reconverges "dockerd SIGKILLed during a scale-up" 8 60
check "the return is logged" grep -q 'msg="engine reachable again"' "$T/a.log"

# --- the event stream cut (and ended cleanly) while scaling down and up ------------------------
events_open() { [ "$(stat events_open)" -ge 1 ]; }
down0=$(grep -c 'msg="engine unreachable"' "$T/a.log")
demand 4
for _ in 1 2; do wait_for 10 events_open && ctl POST /events/cut >/dev/null; sleep 0.3; done
demand 7
wait_for 10 events_open && ctl POST /events/end >/dev/null
wait_for 10 events_open && ctl POST /events/cut >/dev/null
check "the event stream was cut 3 times and ended once ($(stat cuts) cuts)" [ "$(stat cuts)" -ge 3 ]
check "each loss of the stream is logged" wait_for 10 bash -c \
	"[ \$(grep -c 'msg=\"engine unreachable\".*GET /events' $T/a.log) -ge 1 ] && [ \$(grep -c 'msg=\"engine unreachable\"' $T/a.log) -gt $down0 ]"
reconverges "events stream cut while scaling" 7

# --- the event stream stalled: a container killed meanwhile is found by the reconcile list ------
wait_for 10 events_open
ctl POST '/events/stall?on=1' >/dev/null
demand 5
wait_for 20 converged web 5
victim=$($D ps -q --no-trunc --filter label=$OURS | head -1)
$D kill "$victim" >/dev/null
check "the stall holds the engine's events back" wait_for 5 bash -c "[ \$(curl -sf --unix-socket $CTL_SOCK http://p/stats | jq .held) -ge 1 ]"
reconverges "events stalled (a container killed under the stall)" 5
check "the killed container was removed, not left exited" bash -c "! $D ps -aq --no-trunc | grep -q $victim"
ctl POST '/events/stall?on=0' >/dev/null # the held events arrive late, all at once
sleep 1
reconverges "stalled events delivered late" 5

# --- every reply slowed by 1.5 s while scaling down and up ---------------------------------------
rules '[{"method":"GET","path":"/events"},{"delay_ms":1500}]'
t0=$SECONDS
demand 2
reconverges "replies slowed 1.5 s: scale-down" 2 60
demand 6
reconverges "replies slowed 1.5 s: scale-up" 6 60
check "the slow rule was hit ($(stat hits | cut -d, -f2) requests, $((SECONDS - t0)) s)" \
	[ "$(stat hits | cut -d, -f2)" -ge 10 ]
clear_faults

# --- dockerd SIGKILLed during the drain, back within MSS_SHUTDOWN_TIMEOUT ----------------------
demand 4
wait_for 30 converged web 4
kill -TERM "$A"
wait_for 10 grep -q 'shutdown: draining' "$T/a.log"
wait_for 5 grep -q '/stop' "$T/proxy-requests.log"
dockerd_kill
check "dockerd restarts under the drain" dockerd_restart
if wait_exit "$A" 40; then
	check "the drain finishes after the engine's death: exit 0 ($EXIT_STATUS)" [ "$EXIT_STATUS" -eq 0 ]
else
	not_ok "the drain finishes after the engine's death (still running after 40 s)"
fi
check "the drain leaves zero owned containers" [ "$(owned)" -eq 0 ]
check "the foreign container is untouched" foreign_untouched

# --- ... and not back before the deadline: exit 1, what was left is named -----------------------
apps 3 3
fagent "$T/b.log" MSS_SHUTDOWN_TIMEOUT=3 || not_ok "the second agent starts"
reconverges "second agent" 3 30
kill -TERM "$AGENT_PID"
dockerd_kill
if wait_exit "$AGENT_PID" 20; then
	check "the engine gone for good: the drain is forced, exit 1 ($EXIT_STATUS)" [ "$EXIT_STATUS" -eq 1 ]
else
	not_ok "the drain without an engine ends (still running after 20 s)"
fi
check "a log line names what was left" grep -q 'msg="left behind" task=web' "$T/b.log"
check "dockerd restarts" dockerd_restart
apps 0 0
fagent "$T/c.log" || not_ok "the third agent starts"
check "the next run adopts the leftovers and removes them" wait_for 30 bash -c \
	"grep -q 'msg=adopted task=web' $T/c.log && [ \$($D ps -aq --filter label=$OURS | wc -l) -eq 0 ]"
kill -TERM "$AGENT_PID"
wait_exit "$AGENT_PID" 20
check "and it drains clean (exit ${EXIT_STATUS:-?})" [ "${EXIT_STATUS:-1}" -eq 0 ]
check "the foreign container is untouched through every fault" foreign_untouched

echo "# $(basename "$0") took ${SECONDS}s"
finish
