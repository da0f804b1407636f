# Shared helpers for integration tests (sourced). Each test file is self-contained: it starts what
# it needs, and its EXIT trap stops it again even when an assertion fails.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# MSS_BIN / MSS_TOOLS_DIR run the suite against another build (e.g. the ASan one in
# build-asan/bin); MSS_BIN_WRAPPER is a command prefix for our programs (e.g. valgrind). With any
# of them set, reports land in a per-file directory checked at exit (san_setup below).
BIN="${MSS_BIN:-$ROOT/bin/microscaler}"
TOOLS_DIR="${MSS_TOOLS_DIR:-$ROOT/bin}"
# MSS_TEST_SLOW=N multiplies every wait_for deadline (the daemon under valgrind is ~20x slower).
SLOW="${MSS_TEST_SLOW:-1}"
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
trap 'run_cleanup; san_check' EXIT

# wait_for SECONDS command...: poll (20 ms) until the command succeeds; 1 on timeout.
wait_for() {
	local deadline=$(($(date +%s%N) + $1 * SLOW * 1000000000)); shift
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

# ---- sanitizers and valgrind ------------------------------------------------------------------
# Under a sanitized build or a wrapper, BIN and TOOLS_DIR point at small scripts that set the
# report options (they survive `env -i`) and exec the real program, so the PID is the program's.
# A report makes this file fail at exit even where the test never looks at the exit status.
SAN_DIR=
san_setup() {
	[ -n "${MSS_BIN:-}${MSS_TOOLS_DIR:-}${MSS_BIN_WRAPPER:-}" ] || return 0
	mkdir -p "${MSS_SAN_LOG_DIR:-/tmp}"
	SAN_DIR=$(mktemp -d "${MSS_SAN_LOG_DIR:-/tmp}/mss-san.$(basename "$0" .sh).XXXXXX")
	mkdir -p "$SAN_DIR/tools"
	local real=$BIN name
	BIN="$SAN_DIR/microscaler"
	san_wrap "$real" "$BIN"
	for real in "$TOOLS_DIR"/microscaler-*; do
		[ -x "$real" ] || continue
		name=$(basename "$real")
		san_wrap "$real" "$SAN_DIR/tools/$name"
	done
	TOOLS_DIR="$SAN_DIR/tools"
}
san_wrap() { # san_wrap REAL SCRIPT
	local sym=
	[ -x /usr/bin/llvm-symbolizer ] && sym="export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer"
	local vg=
	[ -n "${MSS_BIN_WRAPPER:-}" ] && vg="$MSS_BIN_WRAPPER --log-file=$SAN_DIR/valgrind.%p.log"
	cat >"$2" <<-EOF
	#!/bin/sh
	export ASAN_OPTIONS="log_path=$SAN_DIR/asan:detect_leaks=1:abort_on_error=0"
	export UBSAN_OPTIONS="log_path=$SAN_DIR/ubsan:print_stacktrace=1:halt_on_error=1"
	$sym
	exec $vg "$1" "\$@"
	EOF
	chmod +x "$2"
}
# A valgrind log is a report when its summary counts errors (definite leaks count, see
# MSS_BIN_WRAPPER), or, for a process killed before its summary, when it holds an error record.
san_valgrind_bad() {
	if grep -q 'ERROR SUMMARY:' "$1"; then
		! grep -q 'ERROR SUMMARY: 0 errors' "$1"
	else
		grep -qE '^==[0-9]+== (Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination overlap|Argument .* fishy|Process terminating)' "$1"
	fi
}
san_check() { # in the EXIT trap: without an `exit` the file's own status stands
	local f bad=0
	[ -n "$SAN_DIR" ] && [ -d "$SAN_DIR" ] || return 0
	for f in "$SAN_DIR"/asan.* "$SAN_DIR"/ubsan.* "$SAN_DIR"/valgrind.*.log; do
		[ -e "$f" ] || continue
		case $f in */valgrind.*) san_valgrind_bad "$f" || continue ;; esac
		bad=1
		echo "not ok - $(basename "$0"): sanitizer report $(basename "$f"):"
		sed 's/^/#   /' "$f"
	done
	if [ $bad -eq 1 ]; then
		echo "$(basename "$0"): sanitizer reports kept in $SAN_DIR"
		exit 1
	fi
	rm -rf "$SAN_DIR"
}
san_setup
