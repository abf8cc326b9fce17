#!/bin/sh
# netvol export --legacy writes the latest snapshots as the shell scripts'
# objects; the legacy restore of those objects gives the tree back (venvs:
# their regular files, all the chunk format holds). Existing objects are
# kept unless --force; --dry-run stores nothing.
. "$(dirname "$0")/lib.sh"

# it reads the exported objects as files of a file:// store
if [ "${NETVOL_TEST_S3:-0}" = 1 ]; then
	echo "t0840: file store only (it reads the exported objects on disk)"
	exit 0
fi

unset _NETWORK_VOLUME NETVOL_DATASETS
export NETVOL_STORE="$(nv_store_url exp)" POD_USER_NAME=xena POD_ID=pod-x1
export NETVOL_LEGACY_STORE="file://$T/legacy"
a=$T/a
make_tree "$T/mk" 2>/dev/null
mkdir -p "$a/venv"
mv "$T/mk/venv" "$a/venv/main"
rm -f "$a/venv/main/fifo"
chmod 755 "$a/venv/main/bin/tool" # the legacy restore drops setuid (CONFIG.md)
mkdir -p "$a/venv/tools/bin" "$a/.comfyui/sub" "$a/.cache/pip" "$a/ComfyUI/user/default" \
	"$a/ComfyUI/custom_nodes/n1" "$a/ComfyUI/models" "$a/ComfyUI/output"
echo tool >"$a/venv/tools/bin/t" && chmod 755 "$a/venv/tools/bin/t"
echo '{}' >"$a/.comfyui/sub/settings.json"
head -c 50000 /dev/urandom >"$a/.cache/pip/wheel"
echo main >"$a/ComfyUI/main.py"
echo hidden >"$a/ComfyUI/.hidden"
echo s >"$a/ComfyUI/user/default/s.json"
head -c 30000 /dev/urandom >"$a/ComfyUI/output/o.png"
ln -s user/default "$a/ComfyUI/link"
echo n >"$a/ComfyUI/custom_nodes/n1/__init__.py"
echo big >"$a/ComfyUI/models/m.safetensors"
assert_exit 0 nv_pod "$a" sync

# nothing stored by a dry run
assert_exit 0 "$NETVOL" export --legacy --dry-run
assert_contains "$OUT" "event=export.object dataset=ComfyUI key=pod-x1/comfyui_pod_specific_data.tar.gz result=would_write"
[ ! -e "$T/legacy/xena" ] || [ -z "$(find "$T/legacy/xena" -type f)" ] || fail "dry run stored objects"

assert_exit 0 "$NETVOL" export --legacy
for k in shared/venv_chunks/main/venv_chunk_1.tar.gz shared/venv_chunks/main/venv_chunks.checksums \
	shared/venv_chunks/tools/venv_chunk_1.tar.gz shared/_comfyui.tar.gz shared/_cache.tar.gz \
	ComfyUI/shared/custom_nodes.tar.gz pod-x1/comfyui_pod_specific_data.tar.gz; do
	[ -f "$T/legacy/xena/$k" ] || fail "no $k: $OUT"
done
assert_contains "$OUT" "event=export.summary user=xena datasets=5 failed=0 objects=8"
# the checksums name the chunks (LEGACY.md: "<sha256> <base name>")
(cd "$T/legacy/xena/shared/venv_chunks/main" && sed 's/ /  /' venv_chunks.checksums | sha256sum -c --quiet) ||
	fail "checksums"
# the pod archive's members are ./<entry>, without the excluded folders
tar -tzf "$T/legacy/xena/pod-x1/comfyui_pod_specific_data.tar.gz" >"$T/members"
grep -qx './main.py' "$T/members" || fail "members: $(cat "$T/members")"
grep -q 'models\|custom_nodes' "$T/members" && fail "excluded members: $(cat "$T/members")"
tar -tzf "$T/legacy/xena/ComfyUI/shared/custom_nodes.tar.gz" | grep -qx 'custom_nodes/n1/__init__.py' ||
	fail "custom_nodes members"

# the legacy restore of them (a store without snapshots) gives the tree back
export NETVOL_STORE="$(nv_store_url none)"
assert_exit 0 nv_pod "$T/b" restore
assert_eq "$(echo "$OUT" | grep -c 'event=restore.done .*source=legacy')" 5 "restored from legacy"
# same_data A B [SKIP]: every regular file of A (but below SKIP) has the same bytes in B
same_data() {
	python3 - "$@" <<'PY' || fail "$1 and $2 differ"
import os, sys
a, b = sys.argv[1], sys.argv[2]
skip = sys.argv[3] if len(sys.argv) > 3 else None
bad = []
for d, dirs, fs in os.walk(a):
    for f in fs:
        p = os.path.join(d, f)
        r = os.path.relpath(p, a)
        if skip and (r == skip or r.startswith(skip + "/")) or os.path.islink(p):
            continue
        q = os.path.join(b, r)
        if not os.path.isfile(q) or open(p, "rb").read() != open(q, "rb").read():
            bad.append(r)
if bad:
    print("differ:", bad[:10])
    sys.exit(1)
PY
}
files() { (cd "$1" && find . \( -type f -o -type l \) ! -path './.netvol/*' -printf '%p %y %m %l\n' | sort); }
for d in .comfyui .cache ComfyUI; do
	assert_eq "$(files "$T/b/$d")" "$(files "$a/$d" | grep -v '^./models')" "$d"
	same_data "$a/$d" "$T/b/$d" models
done
freg() { (cd "$1" && find . -type f -printf '%p %m\n' | sort); }
assert_eq "$(freg "$T/b/venv")" "$(freg "$a/venv")" "venv files"
same_data "$a/venv" "$T/b/venv"

# existing objects are kept...
before=$(cd "$T/legacy" && find . -type f | sort | xargs sha256sum)
echo changed >>"$a/.comfyui/sub/settings.json"
export NETVOL_STORE="$(nv_store_url exp)"
assert_exit 0 nv_pod "$a" sync .comfyui
assert_exit 0 "$NETVOL" export --legacy .comfyui
assert_contains "$OUT" "key=shared/_comfyui.tar.gz result=exists_kept"
assert_eq "$(cd "$T/legacy" && find . -type f | sort | xargs sha256sum)" "$before" "kept"
# ...unless --force
assert_exit 0 "$NETVOL" export --legacy --force .comfyui
assert_contains "$OUT" "key=shared/_comfyui.tar.gz result=written"
tar -xzOf "$T/legacy/xena/shared/_comfyui.tar.gz" .comfyui/sub/settings.json | grep -q changed ||
	fail "not overwritten"
# venv chunks grouped by plain bytes (a file bigger than a group is one
# group of its own), each listed in the checksums; they restore as one venv
export NETVOL_LEGACY_STORE="file://$T/legacy2"
assert_exit 0 "$NETVOL" export --legacy --chunk-size 1000000 venv
n=$(ls "$T/legacy2/xena/shared/venv_chunks/main" | grep -c '^venv_chunk_[0-9]*\.tar\.gz$')
[ "$n" -ge 3 ] || fail "want several chunks, got $n: $(ls "$T/legacy2/xena/shared/venv_chunks/main")"
assert_eq "$(wc -l <"$T/legacy2/xena/shared/venv_chunks/main/venv_chunks.checksums")" "$n" "checksum lines"
# the big file (9 MB) alone in its chunk
for c in "$T/legacy2/xena/shared/venv_chunks/main"/venv_chunk_*.tar.gz; do
	m=$(tar -tzf "$c")
	case "$m" in *lib/big.so*) assert_eq "$(echo "$m" | grep -c .)" 1 "big.so alone in $c" ;; esac
done
export NETVOL_STORE="$(nv_store_url none2)"
assert_exit 0 nv_pod "$T/c" restore venv
assert_contains "$OUT" "source=legacy legacy=venv_chunks objects=$((n + 1))"
assert_eq "$(freg "$T/c/venv")" "$(freg "$a/venv")" "venv files (chunked)"
same_data "$a/venv" "$T/c/venv"
export NETVOL_STORE="$(nv_store_url exp)" NETVOL_LEGACY_STORE="file://$T/legacy"

# usage
assert_exit 2 "$NETVOL" export --legacy --chunk-size 0
assert_exit 2 "$NETVOL" export
assert_exit 2 "$NETVOL" export --legacy nope
assert_exit 2 "$NETVOL" export --legacy --user ../x
echo ok
