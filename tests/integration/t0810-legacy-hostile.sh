#!/bin/sh
# Damaged or hostile legacy objects (each hazard of LEGACY.md): the dataset
# fails (exit 1) with a message naming the object and the member, nothing is
# written outside the target, no half-restored or staging folder is left,
# and the objects are not changed. Other datasets are unaffected.
. "$(dirname "$0")/lib.sh"

export NETVOL_LEGACY_STORE="$(nv_legacy_store hostile)" POD_ID=p1
mkdir -p "$T/outside"
sums() { [ "${NETVOL_TEST_S3:-0}" = 1 ] || (cd "$T/legacy-hostile/store" && find . -type f | sort | xargs sha256sum); }
before=$(sums)
n=0
while read -r user ds words; do
	n=$((n + 1))
	export NETVOL_STORE="$(nv_store_url "$user")" POD_USER_NAME=$user
	root=$T/outside/pod-$user/x
	assert_exit 1 env NETVOL_DATASETS="$ds,ComfyUI/custom_nodes" NETWORK_VOLUME="$root" "$NETVOL" restore
	for w in $words; do
		echo "$OUT" | grep "event=restore.failed dataset=$ds " | grep -qF -- "$w" ||
			fail "$user: the error does not name '$w': $OUT"
	done
	echo "$OUT" | grep "event=restore.done dataset=ComfyUI/custom_nodes " | grep -q "result=fresh_empty" ||
		fail "$user: the other dataset was not restored: $OUT"
	[ ! -e "$root/$ds" ] || fail "$user: '$ds' is there after a failed restore: $(ls -la "$root/$ds")"
	ls -A "$root" | grep -q '^\.netvol-stage' && fail "$user: staging folder left"
	# only what netvol made: the empty custom_nodes and its cache folder
	extra=$(cd "$T/outside" && find . -mindepth 1 | grep -v "^./pod-$user/x\$" | grep -v "^./pod-$user\$" |
		grep -v "^./pod-$user/x/ComfyUI" | grep -v "^./pod-$user/x/.netvol" | grep -v '^./pod-h-' || true)
	assert_eq "$extra" "" "$user: written outside the target"
	rm -rf "$T/outside/pod-$user"
done <"$T/legacy-hostile/hostile.txt"
[ "$n" -ge 15 ] || fail "only $n hostile cases"
[ ! -e /tmp/netvol-abs-escape ] || fail "an absolute member was written"
[ ! -e "$T/escaped" ] && [ ! -e "$T/outside/escaped" ] || fail "a member escaped"
assert_eq "$(sums)" "$before" "legacy objects changed"
echo "ok ($n cases)"
