#!/bin/sh
# gc keeps HEAD, the newest N snapshots and what they need, deletes the
# rest; --dry-run deletes nothing; verify passes after gc and every kept
# snapshot restores byte-identical; a dataset with a sync in progress is
# left alone; gc while pods sync loses nothing.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url gc)" POD_USER_NAME=jo NETVOL_DATASETS=data:user
mkdir -p "$T/p/data"
i=0
while [ $i -lt 5 ]; do
	head -c 300000 /dev/urandom >"$T/p/data/gen$i"
	[ $i -gt 0 ] && rm -f "$T/p/data/gen$((i - 1))"
	assert_exit 0 nv_pod "$T/p" sync
	cp -a "$T/p/data" "$T/state$i"
	i=$((i + 1))
done
assert_exit 0 "$NETVOL" log data
ids=$(printf '%s\n' "$OUT" | grep -o '^[0-9a-f]\{64\}')
[ "$(printf '%s\n' "$ids" | wc -l)" -eq 5 ] || fail "want 5 snapshots: $OUT"

assert_exit 2 "$NETVOL" gc
assert_contains "$OUT" "--keep-last"
assert_exit 0 "$NETVOL" gc --keep-last 2 --grace 0 --dry-run
assert_contains "$OUT" "snapshots_deleted=3"
assert_contains "$OUT" "would be freed"
assert_exit 0 "$NETVOL" log data
[ "$(printf '%s\n' "$OUT" | grep -c '^[0-9a-f]\{64\} ')" -eq 5 ] || fail "dry run deleted"

# the grace period protects young objects
assert_exit 0 "$NETVOL" gc --keep-last 2
assert_contains "$OUT" "snapshots_deleted=0"
assert_exit 0 "$NETVOL" gc --keep-last 2 --grace 0
assert_contains "$OUT" "snapshots_deleted=3"
assert_contains "$OUT" "packs_deleted=3"
assert_exit 0 "$NETVOL" verify
assert_contains "$OUT" "0 problems"
# the two kept snapshots restore byte-identical
n=0
for id in $(printf '%s\n' "$ids" | head -n 2); do
	assert_exit 0 nv_pod "$T/r$n" restore --snapshot "$id" data
	treecmp "$T/state$((4 - n))" "$T/r$n/data"
	n=$((n + 1))
done
old=$(printf '%s\n' "$ids" | tail -n 1)
assert_exit 1 nv_pod "$T/rold" restore --snapshot "$old" data
assert_contains "$OUT" "missing from the store"
assert_exit 2 nv_pod "$T/rx" restore --snapshot abc data

# a sync in progress (its lock) makes gc leave the dataset alone
if [ "${NETVOL_TEST_S3:-0}" != 1 ]; then
	store=${NETVOL_STORE#file://}/$POD_USER_NAME
	mkdir -p "$store/user/data/locks"
	printf 'netvol-lock 1\nsync %s\nhost\n' "$(date +%s)" >"$store/user/data/locks/sync-test"
	assert_exit 0 "$NETVOL" gc --keep-last 1 --grace 0
	assert_contains "$OUT" "skipped_sync_in_progress"
	# a stale lock (a killed sync, hours ago) does not block gc
	printf 'netvol-lock 1\nsync %s\nhost\n' "$(($(date +%s) - 10000))" >"$store/user/data/locks/sync-test"
	assert_exit 0 "$NETVOL" gc --keep-last 1 --grace 0
	assert_contains "$OUT" "snapshots_deleted=1"
fi

# gc in a loop while a pod syncs changing data: nothing is lost
( j=0; while [ $j -lt 15 ]; do "$NETVOL" gc --keep-last 1 --grace 0 >/dev/null 2>&1; j=$((j + 1)); done ) &
gcpid=$!
j=0
while [ $j -lt 8 ]; do
	head -c 200000 /dev/urandom >"$T/p/data/loop$j"
	assert_exit 0 nv_pod "$T/p" sync
	j=$((j + 1))
done
wait $gcpid
assert_exit 0 "$NETVOL" verify
assert_contains "$OUT" "0 problems"
assert_exit 0 nv_pod "$T/final" restore
treecmp "$T/p/data" "$T/final/data"
