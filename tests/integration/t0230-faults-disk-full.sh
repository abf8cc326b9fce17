#!/bin/sh
# Disk full (a small tmpfs) during a restore, during the copy onto the
# network volume, and when the local stat cache is written: a clear error
# naming the file (No space left on device); restore exits 1 with its
# staging folder removed and the target untouched; the copy onto the volume
# is dropped (staging removed) while the upload still succeeds (exit 0); a
# cache that cannot be written never fails a sync. Needs mount(2) (skipped
# with a message otherwise).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/probe"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=1m tmpfs "$T/probe" 2>/dev/null; then
	echo "SKIP: mounting is not permitted here (need root and mount(2))"
	exit 0
fi
umount "$T/probe"
small_fs() { # small_fs DIR SIZE: a tmpfs of that size at DIR, unmounted at exit
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2" tmpfs "$1"
	at_exit "umount -l '$1' 2>/dev/null"
}

export NETVOL_STORE="$(nv_store_url full)" POD_USER_NAME=dan NETVOL_DATASETS="venv,keep:user"
mkdir -p "$T/p/venv/lib" "$T/p/keep"
i=0
while [ $i -lt 12 ]; do
	head -c 1000000 /dev/urandom >"$T/p/venv/lib/m$i.so"
	i=$((i + 1))
done
echo k >"$T/p/keep/file"
assert_exit 0 nv_pod "$T/p" sync

# restore onto a full disk: exit 1, the file named, no staging, no target
small_fs "$T/r" 8m
mkdir -p "$T/r/keep"
echo mine >"$T/r/keep/local"
assert_exit 1 nv_pod "$T/r" restore
assert_contains "$OUT" "event=restore.failed dataset=venv"
assert_contains "$OUT" "No space left on device"
assert_contains "$OUT" "lib/m" "the message names the file"
assert_contains "$OUT" "event=restore.done dataset=keep" "the other dataset still ran"
assert_eq "$(ls -A "$T/r" | grep -v "^\.netvol$" | tr "\n" " ")" "keep " "pod storage after a full-disk restore"
assert_eq "$(ls -A "$T/r/keep")" "local" "local data kept"
# an empty target folder stays an empty folder
mkdir "$T/r/venv"
assert_exit 1 nv_pod "$T/r" restore venv
assert_eq "$(ls -A "$T/r/venv")" "" "the empty target"
ls -A "$T/r" | grep -q '^\.netvol-stage' && fail "staging left after ENOSPC"
printf "%s\n" "$OUT" | grep restore.failed
echo "restore on a full disk: exit 1, $(logval restore.failed code)"

# the copy onto a full network volume: dropped, the upload still happens
small_fs "$T/nv" 8m
echo more >"$T/p/venv/new-file"
assert_exit 0 env _NETWORK_VOLUME="$T/nv" NETWORK_VOLUME="$T/p" "$NETVOL" sync venv
assert_contains "$OUT" "level=warn event=sync.copy_to_nv dataset=venv"
assert_contains "$OUT" "result=failed"
assert_contains "$OUT" "No space left on device"
assert_contains "$OUT" "result=uploaded"
assert_eq "$(ls -A "$T/nv" | tr '\n' ' ')" ".netvol " "network volume after a full-disk copy"
rm -rf "$T/x"
assert_exit 0 nv_pod "$T/x" restore venv
treecmp "$T/p/venv" "$T/x/venv"

# the stat cache on a full pod storage: a warning, the sync succeeds
small_fs "$T/q" 4m
mkdir -p "$T/q/keep"
echo v1 >"$T/q/keep/file"
head -c 8000000 /dev/zero >"$T/q/filler" 2>/dev/null || true
assert_exit 0 nv_pod "$T/q" sync keep
assert_contains "$OUT" "event=cache.write_failed"
assert_contains "$OUT" "No space left on device"
assert_contains "$OUT" "event=sync.done dataset=keep"
rm -rf "$T/y"
assert_exit 0 nv_pod "$T/y" restore keep
treecmp "$T/q/keep" "$T/y/keep"
printf "%s\n" "$OUT" | grep -E "warn|error" || true
echo "faults: disk_full cases=4 bytes_lost=0"
