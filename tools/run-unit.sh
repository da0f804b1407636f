#!/usr/bin/env bash
# Run every unit test binary given; print one closing line "N passed, N failed".
set -u
pass=0; fail=0; failed=()
for t in "$@"; do
	if "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
