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
