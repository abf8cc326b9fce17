#!/bin/sh
# NETVOL_LEGACY=off, no POD_USER_NAME, bad values, a folder with data.
. "$(dirname "$0")/lib.sh"

export NETVOL_LEGACY_STORE="$(nv_legacy_store good)" POD_ID=pod-a1 NETVOL_DATASETS=.comfyui
export NETVOL_STORE="$(nv_store_url cfg)" POD_USER_NAME=alice
assert_exit 0 env NETVOL_LEGACY=off NETWORK_VOLUME="$T/a" "$NETVOL" restore
assert_contains "$OUT" 'event=legacy enabled=false reason="NETVOL_LEGACY=off"'
assert_contains "$OUT" "result=fresh_empty"
# no user: every store key is scoped by the user, so nothing runs at all
assert_exit 2 env -u POD_USER_NAME NETWORK_VOLUME="$T/b" "$NETVOL" restore
assert_contains "$OUT" "POD_USER_NAME is not set"
[ ! -e "$T/b" ] || fail "a restore without a user made the pod storage"
assert_exit 0 env -u NETVOL_LEGACY_STORE NETWORK_VOLUME="$T/c" "$NETVOL" restore
assert_contains "$OUT" 'reason="no NETVOL_LEGACY_STORE or AWS_BUCKET_NAME"'
assert_exit 2 env NETVOL_LEGACY=maybe NETWORK_VOLUME="$T/d" "$NETVOL" restore
assert_contains "$OUT" "NETVOL_LEGACY='maybe'"
assert_exit 2 env NETVOL_LEGACY_STORE=ftp://x NETWORK_VOLUME="$T/d" "$NETVOL" restore
assert_contains "$OUT" "NETVOL_LEGACY_STORE"
# a user without a legacy folder: none is created
assert_exit 0 env POD_USER_NAME=nobody-here NETWORK_VOLUME="$T/n" "$NETVOL" restore
if [ "${NETVOL_TEST_S3:-0}" != 1 ]; then
	assert_contains "$OUT" 'reason="the user has no legacy folder"'
	[ ! -e "$T/legacy-good/store/nobody-here" ] || fail "a legacy folder was created"
fi
assert_contains "$OUT" "result=fresh_empty"
# explicit auto, and a folder that already holds data is kept as it is
mkdir -p "$T/e/.comfyui" && echo mine >"$T/e/.comfyui/mine"
assert_exit 0 env NETVOL_LEGACY=auto NETWORK_VOLUME="$T/e" "$NETVOL" restore
assert_contains "$OUT" "result=kept_local_data"
assert_not_contains "$OUT" "legacy_object"
assert_eq "$(ls -A "$T/e/.comfyui")" "mine" "local data"
# an empty folder is filled
mkdir -p "$T/f/.comfyui"
assert_exit 0 env NETWORK_VOLUME="$T/f" "$NETVOL" restore
assert_contains "$OUT" "source=legacy"
legacy_check alice .comfyui "$T/f/.comfyui"
# NETVOL_DEADLINE stops a legacy restore cleanly: nothing visible
assert_exit 1 env NETVOL_DEADLINE=1ms NETWORK_VOLUME="$T/h" "$NETVOL" restore
assert_contains "$OUT" "code=DEADLINE"
[ ! -e "$T/h/.comfyui" ] || fail "a folder after the deadline"
ls -A "$T/h" | grep -q '^\.netvol-stage' && fail "staging left after the deadline"
# --snapshot never falls back to legacy data
assert_exit 1 env NETWORK_VOLUME="$T/g" "$NETVOL" restore --snapshot "$(printf '%064d' 0)" .comfyui
assert_contains "$OUT" "event=legacy enabled=false reason=--snapshot"
assert_not_contains "$OUT" "legacy_object"
echo ok
