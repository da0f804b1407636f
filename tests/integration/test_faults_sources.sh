#!/usr/bin/env bash
# Fault injection, part 3: what demand comes from fails, with a real private dockerd (through
# tests/integration/fault_proxy.py, passing everything). The websocket demand server
# (bin/microscaler-demand-server) killed and restarted 10 times while demand changes and
# containers start; Redis, the local engine's metric source, killed and restarted. After each:
# the engine holds exactly what demand says (by owner label, all running), the agent reports the
# same, it never exited, and the foreign container is never named in any request.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/metrics_lib.sh"
. "$(dirname "$0")/faults_lib.sh"
SECONDS=0
SRV="$ROOT/bin/microscaler-demand-server"
faults_setup fsources || { not_ok "private dockerd and the fault proxy start"; finish; exit 1; }

# --- the websocket demand server flapping --------------------------------------------------------
# Commands reach the server through a FIFO held open read-write (no EOF, no blocking across
# restarts), as in test_remote.sh.
mkfifo "$T/cmd"
exec 3<>"$T/cmd"
send() { printf '%s\n' "$*" >&3; }
PORT=0 N_SRV=0
srv_start() { # a server on $PORT (0: any, then PORT is set); SRV_PID, SRV_ERR
	N_SRV=$((N_SRV + 1))
	SRV_ERR="$T/srv$N_SRV.err"
	: >"$SRV_ERR"
	"$SRV" --port "$PORT" --quiet <&3 >/dev/null 2>"$SRV_ERR" &
	SRV_PID=$!
	on_exit "kill -9 $SRV_PID 2>/dev/null"
	wait_for 5 grep -q 'event=listening' "$SRV_ERR" || return 1
	PORT=$(sed -n 's/.*event=listening.* port=\([0-9]*\).*/\1/p' "$SRV_ERR")
}
srv_kill() { { kill -9 "$SRV_PID" && wait "$SRV_PID"; } 2>/dev/null; }
srv_connected() { grep -q 'event=connected' "$SRV_ERR"; }

apps 0 8
srv_start || { not_ok "the demand server starts"; finish; exit 1; }
fagent "$T/ws.log" MSS_DEMAND_ENGINE=SERVER MSS_MONITOR=SERVER,LOG MSS_API_ADDRESS="127.0.0.1:$PORT" \
	MSS_REMOTE_FALLBACK=hold || { not_ok "the agent starts"; finish; exit 1; }
A=$AGENT_PID
wait_for 10 srv_connected
send web=3
reconverges "remote demand 3" 3 30
# Ten kills, each a moment after a new demand was sent: containers are starting or stopping
# while the link goes down, and the next server instance knows nothing of the last one.
flaps=0
for n in 5 2 6 1 4 7 3 5 2 6; do
	srv_kill
	srv_start || break
	wait_for 10 srv_connected || break
	send "web=$n"
	wait_for 5 bash -c "[ \"\$(curl -sf $API/api/v1/tasks/web | jq .demand)\" = $n ]" || break
	sleep 0.$((RANDOM % 5))
	flaps=$((flaps + 1))
done
check "ten server deaths, each reconnected and its demand taken ($flaps/10)" [ "$flaps" -eq 10 ]
reconverges "after the flapping: the last demand (6)" 6 40
check "every outage logged once (10 disconnects)" \
	[ "$(grep -c 'msg="disconnected from the API server' "$T/ws.log")" -eq 10 ]
srv_kill
sleep 1.5 # past nothing in particular: hold has no deadline, so any wait shows the same
check "the server gone for good: hold keeps demand 6" converged web 6
srv_start
send web=2
reconverges "the server back: its next demand (2)" 2 40
kill -TERM "$A"
wait_exit "$A" 30
check "the agent drains clean (exit ${EXIT_STATUS:-?}), nothing owned left" \
	bash -c "[ '${EXIT_STATUS:-1}' = 0 ] && [ \$($D ps -aq --filter label=$OURS | wc -l) -eq 0 ]"
srv_kill

# --- Redis, the metric source, killed and restarted -----------------------------------------------
RPORT=$(free_port)
start_redis() {
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
		--logfile "$T/redis.log" &
	REDIS_PID=$!
	on_exit "{ kill -9 $REDIS_PID && wait $REDIS_PID; } 2>/dev/null"
	wait_port "$RPORT" 10
}
rcli() { redis-cli -p "$RPORT" "$@" >/dev/null; }
cat >"$T/apps.json" <<JSON
{"maxContainers":6,"apps":[{"name":"web","priority":1,"minContainers":1,"maxContainers":4,
  "ruleType":"Queue","metricType":"Redis",
  "config":{"image":"mss-test:latest","stopTimeout":1,"targetQueueLength":10,"key":"jobs",
            "endpoint":"127.0.0.1:$RPORT","timeout":"1s"},
  "policy":{"maxAge":"1s","onMissing":"hold"}}]}
JSON
check "redis-server starts" start_redis
for _ in $(seq 1 20); do rcli rpush jobs a b c d e f g h i j; done # 200: far above target
fagent "$T/r.log" MSS_LOG_DEBUG=metric || not_ok "the agent starts"
A=$AGENT_PID
reconverges "a long queue: web at its max" 4 40
{ kill -9 "$REDIS_PID" && wait "$REDIS_PID"; } 2>/dev/null
check "the source's death is logged" wait_for 10 grep -q 'msg="read failed" task=web' "$T/r.log"
sleep 3 # three times maxAge: the reading is stale, onMissing=hold applies
check "the agent keeps running and holds web at 4 (never read as an empty queue)" converged web 4
check "the outage is logged once, not every tick" \
	[ "$(grep -c 'level=warn comp=metric msg="read failed" task=web' "$T/r.log")" -eq 1 ]
check "redis-server restarts (empty)" start_redis
check "reads resume, logged once" wait_for 10 grep -q 'msg="read recovered" task=web' "$T/r.log"
reconverges "the source back with an empty queue: web down to its min" 1 40
kill -TERM "$A"
wait_exit "$A" 30
check "the agent drains clean (exit ${EXIT_STATUS:-?}), nothing owned left" \
	bash -c "[ '${EXIT_STATUS:-1}' = 0 ] && [ \$($D ps -aq --filter label=$OURS | wc -l) -eq 0 ]"
check "the foreign container is untouched through every fault" foreign_untouched

echo "# $(basename "$0") took ${SECONDS}s"
finish
