#!/bin/sh
# Run every tests/faults/fNNN-*.sh (same lib.sh as the integration tests).
set -u
cd "$(dirname "$0")"
pass=0; fail=0
for t in f[0-9][0-9][0-9]-*.sh; do
	[ -e "$t" ] || continue
	log="${TMPDIR:-/tmp}/netvol-faults-$t.log"
	if sh "$t" >"$log" 2>&1; then
		pass=$((pass + 1)); echo "ok   $t"; grep '^faults:' "$log" || true
	else
		fail=$((fail + 1)); echo "FAIL $t"; tail -n 40 "$log"
	fi
done
echo "faults: $pass passed, $fail failed"
[ "$fail" = 0 ]
