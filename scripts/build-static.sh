#!/bin/sh
# Build `netvol` fully statically linked (it must run inside any ComfyUI
# image, as the preStop hook, and in the FROM-scratch init image).
#
# Debian's libcurl.a can't be linked statically (it needs Kerberos/LDAP/
# nghttp2/... static libraries Debian doesn't ship), so this builds a minimal
# libcurl (HTTP/HTTPS over OpenSSL, nothing else) from Debian's own source
# package (`apt-get source curl`, security patches included) and links it with
# Debian's libssl.a, libcrypto.a, libzstd.a and libexpat.a.
#
# The libcurl build is cached under build/static-deps/ (NETVOL_STATIC_DEPS),
# so a second run only relinks netvol. Used by `make static`, by the static
# test (scripts/build-static-test.sh) and by Dockerfile.init's build stage.
#
# The source is fetched from the Debian mirror(s) already configured in
# /etc/apt (their deb-src twin), with a private apt state under the cache
# folder: the system's apt configuration is not changed.
#
# Output: build/static/bin/netvol (+ netvol-restore, netvol-sync symlinks).
# `--deps-only` builds the cached libraries and stops (Dockerfile.init runs it
# before copying the sources, so docker's layer cache keeps them).
# Env: JOBS (default 2), NETVOL_STATIC_DEPS, GIT_COMMIT (passed to make when
# set, e.g. in a Docker build without .git).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEPS=${NETVOL_STATIC_DEPS:-$ROOT/build/static-deps}
JOBS=${JOBS:-2}
CURL_PREFIX=$DEPS/curl
CC=${CC:-cc}

say() { echo "build-static: $*"; }
die() { echo "build-static: $*" >&2; exit 1; }

# Options of the minimal libcurl: HTTP(S) over OpenSSL with the threaded
# resolver. No compression (the store's blobs are zstd already), no HTTP/2,
# no IDN/PSL, no other protocol.
CURL_OPTS="--disable-shared --enable-static --with-openssl --enable-threaded-resolver \
--without-zlib --without-zstd --without-brotli --without-libpsl --without-libidn2 \
--without-nghttp2 --without-nghttp3 --without-ngtcp2 --without-quiche --without-msh3 \
--without-librtmp --without-libssh2 --without-libssh --without-wolfssh --without-gssapi \
--without-libgsasl --without-hyper --disable-ldap --disable-ldaps --disable-rtsp \
--disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap \
--disable-smtp --disable-gopher --disable-mqtt --disable-smb --disable-ftp --disable-file \
--disable-netrc --disable-cookies --disable-ntlm --disable-kerberos-auth --disable-negotiate-auth --disable-manual \
--disable-docs --disable-libcurl-option --disable-alt-svc --disable-hsts \
--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path"

# Static libraries from Debian's -dev packages (gcc knows where they live).
static_lib() {
	p=$($CC -print-file-name="$1")
	[ -f "$p" ] || die "$1 not found (install the Debian package $2)"
	echo "$p"
}
SSL_A=$(static_lib libssl.a libssl-dev)
CRYPTO_A=$(static_lib libcrypto.a libssl-dev)
ZSTD_A=$(static_lib libzstd.a libzstd-dev)
EXPAT_A=$(static_lib libexpat.a libexpat1-dev)

# deb-src lines for the Debian mirrors configured in /etc/apt: deb822
# .sources files and one-line .list files, Debian suites only (those named
# after the system's codename), third-party repositories left out.
deb_src_lines() {
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v cn="$codename" '
		function flush(   i, j, nu, ns, u, s, opt) {
			if (types ~ /(^| )deb( |$)/ && uris != "" && enabled != "no") {
				nu = split(uris, u, " "); ns = split(suites, s, " ")
				opt = (signed ~ /^\//) ? "[signed-by=" signed "] " : ""
				for (i = 1; i <= nu; i++)
					for (j = 1; j <= ns; j++)
						if (s[j] == cn || index(s[j], cn "-") == 1)
							print "deb-src " opt u[i] " " s[j] " " comps
			}
			types = uris = suites = comps = signed = enabled = ""
		}
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		/^[A-Za-z-]+:/ {
			k = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
			gsub(/^[ \t]+|[ \t]+$/, "", v)
			if (k == "types") types = v; else if (k == "uris") uris = v
			else if (k == "suites") suites = v; else if (k == "components") comps = v
			else if (k == "signed-by") signed = v; else if (k == "enabled") enabled = tolower(v)
		}
		END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v cn="$codename" '
		$1 == "deb" {
			i = 2; opt = ""
			if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opt = opt $i " "; i++ } opt = opt $i " "; i++ }
			if ($(i + 1) == cn || index($(i + 1), cn "-") == 1) {
				line = "deb-src " opt
				for (; i <= NF; i++) line = line $i (i < NF ? " " : "")
				print line
			}
		}' "$f"
	done
}

build_curl() {
	say "building a minimal static libcurl in $CURL_PREFIX"
	apt_dir=$DEPS/apt
	src_dir=$DEPS/src
	rm -rf "$src_dir" "$CURL_PREFIX"
	mkdir -p "$apt_dir/lists/partial" "$src_dir"
	deb_src_lines | sort -u >"$apt_dir/sources.list"
	[ -s "$apt_dir/sources.list" ] || die "no Debian mirror configured in /etc/apt"
	set -- -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=/nonexistent" \
		-o "Dir::State::Lists=$apt_dir/lists" -o "APT::Sandbox::User=root" -q
	apt-get "$@" update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log" >&2; die "apt-get update (deb-src) failed"; }
	(cd "$src_dir" && apt-get "$@" source curl) >"$apt_dir/source.log" 2>&1 ||
		{ cat "$apt_dir/source.log" >&2; die "apt-get source curl failed (needs dpkg-dev, xz-utils)"; }
	dir=$(find "$src_dir" -mindepth 1 -maxdepth 1 -type d -name 'curl-*' | head -n 1)
	[ -n "$dir" ] || die "no curl source tree in $src_dir"
	say "configuring $(basename "$dir")"
	# shellcheck disable=SC2086
	# dash runs configure's ~560 checks faster than bash.
	cfg_shell=/bin/sh
	[ -x /bin/dash ] && cfg_shell=/bin/dash
	(cd "$dir" && CONFIG_SHELL=$cfg_shell CFLAGS="-O2 -g0" $cfg_shell ./configure \
		--prefix="$CURL_PREFIX" --disable-dependency-tracking $CURL_OPTS \
		>"$DEPS/curl-configure.log" 2>&1) ||
		{ tail -n 30 "$DEPS/curl-configure.log" >&2; die "curl configure failed"; }
	say "compiling libcurl"
	(cd "$dir" && make -j"$JOBS" -C lib >"$DEPS/curl-make.log" 2>&1 &&
		make -C lib install >>"$DEPS/curl-make.log" 2>&1 &&
		make -C include install >>"$DEPS/curl-make.log" 2>&1) ||
		{ tail -n 30 "$DEPS/curl-make.log" >&2; die "curl build failed"; }
	[ -f "$CURL_PREFIX/lib/libcurl.a" ] || die "no libcurl.a after the build"
	rm -rf "$src_dir"
	printf '%s\n' "$CURL_OPTS" >"$CURL_PREFIX/.options"
}

# cJSON (the S3 module's container-credentials JSON): Debian's libcjson-dev
# has no static library, so compile cJSON.c from Debian's source package.
CJSON_A=$DEPS/cjson/libcjson.a
build_cjson() {
	say "building a static cJSON in $DEPS/cjson"
	apt_dir=$DEPS/apt
	src_dir=$DEPS/src-cjson
	rm -rf "$src_dir" "$DEPS/cjson"
	mkdir -p "$apt_dir/lists/partial" "$src_dir" "$DEPS/cjson"
	deb_src_lines | sort -u >"$apt_dir/sources.list"
	set -- -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=/nonexistent" \
		-o "Dir::State::Lists=$apt_dir/lists" -o "APT::Sandbox::User=root" -q
	[ -n "$(ls "$apt_dir/lists" 2>/dev/null | grep -v partial)" ] ||
		apt-get "$@" update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log" >&2; die "apt-get update (deb-src) failed"; }
	(cd "$src_dir" && apt-get "$@" source cjson) >"$apt_dir/source-cjson.log" 2>&1 ||
		{ cat "$apt_dir/source-cjson.log" >&2; die "apt-get source cjson failed"; }
	dir=$(find "$src_dir" -mindepth 1 -maxdepth 1 -type d -name 'cjson-*' | head -n 1)
	[ -n "$dir" ] && [ -f "$dir/cJSON.c" ] || die "no cJSON source in $src_dir"
	$CC -O2 -g0 -c "$dir/cJSON.c" -o "$DEPS/cjson/cJSON.o" || die "cJSON build failed"
	ar rcs "$CJSON_A" "$DEPS/cjson/cJSON.o"
	rm -rf "$src_dir"
}
[ -f "$CJSON_A" ] || build_cjson

# libarchive (the legacy restore: tar, gzip, zip): Debian's libarchive.a
# needs static nettle, acl, lzma, lz4, bz2, xml2 (and through it ICU), so
# build a minimal one from Debian's source package: tar/zip readers with
# zlib only (Debian's libz.a), no crypto, no xattr/ACL, no other codec.
ARCHIVE_PREFIX=$DEPS/libarchive
ARCHIVE_OPTS="--disable-shared --enable-static --disable-bsdtar --disable-bsdcat \
--disable-bsdcpio --disable-bsdunzip --disable-acl --disable-xattr --without-xml2 \
--without-expat --without-openssl --without-nettle --without-mbedtls --without-lzma \
--without-lz4 --without-zstd --without-bz2lib --without-libb2 --without-iconv \
--without-cng --with-zlib"
ZLIB_A=$(static_lib libz.a zlib1g-dev)
build_libarchive() {
	say "building a minimal static libarchive in $ARCHIVE_PREFIX"
	apt_dir=$DEPS/apt
	src_dir=$DEPS/src-libarchive
	rm -rf "$src_dir" "$ARCHIVE_PREFIX"
	mkdir -p "$apt_dir/lists/partial" "$src_dir"
	deb_src_lines | sort -u >"$apt_dir/sources.list"
	set -- -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=/nonexistent" \
		-o "Dir::State::Lists=$apt_dir/lists" -o "APT::Sandbox::User=root" -q
	[ -n "$(ls "$apt_dir/lists" 2>/dev/null | grep -v partial)" ] ||
		apt-get "$@" update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log" >&2; die "apt-get update (deb-src) failed"; }
	(cd "$src_dir" && apt-get "$@" source libarchive) >"$apt_dir/source-libarchive.log" 2>&1 ||
		{ cat "$apt_dir/source-libarchive.log" >&2; die "apt-get source libarchive failed"; }
	dir=$(find "$src_dir" -mindepth 1 -maxdepth 1 -type d -name 'libarchive-*' | head -n 1)
	[ -n "$dir" ] || die "no libarchive source tree in $src_dir"
	cfg_shell=/bin/sh
	[ -x /bin/dash ] && cfg_shell=/bin/dash
	# shellcheck disable=SC2086
	(cd "$dir" && CONFIG_SHELL=$cfg_shell CFLAGS="-O2 -g0" $cfg_shell ./configure \
		--prefix="$ARCHIVE_PREFIX" --disable-dependency-tracking $ARCHIVE_OPTS \
		>"$DEPS/libarchive-configure.log" 2>&1) ||
		{ tail -n 30 "$DEPS/libarchive-configure.log" >&2; die "libarchive configure failed"; }
	say "compiling libarchive"
	# the patched tree looks newer than its generated files: no autotools rerun
	noauto="ACLOCAL=: AUTOCONF=: AUTOMAKE=: AUTOHEADER=:"
	# shellcheck disable=SC2086
	(cd "$dir" && make -j"$JOBS" $noauto libarchive.la >"$DEPS/libarchive-make.log" 2>&1 &&
		make $noauto install-libLTLIBRARIES install-includeHEADERS \
			>>"$DEPS/libarchive-make.log" 2>&1) ||
		{ tail -n 30 "$DEPS/libarchive-make.log" >&2; die "libarchive build failed"; }
	[ -f "$ARCHIVE_PREFIX/lib/libarchive.a" ] || die "no libarchive.a after the build"
	rm -rf "$src_dir"
	printf '%s\n' "$ARCHIVE_OPTS" >"$ARCHIVE_PREFIX/.options"
}
if [ ! -f "$ARCHIVE_PREFIX/lib/libarchive.a" ] || [ ! -f "$ARCHIVE_PREFIX/.options" ] ||
	[ "$(cat "$ARCHIVE_PREFIX/.options")" != "$ARCHIVE_OPTS" ]; then
	build_libarchive
else
	say "using the cached libarchive in $ARCHIVE_PREFIX"
fi

if [ ! -f "$CURL_PREFIX/lib/libcurl.a" ] || [ ! -f "$CURL_PREFIX/.options" ] ||
	[ "$(cat "$CURL_PREFIX/.options")" != "$CURL_OPTS" ]; then
	build_curl
else
	say "using the cached libcurl in $CURL_PREFIX"
fi

[ "${1:-}" = --deps-only ] && { say "libraries ready in $DEPS"; exit 0; }

LIBS="$ARCHIVE_PREFIX/lib/libarchive.a $ZLIB_A $CURL_PREFIX/lib/libcurl.a $CJSON_A $EXPAT_A $ZSTD_A $SSL_A $CRYPTO_A -ldl -lpthread -lm"
say "linking build/static/bin/netvol"
# shellcheck disable=SC2086
make --no-print-directory -j"$JOBS" BUILD=build/static BIN=build/static/bin LDSTATIC=-static \
	NV_LIBS="$LIBS" CFLAGS="-I$ARCHIVE_PREFIX/include -I$CURL_PREFIX/include" ${GIT_COMMIT:+GIT_COMMIT=$GIT_COMMIT} \
	build/static/bin/netvol build/static/bin/netvol-restore build/static/bin/netvol-sync
say "done: $ROOT/build/static/bin/netvol"
