#!/bin/sh
# Upgrading the default dataset list loses nothing: pods that synced
# ComfyUI/user and ComfyUI/output as datasets of their own (the earlier
# defaults) get them back inside the ComfyUI dataset that replaced them,
# until ComfyUI has a snapshot of its own.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url earlier)" POD_USER_NAME=ed POD_ID=sess-7 NETVOL_LEGACY=off
mkdir -p "$T/a/ComfyUI/user/default/workflows" "$T/a/ComfyUI/output"
echo '{"nodes": []}' >"$T/a/ComfyUI/user/default/workflows/w.json"
echo png >"$T/a/ComfyUI/output/img.png"
assert_exit 0 env NETVOL_DATASETS="ComfyUI/user:pod,ComfyUI/output:pod" NETWORK_VOLUME="$T/a" "$NETVOL" sync

# the new defaults: ComfyUI is one pod dataset
assert_exit 0 env -u NETVOL_DATASETS NETWORK_VOLUME="$T/b" "$NETVOL" restore
assert_contains "$OUT" "source=earlier_dataset earlier_dataset=ComfyUI/user"
assert_contains "$OUT" "source=earlier_dataset earlier_dataset=ComfyUI/output"
assert_eq "$(cat "$T/b/ComfyUI/user/default/workflows/w.json")" '{"nodes": []}'
assert_eq "$(cat "$T/b/ComfyUI/output/img.png")" png
# another pod of the same user gets none of them
assert_exit 0 env -u NETVOL_DATASETS POD_ID=sess-8 NETWORK_VOLUME="$T/c" "$NETVOL" restore
assert_not_contains "$OUT" "earlier_dataset"
[ -z "$(find "$T/c/ComfyUI" -type f)" ] || fail "another pod got sess-7's files"

# once ComfyUI has its own snapshot, that is what comes back
echo more >"$T/b/ComfyUI/extra.txt"
assert_exit 0 env -u NETVOL_DATASETS NETWORK_VOLUME="$T/b" "$NETVOL" sync
assert_exit 0 env -u NETVOL_DATASETS NETWORK_VOLUME="$T/d" "$NETVOL" restore
assert_not_contains "$OUT" "earlier_dataset"
assert_eq "$(cat "$T/d/ComfyUI/extra.txt")" more
assert_eq "$(cat "$T/d/ComfyUI/output/img.png")" png
