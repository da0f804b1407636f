#!/usr/bin/env bash
# `make bench`: run every bench program (the build/bench binaries given as arguments, except the
# docker-* helpers that bench/docker-scale.sh drives) and every bench/*.sh driver, then print one
# table of their summary rows. Each program also prints and writes (bench/results/) its own table.
# BENCH_SKIP_DOCKER=1 leaves out the drivers that need a private dockerd (minutes, root).
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
if [ "${BENCH_SKIP_DOCKER:-0}" = 1 ]; then
	echo "== bench/*.sh skipped (BENCH_SKIP_DOCKER=1)"
else
	for d in bench/*.sh; do [ -e "$d" ] && run bash "$d"; done
fi
{
	echo "| benchmark | measure | result | target |"
	echo "|---|---|---|---|"
	cat "$MSS_BENCH_ROWS"
} | tee "$BENCH_OUT/summary.md"
[ ${#failed[@]} -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
