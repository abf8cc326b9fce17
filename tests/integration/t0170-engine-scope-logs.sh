#!/bin/sh
# Pod-scoped datasets come back only to the same POD_ID; JSON logs are one
# JSON object per line; secrets never reach the logs; install copies the
# binary for the preStop hook.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url scope)" POD_USER_NAME=hal
export NETVOL_DATASETS="ComfyUI/output:pod,.comfyui"
mkdir -p "$T/a/ComfyUI/output" "$T/a/.comfyui"
echo img >"$T/a/ComfyUI/output/1.png"
echo s >"$T/a/.comfyui/s"
assert_exit 0 env POD_ID=pod-a NETWORK_VOLUME="$T/a" "$NETVOL" sync
assert_exit 0 env POD_ID=pod-a NETWORK_VOLUME="$T/b" "$NETVOL" restore
assert_eq "$(cat "$T/b/ComfyUI/output/1.png")" img
assert_exit 0 env POD_ID=pod-b NETWORK_VOLUME="$T/c" "$NETVOL" restore
[ -z "$(ls -A "$T/c/ComfyUI/output")" ] || fail "another pod got pod-a's output"
assert_eq "$(cat "$T/c/.comfyui/s")" s

# JSON logs
assert_exit 0 env POD_ID=pod-a NETVOL_LOG_FORMAT=json AWS_SECRET_ACCESS_KEY=TopSecretValue123 \
	AWS_ACCESS_KEY_ID=AKIDEXAMPLE NETWORK_VOLUME="$T/a" "$NETVOL" sync
printf '%s\n' "$OUT" | python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    obj = json.loads(line)
    assert "ts" in obj and "level" in obj and "event" in obj, obj
    n += 1
assert n >= 3, n
' || fail "log lines are not JSON objects: $OUT"
assert_not_contains "$OUT" "TopSecretValue123" "logs"

# install
assert_exit 0 "$NETVOL" install "$T/bin"
[ -x "$T/bin/netvol" ] || fail "not installed"
assert_eq "$(readlink "$T/bin/netvol-sync")" netvol
assert_exit 0 "$T/bin/netvol-sync" --help
assert_contains "$OUT" "usage: netvol sync"
assert_exit 0 env POD_ID=pod-a NETWORK_VOLUME="$T/d" "$NETVOL" restore --install-to "$T/bin2" .comfyui
[ -x "$T/bin2/netvol" ] || fail "--install-to did not install"

# long transfers log progress: bytes done/total, MB/s, ETA
export NETVOL_DATASETS=big NETVOL_PROGRESS_INTERVAL=1ms
mkdir -p "$T/big/big"
i=0
while [ $i -lt 12 ]; do head -c 2000000 /dev/urandom >"$T/big/big/f$i"; i=$((i + 1)); done
mkdir -p "$T/nvp"
assert_exit 0 env _NETWORK_VOLUME="$T/nvp" NETWORK_VOLUME="$T/big" "$NETVOL" sync
for op in copy_to_nv sync; do
	line=$(printf '%s\n' "$OUT" | grep "event=progress op=$op " | head -n 1)
	[ -n "$line" ] || fail "no progress line for $op: $OUT"
	assert_contains "$line" "bytes_total=24000000"
	assert_contains "$line" "mb_per_s="
	assert_contains "$line" "eta_s="
done
assert_exit 0 env NETWORK_VOLUME="$T/big2" "$NETVOL" restore
assert_contains "$OUT" "event=progress op=restore"
