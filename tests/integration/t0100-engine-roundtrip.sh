#!/bin/sh
# A realistic tree goes pod A -> store -> pod B and comes back identical;
# the FIFO is skipped with a warning; `verify` passes.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url rt)" POD_USER_NAME=alice NETVOL_DATASETS=venv
make_tree "$T/a"
assert_exit 0 nv_pod "$T/a" sync
assert_contains "$OUT" "event=walk.skip"
assert_contains "$OUT" "result=uploaded"
touch -r "$T/a/venv" "$T/ref"
rm "$T/a/venv/fifo"
touch -r "$T/ref" "$T/a/venv"
assert_exit 0 nv_pod "$T/b" restore
assert_contains "$OUT" "result=restored"
treecmp "$T/a/venv" "$T/b/venv"
ls -a "$T/b" | grep -q '^\.netvol-stage' && fail "staging left behind"
# only the cache folder besides the dataset
assert_eq "$(ls -A "$T/b" | tr '\n' ' ')" ".netvol venv " "pod root"
assert_exit 0 "$NETVOL" verify
assert_contains "$OUT" "0 problems"
assert_exit 0 "$NETVOL" ls
assert_contains "$OUT" "venv"
assert_exit 0 "$NETVOL" log venv
assert_contains "$OUT" "SNAPSHOT"
