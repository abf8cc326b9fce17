#!/bin/sh
# The S3 server killed (kill -9 of radosgw) and restarted during a sync and
# during a restore: both finish correct thanks to retries; a server that stays
# down makes sync fail cleanly (exit 1) with HEAD left as it was.
# Run by tests/s3/run.sh with the server's variables exported and NETVOL_BIN.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
NV_TEST_DIR="$HERE/../integration"
. "$HERE/../integration/lib.sh"
: "${NV_RGW_DIR:?}" "${NETVOL_TEST_S3_BUCKET:?}"
export NETVOL_STORE="s3://$NETVOL_TEST_S3_BUCKET/restart-$$" POD_USER_NAME=kim
export NETVOL_DATASETS=data:user AWS_MAX_ATTEMPTS=12 NETVOL_PARALLEL=4
mkdir -p "$T/p/data"
i=0
while [ $i -lt 24 ]; do head -c 4000000 /dev/urandom >"$T/p/data/f$i"; i=$((i + 1)); done

# sync: the gateway dies for 3 s in the middle
NETWORK_VOLUME="$T/p" "$NETVOL" sync >"$T/sync.log" 2>&1 &
pid=$!
sleep 1
sh "$HERE/rgw.sh" restart-gw "$NV_RGW_DIR" 3
wait $pid || fail "sync across a server restart failed: $(tail -n 5 "$T/sync.log")"
grep -q 'event=s3.retry' "$T/sync.log" || echo "note: the sync finished before the kill"
echo "restart: sync survived ($(grep -c 'event=s3.retry' "$T/sync.log") retries)"

# restore: the same
NETWORK_VOLUME="$T/r" "$NETVOL" restore >"$T/restore.log" 2>&1 &
pid=$!
sleep 0.5
sh "$HERE/rgw.sh" restart-gw "$NV_RGW_DIR" 3
wait $pid || fail "restore across a server restart failed: $(tail -n 5 "$T/restore.log")"
treecmp "$T/p/data" "$T/r/data"
echo "restore: survived ($(grep -c 'event=s3.retry' "$T/restore.log") retries)"

# the server goes away for good during a sync: exit 1, HEAD unchanged
head1=$(NETWORK_VOLUME="$T/p" "$NETVOL" log data 2>/dev/null | sed -n 2p | cut -c1-64)
head -c 8000000 /dev/urandom >"$T/p/data/new"
sh "$HERE/rgw.sh" restart-gw "$NV_RGW_DIR" never
assert_exit 1 env AWS_MAX_ATTEMPTS=3 NETWORK_VOLUME="$T/p" "$NETVOL" sync
assert_contains "$OUT" "event=sync.failed"
sh "$HERE/rgw.sh" restart-gw "$NV_RGW_DIR" 0
assert_exit 0 env NETWORK_VOLUME="$T/p" "$NETVOL" log data
assert_eq "$(printf '%s\n' "$OUT" | sed -n 2p | cut -c1-64)" "$head1" "HEAD after a failed sync"
echo "down: sync failed cleanly, HEAD intact"

# a very slow link (1 MB/s answers): slow but moving is not a stall
mkdir -p "$T/s/data"
head -c 3000000 /dev/urandom >"$T/s/data/slow"
assert_exit 0 env NETVOL_STORE="s3://$NETVOL_TEST_S3_BUCKET/slow-$$" NETWORK_VOLUME="$T/s" "$NETVOL" sync
: >"$T/plan"
python3 "$HERE/faultproxy.py" "${AWS_ENDPOINT_URL_S3#http://}" "$T/plan" --rate 1000000 >"$T/slow.port" 2>"$T/slowproxy.log" &
sp=$!
at_exit "kill $sp 2>/dev/null"
for i in $(seq 1 50); do [ -s "$T/slow.port" ] && break; sleep 0.1; done
t0=$(date +%s)
assert_exit 0 env NETVOL_STORE="s3://$NETVOL_TEST_S3_BUCKET/slow-$$" NETVOL_S3_STALL_TIMEOUT=3s \
	AWS_ENDPOINT_URL_S3="http://127.0.0.1:$(cat "$T/slow.port")" NETWORK_VOLUME="$T/s2" "$NETVOL" restore
treecmp "$T/s/data" "$T/s2/data"
echo "slow: a 3 MB restore over a 1 MB/s link took $(($(date +%s) - t0)) s, no stall abort"
