#!/bin/sh
# The local stat cache (docs/FORMAT.md): its trailer names the snapshot it
# was made from and checks the cache's bytes; a sync whose cache names HEAD
# does not fetch HEAD's manifest; a cache that fails its checksum is ignored
# with a warning; while a gc runs, sync reads HEAD's manifest from the store.
# Uses the file store: the test edits store objects in place.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="file://$T/store-cache" POD_USER_NAME=bob NETVOL_DATASETS=venv
store=$T/store-cache/bob/user/venv
cache=$T/a/.netvol/cache/user%2Fvenv%2Fsnap
make_tree "$T/a"
rm "$T/a/venv/fifo"
assert_exit 0 nv_pod "$T/a" sync
head1=$(sed -n 2p "$store/HEAD")

# trailer: "NVCBASE1", the snapshot id, SHA-256 of the bytes before it
trailer_ok() {
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import hashlib, sys
b = open(sys.argv[1], "rb").read()
body, t = b[:-72], b[-72:]
ok = t[:8] == b"NVCBASE1" and t[8:40].hex() == sys.argv[2] \
    and t[40:] == hashlib.sha256(body).digest()
sys.exit(0 if ok else 1)
EOF
}
trailer_ok "$cache" "$head1" || fail "cache trailer does not name HEAD $head1"
# the cache body is the snapshot itself after a sync that uploaded it
head -c -72 "$cache" | cmp -s - "$store/snapshots/$head1" || fail "cache body != snapshot"

# HEAD's manifest damaged in the store: the cache stands in for it, so an
# unchanged sync neither reads it nor fails; a change writes a new,
# complete snapshot (parent = the damaged one's id)
cp "$store/snapshots/$head1" "$T/snap.orig"
printf 'garbage' >"$store/snapshots/$head1"
assert_exit 0 nv_pod "$T/a" sync
assert_contains "$OUT" "result=unchanged"
assert_eq "$(logval sync.done bytes_read)" 0 "cache naming HEAD: nothing read"

# while a gc runs, HEAD's own manifest is read: the damage is found
printf 'netvol-lock 1\ngc %s\ntest\n' "$(date +%s)" >"$T/lock"
mkdir -p "$store/locks" && cp "$T/lock" "$store/locks/gc-test"
assert_exit 1 nv_pod "$T/a" sync
assert_contains "$OUT" "does not match its hash"
rm "$store/locks/gc-test"
cp "$T/snap.orig" "$store/snapshots/$head1"

# a cache whose bytes fail the trailer's checksum: warned about, ignored
# (HEAD's manifest is read instead), the sync still right; then rewritten
python3 - "$cache" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[20] ^= 1
open(p, "wb").write(b)
EOF
assert_exit 0 nv_pod "$T/a" sync
assert_contains "$OUT" "event=cache.unreadable"
assert_contains "$OUT" "does not match its checksum"
assert_contains "$OUT" "result=unchanged"
trailer_ok "$cache" "$head1" || fail "cache not rewritten after a bad checksum"
assert_exit 0 nv_pod "$T/a" sync
assert_eq "$(logval sync.done bytes_read)" 0 "rewritten cache used"

# a cache without trailer (an earlier build's) is still used, then gets one
head -c -72 "$cache" >"$T/bare" && cp "$T/bare" "$cache"
assert_exit 0 nv_pod "$T/a" sync
assert_not_contains "$OUT" "cache.unreadable"
assert_eq "$(logval sync.done bytes_read)" 0 "trailer-less cache used"
trailer_ok "$cache" "$head1" || fail "trailer-less cache not given a trailer"

# after a restore the cache names the restored snapshot; after a change
# and a sync, the new HEAD
assert_exit 0 nv_pod "$T/b" restore
trailer_ok "$T/b/.netvol/cache/user%2Fvenv%2Fsnap" "$head1" || fail "restore's cache trailer"
echo changed >>"$T/b/venv/lib/new-file"
assert_exit 0 nv_pod "$T/b" sync
assert_contains "$OUT" "result=uploaded"
head2=$(sed -n 2p "$store/HEAD")
[ "$head2" != "$head1" ] || fail "HEAD did not move"
trailer_ok "$T/b/.netvol/cache/user%2Fvenv%2Fsnap" "$head2" || fail "sync's cache trailer"
assert_exit 0 nv_pod "$T/c" restore
treecmp "$T/b/venv" "$T/c/venv"

# pod a's cache names the old HEAD: it is not taken for HEAD's manifest,
# and a sync merges (DESIGN rule 8): a's tree plus b's new file, a's
# folder mtimes (ours)
assert_exit 0 nv_pod "$T/a" sync
assert_contains "$OUT" "result=uploaded"
assert_contains "$OUT" "event=sync.merged"
assert_exit 0 nv_pod "$T/d" restore
mkdir -p "$T/want"
cp -a "$T/a/venv" "$T/want/venv"
cp -p "$T/b/venv/lib/new-file" "$T/want/venv/lib/new-file"
touch -h -r "$T/a/venv/lib" "$T/want/venv/lib"
treecmp "$T/want/venv" "$T/d/venv"
