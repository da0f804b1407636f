# Shared helpers for integration tests (sourced). Each test file is self-contained: it starts what
# it needs, and its EXIT trap stops it again even when an assertion fails.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN="$ROOT/bin/microscaler"
DOCKER_CLI=/usr/bin/docker   # Debian's client, matching the Debian engine
FAILS=0
PASSES=0
CLEANUP=()

ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }
check() { # check "name" command...
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
on_exit() { CLEANUP+=("$*"); }
run_cleanup() {
	local i
	for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[$i]}" || true; done
}
finish() {
	echo "$(basename "$0"): $PASSES passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}
trap run_cleanup EXIT

# wait_for SECONDS command...: poll (20 ms) until the command succeeds; 1 on timeout.
wait_for() {
	local deadline=$(($(date +%s%N) + $1 * 1000000000)); shift
	until "$@"; do
		[ "$(date +%s%N)" -ge "$deadline" ] && return 1
		sleep 0.02
	done
}

# wait_exit PID SECONDS: wait for a background child to exit; sets EXIT_STATUS. 1 on timeout.
wait_exit() {
	local pid=$1 secs=$2
	if ! wait_for "$secs" bash -c "! kill -0 $pid 2>/dev/null"; then return 1; fi
	wait "$pid"; EXIT_STATUS=$?
	return 0
}

# start_agent LOGFILE [ENV=VAL ...]: start microscaler in the background with a clean
# environment plus the given settings; sets AGENT_PID. Stopped (SIGKILL) at exit if still alive.
# The HTTP API is off unless the settings turn it on (MSS_HTTP_ADDR=...), so agents never compete
# for its default port.
start_agent() {
	local log=$1; shift
	env -i PATH="$PATH" HOME="${HOME:-/root}" MSS_HTTP_ADDR= "$@" "$BIN" >"$log" 2>&1 &
	AGENT_PID=$!
	on_exit "kill -9 $AGENT_PID 2>/dev/null"
}

# ---- a private Docker engine ----------------------------------------------------------------
# dockerd_start [EXTRA DOCKERD ARGS...]: a private dockerd on a unix socket under a temp dir, with
# a local image mss-test:latest (busybox-static; CMD sleeps). Sets DOCKER_HOST and DOCKERD_DIR.
dockerd_start() {
	DOCKERD_DIR=$(mktemp -d /tmp/mss-dockerd.XXXXXX)
	local d=$DOCKERD_DIR
	on_exit dockerd_stop
	dockerd --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
		-H "unix://$d/docker.sock" --bridge none --iptables=false --ip6tables=false \
		--log-level warn "$@" >"$d/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	export DOCKER_HOST="unix://$d/docker.sock"
	if ! wait_for 30 "$DOCKER_CLI" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
		echo "dockerd did not start:"; tail -20 "$d/dockerd.log"; return 1
	fi
	local root="$d/image"
	mkdir -p "$root/bin" "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for a in sh sleep true false echo cat env ls kill; do ln -sf busybox "$root/bin/$a"; done
	tar -C "$root" -c . | "$DOCKER_CLI" import -c 'CMD ["/bin/sleep","3600"]' - mss-test:latest >/dev/null
}

dockerd_stop() {
	[ -n "${DOCKERD_DIR:-}" ] || return 0
	local d=$DOCKERD_DIR
	local ids
	ids=$("$DOCKER_CLI" ps -aq 2>/dev/null) && [ -n "$ids" ] && "$DOCKER_CLI" rm -f $ids >/dev/null 2>&1
	if [ -f "$d/dockerd.pid" ]; then
		kill "$(cat "$d/dockerd.pid")" 2>/dev/null
		wait_for 20 bash -c "! kill -0 $(cat "$d/dockerd.pid") 2>/dev/null" ||
			kill -9 "$(cat "$d/dockerd.pid")" 2>/dev/null
	fi
	grep -o " $d[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$d"
	DOCKERD_DIR=
}

# Containers carrying a label (key=value), running or not.
count_labelled() { "$DOCKER_CLI" ps -aq --filter "label=$1" | wc -l; }
count_running() { "$DOCKER_CLI" ps -q --filter "label=$1" --filter status=running | wc -l; }
