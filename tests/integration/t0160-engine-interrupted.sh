#!/bin/sh
# A sync killed half-way leaves the previous HEAD valid, and the next sync
# reuses what was already uploaded. A deadline stops a sync cleanly with
# HEAD untouched. --dry-run changes nothing.
. "$(dirname "$0")/lib.sh"
[ "${NETVOL_TEST_S3:-0}" = 1 ] && exit 0 # reads store files directly

export NETVOL_STORE="$(nv_store_url kill)" POD_USER_NAME=gil NETVOL_DATASETS=data:user
store=${NETVOL_STORE#file://}/$POD_USER_NAME
mkdir -p "$T/p/data"
echo v1 >"$T/p/data/first"
assert_exit 0 nv_pod "$T/p" sync
head1=$(cat "$store/user/data/HEAD")
# 160 MB of incompressible data: ten packs
i=0
while [ $i -lt 40 ]; do head -c 4000000 /dev/urandom >"$T/p/data/f$i"; i=$((i + 1)); done

# dry run: nothing stored
packs_before=$(ls "$store/user/data/packs" | wc -l)
assert_exit 0 nv_pod "$T/p" sync --dry-run
assert_contains "$OUT" "result=would_upload"
assert_eq "$(ls "$store/user/data/packs" | wc -l)" "$packs_before" "dry run stored packs"
assert_eq "$(cat "$store/user/data/HEAD")" "$head1" "dry run moved HEAD"

# deadline: stops before the end, HEAD untouched, a warning says so
assert_exit 1 env NETVOL_DEADLINE=50ms NETWORK_VOLUME="$T/p" "$NETVOL" sync
assert_contains "$OUT" "deadline"
assert_contains "$OUT" "HEAD left at the previous snapshot"
assert_eq "$(cat "$store/user/data/HEAD")" "$head1" "deadline moved HEAD"

# kill -9 once at least one pack is stored
NETWORK_VOLUME="$T/p" NETVOL_PARALLEL=1 "$NETVOL" sync >"$T/killed.log" 2>&1 &
pid=$!
n=0
while [ "$(ls "$store/user/data/packs" | grep -c '\.idx$')" -le "$packs_before" ] && [ $n -lt 400 ]; do
	sleep 0.02
	n=$((n + 1))
done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
assert_eq "$(cat "$store/user/data/HEAD")" "$head1" "a killed sync moved HEAD"
assert_exit 0 nv_pod "$T/r1" restore
assert_eq "$(cat "$T/r1/data/first")" "v1" "the old snapshot restores"
assert_exit 0 nv_pod "$T/p" sync
new=$(logval sync.done bytes_new)
[ "$new" -lt 160000000 ] || fail "the next sync re-sent everything ($new bytes new)"
assert_exit 0 nv_pod "$T/r2" restore
treecmp "$T/p/data" "$T/r2/data"

# a restore killed half-way leaves a staging folder; the next one removes it
NETWORK_VOLUME="$T/r3" "$NETVOL" restore >"$T/killed-restore.log" 2>&1 &
pid=$!
n=0
until ls -A "$T/r3" 2>/dev/null | grep -q '^\.netvol-stage' || [ $n -ge 500 ]; do sleep 0.01; n=$((n + 1)); done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
[ ! -e "$T/r3/data" ] || [ -n "$(ls -A "$T/r3/data")" ] || fail "a half restore became visible"
assert_exit 0 nv_pod "$T/r3" restore
ls -A "$T/r3" | grep -q '^\.netvol-stage' && fail "stale staging folder left"
treecmp "$T/p/data" "$T/r3/data"
