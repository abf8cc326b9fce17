#!/bin/sh
# Hostile or damaged store data is refused with an error naming the entry
# or object, exit 1; nothing is written outside the target and nothing
# half-restored becomes visible.
. "$(dirname "$0")/lib.sh"
: "${NETVOL_TEST_TOOLS:?}"
CRAFT="$NETVOL_TEST_TOOLS/nvcraft"

export NETVOL_STORE="$(nv_store_url hostile)" POD_USER_NAME=eve NETVOL_DATASETS=venv
store=${NETVOL_STORE#file://}/$POD_USER_NAME
[ "${NETVOL_TEST_S3:-0}" = 1 ] && exit 0 # this test edits store files directly

check_refused() { # NAME NEEDLE: restore must fail and leave nothing
	assert_exit 1 nv_pod "$T/pod" restore
	assert_contains "$OUT" "$2" "$1"
	assert_contains "$OUT" "event=restore.failed"
	[ ! -e "$T/pod/venv" ] || fail "$1: target was created"
	[ -z "$(ls -A "$T/pod" | grep -v '^\.netvol$')" ] || fail "$1: leftovers: $(ls -A "$T/pod")"
	[ ! -e "$T/escaped" ] || fail "$1: wrote outside the target"
}

mkdir -p "$T/pod"
printf 'f\t/tmp/absolute\t1\n' | "$CRAFT" "$NETVOL_STORE/$POD_USER_NAME" user/venv/
check_refused absolute "absolute path"
printf 'd\t..\nf\t../escaped\t1\n' | "$CRAFT" "$NETVOL_STORE/$POD_USER_NAME" user/venv/
check_refused dotdot "'..'"
printf 'l\tlink\t%s\nf\tlink/escaped\t1\n' "$T" | "$CRAFT" "$NETVOL_STORE/$POD_USER_NAME" user/venv/
check_refused through-symlink "link/escaped"
printf 'f\tbig\t99999999999999\n' | "$CRAFT" "$NETVOL_STORE/$POD_USER_NAME" user/venv/
check_refused absurd-size "absurd"
printf 'f\ta\t1\nf\ta\t1\n' | "$CRAFT" "$NETVOL_STORE/$POD_USER_NAME" user/venv/
check_refused duplicate "duplicate"

# a HEAD that names a missing snapshot
rm -rf "$store"
make_tree "$T/src"
rm "$T/src/venv/fifo"
assert_exit 0 nv_pod "$T/src" sync
rm "$store"/user/venv/snapshots/*
check_refused missing-snapshot "missing from the store"

# a corrupted pack: one flipped byte in a blob
rm -rf "$store"
assert_exit 0 nv_pod "$T/src" sync
pack=$(ls "$store"/user/venv/packs/*.pack | head -n 1)
size=$(stat -c %s "$pack")
printf 'X' | dd of="$pack" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
check_refused corrupt-pack "code=CORRUPT"
assert_exit 1 "$NETVOL" verify
assert_contains "$OUT" "verify.problem"

# a truncated pack (a cut zstd frame)
rm -rf "$store"
assert_exit 0 nv_pod "$T/src" sync
pack=$(ls -S "$store"/user/venv/packs/*.pack | head -n 1)
truncate -s $(($(stat -c %s "$pack") - 100)) "$pack"
check_refused truncated-pack "shorter than expected"

# a garbage HEAD
echo garbage >"$store/user/venv/HEAD"
check_refused bad-head "HEAD"

# a pack whose index never got stored (a sync killed in between) is garbage,
# not damage: verify warns and passes, gc removes it
rm -rf "$store"
assert_exit 0 nv_pod "$T/src" sync
printf 'NVPACK\000\001orphan blob bytes' >"$T/orphan"
orphan="$store/user/venv/packs/$(sha256sum "$T/orphan" | cut -c1-64).pack"
cp "$T/orphan" "$orphan"
assert_exit 0 "$NETVOL" verify
assert_contains "$OUT" "event=verify.note"
assert_contains "$OUT" "a pack without its index"
assert_exit 0 "$NETVOL" gc --keep-last 1 --grace 0
[ ! -e "$orphan" ] || fail "gc left the unindexed pack"
# but a pack a snapshot needs may not lose its index
rm "$store"/user/venv/packs/*.idx
assert_exit 1 "$NETVOL" verify
assert_contains "$OUT" "verify.problem"
