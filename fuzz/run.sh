#!/bin/sh
# Run libFuzzer targets for a bounded time each: fuzz/run.sh BUILD SECONDS
# TARGET... New inputs go to BUILD/work/<target> (the committed seeds in
# fuzz/corpus/<target> are only read); a crash is saved under BUILD/crash/
# and fails the run with the reproducer's path.
set -u
B=$1 S=$2
shift 2
cd "$(dirname "$0")/.."
fail=0
for t in "$@"; do
	mkdir -p "$B/work/$t" "$B/crash"
	log="$B/fuzz_$t.log"
	"$B/fuzz_$t" -max_total_time="$S" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$B/crash/$t-" \
		"$B/work/$t" "fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	if [ $rc = 0 ]; then
		echo "fuzz  $t: ${runs:-?} runs in ${S}s, $cov, no crash"
	else
		fail=1
		echo "FAIL fuzz $t (exit $rc):"
		grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -n 20
		tail -n 30 "$log"
	fi
done
exit $fail
