#!/usr/bin/env bash
# Run every unit test binary given; print one closing line "N passed, N failed".
# MSS_TEST_WRAPPER: a command prefix for each binary (make valgrind-unit: valgrind).
set -u
pass=0; fail=0; failed=()
for t in "$@"; do
	if ${MSS_TEST_WRAPPER:-} "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
