#!/bin/sh
# After a legacy restore, sync writes normal snapshots; from then on restore
# uses them and never reads the legacy objects again (they are made
# unreadable to prove it), and they are left as they were.
. "$(dirname "$0")/lib.sh"

export NETVOL_LEGACY_STORE="$(nv_legacy_store good)"
export NETVOL_STORE="$(nv_store_url rt)" POD_USER_NAME=alice POD_ID=pod-a1
sums() { (cd "$T/legacy-good/store/alice" && find . -type f | sort | xargs sha256sum); }
[ "${NETVOL_TEST_S3:-0}" = 1 ] || before=$(sums)
assert_exit 0 nv_pod "$T/a" restore
assert_contains "$OUT" "source=legacy"
assert_exit 0 nv_pod "$T/a" sync
assert_eq "$(echo "$OUT" | grep -c 'event=sync.done .*result=uploaded')" 5 "datasets synced"
[ "${NETVOL_TEST_S3:-0}" = 1 ] || assert_eq "$(sums)" "$before" "legacy objects changed"
# the legacy objects are gone (to this test): a restore must not need them
if [ "${NETVOL_TEST_S3:-0}" = 1 ]; then
	export NETVOL_LEGACY_STORE="s3://${NETVOL_TEST_S3_BUCKET}/nonexistent-legacy-$$"
else
	mv "$T/legacy-good/store" "$T/legacy-good/store.away"
	mkdir "$T/legacy-good/store"
	chmod 000 "$T/legacy-good/store"
	at_exit "chmod 755 '$T/legacy-good/store'"
fi
assert_exit 0 nv_pod "$T/b" restore
assert_not_contains "$OUT" "source=legacy"
assert_not_contains "$OUT" "legacy_object"
assert_eq "$(echo "$OUT" | grep -c 'event=restore.done .*result=restored .*snapshot=')" 5 "from snapshots"
for ds in venv .comfyui .cache ComfyUI/custom_nodes; do
	legacy_check alice "$ds" "$T/b/$ds"
done
legacy_check alice ComfyUI "$T/b/ComfyUI" custom_nodes
# a dataset still without a snapshot reads the legacy root: with it
# unreadable, that restore fails instead of making an empty folder
if [ "${NETVOL_TEST_S3:-0}" != 1 ] && [ "$(id -u)" != 0 ]; then
	assert_exit 1 env NETVOL_DATASETS=extra:pod NETWORK_VOLUME="$T/c" "$NETVOL" restore
fi
echo ok
