#!/bin/sh
# Run every tests/integration/tNNNN-*.sh; print "N passed, N failed".
# NETVOL_BIN names the folder with the binaries. T=t0001 runs a subset.
set -u
cd "$(dirname "$0")"
pass=0; fail=0; failed=""
for t in t[0-9][0-9][0-9][0-9]-*.sh; do
	[ -e "$t" ] || continue
	case "$t" in ${T:-t}*) ;; *) continue ;; esac
	log="${TMPDIR:-/tmp}/netvol-it-$t.log"
	if sh "$t" >"$log" 2>&1; then
		pass=$((pass + 1)); echo "ok   $t"
	else
		fail=$((fail + 1)); failed="$failed $t"; echo "FAIL $t"; tail -n 40 "$log"
	fi
done
echo "integration: $pass passed, $fail failed"
[ "$fail" = 0 ]
