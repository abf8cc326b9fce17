#!/bin/sh
# preStop deadline (NETVOL_DEADLINE) shorter than the work: during the
# upload (several datasets) and during the copy onto the network volume.
# Sync stops with exit 1 within a bounded time after the deadline (the
# deployment docs keep 10 s between it and the grace period), HEAD and the
# snapshots untouched, one error per dataset saying it was not synced; the
# copy onto the volume is dropped with its staging folder; the next sync
# without a deadline completes. A deadline stops a restore too, its staging
# folder removed.
. "$(dirname "$0")/lib.sh"
[ "${NETVOL_TEST_S3:-0}" = 1 ] && exit 0 # reads store files directly

export NETVOL_STORE="$(nv_store_url dl)" POD_USER_NAME=deb NETVOL_DATASETS="data:user,other:user"
store=${NETVOL_STORE#file://}/$POD_USER_NAME
mkdir -p "$T/p/data" "$T/p/other"
echo v1 >"$T/p/data/first"
echo o1 >"$T/p/other/f"
assert_exit 0 nv_pod "$T/p" sync
h_data=$(cat "$store/user/data/HEAD")
h_other=$(cat "$store/user/other/HEAD")
snaps=$(find "$store" -path '*/snapshots/*' | wc -l)
i=0
while [ $i -lt 15 ]; do head -c 4000000 /dev/urandom >"$T/p/data/f$i"; i=$((i + 1)); done
echo o2 >"$T/p/other/g"

worst=0
cp -a "$store" "$T/base"
for d in 30 60 100; do
	# each from the same store (a killed run's packs would make the next faster)
	rm -rf "$store" "$T/p/.netvol"
	cp -a "$T/base" "$store"
	assert_exit 1 env NETVOL_DEADLINE=${d}ms NETWORK_VOLUME="$T/p" "$NETVOL" sync
	assert_contains "$OUT" "event=sync.failed dataset=data code=DEADLINE"
	assert_contains "$OUT" "event=sync.failed dataset=other code=DEADLINE"
	assert_contains "$OUT" "not synced, HEAD left at the previous snapshot"
	took=$(logval sync.summary duration_ms)
	over=$((took - d))
	[ $over -gt $worst ] && worst=$over
	[ "$took" -le $((d + 2000)) ] || fail "deadline ${d}ms: the sync ran ${took}ms"
	assert_eq "$(cat "$store/user/data/HEAD")" "$h_data" "deadline ${d}ms moved data's HEAD"
	assert_eq "$(cat "$store/user/other/HEAD")" "$h_other" "deadline ${d}ms moved other's HEAD"
	assert_eq "$(find "$store" -path '*/snapshots/*' | wc -l)" "$snaps" "deadline ${d}ms stored a snapshot"
	echo "deadline ${d}ms: stopped after ${took}ms"
done
rm -rf "$T/r"
assert_exit 0 nv_pod "$T/r" restore
assert_eq "$(ls "$T/r/data")" "first" "the old snapshot restores"

# a deadline during the copy onto the network volume (each copy_file_range
# slowed by strace): the copy is dropped, nothing visible, exit 1
if command -v strace >/dev/null; then
	export NETVOL_DATASETS=venv
	mkdir -p "$T/p/venv" "$T/nv"
	i=0
	while [ $i -lt 80 ]; do echo "m$i" >"$T/p/venv/m$i"; i=$((i + 1)); done
	# (LeakSanitizer cannot run under ptrace)
	assert_exit 1 env NETVOL_DEADLINE=1s _NETWORK_VOLUME="$T/nv" NETWORK_VOLUME="$T/p" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
		strace -f -qq -o /dev/null -e trace=copy_file_range \
		-e inject=copy_file_range:delay_enter=30000 "$NETVOL" sync
	assert_contains "$OUT" "level=warn event=sync.copy_to_nv dataset=venv"
	assert_contains "$OUT" "result=failed"
	assert_contains "$OUT" "deadline"
	assert_contains "$OUT" "event=sync.failed dataset=venv code=DEADLINE"
	assert_eq "$(ls -A "$T/nv" | grep -v '^\.netvol$' || true)" "" "network volume after a deadline"
	[ ! -e "$store/user/venv/HEAD" ] || fail "a deadline stored venv's HEAD"
	echo "deadline during the copy: $(printf "%s\n" "$OUT" | grep -o "event=sync.copy_to_nv.*")"
	# without a deadline it completes
	assert_exit 0 env _NETWORK_VOLUME="$T/nv" NETWORK_VOLUME="$T/p" "$NETVOL" sync
	assert_contains "$OUT" "result=copied"
	treecmp "$T/p/venv" "$T/nv/venv"
fi
export NETVOL_DATASETS="data:user,other:user"
assert_exit 0 nv_pod "$T/p" sync
rm -rf "$T/r"
assert_exit 0 nv_pod "$T/r" restore
treecmp "$T/p/data" "$T/r/data"
# a deadline during a restore (24 x 1 MB: three 8 MB ranges of 8 blobs,
# all started at once; each blob write slowed to 200 ms by strace): it
# stops after the blob in hand, not after whole ranges (1.6 s), and
# nothing is visible
if command -v strace >/dev/null; then
	export NETVOL_STORE="file://$T/clean" NETVOL_DATASETS=many:user
	mkdir -p "$T/p/many"
	i=0
	while [ $i -lt 24 ]; do head -c 1048576 /dev/urandom >"$T/p/many/m$i"; i=$((i + 1)); done
	assert_exit 0 nv_pod "$T/p" sync
	rm -rf "$T/r3"
	assert_exit 1 env NETVOL_DEADLINE=100ms NETWORK_VOLUME="$T/r3" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -qq -o /dev/null \
		-e trace=pwrite64 -e inject=pwrite64:delay_enter=200000 "$NETVOL" restore
	assert_contains "$OUT" "event=restore.failed dataset=many code=DEADLINE"
	took=$(logval restore.summary duration_ms)
	[ "$took" -lt 1000 ] || fail "a 100ms deadline restore ran ${took}ms"
	[ -z "$(ls -A "$T/r3" 2>/dev/null | grep -v '^\.netvol$')" ] || fail "a restore stopped by its deadline left: $(ls -A "$T/r3")"
	echo "restore deadline 100ms (200ms per blob write): stopped after ${took}ms"
fi
echo "faults: deadline runs=5 worst_overshoot_ms=$worst bytes_lost=0"
