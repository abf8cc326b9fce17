#!/bin/sh
# Restore never overwrites a folder that holds data; an empty folder or a
# stale symlink is replaced; a fresh user (no snapshot) gets an empty folder.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url keep)" POD_USER_NAME=dan NETVOL_DATASETS="venv,.cache"
mkdir -p "$T/src/venv" "$T/src/.cache"
echo v1 >"$T/src/venv/a"
echo c >"$T/src/.cache/c"
assert_exit 0 nv_pod "$T/src" sync

# fresh user: nothing in the store
assert_exit 0 env NETVOL_STORE="$(nv_store_url empty)" NETWORK_VOLUME="$T/fresh" "$NETVOL" restore
assert_contains "$OUT" "result=fresh_empty"
[ -d "$T/fresh/venv" ] && [ -z "$(ls -A "$T/fresh/venv")" ] || fail "want an empty venv"

# local data kept and reported
mkdir -p "$T/p/venv" "$T/p/.cache"
echo local >"$T/p/venv/mine"
assert_exit 0 nv_pod "$T/p" restore
assert_contains "$OUT" "result=kept_local_data"
assert_eq "$(ls "$T/p/venv")" "mine" "local data untouched"
assert_eq "$(cat "$T/p/.cache/c")" "c" "empty folder replaced by the restore"

# a stale symlink is replaced by the restored folder
mkdir -p "$T/q"
ln -s /nonexistent "$T/q/venv"
assert_exit 0 nv_pod "$T/q" restore venv
[ -d "$T/q/venv" ] && [ ! -L "$T/q/venv" ] || fail "stale symlink not replaced"
assert_eq "$(cat "$T/q/venv/a")" "v1"
ls -A "$T/q" | grep -q stage && fail "staging left behind"
true
