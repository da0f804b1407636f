#!/usr/bin/env bash
# `make bench`: run every bench program (the build/bench binaries given as arguments, except the
# docker-* helpers that bench/docker-scale.sh drives) and every bench/*.sh driver, then print one
# table of their summary rows, with the last soak's row (bench/soak, `make soak`: not run here) when
# bench/results/soak.md exists. Each program also prints and writes (bench/results/) its own table.
# BENCH_SKIP_DOCKER=1 leaves out what needs a private dockerd (minutes, root); bench/idle.sh
# then measures the toy scheduler only.
set -u
cd "$(dirname "$0")/.." || exit 1
export BENCH_OUT=${BENCH_OUT:-$PWD/bench/results}
mkdir -p "$BENCH_OUT"
export MSS_BENCH_ROWS
MSS_BENCH_ROWS=$(mktemp /tmp/mss-bench-rows.XXXXXX)
trap 'rm -f "$MSS_BENCH_ROWS"' EXIT
failed=()
run() {
	echo "== $*"
	"$@" || { echo "bench $* failed"; failed+=("$*"); }
}
for b in "$@"; do
	case "$(basename "$b")" in docker-*) continue ;; esac
	run "$b"
done
export BENCH_SKIP_DOCKER=${BENCH_SKIP_DOCKER:-0}
for d in bench/*.sh; do
	[ -e "$d" ] || continue
	if [ "$BENCH_SKIP_DOCKER" = 1 ] && [ "$d" != bench/idle.sh ]; then
		echo "== bash $d skipped (BENCH_SKIP_DOCKER=1)"
		continue
	fi
	run bash "$d"
done
# The soak takes half an hour: its last result, dated, rather than a new run.
if [ -f "$BENCH_OUT/soak.md" ]; then
	when=$(sed -n 's/^<!-- bench\/soak \([0-9-]*\).*/\1/p' "$BENCH_OUT/soak.md")
	grep '^| soak |' "$BENCH_OUT/soak.md" | sed "s/^| soak |/| soak (last run, ${when:-undated}) |/" \
		>>"$MSS_BENCH_ROWS"
fi
{
	echo "| benchmark | measure | result | target |"
	echo "|---|---|---|---|"
	cat "$MSS_BENCH_ROWS"
} | tee "$BENCH_OUT/summary.md"
[ ${#failed[@]} -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
