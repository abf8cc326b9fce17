# Sourced by every integration test: strict mode, a temp dir removed on
# exit, and assert helpers. NETVOL_BIN names the binaries' folder.
set -eu
: "${NETVOL_BIN:?NETVOL_BIN must name the folder with the netvol binaries}"
NETVOL="$NETVOL_BIN/netvol"
T=$(mktemp -d "${TMPDIR:-/tmp}/netvol-test.XXXXXX")
_cleanups=""
at_exit() { _cleanups="$1
$_cleanups"; }
_run_cleanups() {
	rc=$?
	set +e
	printf '%s\n' "$_cleanups" | while IFS= read -r c; do [ -n "$c" ] && eval "$c"; done
	chmod -R u+rwX "$T" 2>/dev/null
	rm -rf "$T"
	exit $rc
}
trap _run_cleanups EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: '$1' != '$2'"; }
assert_contains() { case "$1" in *"$2"*) ;; *) fail "${3:-output} lacks '$2': $1" ;; esac; }
assert_not_contains() { case "$1" in *"$2"*) fail "${3:-output} has '$2'" ;; esac; }
# assert_exit CODE cmd...: run cmd, expect the exit code, keep its output in $OUT
assert_exit() {
	want=$1; shift
	set +e
	OUT=$("$@" 2>&1)
	got=$?
	set -e
	[ "$got" = "$want" ] || fail "'$*' exited $got, want $want; output: $OUT"
}

# nv_store_url NAME: a fresh store. file:// below $T by default; with
# NETVOL_TEST_S3=1 (and AWS_* plus NETVOL_TEST_S3_BUCKET exported by the S3
# test harness), an s3:// URL under a fresh random prefix.
nv_store_url() {
	if [ "${NETVOL_TEST_S3:-0}" = 1 ]; then
		echo "s3://${NETVOL_TEST_S3_BUCKET:?}/t$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')/$1"
	else
		echo "file://$T/store-$1"
	fi
}

# Run netvol for a pod whose storage root is $1: nv_pod ROOT VERB ARGS...
# (the store, user, pod id and datasets come from the environment).
nv_pod() {
	root=$1; shift
	NETWORK_VOLUME=$root "$NETVOL" "$@"
}

# A realistic venv-like tree at $1: a real `python3 -m venv`, packages
# copied from the system, symlinks, exec bits, empty and read-only folders,
# odd names, a file larger than one blob, hardlinks, and a FIFO (skipped).
make_tree() {
	d=$1
	mkdir -p "$d"
	/usr/bin/python3 -m venv --without-pip "$d/venv" >/dev/null
	sp=$(echo "$d"/venv/lib/python3*/site-packages)
	for pkg in /usr/lib/python3/dist-packages/jsonpatch.py /usr/lib/python3/dist-packages/jsonpointer.py \
		/usr/lib/python3/dist-packages/six.py; do
		[ -e "$pkg" ] && cp -p "$pkg" "$sp/"
	done
	cp -rp /usr/lib/python3.11/json "$sp/json_copy" 2>/dev/null || cp -rp /usr/lib/python3*/json "$sp/json_copy"
	mkdir -p "$d/venv/share/empty" "$d/venv/share/ro"
	printf 'ro\n' >"$d/venv/share/ro/file"
	chmod 555 "$d/venv/share/ro"
	printf '#!/bin/sh\necho hi\n' >"$d/venv/bin/tool"
	chmod 750 "$d/venv/bin/tool"
	chmod 4755 "$d/venv/bin/tool" 2>/dev/null || true
	ln -s ../lib "$d/venv/bin/rel-link"
	ln -s /nonexistent/dangling "$d/venv/bin/dangling"
	printf 'space\n' >"$d/venv/name with spaces"
	printf 'nl\n' >"$d/venv/$(printf 'new\nline')"
	printf 'u\n' >"$d/venv/unicodé-ñ-名前"
	printf 'q\n' >"$d/venv/quote'\"\\back"
	head -c 9000000 /dev/urandom >"$d/venv/lib/big.so"
	ln "$d/venv/lib/big.so" "$d/venv/lib/big-hardlink.so"
	: >"$d/venv/empty-file"
	mkfifo "$d/venv/fifo"
	touch -d '2001-02-03 04:05:06.123456789' "$d/venv/name with spaces"
	touch -h -d '2002-01-01 00:00:00' "$d/venv/bin/rel-link"
	touch -d '2003-01-01 00:00:00' "$d/venv/share/empty"
}

treecmp() { python3 "${NV_TEST_DIR:-$(dirname "$0")}/treecmp.py" "$1" "$2" || fail "trees differ: $1 $2"; }

# The value of key=value in a log line of event $1 from $OUT: logval EVENT KEY
logval() { printf '%s\n' "$OUT" | grep "event=$1 " | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# nv_legacy_store good|hostile: the shell scripts' layout for several users
# (tests/legacy/gen.py) in $T/legacy-KIND; prints the NETVOL_LEGACY_STORE
# base: file:// by default, with NETVOL_TEST_S3=1 uploaded to a fresh prefix
# of the test bucket (awscli).
nv_legacy_store() {
	python3 "$(dirname "$0")/../legacy/gen.py" "$1" "$T/legacy-$1" >&2
	if [ "${NETVOL_TEST_S3:-0}" = 1 ]; then
		u="s3://${NETVOL_TEST_S3_BUCKET:?}/legacy$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
		aws --endpoint-url "${AWS_ENDPOINT_URL_S3:?}" s3 cp --quiet --recursive \
			"$T/legacy-$1/store" "$u" >&2
		echo "$u"
	else
		echo "file://$T/legacy-$1/store"
	fi
}
# legacy_check USER DATASET DIR [SKIP...]: DIR is the tree gen.py expects
# (paths below a SKIP, relative to DIR, not looked at: nested datasets)
legacy_check() {
	_u=$1 _d=$2 _dir=$3
	shift 3
	python3 "$(dirname "$0")/../legacy/check.py" \
		"$T/legacy-good/expected/$_u/$(echo "$_d" | sed 's,/,__,g').json" "$_dir" "$@" ||
		fail "$_dir is not the legacy data of $_u ($_d)"
}
