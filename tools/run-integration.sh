#!/usr/bin/env bash
# Run every tests/integration/test_*.sh; each is self-contained and cleans up after itself.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0; failed=()
for t in tests/integration/test_*.sh; do
	[ -e "$t" ] || continue
	echo "== $t"
	if bash "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
