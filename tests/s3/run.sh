#!/bin/sh
# Store-level S3 tests: start radosgw and the fault proxy, run every section
# of s3_store_test against them, check the logs hold no secret, stop all.
#
#   tests/s3/run.sh /path/to/s3_store_test
#
# With NETVOL_BIN (and NETVOL_TEST_TOOLS) set, the restore/sync integration
# tests (tests/integration/t01*, and the legacy restore's t08*) then run against the same server with
# NETVOL_TEST_S3=1: once directly, once through the fault proxy injecting a
# random fault into 10% of the requests.
#
# With NV_RGW_DIR already set (rgw.sh start exported), that server is used
# and left running.
set -eu
BIN=${1:?usage: run.sh S3_STORE_TEST_BINARY}
cd "$(dirname "$0")"
HERE=$(pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/nv-s3test.XXXXXX")
OWN_RGW=""
PROXY_PID=""
FAKE_PID=""
cleanup() {
	rc=$?
	set +e
	[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null
	[ -n "$OWN_RGW" ] && sh "$HERE/rgw.sh" stop "$OWN_RGW"
	rm -rf "$W"
	exit $rc
}
trap cleanup EXIT INT TERM

t0=$(date +%s.%N)
if [ -z "${NV_RGW_DIR:-}" ]; then
	sh "$HERE/rgw.sh" start >"$W/env"
	. "$W/env"
	OWN_RGW=$NV_RGW_DIR
	echo "s3: radosgw up in $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s at $AWS_ENDPOINT_URL_S3"
fi

: >"$W/plan"
python3 "$HERE/faultproxy.py" "${AWS_ENDPOINT_URL_S3#http://}" "$W/plan" --stall 6 >"$W/proxy.port" 2>"$W/proxy.log" &
PROXY_PID=$!
for i in $(seq 1 50); do [ -s "$W/proxy.port" ] && break; sleep 0.1; done
[ -s "$W/proxy.port" ] || { echo "s3: fault proxy did not start" >&2; cat "$W/proxy.log" >&2; exit 1; }

# the container-credentials endpoint hands out the server's keys
FAKE_AWS_KEY=$AWS_ACCESS_KEY_ID FAKE_AWS_SECRET=$AWS_SECRET_ACCESS_KEY \
	python3 "$HERE/fake_aws.py" container pod-identity-token 3600 >"$W/fake.port" 2>"$W/fake.log" &
FAKE_PID=$!
for i in $(seq 1 50); do [ -s "$W/fake.port" ] && break; sleep 0.1; done
[ -s "$W/fake.port" ] || { echo "s3: fake_aws.py did not start" >&2; cat "$W/fake.log" >&2; exit 1; }

export NV_TEST_BUCKET=nvtest NV_TEST_PREFIX="run-$$-$(date +%s)"
export NV_PROXY_URL="http://127.0.0.1:$(cat "$W/proxy.port")" NV_PROXY_PLAN="$W/plan"
export NV_FAKE_CONTAINER_URL="http://127.0.0.1:$(cat "$W/fake.port")/v1/credentials"
fail=0
for sec in basic multipart concurrent auth tls virtual faults credrefresh; do
	if "$BIN" "$sec" >"$W/$sec.out" 2>"$W/$sec.log"; then
		cat "$W/$sec.out"
	else
		fail=1
		cat "$W/$sec.out"
		echo "FAIL s3 section $sec; its log:" >&2
		tail -n 30 "$W/$sec.log" >&2
	fi
	# secrets never reach the logs (the section logs at debug level)
	if grep -lF -e "$AWS_SECRET_ACCESS_KEY" -e "Signature=" -e "Credential=" "$W/$sec.log" >/dev/null; then
		fail=1
		echo "FAIL s3 section $sec: a secret or signature is in the log" >&2
	fi
done
grep -c 'event=s3.retry' "$W"/faults.log | sed 's/^/s3: retries logged in the fault section: /'
issued=$(grep -c '^issued' "$W/fake.log" || true)
if [ "$issued" != 2 ]; then
	fail=1
	echo "FAIL s3: the container endpoint issued credentials $issued times, want 2 (open + refresh)" >&2
fi
[ $fail = 0 ] && echo "s3: all store sections passed"

# run the engine's integration tests (tests/integration/t01*) and the
# legacy restore's (t08*: the legacy objects uploaded to the bucket) on S3
engine_suite() {
	label=$1
	for t in "$HERE"/../integration/t01[0-9][0-9]-*.sh "$HERE"/../integration/t08[0-9][0-9]-*.sh; do
		[ -e "$t" ] || continue
		name=$(basename "$t")
		if sh "$t" >"$W/it-$label-$name.log" 2>&1; then
			echo "ok   engine on s3 ($label): $name"
		else
			fail=1
			echo "FAIL engine on s3 ($label): $name"
			tail -n 30 "$W/it-$label-$name.log"
		fi
		if grep -qF -e "$AWS_SECRET_ACCESS_KEY" -e "Signature=" "$W/it-$label-$name.log"; then
			fail=1
			echo "FAIL engine on s3 ($label): $name: a secret or signature is in its output"
		fi
	done
}
if [ -n "${NETVOL_BIN:-}" ]; then
	NV_TEST_PREFIX=engine "$BIN" mkbucket >/dev/null 2>"$W/mkbucket.log" ||
		{ cat "$W/mkbucket.log" >&2; exit 1; }
	export NETVOL_TEST_S3=1 NETVOL_TEST_S3_BUCKET=nvtest NETVOL_BIN
	engine_suite direct
fi
# Under the sanitizers (make asan) the engine runs on S3 once: the pass
# through the fault proxy is the normal run's (it is slow there, not deeper).
if [ -n "${NETVOL_BIN:-}" ] && [ -z "${NETVOL_ASAN:-}" ]; then
	: >"$W/plan"
	python3 "$HERE/faultproxy.py" "${AWS_ENDPOINT_URL_S3#http://}" "$W/plan" --random 0.1 \
		--seed "$$" >"$W/proxy2.port" 2>"$W/proxy2.log" &
	PROXY2_PID=$!
	for i in $(seq 1 50); do [ -s "$W/proxy2.port" ] && break; sleep 0.1; done
	AWS_ENDPOINT_URL_S3="http://127.0.0.1:$(cat "$W/proxy2.port")" NETVOL_S3_STALL_TIMEOUT=5s \
		engine_suite "10% faults"
	kill "$PROXY2_PID" 2>/dev/null || true
	wait "$PROXY2_PID" 2>/dev/null || true
	echo "s3: faults injected into the engine run: $(grep -c '^fault' "$W/proxy2.log")" \
		"($(grep -o '^fault [a-z0-9]*' "$W/proxy2.log" | sort | uniq -c | tr -s ' ' | tr '\n' ','))"
fi
# the server killed and restarted under a sync and a restore (normal run only)
if [ -n "${NETVOL_BIN:-}" ] && [ -z "${NETVOL_ASAN:-}" ]; then
	if sh "$HERE/restart.sh" >"$W/restart.log" 2>&1; then
		grep -E '^(restart|restore|down|note|slow):' "$W/restart.log" | sed 's/^/s3: /'
		echo "ok   server killed and restarted during sync and restore"
	else
		fail=1
		tail -n 30 "$W/restart.log"
		echo "FAIL server killed and restarted during sync and restore"
	fi
fi
[ $fail = 0 ] && echo "s3: all passed"
exit $fail
