#!/usr/bin/env bash
# Fault injection, part 2: the engine answers badly (a real private dockerd behind
# tests/integration/fault_proxy.py). 500s on create, start, stop, delete and list, some after the
# engine did the work (the reply lost); malformed list, inspect, events and create bodies
# (truncated, garbage, wrong types, huge); connections reset, refused and dropped. After each
# fault: the engine holds exactly what demand says (by owner label, all running), the agent
# reports the same, it never exited, and the foreign container is never named in any request.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
SECONDS=0
faults_setup freplies || { not_ok "private dockerd and the fault proxy start"; finish; exit 1; }
# keeper: restart always, so a container that dies is inspected, not replaced
apps 3 3 ',{"name":"keeper","priority":2,"minContainers":1,"maxContainers":1,
 "config":{"image":"mss-test:latest","restartPolicy":"always","stopTimeout":1}}'
CONVERGE_ALSO="keeper=1"
fagent "$T/a.log" || { not_ok "the agent starts"; finish; exit 1; }
A=$AGENT_PID
reconverges "start" 3 30
requests() { grep -c "$1" "$T/proxy-requests.log"; }
hits_are() { [ "$(stat hits)" = "$1" ]; }

# --- 500s, before the engine saw the request and after it did the work -------------------------
# (one failure of each kind per phase: consecutive failures back the task off 1 s, 2 s, 4 s...)
rules '[{"method":"POST","path":"/containers/create","action":"error","times":1},
        {"method":"POST","path":"/containers/create","action":"error","after":true,"times":1}]'
demand 5
reconverges "500 on create (1 of them after the engine made it)" 5 40
check "both 500 rules were hit (hits $(stat hits))" hits_are 1,1
check "the failure is logged for the task" grep -q 'msg="create failed" task=web error=.*500' "$T/a.log"
rules '[{"method":"POST","path":"/containers/[0-9a-f]+/start","action":"error","times":1},
        {"method":"POST","path":"/containers/[0-9a-f]+/start","action":"error","after":true,"times":1}]'
demand 7
reconverges "500 on start (1 of them after the engine started it)" 7 40
check "both 500 rules were hit (hits $(stat hits))" hits_are 1,1
rules '[{"method":"POST","path":"/containers/[0-9a-f]+/stop","action":"error","times":1},
        {"method":"POST","path":"/containers/[0-9a-f]+/stop","action":"error","after":true,"times":1},
        {"method":"DELETE","path":"/containers/[0-9a-f]+","action":"error","times":1},
        {"method":"DELETE","path":"/containers/[0-9a-f]+","action":"error","after":true,"times":1}]'
demand 2
reconverges "500 on stop and delete (1 of each after the engine acted)" 2 60
check "every 500 rule was hit (hits $(stat hits))" hits_are 1,1,1,1
rules '[{"method":"GET","path":"/containers/json","action":"error","times":3}]'
demand 4
reconverges "500 on list" 4 60
check "the list rule was hit 3 times" wait_for 20 hits_are 3

# --- malformed list bodies: never read as "everything vanished" ---------------------------------
creates=$(requests 'POST .*/containers/create')
# (a good list between bad ones: the link comes back and its backoff restarts, as in life)
ok_list='{"method":"GET","path":"/containers/json","times":1}'
rules '[{"method":"GET","path":"/containers/json","action":"body","kind":"truncate","times":1},'"$ok_list"',
        {"method":"GET","path":"/containers/json","action":"body","kind":"garbage","times":1},'"$ok_list"',
        {"method":"GET","path":"/containers/json","action":"body","times":1,
         "body":"[{\"Id\":5,\"State\":[],\"Labels\":\"x\"},{\"Id\":\"zz\"},7,null]"},'"$ok_list"',
        {"method":"GET","path":"/containers/json","action":"body","times":1,"body":"{\"Id\":\"x\"}"},'"$ok_list"',
        {"method":"GET","path":"/containers/json","action":"body","kind":"huge","size":9000000,"times":1},'"$ok_list"',
        {"method":"GET","path":"/containers/json","action":"body","kind":"short","times":1}]'
check "six bad lists reach the agent" wait_for 40 hits_are 1,1,1,1,1,1,1,1,1,1,1
reconverges "malformed list bodies" 4 30
check "no container was created because of a bad list" [ "$(requests 'POST .*/containers/create')" -eq "$creates" ]
check "no container was reported vanished" bash -c "! grep -q 'container vanished' $T/a.log"

# --- malformed inspect: the keeper dies, its inspect answer is garbage, the engine restarts it --
# (its process is killed from the host: `docker kill` would count as a manual stop, never restarted)
keeper=$($D ps -q --no-trunc --filter label=com.microscaling.task=keeper)
crash_keeper() {
	local pid
	pid=$($D inspect -f '{{.State.Pid}}' "$keeper") && [ "${pid:-0}" -gt 1 ] && kill -9 "$pid"
}
keeper_runs() { [ "$($D inspect -f '{{.State.Running}}' "$keeper" 2>/dev/null)" = true ]; }
rules '[{"method":"GET","path":"/containers/[0-9a-f]+/json","action":"body","kind":"garbage","times":1},
        {"method":"GET","path":"/containers/[0-9a-f]+/json","action":"body","times":1,"body":"{\"State\":{\"Status\":7}}"}]'
crash_keeper
check "a death under a restart policy is inspected: the answer is garbage" wait_for 10 hits_are 1,0
wait_for 10 keeper_runs
crash_keeper
check "and again: the answer has the wrong types" wait_for 10 hits_are 1,1
reconverges "malformed inspect bodies" 4 30
check "the keeper was restarted by the engine, not replaced" bash -c \
	"[ \"\$($D ps -q --no-trunc --filter label=com.microscaling.task=keeper)\" = $keeper ]"

# --- malformed events: garbage, wrong types, a broken line, a huge line --------------------------
events_open() { [ "$(stat events_open)" -ge 1 ]; }
wait_for 10 events_open
ctl POST /events/inject $'not json at all\n{"Type":5,"Action":[],"Actor":"x"}\n{"Type":"container","Action":"die","Actor":{"ID":12,"Attributes":[]}}\n[1,2]\n\n' >/dev/null
head -c 1200000 /dev/zero | tr '\0' 'x' >"$T/huge"
ctl POST /events/inject "@$T/huge" >/dev/null
ctl POST /events/inject $'\n{"Type":"container","Action":"start","Actor":{"ID":"' >/dev/null # cut mid-line
demand 6
reconverges "malformed event lines" 6 40
check "the huge event line was dropped with one line" grep -q 'msg="event line too long, dropped"' "$T/a.log"

# --- malformed create replies: the engine made the container, its id is lost --------------------
rules '[{"method":"POST","path":"/containers/create","action":"body","kind":"garbage","times":1},
        {"method":"POST","path":"/containers/create","action":"body","body":"{\"Id\":42}","times":1},
        {"method":"POST","path":"/containers/create","action":"body","kind":"truncate","times":1},
        {"method":"POST","path":"/containers/create","action":"body","kind":"huge","size":9000000,"times":1}]'
demand 8
reconverges "malformed create replies (4 containers made with their ids lost)" 8 60
check "every bad create reply was sent (hits $(stat hits))" hits_are 1,1,1,1

# --- connections reset, refused, dropped ---------------------------------------------------------
rules '[{"method":"POST","path":"/containers/create","action":"reset","times":1},
        {"method":"POST","path":"/containers/create","action":"reset","after":true,"times":1},
        {"method":"POST","path":"/containers/[0-9a-f]+/start","action":"reset","after":true,"times":1},
        {"method":"POST","path":"/containers/[0-9a-f]+/stop","action":"reset","after":true,"times":1}]'
demand 3
wait_for 30 hits_are 0,0,0,1
demand 7
reconverges "connections reset (before and after create, after start and stop)" 7 60
check "every reset rule was hit (hits $(stat hits))" hits_are 1,1,1,1
clear_faults
ctl POST '/listen?on=0' >/dev/null
ctl POST /drop >/dev/null
demand 5
check "refused connections: the outage is logged" wait_for 10 bash -c \
	"tail -n 20 $T/a.log | grep -q 'msg=\"engine unreachable\"'"
sleep 1
ctl POST '/listen?on=1' >/dev/null
reconverges "connections refused and dropped" 5 40

# --- the drain after all that is clean ------------------------------------------------------------
kill -TERM "$A"
if wait_exit "$A" 30; then
	check "the drain is clean: exit 0 ($EXIT_STATUS)" [ "$EXIT_STATUS" -eq 0 ]
else
	not_ok "the drain ends (still running after 30 s)"
fi
check "the drain leaves zero owned containers" [ "$(owned)" -eq 0 ]
check "the foreign container is untouched through every fault" foreign_untouched

echo "# $(basename "$0") took ${SECONDS}s"
finish
