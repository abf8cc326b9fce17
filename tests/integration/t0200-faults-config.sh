#!/bin/sh
# Every configuration variable of docs/CONFIG.md, malformed in turn, for
# both restore and sync: exit 2, a message that names the variable, and
# nothing done (no folder created in the pod storage, nothing stored).
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="file://$T/store" POD_USER_NAME=uma POD_ID=pod-1 NETVOL_DATASETS=data:user
mkdir -p "$T/p/data"
echo keep >"$T/p/data/f"
n=0
# NAME<TAB>malformed value<TAB>what the message must also say (optional)
while IFS='	' read -r name value extra; do
	case "$name" in '' | '#'*) continue ;; esac
	value=$(printf '%b' "$value")
	for verb in restore sync; do
		[ "$name" = NETWORK_VOLUME ] && root=$value || root="$T/p"
		# AWS_BUCKET_NAME makes the default store when NETVOL_STORE is unset
		[ "$name" = AWS_BUCKET_NAME ] && unset_store="-u NETVOL_STORE" || unset_store=""
		# shellcheck disable=SC2086
		assert_exit 2 env $unset_store NETWORK_VOLUME="$root" "$name=$value" "$NETVOL" "$verb"
		assert_not_contains "$OUT" "s3cr3t" "$verb with $name"
		assert_contains "$OUT" "$name" "$verb with $name='$value'"
		[ -z "$extra" ] || assert_contains "$OUT" "$extra" "$verb with $name='$value'"
		n=$((n + 1))
	done
done <<'TABLE'
NETWORK_VOLUME	rel
NETWORK_VOLUME	./p
_NETWORK_VOLUME	rel
_NETWORK_VOLUME	nv/x
NETVOL_STORE	ftp://x
NETVOL_STORE	file://relative
NETVOL_STORE	s3://
NETVOL_STORE	/abs/no/scheme
NETVOL_STORE	file://
POD_USER_NAME	a/b
POD_USER_NAME	..
POD_USER_NAME	a\nb
POD_ID	a/b
POD_ID	.
POD_ID	x\ny
NETVOL_DATASETS	../x
NETVOL_DATASETS	/abs
NETVOL_DATASETS	a//b
NETVOL_DATASETS	a/./b
NETVOL_DATASETS	a:bogus
NETVOL_DATASETS	a,a
NETVOL_DATASETS	a,a/b
NETVOL_DATASETS	a:
NETVOL_DATASETS	,
NETVOL_NV_TIMEOUT	soon
NETVOL_NV_TIMEOUT	-1
NETVOL_NV_TIMEOUT	5x
NETVOL_NV_TIMEOUT	99999999999999999999h
NETVOL_NV_TIMEOUT	0
NETVOL_DEADLINE	x
NETVOL_DEADLINE	1m-5s
NETVOL_DEADLINE	99999999999999h
NETVOL_DEADLINE	ms
NETVOL_PARALLEL	0
NETVOL_PARALLEL	257
NETVOL_PARALLEL	two
NETVOL_PARALLEL	4x
NETVOL_PARALLEL	-3
NETVOL_ZSTD_LEVEL	0
NETVOL_ZSTD_LEVEL	20
NETVOL_ZSTD_LEVEL	fast
NETVOL_PROGRESS_INTERVAL	often
NETVOL_PROGRESS_INTERVAL	0
NETVOL_LOG_FORMAT	xml
NETVOL_LOG_LEVEL	loud
NETVOL_S3_ADDRESSING	up
AWS_BUCKET_NAME	x/y
AWS_BUCKET_NAME	ab
AWS_MAX_ATTEMPTS	no
AWS_MAX_ATTEMPTS	0
AWS_MAX_ATTEMPTS	101
AWS_ACCESS_KEY_ID	AKIDONLY
AWS_SECRET_ACCESS_KEY	s3cr3t	AWS_ACCESS_KEY_ID
AWS_WEB_IDENTITY_TOKEN_FILE	/tok	AWS_ROLE_ARN
AWS_ROLE_ARN	arn:aws:iam::1:role/x	AWS_WEB_IDENTITY_TOKEN_FILE
TABLE
# nothing was done by any of them
assert_eq "$(ls -A "$T/p")" "data" "pod storage after the malformed runs"
assert_eq "$(cat "$T/p/data/f")" "keep" "pod data"
[ ! -e "$T/store" ] || fail "a misconfigured run stored something"
echo "config: $n malformed runs, all exit 2 naming the variable"
