# Helpers for the metric-source tests (sourced after lib.sh): free ports, the apps JSON, and
# reading the agent's log. The agent runs the toy scheduler with MSS_LOG_DEBUG=metric, so every
# good read is a line `msg=read task=T value=V`, every failure outage a `msg="read failed"`.
NPM_BIN="$ROOT/tests/npm/node_modules/.bin"
DOUBLE="$ROOT/tests/doubles/metrics/metrics_double.py"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT SECONDS: until something listens on 127.0.0.1:PORT.
wait_port() {
	wait_for "$2" bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# start_metrics_agent LOG APPS_FILE [ENV=VAL ...]: the agent on a FILE config, toy scheduler.
start_metrics_agent() {
	local log=$1 apps=$2; shift 2
	start_agent "$log" MSS_SCHEDULER=TOY MSS_CONFIG=FILE "MSS_CONFIG_FILE=$apps" MSS_MONITOR=LOG \
		MSS_TICK_MS=100 MSS_TOY_START_MS=20 MSS_TOY_STOP_MS=20 MSS_LOG_DEBUG=metric "$@"
}

# The latest value read for TASK, or empty.
last_value() { grep "msg=read task=$2 " "$1" | tail -1 | sed -n 's/.* value=\([-0-9.e+]*\).*/\1/p'; }
# The latest demand the LOG monitor printed for TASK.
demand_of() { grep "msg=counts task=$2 " "$1" | tail -1 | sed -n 's/.* demand=\([0-9]*\).*/\1/p'; }
# The latest metric_errors the LOG monitor printed for TASK.
errors_of() { grep "msg=counts task=$2 " "$1" | tail -1 | sed -n 's/.* metric_errors=\([0-9]*\).*/\1/p'; }

# wait_value LOG TASK VALUE SECONDS: until a read of exactly VALUE.
wait_value() {
	wait_for "$4" bash -c "$(declare -f last_value); [ \"\$(last_value $1 $2)\" = $3 ]"
}
# wait_demand LOG TASK OP N SECONDS: until the demand compares (-eq, -ge, -le) with N.
wait_demand() {
	wait_for "$5" bash -c "$(declare -f demand_of); d=\$(demand_of $1 $2); [ -n \"\$d\" ] && [ \"\$d\" $3 $4 ]"
}

# stop_agent: SIGTERM, wait for the drain; sets EXIT_STATUS.
stop_agent() {
	kill -TERM "$AGENT_PID" 2>/dev/null
	wait_exit "$AGENT_PID" 15 || { kill -9 "$AGENT_PID"; EXIT_STATUS=99; }
}

# kill_wait PID: TERM, then KILL after 5 s.
kill_wait() {
	kill "$1" 2>/dev/null || return 0
	wait_for 5 bash -c "! kill -0 $1 2>/dev/null" || kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null || true
}
