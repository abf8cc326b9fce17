#!/bin/sh
# Test of the static build (make test-static): builds netvol with
# scripts/build-static.sh (the libcurl build is cached in build/static-deps/),
# then checks that `file` calls it statically linked, `ldd` refuses it, and
# that `netvol version` and `netvol --help` run in an otherwise empty chroot
# (as in the FROM-scratch init image and inside any ComfyUI image).
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     /' | tail -n 20; }
T=$(mktemp -d "${TMPDIR:-/tmp}/netvol-static.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

if out=$(scripts/build-static.sh 2>&1); then
	ok "scripts/build-static.sh builds netvol"
else
	ko "scripts/build-static.sh builds netvol" "$out"
	echo "static: $pass passed, $fail failed"
	exit 1
fi
B=build/static/bin/netvol

out=$(file -L "$B")
case "$out" in
*ELF*"statically linked"*) ok "file: statically linked" ;;
*) ko "file: statically linked" "$out" ;;
esac
case "$out" in
*"dynamically linked"* | *interpreter*) ko "file: no program interpreter" "$out" ;;
*) ok "file: no program interpreter" ;;
esac

out=$(ldd "$B" 2>&1)
case "$out" in
*"not a dynamic executable"*) ok "ldd: not a dynamic executable" ;;
*) ko "ldd: not a dynamic executable" "$out" ;;
esac

# An empty root with only the binary (and its aliases, as hard links).
R=$T/root
mkdir -p "$R"
cp "$B" "$R/netvol"
ln "$R/netvol" "$R/netvol-restore"
ln "$R/netvol" "$R/netvol-sync"
if [ "$(id -u)" = 0 ]; then
	CHROOT="chroot $R"
else
	CHROOT="unshare -r chroot $R"
fi
if [ "$(find "$R" -mindepth 1 | wc -l)" = 3 ]; then
	ok "chroot holds only the binary"
else
	ko "chroot holds only the binary" "$(find "$R")"
fi

out=$($CHROOT /netvol version 2>&1)
rc=$?
if [ $rc = 0 ] && printf '%s' "$out" | grep -q 'libcurl/' &&
	printf '%s' "$out" | grep -q 'OpenSSL' && printf '%s' "$out" | grep -q 'zstd/'; then
	ok "netvol version in an empty chroot"
else
	ko "netvol version in an empty chroot (exit $rc)" "$out"
fi
# The libcurl linked is the minimal one built here, not the system's.
want=$(sed -n 's/^#define LIBCURL_VERSION "\(.*\)"/\1/p' build/static-deps/curl/include/curl/curlver.h)
case "$out" in
*"libcurl/$want"*) ok "version names the static libcurl $want" ;;
*) ko "version names the static libcurl $want" "$out" ;;
esac

out=$($CHROOT /netvol --help 2>&1)
rc=$?
if [ $rc = 0 ] && printf '%s' "$out" | grep -q 'usage: netvol'; then
	ok "netvol --help in an empty chroot"
else
	ko "netvol --help in an empty chroot (exit $rc)" "$out"
fi

out=$($CHROOT /netvol no-such-verb 2>&1)
rc=$?
if [ $rc = 2 ]; then ok "unknown verb exits 2 in the chroot"; else ko "unknown verb exits 2 in the chroot (got $rc)" "$out"; fi

# The static libarchive reads the shell scripts' tar.gz (and zip, when
# python3 is there to make one) in the chroot: a legacy restore.
mkdir -p "$T/src/.comfyui" "$R/legacy/u/shared"
printf 'settings\n' >"$T/src/.comfyui/comfy.settings.json"
tar -C "$T/src" -czf "$R/legacy/u/shared/_comfyui.tar.gz" .comfyui
want_ds=.comfyui
if command -v python3 >/dev/null; then
	python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z: z.writestr("comfyui/pyvenv.cfg", "home = /nonexistent\n")' \
		"$R/legacy/u/shared/venv.zip"
	want_ds=.comfyui,venv
fi
out=$(env NETWORK_VOLUME=/pod NETVOL_STORE=file:///store NETVOL_LEGACY_STORE=file:///legacy \
	POD_USER_NAME=u NETVOL_DATASETS=$want_ds $CHROOT /netvol restore 2>&1)
rc=$?
if [ $rc = 0 ] && [ "$(cat "$R/pod/.comfyui/comfy.settings.json" 2>/dev/null)" = settings ] &&
	{ [ "$want_ds" = .comfyui ] || [ -f "$R/pod/venv/comfyui/pyvenv.cfg" ]; }; then
	ok "legacy restore ($want_ds) in an empty chroot"
else
	ko "legacy restore ($want_ds) in an empty chroot (exit $rc)" "$out"
fi

# Dockerfile.init must stay consistent with what this test runs.
D=Dockerfile.init
missing=""
for p in $(sed 's/#.*//' scripts/deps.d/static.txt); do
	grep -qw -- "$p" "$D" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	ok "$D installs scripts/deps.d/static.txt"
else
	ko "$D installs scripts/deps.d/static.txt" "missing:$missing"
fi
if grep -q 'scripts/build-static-test.sh' "$D" && grep -q '^FROM scratch' "$D" &&
	grep -q '^USER 65532' "$D" && grep -q 'ca-certificates.crt /etc/ssl/certs/ca-certificates.crt' "$D"; then
	ok "$D: build-static-test.sh, FROM scratch, CA bundle, non-root"
else
	ko "$D: build-static-test.sh, FROM scratch, CA bundle, non-root"
fi
# The CA bundle the image provides is libcurl's built-in default.
if grep -aq '/etc/ssl/certs/ca-certificates.crt' "$B"; then
	ok "libcurl's default CA bundle is the image's"
else
	ko "libcurl's default CA bundle is the image's"
fi


echo "static: $pass passed, $fail failed"
[ "$fail" = 0 ]
