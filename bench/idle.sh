#!/usr/bin/env bash
# bench/idle: the daemon at rest. A fixed demand that is already met, nothing changing: the CPU it
# still uses (s/min, from /proc/<pid>/task/*/schedstat) and its memory (VmRSS, VmHWM, RssAnon)
# and open fds, with the toy scheduler and with the Docker backend on a private dockerd. The
# HTTP API is on (its default), the monitor off, the tick the default 500 ms.
#
# Settings (environment): BENCH_IDLE_S=60 (seconds measured, after 5 s to settle),
# BENCH_IDLE_N=5 (containers held), BENCH_SKIP_DOCKER=1 (toy only), BENCH_OUT=bench/results,
# MSS_BENCH_ROWS (a file run-bench.sh collects one summary table from).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/integration/lib.sh" # dockerd_start/dockerd_stop, wait_for, on_exit; EXIT trap
trap 'exit 130' INT TERM           # so the EXIT trap cleans up on Ctrl-C and kill too

IDLE_S=${BENCH_IDLE_S:-60}
N=${BENCH_IDLE_N:-5}
OUT=${BENCH_OUT:-$ROOT/bench/results}
make -s -C "$ROOT" bin/microscaler >/dev/null || exit 1
if ldd "$BIN" | grep -qE 'lib(a|ub)san'; then
	echo "idle: $BIN is a sanitizer build; rebuild it plainly (make clean all)" >&2
	exit 1
fi
T=$(mktemp -d /tmp/mss-idle.XXXXXX)
on_exit "rm -rf $T"
mkdir -p "$OUT"
say() { echo "idle: $*" >&2; }
pause() { sleep "$1" & wait $!; } # a signal's trap runs at once, not after the sleep

cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.0f\n", s}'; }
status_kb() { awk -v k="$2:" '$1==k{print $2}' /proc/"$1"/status; }
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }
row() { local line="|" c; for c in "$@"; do line+=" $c |"; done; echo "$line"; }
APPS="{\"maxContainers\":$N,\"apps\":[{\"name\":\"idle\",\"priority\":1,\"minContainers\":$N,"
APPS+="\"maxContainers\":$N,\"config\":{\"image\":\"mss-test:latest\",\"stopTimeout\":1}}]}"

ROWS=()
# measure NAME READY-CHECK ENV...: start the agent, wait until READY-CHECK succeeds, settle 5 s,
# then IDLE_S seconds of CPU; memory and fds at the end. SIGTERM after.
measure() {
	local name=$1 ready=$2 c0 c1 pid
	shift 2
	start_agent "$T/$name.log" MSS_CONFIG=ENVVAR "MSS_CONFIG_DATA=$APPS" MSS_MONITOR=LOG \
		MSS_HTTP_ADDR=127.0.0.1:0 "$@"
	pid=$AGENT_PID
	if ! wait_for 60 $ready; then
		say "$name: never reached $N running"
		tail -5 "$T/$name.log" >&2
		kill -9 "$pid"
		return 1
	fi
	pause 5
	c0=$(cpu_ns "$pid")
	pause "$IDLE_S"
	c1=$(cpu_ns "$pid")
	local cpu rss hwm anon fds
	cpu=$(awk -v a="$c0" -v b="$c1" -v s="$IDLE_S" 'BEGIN{printf "%.4f", (b-a)/1e9*60/s}')
	rss=$(status_kb "$pid" VmRSS) hwm=$(status_kb "$pid" VmHWM) anon=$(status_kb "$pid" RssAnon)
	fds=$(ls /proc/"$pid"/fd | wc -l)
	kill -TERM "$pid"
	wait_exit "$pid" 30 || kill -9 "$pid"
	say "$name: $cpu s/min, RSS $rss kB (peak $hwm, anonymous $anon), $fds fds"
	ROWS+=("$(row "$name" "$N" "$cpu" "$(mb "$rss") / $(mb "$hwm") / $(mb "$anon")" "$fds")")
	SUMMARY+=("$(row idle "$name, $N held: CPU / RSS (peak; anonymous)" \
		"$cpu s/min / $(mb "$rss") ($(mb "$hwm"); $(mb "$anon")) MB" "< 0.02 s/min, < 6 MB")")
}
# The LOG monitor prints counts on change: ready when N are running.
running_n() { grep -q "msg=counts task=idle .*running=$N\\b" "$1"; }
SUMMARY=()

measure toy "running_n $T/toy.log" MSS_SCHEDULER=TOY
if [ "${BENCH_SKIP_DOCKER:-0}" != 1 ]; then
	say "starting a private dockerd"
	dockerd_start || exit 1
	measure docker "running_n $T/docker.log" MSS_SCHEDULER=DOCKER MSS_PULL_IMAGES=false \
		"DOCKER_HOST=$DOCKER_HOST"
fi

{
	echo "<!-- bench/idle.sh $(date -u +%Y-%m-%d), $("$BIN" --version 2>&1 | head -1):" \
		"${IDLE_S} s measured; 1-minute load average $(cut -d' ' -f1 /proc/loadavg) -->"
	row backend "containers held" "CPU (s/min)" "RSS / peak / anonymous (MB)" "open fds"
	row --- --- --- --- ---
	printf '%s\n' "${ROWS[@]}"
} >"$OUT/idle.md"
cat "$OUT/idle.md"
[ -z "${MSS_BENCH_ROWS:-}" ] || printf '%s\n' "${SUMMARY[@]}" >>"$MSS_BENCH_ROWS"
[ ${#ROWS[@]} -eq $((${BENCH_SKIP_DOCKER:-0} == 1 ? 1 : 2)) ]
