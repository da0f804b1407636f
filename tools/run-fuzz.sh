#!/usr/bin/env bash
# Run the fuzz targets (see tests/fuzz/README.md).
#   run-fuzz.sh run SECONDS JOBS target...     libFuzzer binaries in build/fuzz/fuzz/, JOBS at once
#   run-fuzz.sh replay - - target...           the corpus and crashers once each, build/fuzz-replay/
# Prints one line per target and exits non-zero when any target crashed, leaked, tripped UBSan or
# broke an invariant (libFuzzer then leaves the input in build/fuzz/artifacts/<target>/).
set -u
mode=$1 seconds=$2 jobs=$3
shift 3
cd "$(dirname "$0")/.." || exit 2
failed=()

# The libFuzzer flags a target asks for: its "fuzz-flags:" comment line.
flags_of() {
	sed -n 's|^/\* fuzz-flags: \(.*\) \*/$|\1|p' "tests/fuzz/$1.c" | head -n 1
}

run_one() {
	local t=$1 bin=build/fuzz/fuzz/$1 log=build/fuzz/logs/$1.log
	local work=build/fuzz/corpus/$1 art=build/fuzz/artifacts/$1/
	mkdir -p "$work" "$art" build/fuzz/logs
	# New inputs go to the working corpus under build/; the committed seeds are only read.
	# shellcheck disable=SC2046
	nice -n "${FUZZ_NICE:-0}" "$bin" $(flags_of "$t") -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art" \
		"$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
	local rc=$?
	local execs rate cov
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	if [ "$rc" -eq 0 ]; then
		printf 'fuzz %-10s ok     %6ss %10s execs %7s/s  cov %s\n' "$t" "$seconds" \
			"${execs:-?}" "${rate:-?}" "${cov:-?}"
	else
		printf 'fuzz %-10s FAILED (exit %s) after %s execs; log %s, input in %s\n' "$t" "$rc" \
			"${execs:-?}" "$log" "$art"
		grep -m 3 -E 'ERROR: |runtime error|invariant broken' "$log" | sed 's/^/    /'
		return 1
	fi
}

case "$mode" in
run)
	start=$(date +%s)
	pids=() names=()
	mkdir -p build/fuzz/logs
	for t in "$@"; do
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
		run_one "$t" >"build/fuzz/logs/.$t.line" 2>&1 &
		pids+=($!) names+=("$t")
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || failed+=("${names[$i]}")
		cat "build/fuzz/logs/.${names[$i]}.line"
	done
	echo "fuzz: ${#names[@]} targets, $(( $(date +%s) - start ))s, ${#failed[@]} failed"
	;;
replay)
	for t in "$@"; do
		if ! build/fuzz-replay/fuzz/"$t" "tests/fuzz/corpus/$t" "tests/fuzz/crashers/$t"; then
			failed+=("$t")
		fi
	done
	echo "fuzz-replay: $# targets, ${#failed[@]} failed"
	;;
*)
	echo "usage: $0 run SECONDS JOBS target... | replay - - target..." >&2
	exit 2
	;;
esac
[ ${#failed[@]} -eq 0 ]
