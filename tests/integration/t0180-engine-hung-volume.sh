#!/bin/sh
# A network volume that hangs (a FUSE file system whose every lookup blocks,
# like a stuck NFS mount) is detected within NETVOL_NV_TIMEOUT: restore and
# sync go on with the optimization off instead of blocking the pod.
. "$(dirname "$0")/lib.sh"
: "${NETVOL_TEST_TOOLS:?}"
if [ ! -c /dev/fuse ]; then
	echo "SKIP: no /dev/fuse on this machine"
	exit 0
fi
mkdir -p "$T/mnt"
"$NETVOL_TEST_TOOLS/hangfs" "$T/mnt" >"$T/hangfs.log" 2>&1 &
fusepid=$!
at_exit "fusermount3 -u -z '$T/mnt' 2>/dev/null; kill -9 $fusepid 2>/dev/null"
n=0
until grep -q " $T/mnt " /proc/mounts; do
	n=$((n + 1))
	[ $n -lt 50 ] || fail "hangfs did not mount: $(cat "$T/hangfs.log")"
	sleep 0.1
done

export NETVOL_STORE="$(nv_store_url hung)" POD_USER_NAME=ida NETVOL_DATASETS=venv
export _NETWORK_VOLUME="$T/mnt" NETVOL_NV_TIMEOUT=1s
mkdir -p "$T/a/venv"
echo data >"$T/a/venv/f"
start=$(date +%s)
assert_exit 0 timeout -s KILL 30 env NETWORK_VOLUME="$T/a" "$NETVOL" sync
assert_contains "$OUT" "did not answer within 1000 ms"
assert_contains "$OUT" "result=uploaded"
assert_exit 0 timeout -s KILL 30 env NETWORK_VOLUME="$T/b" "$NETVOL" restore
assert_contains "$OUT" "usable=false"
assert_eq "$(cat "$T/b/venv/f")" data
[ $(($(date +%s) - start)) -lt 15 ] || fail "took too long with a hung volume"
