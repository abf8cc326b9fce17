#!/bin/sh
# A network volume that is read-only, or that vanishes while `netvol sync`
# copies onto it, and a local stat cache that cannot be written: the pod's
# sync still uploads from the pod's own folder (exit 0), the problem is
# logged, nothing partial becomes visible on the volume, and the snapshot
# restores identical. The mount cases need root and mount(2); without them
# they are skipped with a message.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url vol)" POD_USER_NAME=val NETVOL_DATASETS=venv
mkdir -p "$T/p/venv/lib" "$T/p/venv/bin"
i=0
while [ $i -lt 60 ]; do
	head -c 20000 /dev/urandom >"$T/p/venv/lib/m$i.so"
	i=$((i + 1))
done
head -c 9000000 /dev/urandom >"$T/p/venv/lib/big.so"
printf '#!/bin/sh\n' >"$T/p/venv/bin/python"
chmod 755 "$T/p/venv/bin/python"
ln -s python "$T/p/venv/bin/python3"

restored_ok() { # the store's HEAD restores identical to the pod's folder
	rm -rf "$T/r"
	assert_exit 0 env -u _NETWORK_VOLUME NETWORK_VOLUME="$T/r" "$NETVOL" restore
	treecmp "$T/p/venv" "$T/r/venv"
}

# the stat cache cannot be written (a file where its folder goes): warned,
# the sync and the restore still succeed
mkdir -p "$T/p/.netvol"
echo not-a-folder >"$T/p/.netvol/cache"
assert_exit 0 nv_pod "$T/p" sync
assert_contains "$OUT" "event=cache.write_failed"
assert_contains "$OUT" "Not a directory" "the cache warning says why"
assert_contains "$OUT" "result=uploaded"
mkdir -p "$T/q/.netvol"
echo x >"$T/q/.netvol/cache"
assert_exit 0 nv_pod "$T/q" restore
assert_contains "$OUT" "event=cache.write_failed"
treecmp "$T/p/venv" "$T/q/venv"
rm -rf "$T/p/.netvol" "$T/q"

mnt_ok=1
mkdir -p "$T/probe-mnt"
if ! command -v strace >/dev/null; then
	echo "SKIP: no strace (scripts/deps.d/faults.txt); mount cases not tested"
	mnt_ok=0
elif [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=1m tmpfs "$T/probe-mnt" 2>/dev/null; then
	echo "SKIP: mounting is not permitted here (need root and mount(2)); read-only and vanishing volumes not tested"
	mnt_ok=0
else
	umount "$T/probe-mnt"
fi
if [ $mnt_ok = 1 ]; then
	# read-only network volume (a read-only bind mount: root ignores modes)
	mkdir -p "$T/nvsrc" "$T/nv"
	mount --bind "$T/nvsrc" "$T/nv"
	at_exit "umount -l '$T/nv' 2>/dev/null"
	mount -o remount,bind,ro "$T/nv"
	touch "$T/nv/x" 2>/dev/null && fail "the bind mount is not read-only"
	echo 1 >"$T/p/venv/round"
	assert_exit 0 env _NETWORK_VOLUME="$T/nv" NETWORK_VOLUME="$T/p" "$NETVOL" sync
	assert_contains "$OUT" "usable=false"
	assert_contains "$OUT" "event=sync.done dataset=venv"
	assert_contains "$OUT" "used_nv=false"
	assert_eq "$(ls -A "$T/nvsrc")" "" "read-only network volume"
	restored_ok
	# restore with a read-only volume: from the store, no link into it
	mkdir -p "$T/nvsrc/venv"
	echo stale >"$T/nvsrc/venv/file"
	assert_exit 0 env _NETWORK_VOLUME="$T/nv" NETWORK_VOLUME="$T/q" "$NETVOL" restore
	[ -d "$T/q/venv" ] && [ ! -L "$T/q/venv" ] || fail "restore linked a read-only volume"
	treecmp "$T/p/venv" "$T/q/venv"
	umount "$T/nv"

	# a volume that vanishes mid-copy: lazily unmounted, or its folder removed
	for how in umount rm; do
		rm -rf "$T/nv2" "$T/under"
		mkdir -p "$T/nv2"
		mount -t tmpfs -o size=64m tmpfs "$T/nv2"
		at_exit "umount -l '$T/nv2' 2>/dev/null"
		echo "$how" >"$T/p/venv/round"
		# strace slows each copy_file_range by 30 ms: a 2 s window (LeakSanitizer
		# cannot run under ptrace)
		_NETWORK_VOLUME="$T/nv2" NETWORK_VOLUME="$T/p" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -qq -o /dev/null \
			-e trace=copy_file_range -e inject=copy_file_range:delay_enter=30000 \
			"$NETVOL" sync >"$T/vanish.log" 2>&1 &
		pid=$!
		n=0
		until ls -A "$T/nv2/.netvol-stage"* 2>/dev/null | grep -q . || [ $n -ge 300 ]; do
			sleep 0.02
			n=$((n + 1))
		done
		[ $n -lt 300 ] || { wait $pid; fail "$how: the copy never started: $(cat "$T/vanish.log")"; }
		sleep 0.2
		if [ $how = umount ]; then
			umount -l "$T/nv2"
		else
			# netvol keeps writing into it: remove until it is gone
			n=0
			while ls -d "$T/nv2/.netvol-stage"* >/dev/null 2>&1 && [ $n -lt 100 ]; do
				rm -rf "$T/nv2/.netvol-stage"* 2>/dev/null || true
				n=$((n + 1))
			done
		fi
		set +e
		wait $pid
		rc=$?
		set -e
		OUT=$(cat "$T/vanish.log")
		[ $rc = 0 ] || fail "$how: sync exited $rc: $OUT"
		assert_contains "$OUT" "event=sync.copy_to_nv"
		assert_contains "$OUT" "event=sync.done dataset=venv"
		assert_contains "$OUT" "result=uploaded"
		res=$(logval sync.copy_to_nv result)
		if [ $how = rm ]; then
			assert_eq "$res" "failed" "rm: copy result"
			assert_contains "$OUT" "level=warn event=sync.copy_to_nv"
			assert_eq "$(ls -A "$T/nv2" | grep -v '^\.netvol$' || true)" "" "rm: left on the volume"
			umount "$T/nv2"
		else
			# the copy went on into the detached file system; what the
			# mount point shows now is the folder under it: untouched
			assert_eq "$(ls -A "$T/nv2")" "" "umount: visible at the mount point"
		fi
		echo "$how mid-copy: copy result=$res, upload ok"
		restored_ok
	done
fi
echo "faults: volume cases ok (mounts: $([ $mnt_ok = 1 ] && echo tested || echo skipped))"
