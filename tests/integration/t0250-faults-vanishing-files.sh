#!/bin/sh
# Files removed or replaced while `netvol sync` runs (the preStop hook runs
# while ComfyUI still writes its temp files): the sync still succeeds,
# leaving only those files out with a warning, instead of failing the whole
# dataset and losing every other change of the pod. Each file open is slowed
# by strace so the removal lands between the walk and the read (the strace
# log tells when the walk is over); skipped without strace.
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || { echo "SKIP: no strace"; exit 0; }

export NETVOL_STORE="$(nv_store_url vanish)" POD_USER_NAME=vic NETVOL_DATASETS=data:user
mkdir -p "$T/p/data/sub"
i=10
while [ $i -lt 50 ]; do echo "keep $i" >"$T/p/data/f$i"; i=$((i + 1)); done
echo gone >"$T/p/data/sub/zz-removed"
echo gone >"$T/p/data/zz-replaced"
echo hard >"$T/p/data/zz-hard"
ln "$T/p/data/zz-hard" "$T/p/data/zz-hard2"

# (LeakSanitizer cannot run under ptrace)
NETWORK_VOLUME="$T/p" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -qq -o "$T/trace" \
	-e trace=openat2 -e inject=openat2:delay_enter=80000 "$NETVOL" sync >"$T/sync.log" 2>&1 &
pid=$!
n=0
until grep -q '"f1[0-9]"' "$T/trace" 2>/dev/null || [ $n -ge 500 ]; do sleep 0.02; n=$((n + 1)); done
[ $n -lt 500 ] || { wait $pid; fail "no file was read: $(cat "$T/sync.log")"; }
rm "$T/p/data/sub/zz-removed" "$T/p/data/zz-hard"
rm "$T/p/data/zz-replaced"
ln -s f10 "$T/p/data/zz-replaced"
set +e
wait $pid
rc=$?
set -e
OUT=$(cat "$T/sync.log")
[ $rc = 0 ] || fail "sync exited $rc: $OUT"
assert_contains "$OUT" "event=sync.vanished dataset=data path=sub/zz-removed"
assert_contains "$OUT" "path=zz-replaced"
assert_contains "$OUT" "result=uploaded"
# everything else is in the snapshot; the vanished files are not
assert_exit 0 nv_pod "$T/r" restore
i=10
while [ $i -lt 50 ]; do assert_eq "$(cat "$T/r/data/f$i")" "keep $i" "f$i"; i=$((i + 1)); done
[ ! -e "$T/r/data/sub/zz-removed" ] || fail "a removed file was restored"
[ -d "$T/r/data/sub" ] || fail "the folder of a removed file is missing"
assert_eq "$(cat "$T/r/data/zz-hard2")" "hard" "the other name of a removed hardlink"
# (its removed first name comes back too: the walk saw it, and keeping it
# is how the data of the other name is kept)
# the next sync takes what is there now
assert_exit 0 nv_pod "$T/p" sync
rm -rf "$T/r2"
assert_exit 0 nv_pod "$T/r2" restore
treecmp "$T/p/data" "$T/r2/data"
echo "faults: vanishing files: sync ok, 2 left out with a warning, bytes_lost=0"

# a symlink removed between its stat and its readlink (strace makes every
# readlinkat fail with ENOENT, as a removal in that window does): the
# symlinks are left out, the sync still succeeds
ln -s f10 "$T/p/data/link-a"
ln -s sub "$T/p/data/link-b"
echo new >"$T/p/data/f10"
assert_exit 0 env NETWORK_VOLUME="$T/p" ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
	strace -f -qq -o /dev/null -e trace=readlinkat -e inject=readlinkat:error=ENOENT "$NETVOL" sync
assert_contains "$OUT" "result=uploaded"
rm -rf "$T/r3"
assert_exit 0 nv_pod "$T/r3" restore
assert_eq "$(cat "$T/r3/data/f10")" "new" "the change next to the vanished symlinks"
[ ! -e "$T/r3/data/link-a" ] && [ ! -L "$T/r3/data/link-a" ] || fail "a vanished symlink was restored"
echo "faults: walk race: sync ok with its symlinks gone between stat and readlink"
