#!/usr/bin/env bash
# RabbitMQ metric source against a real rabbitmq-server with the management plugin, run once for
# this file on loopback under a temp dir (its own node name, ports, epmd port and cookie). It is
# slow to start (~7 s), so every check shares it. Messages are published through the management
# API, so no AMQP client is needed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/metrics_lib.sh"
T=$(mktemp -d /tmp/mss-rabbit.XXXXXX)
on_exit "rm -rf $T"
AMQP=$(free_port); MGMT=$(free_port); DIST=$(free_port); EPMD=$(free_port)
cat >"$T/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$AMQP
management.tcp.ip = 127.0.0.1
management.tcp.port = $MGMT
collect_statistics_interval = 500
CONF
echo '[rabbitmq_management].' >"$T/enabled_plugins"
RMQ_ENV=(HOME="$T" RABBITMQ_NODENAME="msstest$$@localhost" RABBITMQ_BASE="$T"
	RABBITMQ_MNESIA_BASE="$T/mnesia" RABBITMQ_LOG_BASE="$T/log" RABBITMQ_CONFIG_FILE="$T/rabbitmq.conf"
	RABBITMQ_ENABLED_PLUGINS_FILE="$T/enabled_plugins" RABBITMQ_DIST_PORT="$DIST"
	ERL_EPMD_PORT="$EPMD" RABBITMQ_PID_FILE="$T/rabbit.pid" RABBITMQ_ADVANCED_CONFIG_FILE="$T/advanced.config")
stop_rabbit() {
	[ -s "$T/rabbit.pid" ] && kill_wait "$(cat "$T/rabbit.pid")"
	rm -f "$T/rabbit.pid"
	env "${RMQ_ENV[@]}" epmd -kill >/dev/null 2>&1 # our epmd, on our port only
	true
}
on_exit stop_rabbit
API="http://127.0.0.1:$MGMT/api"
api() { curl -sf -u guest:guest -H 'content-type: application/json' "$@"; }
publish() { # publish N
	local i
	for ((i = 0; i < $1; i++)); do
		api -X POST -d '{"properties":{},"routing_key":"jobs","payload":"x","payload_encoding":"string"}' \
			"$API/exchanges/%2F/amq.default/publish" >/dev/null
	done
}

t0=$(date +%s%N)
env "${RMQ_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server >"$T/rabbit.out" 2>&1 &
if wait_for 60 api "$API/overview" -o /dev/null; then
	ok "rabbitmq-server with the management plugin is up in $((($(date +%s%N) - t0) / 1000000)) ms"
else
	not_ok "rabbitmq-server did not start: $(tail -5 "$T/rabbit.out")"
	finish
	exit 1
fi
api -X PUT -d '{"durable":false}' "$API/queues/%2F/jobs" >/dev/null
publish 30

cat >"$T/apps.json" <<JSON
{"version": 2, "maxContainers": 10, "apps": [
 {"name": "jobs", "priority": 1, "minContainers": 1, "maxContainers": 6,
  "ruleType": "Queue", "metricType": "RabbitMQ",
  "config": {"targetQueueLength": 5, "queueName": "jobs", "endpoint": "http://127.0.0.1:$MGMT",
             "user": "guest", "passwordEnv": "TEST_RABBIT_PASSWORD", "includeUnacked": true}},
 {"name": "nosuch", "priority": 2, "minContainers": 0, "maxContainers": 2,
  "ruleType": "SimpleQueue", "metricType": "RabbitMQ",
  "config": {"targetQueueLength": 5, "queueName": "nosuch", "endpoint": "http://127.0.0.1:$MGMT"}},
 {"name": "badauth", "priority": 3, "minContainers": 0, "maxContainers": 2,
  "ruleType": "SimpleQueue", "metricType": "RabbitMQ",
  "config": {"targetQueueLength": 5, "queueName": "jobs", "endpoint": "http://127.0.0.1:$MGMT",
             "user": "guest", "password": "wrong"}}
]}
JSON
start_metrics_agent "$T/agent.log" "$T/apps.json" TEST_RABBIT_PASSWORD=guest
check "the queue's depth is read from the management API" wait_value "$T/agent.log" jobs 30 10
check "the consumer scales up with the queue" wait_demand "$T/agent.log" jobs -ge 3 5
check "a queue that does not exist fails the read with 404" \
	wait_for 5 grep -q 'msg="read failed" task=nosuch .*404 Not Found' "$T/agent.log"
check "a wrong password fails the read with 401" \
	wait_for 5 grep -q 'msg="read failed" task=badauth .*401' "$T/agent.log"
api -X DELETE "$API/queues/%2F/jobs/contents" >/dev/null
check "a purged queue reads 0" wait_value "$T/agent.log" jobs 0 10
check "and the consumer comes back to its minimum" wait_demand "$T/agent.log" jobs -eq 1 10
publish 40
check "new messages scale it up again" wait_demand "$T/agent.log" jobs -ge 3 10
held=$(demand_of "$T/agent.log" jobs)
stop_rabbit
check "with the broker gone the reads fail" wait_for 10 grep -q 'msg="read failed" task=jobs' "$T/agent.log"
sleep 1
check "and the consumer holds at $held" [ "$(demand_of "$T/agent.log" jobs)" = "$held" ]
stop_agent
check "the agent drains and exits 0" [ "$EXIT_STATUS" -eq 0 ]
finish
