# Helpers for the fault-injection tests (sourced after lib.sh): a private dockerd behind
# fault_proxy.py, an agent talking to it through the proxy with its HTTP API on, and the
# "reconverged" check every scenario ends with.
PROXY_PY="$ROOT/tests/integration/fault_proxy.py"
D=$DOCKER_CLI

# faults_setup OWNER: dockerd, the proxy in front of it, a foreign (unlabelled) container.
# Sets T, OWNER, OURS, ENGINE_SOCK, PROXY_SOCK, CTL_SOCK, FOREIGN.
faults_setup() {
	OWNER=$1
	OURS="com.microscaling.owner=$OWNER"
	T=$(mktemp -d /tmp/mss-faults.XXXXXX)
	on_exit "rm -rf $T"
	FAULTS_DOCKERD_DIR=
	on_exit 'reap_shims "$FAULTS_DOCKERD_DIR"' # before dockerd_start's: runs after dockerd_stop
	dockerd_start || return 1
	FAULTS_DOCKERD_DIR=$DOCKERD_DIR
	ENGINE_SOCK=${DOCKER_HOST#unix://}
	PROXY_SOCK="$DOCKERD_DIR/proxy.sock" CTL_SOCK="$DOCKERD_DIR/ctl.sock"
	python3 "$PROXY_PY" "$PROXY_SOCK" "$ENGINE_SOCK" "$CTL_SOCK" "$T/proxy-requests.log" \
		2>"$T/proxy.err" &
	PROXY_PID=$!
	on_exit "kill $PROXY_PID 2>/dev/null; wait $PROXY_PID 2>/dev/null"
	wait_for 10 test -S "$CTL_SOCK" || return 1
	# Not ours: no labels at all. It must keep running through every fault, and no request of
	# the agent may ever name it.
	FOREIGN=$($D run -d --restart always --name foreign mss-test:latest) || return 1
}

# ctl METHOD PATH [BODY]: a call to the proxy's control socket; prints the JSON answer.
ctl() {
	curl -sf --unix-socket "$CTL_SOCK" -X "$1" "http://proxy$2" ${3:+--data-binary "$3"}
}
rules() { ctl POST /rules "$1" >/dev/null || not_ok "the proxy takes the rules $1"; }
clear_faults() { ctl POST /clear >/dev/null; }
# stat KEY: one field of the proxy's /stats ("hits" as "1,0,2").
stat() { ctl GET /stats | python3 -c "import json,sys; v=json.load(sys.stdin)['$1']; print(','.join(map(str,v)) if isinstance(v,list) else v)"; }
# every rule got at least one hit
all_hit() { stat hits | tr ',' '\n' | awk '$1<1{bad=1} END{exit bad}'; }

# dockerd_kill: SIGKILL the engine (its containerd dies with it; the shims live on).
dockerd_kill() {
	local pid
	pid=$(cat "$DOCKERD_DIR/dockerd.pid")
	{ kill -9 "$pid" && wait "$pid"; } 2>/dev/null # our child: reaped here, no "Killed" line
	wait_for 10 bash -c "! kill -0 $pid 2>/dev/null"
}

# reap_shims DIR: a container whose start the SIGKILL interrupted can keep its shim (and its
# process) after the restarted engine has forgotten it; dockerd_stop cannot see those. Kill
# the shims of this engine (found by its unique directory) and their children, by pid.
reap_shims() {
	[ -n "$1" ] || return 0
	local p c n=0
	for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $1/"); do
		echo "# shim of $(tr '\0' ' ' </proc/$p/cmdline | sed -n 's/.* -id \([0-9a-f]\{12\}\).*/\1/p') outlived its engine"
		for c in $(ps -o pid= --ppid "$p"); do kill -9 "$c" 2>/dev/null; done
		kill -9 "$p" 2>/dev/null && n=$((n + 1))
	done
	[ "$n" -eq 0 ] || echo "# reaped $n container shim(s) the restarted engine had lost"
}

# dockerd_restart: a new dockerd on the same data-root and socket. PID 1 of this VM reaps
# orphans late, so the killed engine's containerd can linger as a zombie whose pid file makes
# the new dockerd wait for it: a zombie's pid file is removed first.
dockerd_restart() {
	local cpid f="$DOCKERD_DIR/exec/containerd/containerd.pid"
	cpid=$(cat "$f" 2>/dev/null)
	if [ -n "$cpid" ] && { [ ! -e "/proc/$cpid" ] || [ "$(awk '{print $3}' "/proc/$cpid/stat" 2>/dev/null)" = Z ]; }; then
		rm -f "$f"
	fi
	dockerd --data-root "$DOCKERD_DIR/data" --exec-root "$DOCKERD_DIR/exec" \
		--pidfile "$DOCKERD_DIR/dockerd.pid" -H "$DOCKER_HOST" --bridge none --iptables=false \
		--ip6tables=false --log-level warn >>"$DOCKERD_DIR/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	wait_for 30 "$D" version >/dev/null 2>&1
}

# apps MIN MAX [extra apps JSON]: task web (min..max), stopTimeout 1.
apps() {
	cat >"$T/apps.json" <<JSON
{"maxContainers":12,"apps":[{"name":"web","priority":1,"minContainers":$1,"maxContainers":$2,
 "config":{"image":"mss-test:latest","command":"/bin/sleep 3600","stopTimeout":1}}${3:-}]}
JSON
}

# fagent LOG [ENV...]: the agent through the proxy, HTTP API on a free port (sets API).
fagent() {
	local log=$1; shift
	start_agent "$log" MSS_SCHEDULER=DOCKER MSS_CONFIG=FILE "MSS_CONFIG_FILE=$T/apps.json" \
		MSS_MONITOR=LOG MSS_TICK_MS=100 MSS_PULL_IMAGES=false "DOCKER_HOST=unix://$PROXY_SOCK" \
		MSS_INSTANCE_ID="$OWNER" MSS_RECONCILE_S=2 MSS_HTTP_ADDR=127.0.0.1:0 \
		MSS_HTTP_TOKEN=tok MSS_SHUTDOWN_TIMEOUT=20 "$@"
	# FAULTS_LOG_DIR=dir keeps every agent log (and the proxy's request log) past the test
	local keep="\$FAULTS_LOG_DIR/$(basename "$0" .sh)"
	on_exit "[ -z \"\${FAULTS_LOG_DIR:-}\" ] || { mkdir -p $keep; cp $log $T/proxy-requests.log $keep/; } 2>/dev/null"
	wait_for 10 grep -q 'msg=listening' "$log" || return 1
	API="http://127.0.0.1:$(sed -n 's/.*msg=listening.* port=\([0-9]*\).*/\1/p' "$log" | head -1)"
}

# demand N: pin web's demand through the API (an override).
demand() {
	curl -sf -X PUT -H 'Authorization: Bearer tok' -d "{\"demand\":$1}" "$API/api/v1/tasks/web" >/dev/null
}
# agent_field TASK FIELD: the agent's own count (demand, requested, running, ...).
agent_field() {
	curl -sf "$API/api/v1/tasks/$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

# owned / owned_running [TASK]: containers by our owner label (and task), in any state / running.
owned() { "$D" ps -aq --filter "label=$OURS" ${1:+--filter "label=com.microscaling.task=$1"} | wc -l; }
owned_running() {
	"$D" ps -q --filter "label=$OURS" --filter status=running \
		${1:+--filter "label=com.microscaling.task=$1"} | wc -l
}
# no duplicate container names among ours (one create answered twice would show as two)
foreign_untouched() {
	[ "$("$D" inspect -f '{{.State.Running}}' "$FOREIGN" 2>/dev/null)" = true ] &&
		! grep -q "${FOREIGN:0:12}\|/foreign" "$T/proxy-requests.log"
}

# converged TASK N: the engine holds exactly N containers of the task, all running, and the
# agent says demand N, requested N, running N, nothing pending.
converged() {
	local task=$1 n=$2 j
	[ "$(owned "$task")" -eq "$n" ] && [ "$(owned_running "$task")" -eq "$n" ] || return 1
	j=$(curl -sf "$API/api/v1/tasks/$task") || return 1
	python3 -c "import json,sys; t=json.loads(sys.argv[1]); n=int(sys.argv[2])
sys.exit(not (t['demand']==n and t['requested']==n and t['running']==n and
              t['pending_starts']==0 and t['pending_stops']==0))" "$j" "$n"
}

# converged_all N: web has N, and each TASK=M of CONVERGE_ALSO has M.
converged_all() {
	local x
	converged web "$1" || return 1
	for x in ${CONVERGE_ALSO:-}; do converged "${x%=*}" "${x#*=}" || return 1; done
}

# reconverges NAME N [SECONDS]: the scenario's closing check, with what was seen on failure.
reconverges() {
	local name=$1 n=$2 secs=${3:-40}
	if wait_for "$secs" converged_all "$n" && kill -0 "$AGENT_PID" 2>/dev/null && foreign_untouched; then
		ok "$name: reconverged to $n, no orphan or duplicate, agent alive, foreign untouched"
	else
		not_ok "$name: reconverged to $n (engine: $(owned web) owned, $(owned_running web) running;" \
			"agent: $(curl -sf "$API/api/v1/tasks/web" | head -c 200); alive: $(kill -0 "$AGENT_PID" 2>/dev/null && echo yes || echo no))"
	fi
}
