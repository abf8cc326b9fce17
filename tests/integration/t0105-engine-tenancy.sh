#!/bin/sh
# One user's data is never another's (DESIGN rule 7, issue 11): three users
# on one store base; each restores only their own data, a fresh user gets
# empty folders, one user's sync, gc and admin verbs never reach another's
# keys, and every malformed identity is refused (exit 2) before anything is
# read or written. Runs on a file store and, from tests/s3/run.sh, on S3.
. "$(dirname "$0")/lib.sh"

base=$(nv_store_url tenancy)
export NETVOL_STORE="$base" NETVOL_DATASETS="venv,.comfyui,.cache,ComfyUI/custom_nodes,ComfyUI/output:pod"
unset POD_USER_NAME POD_ID _NETWORK_VOLUME || true

# pod USER POD ROOT VERB ARGS...
pod() {
	u=$1 p=$2 r=$3; shift 3
	POD_USER_NAME=$u POD_ID=$p NETWORK_VOLUME=$r "$NETVOL" "$@"
}

# alice's and bob's trees: same paths, different contents
for u in alice bob; do
	d=$T/$u-1
	mkdir -p "$d/venv/comfyui/bin" "$d/.comfyui" "$d/.cache/aws" "$d/ComfyUI/custom_nodes/n" "$d/ComfyUI/output"
	echo "$u venv" >"$d/venv/comfyui/bin/python"
	echo "$u settings" >"$d/.comfyui/settings.json"
	echo "[default] aws_secret_access_key = $u-secret" >"$d/.cache/aws/credentials"
	echo "$u node" >"$d/ComfyUI/custom_nodes/n/__init__.py"
	echo "$u image" >"$d/ComfyUI/output/1.png"
done
echo "only alice" >"$T/alice-1/.cache/alice-only"

assert_exit 0 pod alice sess-1 "$T/alice-1" sync
head_alice=$(pod alice sess-1 "$T/x" log venv | sed -n 2p | cut -c1-64)
[ -n "$head_alice" ] || fail "no snapshot for alice"

# bob's first pod, before bob ever synced: empty folders, nothing of alice's
assert_exit 0 pod bob sess-1 "$T/bob-0" restore
assert_contains "$OUT" "result=fresh_empty"
assert_not_contains "$OUT" "result=restored"
for ds in venv .comfyui .cache ComfyUI/custom_nodes ComfyUI/output; do
	[ -d "$T/bob-0/$ds" ] || fail "bob's $ds was not created"
	[ -z "$(ls -A "$T/bob-0/$ds")" ] || fail "bob's fresh $ds holds: $(ls -A "$T/bob-0/$ds")"
done
! grep -rq alice "$T/bob-0" || fail "bob's pod got alice's data"

# bob syncs his own data: alice's HEAD does not move
assert_exit 0 pod bob sess-1 "$T/bob-1" sync
assert_eq "$(pod alice sess-1 "$T/x" log venv | sed -n 2p | cut -c1-64)" "$head_alice" "bob's sync moved alice's HEAD"
[ "$(pod bob sess-1 "$T/x" log venv | sed -n 2p | cut -c1-64)" != "$head_alice" ] || fail "bob shares alice's snapshot"

# each restores their own, even with the same POD_ID
for u in alice bob; do
	assert_exit 0 pod $u sess-1 "$T/$u-2" restore
	assert_eq "$(cat "$T/$u-2/venv/comfyui/bin/python")" "$u venv"
	assert_eq "$(cat "$T/$u-2/.comfyui/settings.json")" "$u settings"
	assert_eq "$(cat "$T/$u-2/.cache/aws/credentials")" "[default] aws_secret_access_key = $u-secret"
	assert_eq "$(cat "$T/$u-2/ComfyUI/custom_nodes/n/__init__.py")" "$u node"
	assert_eq "$(cat "$T/$u-2/ComfyUI/output/1.png")" "$u image"
done
[ -e "$T/alice-2/.cache/alice-only" ] || fail "alice lost a file"
[ ! -e "$T/bob-2/.cache/alice-only" ] || fail "bob got alice's file"

# a third user: all empty; a user whose name is a prefix of another's too
for u in carol ali al.ice; do
	assert_exit 0 pod "$u" sess-1 "$T/$u" restore
	[ -z "$(find "$T/$u" -type f)" ] || fail "$u got files: $(find "$T/$u" -type f)"
done

# admin verbs: one user at a time unless asked
assert_exit 0 env POD_USER_NAME=alice "$NETVOL" ls
assert_contains "$OUT" "venv"
assert_exit 0 env POD_USER_NAME=alice "$NETVOL" ls --user bob
n_bob=$(printf '%s\n' "$OUT" | grep -c ' - \| sess-1 ')
assert_eq "$n_bob" 5 "datasets listed for bob"
assert_exit 0 "$NETVOL" ls --all-users
assert_contains "$OUT" "USER"
assert_eq "$(printf '%s\n' "$OUT" | grep -c '^alice ')" 5 "alice's rows in --all-users"
assert_eq "$(printf '%s\n' "$OUT" | grep -c '^bob ')" 5 "bob's rows in --all-users"
assert_exit 2 "$NETVOL" ls
assert_contains "$OUT" "POD_USER_NAME"
assert_exit 2 "$NETVOL" ls --user ../bob
assert_contains "$OUT" "--user"
assert_exit 2 "$NETVOL" ls --user bob --all-users
assert_exit 0 env POD_USER_NAME=bob "$NETVOL" verify
assert_contains "$OUT" "0 problems"
assert_exit 0 "$NETVOL" verify --all-users
assert_contains "$OUT" "0 problems"
alice_ls=$(env POD_USER_NAME=alice "$NETVOL" ls)

# gc of bob never touches alice: another sync of bob so that gc has work
echo "bob venv 2" >"$T/bob-1/venv/comfyui/bin/python"
assert_exit 0 pod bob sess-1 "$T/bob-1" sync
if [ "${NETVOL_TEST_S3:-0}" != 1 ]; then
	root=${base#file://}
	before=$(cd "$root/alice" && find . | sort)
fi
assert_exit 0 env POD_USER_NAME=bob "$NETVOL" gc --keep-last 1 --grace 0
assert_contains "$OUT" "snapshots_deleted=1"
assert_not_contains "$OUT" "alice"
assert_eq "$(env POD_USER_NAME=alice "$NETVOL" ls)" "$alice_ls" "bob's gc changed alice's listing"
assert_exit 0 env POD_USER_NAME=alice "$NETVOL" verify
assert_contains "$OUT" "0 problems"
if [ "${NETVOL_TEST_S3:-0}" != 1 ]; then
	assert_eq "$(cd "$root/alice" && find . | sort)" "$before" "bob's gc touched alice's keys"
	# gc --user alice from bob's pod only touches alice's
	bob_before=$(cd "$root/bob" && find . | sort)
	assert_exit 0 env POD_USER_NAME=bob "$NETVOL" gc --keep-last 1 --grace 0 --user alice
	assert_eq "$(cd "$root/bob" && find . | sort)" "$bob_before" "gc --user alice touched bob's keys"
fi
assert_exit 0 pod alice sess-1 "$T/alice-3" restore
assert_eq "$(cat "$T/alice-3/venv/comfyui/bin/python")" "alice venv"

# every malformed identity: exit 2, the variable named, nothing read or written
mkdir -p "$T/empty-pod"
for v in "" "." ".." "a/b" "../alice" "a..b" "$(printf 'a\tb')" "$(printf 'a\033[2Jb')" ".hidden" \
	"-rf" "al ice" "al%2Fice" "$(head -c 129 /dev/zero | tr '\0' a)"; do
	for var in POD_USER_NAME POD_ID; do
		if [ $var = POD_USER_NAME ]; then u=$v p=sess-1; else u=alice p=$v; fi
		for verb in restore sync; do
			assert_exit 2 pod "$u" "$p" "$T/empty-pod" $verb
			assert_contains "$OUT" "$var" "message for $var='$v'"
			assert_not_contains "$OUT" "event=" "log lines for $var='$v' (something ran)"
		done
	done
done
[ -z "$(ls -A "$T/empty-pod")" ] || fail "a refused identity wrote into the pod: $(ls -A "$T/empty-pod")"
if [ "${NETVOL_TEST_S3:-0}" != 1 ]; then
	assert_eq "$(ls "$root" | sort | tr '\n' ' ')" "al.ice ali alice bob carol " "users in the store"
fi

# no user at all: exit 2 naming POD_USER_NAME, for every verb that reads data
for verb in restore sync; do
	assert_exit 2 env -u POD_USER_NAME POD_ID=sess-1 NETWORK_VOLUME="$T/empty-pod" "$NETVOL" $verb
	assert_contains "$OUT" "POD_USER_NAME is not set"
done
assert_exit 2 env -u POD_USER_NAME NETWORK_VOLUME="$T/empty-pod" "$NETVOL" gc --keep-last 1
assert_contains "$OUT" "POD_USER_NAME"
# a pod-scoped dataset needs POD_ID
assert_exit 2 env POD_USER_NAME=alice NETWORK_VOLUME="$T/empty-pod" "$NETVOL" restore
assert_contains "$OUT" "POD_ID"

# the default store: s3://$AWS_BUCKET_NAME/pod_sessions/$POD_USER_NAME
assert_exit 2 env -u NETVOL_STORE AWS_BUCKET_NAME=my-bucket POD_ID=s NETWORK_VOLUME="$T/dry" "$NETVOL" restore
assert_contains "$OUT" "s3://my-bucket/pod_sessions/<POD_USER_NAME>"

# format 1 kept user datasets below the base for everyone: never restored, and said
if [ "${NETVOL_TEST_S3:-0}" != 1 ]; then
	mkdir -p "$root/user/venv"
	cp "$root/alice/user/venv/HEAD" "$root/user/venv/HEAD"
	assert_exit 0 pod dave sess-1 "$T/dave" restore venv
	assert_contains "$OUT" "event=restore.format1_data_ignored dataset=venv key=user/venv/HEAD"
	assert_contains "$OUT" "result=fresh_empty"
	[ -z "$(ls -A "$T/dave/venv")" ] || fail "format-1 data was restored"
	assert_exit 0 "$NETVOL" ls --all-users
	assert_not_contains "$OUT" "dave"
fi
echo "tenancy: ok"
