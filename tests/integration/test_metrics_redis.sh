#!/usr/bin/env bash
# Redis metric source against a real redis-server on loopback (password, db 2): a list, a stream
# and a counter are read; a queue consumer scales with its list; the server going away holds the
# demand (never down to zero) while the error count grows, one warning per outage; reads come back
# when the server does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/metrics_lib.sh"
T=$(mktemp -d /tmp/mss-redis.XXXXXX)
on_exit "rm -rf $T"
PORT=$(free_port)
REDIS_PID=
start_redis() {
	redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
		--requirepass secret --logfile "$T/redis.log" &
	REDIS_PID=$!
	wait_port "$PORT" 10
}
rcli() { redis-cli -p "$PORT" -a secret --no-auth-warning -n 2 "$@" >/dev/null; }
on_exit 'kill_wait $REDIS_PID'

cat >"$T/apps.json" <<JSON
{"version": 2, "maxContainers": 12, "apps": [
 {"name": "worker", "priority": 1, "minContainers": 1, "maxContainers": 8,
  "ruleType": "Queue", "metricType": "Redis",
  "config": {"targetQueueLength": 10, "key": "jobs", "endpoint": "127.0.0.1:$PORT",
             "passwordEnv": "TEST_REDIS_PASSWORD", "db": 2, "timeout": "1s"},
  "policy": {"maxAge": "1s", "onMissing": "hold"}},
 {"name": "events", "priority": 2, "minContainers": 0, "maxContainers": 2,
  "ruleType": "SimpleQueue", "metricType": "Redis",
  "config": {"targetQueueLength": 100, "key": "events", "keyType": "stream",
             "endpoint": "127.0.0.1:$PORT", "password": "secret", "db": 2}},
 {"name": "backlog", "priority": 3, "minContainers": 0, "maxContainers": 2,
  "ruleType": "SimpleQueue", "metricType": "Redis",
  "config": {"targetQueueLength": 100, "key": "backlog", "keyType": "value",
             "endpoint": "127.0.0.1:$PORT", "password": "secret", "db": 2}}
]}
JSON

check "redis-server starts on loopback" start_redis
for _ in $(seq 1 50); do rcli rpush jobs x; done
rcli xadd events '*' n 1
rcli xadd events '*' n 2
rcli xadd events '*' n 3
rcli set backlog 7
env -i PATH="$PATH" TEST_REDIS_PASSWORD=secret MSS_SCHEDULER=TOY MSS_CONFIG=FILE \
	"MSS_CONFIG_FILE=$T/apps.json" "$BIN" --check-config >"$T/cc" 2>&1
check "--check-config accepts the Redis sources" grep -q '^worker .*Queue .*Redis' "$T/cc"

start_metrics_agent "$T/agent.log" "$T/apps.json" TEST_REDIS_PASSWORD=secret
check "the list's length is read (LLEN, after AUTH and SELECT)" wait_value "$T/agent.log" worker 50 5
check "the stream's length is read (XLEN)" wait_value "$T/agent.log" events 3 5
check "a counter's value is read (GET)" wait_value "$T/agent.log" backlog 7 5
check "the consumer scales up with its list" wait_demand "$T/agent.log" worker -ge 3 5
rcli del jobs
check "an emptied list reads 0" wait_value "$T/agent.log" worker 0 5
check "and the consumer comes back to its minimum" wait_demand "$T/agent.log" worker -eq 1 10
for _ in $(seq 1 200); do rcli rpush jobs x; done
check "a refilled list scales it up again" wait_demand "$T/agent.log" worker -ge 4 5
sleep 0.5
held=$(demand_of "$T/agent.log" worker)

# --- the server goes away: hold, never read as zero ------------------------------------------
kill_wait "$REDIS_PID"
check "reads fail once the server is gone" wait_for 5 grep -q 'msg="read failed" task=worker' "$T/agent.log"
sleep 3 # three times the 1 s maxAge: the reading is stale, the task holds
check "the demand holds while the source is down (at $held)" [ "$(demand_of "$T/agent.log" worker)" = "$held" ]
check "no scale-down was logged for the consumer during the outage" \
	bash -c "! sed -n '/msg=\"read failed\" task=worker/,\$p' '$T/agent.log' | grep -q 'msg=scale task=worker from=[0-9]* to=[0-9]* reason=\"queue'"
check "the outage is warned about once per task, not every tick" \
	[ "$(grep -c 'level=warn comp=metric msg="read failed" task=worker' "$T/agent.log")" -eq 1 ]
errs=$(errors_of "$T/agent.log" worker)
check "the LOG monitor shows the failing source and its error count ($errs)" \
	bash -c "grep 'msg=counts task=worker' '$T/agent.log' | tail -1 | grep -q 'metric_ok=false' && [ '${errs:-0}' -ge 1 ]"

# --- the server returns ---------------------------------------------------------------------
check "redis-server restarts" start_redis
rcli rpush jobs a b c
check "reads come back after the outage" wait_value "$T/agent.log" worker 3 10
check "the recovery is logged" grep -q 'msg="read recovered" task=worker' "$T/agent.log"
stop_agent
check "the agent drains and exits 0" [ "$EXIT_STATUS" -eq 0 ]
finish
