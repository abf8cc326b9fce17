#!/bin/sh
# Incremental sync: unchanged -> nothing uploaded and HEAD untouched (also
# the first sync after a restore, which reads no file); one changed file ->
# about its size; a sync after a restore of another pod reuses everything.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url inc)" POD_USER_NAME=bob NETVOL_DATASETS=venv
store=${NETVOL_STORE#file://}
make_tree "$T/a"
rm "$T/a/venv/fifo"
assert_exit 0 nv_pod "$T/a" sync
head1=$(cat "$store/user/venv/HEAD" 2>/dev/null || echo s3)

assert_exit 0 nv_pod "$T/a" sync
assert_contains "$OUT" "result=unchanged"
assert_eq "$(logval sync.done blobs_new)" 0 "blobs on unchanged sync"
assert_eq "$(logval sync.done bytes_uploaded)" 0 "bytes on unchanged sync"
assert_eq "$(logval sync.done bytes_read)" 0 "stat cache: nothing read"
[ "$head1" = s3 ] || assert_eq "$(cat "$store/user/venv/HEAD")" "$head1" "HEAD"

# pod B restores; its first sync reads nothing and uploads nothing
assert_exit 0 nv_pod "$T/b" restore
assert_exit 0 nv_pod "$T/b" sync
assert_contains "$OUT" "result=unchanged"
assert_eq "$(logval sync.done bytes_read)" 0 "first sync after restore reads nothing"

# one changed 3 MB file: about 3 MB of new data
head -c 3000000 /dev/urandom >"$T/b/venv/lib/changed.bin"
assert_exit 0 nv_pod "$T/b" sync
assert_contains "$OUT" "result=uploaded"
new=$(logval sync.done bytes_new)
up=$(logval sync.done bytes_uploaded)
[ "$new" -eq 3000000 ] || fail "bytes_new=$new, want 3000000"
[ "$up" -le 3200000 ] || fail "bytes_uploaded=$up for a 3 MB change"

# a removed file and a touched one come back as such
rm "$T/b/venv/empty-file"
touch -d '2010-01-01' "$T/b/venv/name with spaces"
assert_exit 0 nv_pod "$T/b" sync
assert_exit 0 nv_pod "$T/c" restore
treecmp "$T/b/venv" "$T/c/venv"
assert_exit 0 "$NETVOL" log venv
[ "$(printf '%s\n' "$OUT" | grep -c '^[0-9a-f]\{64\} ')" -eq 3 ] || fail "want 3 snapshots in the log: $OUT"
