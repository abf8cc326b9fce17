#!/bin/sh
# Exit codes are a contract: 0 ok, 1 a dataset failed, 2 usage or
# configuration; every malformed variable is named in the message.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url codes)" POD_USER_NAME=fay NETVOL_DATASETS=venv
mkdir -p "$T/p"
assert_exit 0 nv_pod "$T/p" restore --help
assert_contains "$OUT" "usage: netvol restore"
assert_exit 0 nv_pod "$T/p" sync --help
assert_exit 2 nv_pod "$T/p" restore --bogus
assert_exit 2 nv_pod "$T/p" restore not-a-dataset
assert_contains "$OUT" "'not-a-dataset' is not a configured dataset"
assert_exit 2 env -u NETWORK_VOLUME "$NETVOL" restore
assert_contains "$OUT" "NETWORK_VOLUME is not set"
assert_exit 2 env -u NETVOL_STORE NETWORK_VOLUME="$T/p" "$NETVOL" sync
assert_contains "$OUT" "no store configured"
assert_exit 2 env NETVOL_DATASETS="ComfyUI/output:pod" NETWORK_VOLUME="$T/p" "$NETVOL" restore
assert_contains "$OUT" "POD_ID is not set"
for kv in NETWORK_VOLUME=rel NETVOL_STORE=ftp://x NETVOL_NV_TIMEOUT=soon NETVOL_DEADLINE=x \
	NETVOL_PARALLEL=0 NETVOL_ZSTD_LEVEL=99 NETVOL_LOG_FORMAT=xml NETVOL_LOG_LEVEL=loud \
	NETVOL_DATASETS=../x AWS_MAX_ATTEMPTS=no NETVOL_S3_ADDRESSING=up POD_ID=a/b \
	_NETWORK_VOLUME=rel; do
	name=${kv%%=*}
	assert_exit 2 env NETWORK_VOLUME="$T/p" "$kv" "$NETVOL" sync
	assert_contains "$OUT" "$name" "message for $kv"
done
# a dataset that fails (its data is unreadable) -> 1, the others still run
export NETVOL_DATASETS="venv,data:user"
mkdir -p "$T/p/venv" "$T/p/data"
echo ok >"$T/p/data/f"
ln -s "$T/p/venv/nowhere" "$T/p/venv/x"
rmdir "$T/p/venv" 2>/dev/null || true
rm -rf "$T/p/venv"
ln -s "$T/missing-dir" "$T/p/venv"
assert_exit 1 nv_pod "$T/p" sync
assert_contains "$OUT" "event=sync.failed dataset=venv"
assert_contains "$OUT" "event=sync.done dataset=data"
