#!/bin/sh
# Run every unit test binary; print one closing "N passed, N failed" line.
set -u
pass=0; fail=0
for t in "$@"; do
	if "$t" --jobs=2 >"$t.log" 2>&1; then
		pass=$((pass + 1))
		tail -n 1 "$t.log"
	else
		fail=$((fail + 1))
		cat "$t.log"
		echo "FAILED: $t"
	fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" = 0 ]
