#!/bin/sh
# No lost updates between pods of one user (DESIGN rule 8): three pods
# restored from the same snapshot each add a custom node and sync at the
# same time; the final HEAD has every node (merges, both parents shown by
# netvol log). A deletion on one side is kept; a file changed by two pods
# keeps the later sync's version with a warning naming the path, the other
# version still restorable from history.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url merge)" POD_USER_NAME=mia
export NETVOL_DATASETS="ComfyUI/custom_nodes:user"
ds=ComfyUI/custom_nodes

mkdir -p "$T/p0/$ds/base_node"
echo "shared v0" >"$T/p0/$ds/base_node/shared.py"
echo "old" >"$T/p0/$ds/base_node/obsolete.py"
assert_exit 0 nv_pod "$T/p0" sync

for i in 1 2 3; do
	assert_exit 0 nv_pod "$T/p$i" restore
done
for i in 1 2 3; do
	mkdir -p "$T/p$i/$ds/node_$i"
	head -c $((i * 100000)) /dev/urandom >"$T/p$i/$ds/node_$i/weights.bin"
	echo "node $i" >"$T/p$i/$ds/node_$i/__init__.py"
done
rm "$T/p2/$ds/base_node/obsolete.py"
for i in 1 2 3; do
	nv_pod "$T/p$i" sync >"$T/sync$i.log" 2>&1 &
	eval "pid$i=$!"
done
for i in 1 2 3; do
	eval "wait \$pid$i" || fail "pod $i sync failed: $(cat "$T/sync$i.log")"
done
merges=$(cat "$T"/sync?.log | grep -c 'event=sync.merged' || true)
[ "$merges" -ge 1 ] || fail "three concurrent syncs and no merge: $(cat "$T"/sync?.log)"

assert_exit 0 nv_pod "$T/final" restore
for i in 1 2 3; do
	[ -f "$T/final/$ds/node_$i/__init__.py" ] || fail "node_$i lost: $(cat "$T"/sync?.log)"
	cmp "$T/p$i/$ds/node_$i/weights.bin" "$T/final/$ds/node_$i/weights.bin"
done
[ -f "$T/final/$ds/base_node/shared.py" ] || fail "base node lost"
[ ! -e "$T/final/$ds/base_node/obsolete.py" ] || fail "pod 2's deletion lost"
assert_exit 0 nv_pod "$T/final" log "$ds"
assert_contains "$OUT" "merge of"

# the same file changed by two pods: the later sync keeps its own
assert_exit 0 nv_pod "$T/q1" restore
assert_exit 0 nv_pod "$T/q2" restore
echo "shared by q1" >"$T/q1/$ds/base_node/shared.py"
echo "shared by q2" >"$T/q2/$ds/base_node/shared.py"
assert_exit 0 nv_pod "$T/q1" sync
assert_exit 0 nv_pod "$T/q2" sync
assert_contains "$OUT" "event=sync.merge_conflict dataset=$ds path=base_node/shared.py kept=ours"
assert_exit 0 nv_pod "$T/q3" restore
assert_eq "$(cat "$T/q3/$ds/base_node/shared.py")" "shared by q2"
for i in 1 2 3; do
	[ -f "$T/q3/$ds/node_$i/__init__.py" ] || fail "node_$i lost by the conflict merge"
done
# q1's version is in the history
found=0
for id in $(nv_pod "$T/q3" log "$ds" | awk 'NR > 1 && length($1) == 64 {print $1}'); do
	rm -rf "$T/h"
	mkdir -p "$T/h"
	nv_pod "$T/h" restore --snapshot "$id" "$ds" >"$T/hl" 2>&1 || { cat "$T/hl"; continue; }
	[ "$(cat "$T/h/$ds/base_node/shared.py" 2>/dev/null)" = "shared by q1" ] && found=1
done
# q1's snapshot is the merge's first parent, which log follows
assert_eq "$found" 1 "q1's version is not restorable from the history"
echo "t0196: ok merges=$merges"
