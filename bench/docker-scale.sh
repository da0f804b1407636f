#!/usr/bin/env bash
# bench/docker-scale: microscaler's Docker backend beside the best raw API client, on one private
# engine. For each N: the raw client's create+start, stop+remove, kill+remove and force-remove at
# several concurrencies; microscaler at several MSS_DOCKER_CONCURRENCY values, timed from the
# engine's own event stream; then, at the largest N, the agent's steady CPU and RSS and the
# engine CPU it causes. A benchmark, not a test: `make bench` runs it, `make test` does not.
#
# Settings (environment): BENCH_NS="20 100", BENCH_REPEAT=3 (medians of that many rounds),
# BENCH_UP_KS="1 2 4 8 16 32", BENCH_STOP_KS="8 16 32 64 N", BENCH_CONCURRENCIES="4 8 16 32 64",
# BENCH_IDLE_S=60 (0: skip the steady-state measure), BENCH_OUT=bench/results,
# MSS_BENCH_ROWS (a file run-bench.sh collects one summary table from).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/integration/lib.sh" # dockerd_start/dockerd_stop, wait_for, on_exit; EXIT trap
trap 'exit 130' INT TERM           # so the EXIT trap cleans up on Ctrl-C and kill too

NS=${BENCH_NS:-20 100}
REPEAT=${BENCH_REPEAT:-3}
UP_KS=${BENCH_UP_KS:-1 2 4 8 16 32}
STOP_KS=${BENCH_STOP_KS:-8 16 32 64 N}
CONCS=${BENCH_CONCURRENCIES:-4 8 16 32 64}
IDLE_S=${BENCH_IDLE_S:-60}
OUT=${BENCH_OUT:-$ROOT/bench/results}
# MSS_DOCKER_CONCURRENCY's default, read from the settings table so the two cannot disagree
DEFAULT_CONC=$(sed -n 's/.*{"MSS_DOCKER_CONCURRENCY", "\([0-9]*\)".*/\1/p' "$ROOT/utils/settings.c")
CLIENT="$ROOT/build/bench/docker-client"
OWNER_LABEL=com.microscaling.owner=default

make -s -C "$ROOT" bin/microscaler build/bench/docker-client >/dev/null || exit 1
if ldd "$BIN" | grep -qE 'lib(a|ub)san'; then
	echo "docker-scale: $BIN is a sanitizer build; rebuild it plainly (make clean all)" >&2
	exit 1
fi
VERSION=$("$BIN" --version 2>&1 | head -1)
T=$(mktemp -d /tmp/mss-bench.XXXXXX)
on_exit "rm -rf $T"
mkdir -p "$OUT"
say() { echo "docker-scale: $*" >&2; }
pause() { sleep "$1" & wait $!; } # a signal's trap runs at once, not after the sleep

declare -A S # samples: key -> space-separated values, one per round
add() { S[$1]="${S[$1]:-} $2"; }
# median of the samples of a key ("-" when none); the middle one, or the mean of the two.
med() {
	local v=${S[$1]:-}
	[ -n "${v// /}" ] || { echo -; return; }
	tr ' ' '\n' <<<"$v" | grep -v '^$' | sort -g |
		awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f\n", m}'
}
spread() { # "min–max" of a key's samples
	tr ' ' '\n' <<<"${S[$1]:-}" | grep -v '^$' | sort -g |
		awk 'NR==1{lo=$1} {hi=$1} END{if (NR>1) printf "%.2f–%.2f", lo, hi}'
}
kv() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p" <<<"$2"; } # kv KEY "a=1 b=2"

engine_clean() { # nothing left on the engine between runs, whoever made it
	local ids
	ids=$("$DOCKER_CLI" ps -aq)
	[ -z "$ids" ] || "$DOCKER_CLI" rm -f $ids >/dev/null 2>&1
}

# ---- the raw client ------------------------------------------------------------------------
raw_up() { # raw_up N K [setup]: create+start; "setup": only to have containers to remove
	local out
	out=$("$CLIENT" up "$1" "$2") || say "raw up $1 K=$2: $out"
	[ "${3:-}" = setup ] && return
	add "raw-up:$1:$2" "$(kv all_s "$out")"
	add "raw-first:$1:$2" "$(kv first_s "$out")"
}
raw_down() { # raw_down N K MODE: remove the raw client's N containers
	local out
	out=$("$CLIENT" down "$2" "$3") || say "raw $3 $1 K=$2: $out"
	[ "$(kv n "$out")" = "$1" ] || say "raw $3: expected $1 containers, found $(kv n "$out")"
	add "raw-$3:$1:$2" "$(kv all_s "$out")"
	engine_clean
}
best_k() { # best_k KIND N KS...: the K with the smallest median
	local kind=$1 n=$2 k best=- bv=
	shift 2
	for k in "$@"; do
		local m
		m=$(med "$kind:$n:$k")
		[ "$m" = - ] && continue
		if [ -z "$bv" ] || awk -v a="$m" -v b="$bv" 'BEGIN{exit !(a<b)}'; then
			best=$k; bv=$m
		fi
	done
	echo "$best"
}
stop_ks() { # STOP_KS for N: N spelled out, values above N dropped, no duplicates
	local k
	for k in ${STOP_KS//N/$1}; do [ "$k" -le "$1" ] && echo "$k"; done | sort -nu | tr '\n' ' '
}

raw_round() { # raw_round N
	local n=$1 k best
	for k in $UP_KS; do
		raw_up "$n" "$k"
		raw_down "$n" "$k" force
	done
	best=$(best_k raw-up "$n" $UP_KS)
	for k in $(stop_ks "$n"); do
		raw_up "$n" "$best" setup
		raw_down "$n" "$k" stop
	done
	raw_up "$n" "$best" setup
	raw_down "$n" "$best" kill
	say "raw N=$n round done (fastest create+start K=$best)"
}

# ---- microscaler ---------------------------------------------------------------------------
# One watcher for the whole run: every event of the agent's containers, "<timeNano> <action>
# <id>", in $T/events. A run reads only what came after its own start.
start_watcher() {
	"$CLIENT" watch "${EPOCHREALTIME%.*}" "$OWNER_LABEL" >"$T/events" 2>"$T/watch.err" &
	WATCH_PID=$!
	on_exit 'kill "$WATCH_PID" 2>/dev/null'
}
# events T0 TTERM N: "running existing first_s all_s zero_s" from the events since T0's offset
events() {
	tail -c +$((EV_OFF + 1)) "$T/events" | awk -v t0="$1" -v tterm="$2" -v n="$3" '
		{ t = substr($1, 1, length($1) - 9) + substr($1, length($1) - 8) / 1e9 }
		t < t0 { next }
		$2 == "create" { ex++ }
		$2 == "destroy" { ex--; if (tterm > 0 && t >= tterm && ex == 0) zero = t - tterm }
		$2 == "start" {
			run++
			if (!first) first = t - t0
			if (run == n && !all) all = t - t0
		}
		$2 == "die" { run-- }
		END { printf "%d %d %s %s %s\n", run, ex, first ? first : "-", all ? all : "-",
		      zero ? zero : "-" }'
}
running_is() { set -- $(events "$T0" 0 "$N_RUN"); [ "$1" -eq "$N_RUN" ]; }
# CPU seconds of a process: all its threads' run time (ns precision) from schedstat.
cpu_s() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s+=$1} END{printf "%.4f\n", s/1e9}'; }
status_kb() { awk -v k="$2:" '$1==k{print $2}' /proc/"$1"/status; }
# "pid role ns" for every process of the private engine: role "daemon" (dockerd, containerd:
# what the agent talks to) or "shim" (one per container); ns of CPU from schedstat, all threads.
engine_snap() {
	local p c role
	for p in /proc/[0-9]*; do
		c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case "$c" in
		*containerd-shim*"$DOCKERD_DIR"*) role=shim ;;
		*"$DOCKERD_DIR"*) role=daemon ;;
		*) continue ;;
		esac
		echo "${p#/proc/} $role $(cat "$p"/task/*/schedstat 2>/dev/null |
			awk '{s+=$1} END{printf "%.0f", s}')"
	done
}
# engine_cpu BEFORE AFTER ROLE SECONDS: CPU seconds per minute of ROLE between two snapshots
# (processes present in both)
engine_cpu() {
	awk -v r="$3" -v secs="$4" 'NR==FNR{a[$1]=$3; next} ($1 in a) && $2==r{s+=$3-a[$1]}
		END{printf "%.3f\n", s/1e9*60/secs}' "$1" "$2"
}

AGENT_PID=
stop_agent() { # SIGKILL: the agent's containers stay behind
	[ -n "$AGENT_PID" ] || return 0
	kill -9 "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

start_agent_timed() { # start_agent_timed N CONC: sets AGENT_PID, T0
	local n=$1 conc=$2 cfg
	cfg="{\"maxContainers\":$n,\"apps\":[{\"name\":\"bench\",\"priority\":1,"
	cfg+="\"minContainers\":$n,\"maxContainers\":$n,"
	cfg+="\"config\":{\"image\":\"mss-test:latest\",\"stopTimeout\":1}}]}"
	local env=(PATH="$PATH" HOME="${HOME:-/root}" MSS_SCHEDULER=DOCKER MSS_CONFIG=ENVVAR
		"MSS_CONFIG_DATA=$cfg" MSS_PULL_IMAGES=false MSS_MONITOR=none
		MSS_SHUTDOWN_TIMEOUT=300 "DOCKER_HOST=$DOCKER_HOST")
	[ "$conc" = default ] || env+=("MSS_DOCKER_CONCURRENCY=$conc")
	EV_OFF=$(stat -c %s "$T/events")
	# The start time is taken in the process that then becomes microscaler (two execs later).
	(echo "$EPOCHREALTIME" >"$T/t0"; exec env -i "${env[@]}" "$BIN") \
		>"$T/agent-$n-$conc.log" 2>&1 &
	AGENT_PID=$!
	wait_for 5 test -s "$T/t0"
	T0=$(cat "$T/t0")
	rm -f "$T/t0"
}

agent_round() { # agent_round N CONC
	local n=$1 conc=$2 key="$1:$2"
	N_RUN=$n
	start_agent_timed "$n" "$conc"
	if ! wait_for 300 running_is; then
		say "microscaler N=$n C=$conc: never reached $n running; log:"
		tail -5 "$T/agent-$n-$conc.log" >&2
		stop_agent
		engine_clean
		return 1
	fi
	add "ms-cpu-up:$key" "$(cpu_s "$AGENT_PID")"
	sleep 1
	add "ms-rss:$key" "$(status_kb "$AGENT_PID" VmRSS)"
	add "ms-hwm:$key" "$(status_kb "$AGENT_PID" VmHWM)"
	local tterm=$EPOCHREALTIME st
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID"
	st=$?
	AGENT_PID=
	local texit=$EPOCHREALTIME
	[ "$st" -eq 0 ] || say "microscaler N=$n C=$conc: exit status $st"
	wait_for 60 bash -c "[ -z \"\$($DOCKER_CLI ps -aq)\" ]" ||
		say "microscaler N=$n C=$conc: containers left after the drain"
	sleep 0.2 # the last destroy event on its way to the watcher
	local r
	read -r -a r < <(events "$T0" "$tterm" "$n")
	add "ms-first:$key" "${r[2]}"
	add "ms-up:$key" "${r[3]}"
	add "ms-zero:$key" "${r[4]}"
	add "ms-exit:$key" "$(awk -v a="$texit" -v b="$tterm" 'BEGIN{printf "%.3f\n", a-b}')"
	add "ms-status:$key" "$st"
	engine_clean
	sleep 1
}

# Steady state at N: the agent idle for IDLE_S (its CPU and RSS; the engine's CPU), then the
# same containers without the agent (SIGKILL leaves them running) for the engine's own idle.
idle_round() { # idle_round N
	local n=$1 a0 a1
	N_RUN=$n
	start_agent_timed "$n" default
	wait_for 300 running_is || { say "idle: never reached $n running"; stop_agent; return 1; }
	pause 5 # let the last replies and events settle
	engine_snap >"$T/e0"
	a0=$(cpu_s "$AGENT_PID")
	pause "$IDLE_S"
	a1=$(cpu_s "$AGENT_PID")
	engine_snap >"$T/e1"
	IDLE_AGENT=$(awk -v a="$a0" -v b="$a1" -v s="$IDLE_S" 'BEGIN{printf "%.4f\n", (b-a)*60/s}')
	IDLE_RSS=$(status_kb "$AGENT_PID" VmRSS)
	IDLE_HWM=$(status_kb "$AGENT_PID" VmHWM)
	IDLE_ANON=$(status_kb "$AGENT_PID" RssAnon)
	stop_agent
	pause 5
	engine_snap >"$T/e2"
	pause "$IDLE_S"
	engine_snap >"$T/e3"
	IDLE_WITH=$(engine_cpu "$T/e0" "$T/e1" daemon "$IDLE_S")
	IDLE_WITHOUT=$(engine_cpu "$T/e2" "$T/e3" daemon "$IDLE_S")
	IDLE_SHIMS_WITH=$(engine_cpu "$T/e0" "$T/e1" shim "$IDLE_S")
	IDLE_SHIMS_WITHOUT=$(engine_cpu "$T/e2" "$T/e3" shim "$IDLE_S")
	engine_clean
	say "idle N=$n: agent $IDLE_AGENT s/min, RSS $IDLE_RSS kB; dockerd+containerd" \
	    "$IDLE_WITH s/min with the agent, $IDLE_WITHOUT without (shims $IDLE_SHIMS_WITH," \
	    "$IDLE_SHIMS_WITHOUT)"
}

# ---- the run -------------------------------------------------------------------------------
say "starting a private dockerd"
dockerd_start || exit 1
on_exit stop_agent # before dockerd_stop: it must not create while the engine is cleaned
start_watcher
started=$(date +%s)
LOADS=$(cut -d' ' -f1 /proc/loadavg) # the 1-minute load average after every round: others' work
for ((round = 1; round <= REPEAT; round++)); do
	for n in $NS; do
		raw_round "$n"
		for c in $CONCS; do
			[ "$c" = "$DEFAULT_CONC" ] && c=default
			agent_round "$n" "$c"
		done
		say "microscaler N=$n round $round/$REPEAT done"
		LOADS+=" $(cut -d' ' -f1 /proc/loadavg)"
	done
done
NMAX=$(tr ' ' '\n' <<<"$NS" | sort -n | tail -1)
IDLE_AGENT=- IDLE_RSS=- IDLE_HWM=- IDLE_ANON=- IDLE_WITH=- IDLE_WITHOUT=-
IDLE_SHIMS_WITH=- IDLE_SHIMS_WITHOUT=-
[ "$IDLE_S" -gt 0 ] && idle_round "$NMAX"
elapsed=$(($(date +%s) - started))
LOAD_MIN=$(tr ' ' '\n' <<<"$LOADS" | sort -g | head -1)
LOAD_MAX=$(tr ' ' '\n' <<<"$LOADS" | sort -g | tail -1)

# ---- the tables ----------------------------------------------------------------------------
mb() { awk -v k="$1" 'BEGIN{if (k == "-") print "-"; else printf "%.1f\n", k/1024}'; }
ratio() {
	awk -v a="$1" -v b="$2" \
		'BEGIN{if (a=="-"||b=="-"||b==0) print "-"; else printf "%.2f\n", a/b}'
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN{exit !(a != "-" && a+0 < b+0)}'; }
yes_no() { if "$@"; then echo yes; else echo "**no**"; fi; }
conc_name() { [ "$1" = default ] && echo "$DEFAULT_CONC (default)" || echo "$1"; }
row() { local line="|" c; for c in "$@"; do line+=" $c |"; done; echo "$line"; } # markdown
concs() { local c; for c in $CONCS; do [ "$c" = "$DEFAULT_CONC" ] && c=default; echo "$c"; done; }

main_table() {
	row N client concurrency "first running (s)" "0→N running (s)" "stop→0 (s)" \
		"stop→exit (s)" "agent CPU to N (s)" "RSS / peak (MB)"
	row --- --- --- --- --- --- --- --- ---
	local n c k bu bs bf
	for n in $NS; do
		bu=$(best_k raw-up "$n" $UP_KS)
		bs=$(best_k raw-stop "$n" $(stop_ks "$n"))
		bf=$(best_k raw-force "$n" $UP_KS)
		row "$n" "raw API: create+start, stop t=1 + remove" "$bu / $bs" \
			"$(med "raw-first:$n:$bu")" "$(med "raw-up:$n:$bu")" \
			"$(med "raw-stop:$n:$bs")" \
			"" "" ""
		row "$n" "raw API: kill + remove" "$bu" "" "" "$(med "raw-kill:$n:$bu")" "" "" ""
		row "$n" "raw API: remove with force" "$bf" "" "" "$(med "raw-force:$n:$bf")" \
			"" "" ""
		for c in $(concs); do
			k="$n:$c"
			row "$n" microscaler "$(conc_name "$c")" "$(med "ms-first:$k")" \
				"$(med "ms-up:$k")" "$(med "ms-zero:$k")" "$(med "ms-exit:$k")" \
				"$(med "ms-cpu-up:$k")" \
				"$(mb "$(med "ms-rss:$k")") / $(mb "$(med "ms-hwm:$k")")"
		done
	done
}

sweep_table() {
	row N measure concurrency "median (s)" "range over $REPEAT rounds (s)"
	row --- --- --- --- ---
	local n k c bu
	for n in $NS; do
		for k in $UP_KS; do
			row "$n" "raw create+start" "$k" "$(med "raw-up:$n:$k")" \
				"$(spread "raw-up:$n:$k")"
		done
		for k in $(stop_ks "$n"); do
			row "$n" "raw stop t=1 + remove" "$k" "$(med "raw-stop:$n:$k")" \
				"$(spread "raw-stop:$n:$k")"
		done
		bu=$(best_k raw-up "$n" $UP_KS)
		row "$n" "raw kill + remove" "$bu" "$(med "raw-kill:$n:$bu")" \
			"$(spread "raw-kill:$n:$bu")"
		for k in $UP_KS; do
			row "$n" "raw remove with force" "$k" "$(med "raw-force:$n:$k")" \
				"$(spread "raw-force:$n:$k")"
		done
		for c in $(concs); do
			k="$n:$c"
			row "$n" "microscaler start→first running" "$(conc_name "$c")" \
				"$(med "ms-first:$k")" "$(spread "ms-first:$k")"
			row "$n" "microscaler start→$n running" "$(conc_name "$c")" \
				"$(med "ms-up:$k")" "$(spread "ms-up:$k")"
			row "$n" "microscaler SIGTERM→0 containers" "$(conc_name "$c")" \
				"$(med "ms-zero:$k")" "$(spread "ms-zero:$k")"
			row "$n" "microscaler SIGTERM→exit (exit status:${S["ms-status:$k"]:- -})" \
				"$(conc_name "$c")" "$(med "ms-exit:$k")" "$(spread "ms-exit:$k")"
		done
	done
}

# The targets of issue 4, at the default concurrency and the largest N.
k="$NMAX:default"
bu=$(best_k raw-up "$NMAX" $UP_KS)
bs=$(best_k raw-stop "$NMAX" $(stop_ks "$NMAX"))
first=$(med "ms-first:$k") up=$(med "ms-up:$k") zero=$(med "ms-zero:$k")
raw_up_s=$(med "raw-up:$NMAX:$bu") raw_stop_s=$(med "raw-stop:$NMAX:$bs")
up_x=$(ratio "$up" "$raw_up_s") zero_x=$(ratio "$zero" "$raw_stop_s")
caused=$(awk -v a="$IDLE_WITH" -v b="$IDLE_WITHOUT" \
	'BEGIN{if (a=="-"||b=="-") print "-"; else printf "%.3f\n", a-b}')
fastest_c=- fastest_v=
for c in $(concs); do
	v=$(awk -v a="$(med "ms-up:$NMAX:$c")" -v b="$(med "ms-zero:$NMAX:$c")" \
		'BEGIN{if (a=="-"||b=="-") print "-"; else printf "%.2f\n", a+b}')
	[ "$v" = - ] && continue
	if [ -z "$fastest_v" ] || lt "$v" "$fastest_v"; then fastest_c=$c fastest_v=$v; fi
done
targets_table() {
	row "target (issue 4), N=$NMAX, MSS_DOCKER_CONCURRENCY=$DEFAULT_CONC" measured goal met
	row --- --- --- ---
	row "first container running after process start" "$first s" "< 0.3 s" \
		"$(yes_no lt "$first" 0.3)"
	row "0→$NMAX running vs the raw client (K=$bu: $raw_up_s s)" "$up s = ${up_x}×" \
		"≤ 1.05×" "$(yes_no lt "$up_x" 1.0501)"
	row "SIGTERM→0 vs raw stop t=1 + remove (K=$bs: $raw_stop_s s)" "$zero s = ${zero_x}×" \
		"≤ 1.05×" "$(yes_no lt "$zero_x" 1.0501)"
	row "agent CPU, steady state ($IDLE_S s idle)" "$IDLE_AGENT s/min" "< 0.02 s/min" \
		"$(yes_no lt "$IDLE_AGENT" 0.02)"
	row "agent RSS (peak; anonymous part)" \
		"$(mb "$IDLE_RSS") MB ($(mb "$IDLE_HWM") MB; $(mb "$IDLE_ANON") MB)" "< 6 MB" \
		"$(yes_no lt "$(mb "$IDLE_HWM")" 6)"
	local what="dockerd+containerd CPU caused by the agent: with − without it"
	what+=" (the $NMAX shims: $IDLE_SHIMS_WITH, $IDLE_SHIMS_WITHOUT)"
	row "$what" "$IDLE_WITH − $IDLE_WITHOUT = $caused s/min" \
		"idle value (< 0.05; lists every 500 ms: ~1.2)" "$(yes_no lt "$caused" 0.05)"
	row "fastest MSS_DOCKER_CONCURRENCY (0→$NMAX + SIGTERM→0)" \
		"$(conc_name "$fastest_c"): $fastest_v s" "" ""
}

{
	echo "<!-- bench/docker-scale.sh $(date -u +%Y-%m-%d), $VERSION:" \
		"medians of $REPEAT rounds," \
		"${elapsed} s; 1-minute load average $LOAD_MIN–$LOAD_MAX -->"
	main_table
	echo
	targets_table
} >"$OUT/docker-scale.md"
sweep_table >"$OUT/docker-scale-sweep.md"
cat "$OUT/docker-scale.md"
echo
cat "$OUT/docker-scale-sweep.md"

if [ -n "${MSS_BENCH_ROWS:-}" ]; then
	{
		row docker-scale "first container after start, N=$NMAX" "$first s" "< 0.3 s"
		row docker-scale "0→$NMAX: microscaler / raw client" "$up s / $raw_up_s s" "≤ 1.05×"
		row docker-scale "SIGTERM→0, N=$NMAX: microscaler / raw stop+remove" \
			"$zero s / $raw_stop_s s" "≤ 1.05×"
		row docker-scale "agent CPU idle at N=$NMAX" "$IDLE_AGENT s/min" "< 0.02 s/min"
		row docker-scale "agent RSS (peak) at N=$NMAX" \
			"$(mb "$IDLE_RSS") ($(mb "$IDLE_HWM")) MB" "< 6 MB"
		row docker-scale "dockerd+containerd CPU caused by the agent" "$caused s/min" \
			"< 0.05"
	} >>"$MSS_BENCH_ROWS"
fi
