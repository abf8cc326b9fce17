#!/bin/sh
# netvol sync --loop, the native sidecar: periodic rounds while a writer
# keeps rewriting files in place (every snapshot in the history restores
# only versions the writer completed: torn reads are read again, kept at
# their previous version or left out), unchanged rounds upload nothing,
# SIGTERM makes one final round of the quiet tree whose exit code is the
# process's, NETVOL_DEADLINE counts from the signal (HEAD untouched when
# the final round cannot finish; a round under way when the signal comes is
# stopped too), kill -9 at random moments never loses a completed round.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url loop)" POD_USER_NAME=lou NETVOL_DATASETS="data:user"
export NETVOL_SYNC_INTERVAL=1s

assert_exit 2 nv_pod "$T/p" restore --loop
assert_exit 0 nv_pod "$T/p" sync --help
assert_contains "$OUT" "--loop"
assert_exit 2 env NETVOL_SYNC_INTERVAL=10ms NETWORK_VOLUME="$T/p" "$NETVOL" sync --loop
assert_contains "$OUT" "NETVOL_SYNC_INTERVAL"

# versions: "v<N> <file>\n" then filler derived from N, growing with N up to 6 MB
cat >"$T/writer.py" <<'EOF'
import os, sys, time
root, seconds = sys.argv[1], float(sys.argv[2])
def body(name, n):
    head = ("v%d %s\n" % (n, name)).encode()
    size = min(6000000, 20000 * n)  # grows with n, up to 6 MB
    return head + (bytes([65 + n % 26]) * size)
# go on from the versions already there (a run after an earlier one), so
# that a version never shrinks
n = 0
for name in ("f0", "f1", "f2"):
    try:
        first = open(os.path.join(root, name), "rb").read(64).split(b" ", 1)[0]
        n = max(n, int(first[1:]))
    except (OSError, ValueError):
        pass
end = time.time() + seconds
while time.time() < end:
    n += 1
    for name in ("f0", "f1", "f2"):
        # in place, one pwrite over the old bytes (versions only grow, so
        # no truncation): a torn state exists only inside the kernel's
        # write, never between two syscalls that a loaded machine can hold
        # apart for longer than sync's 100 ms stillness check (a writer
        # that pauses half-way shows a still, partial file no reader can
        # tell from a complete one: docs/RELIABILITY.md)
        b = body(name, n)
        fd = os.open(os.path.join(root, name), os.O_WRONLY | os.O_CREAT, 0o644)
        os.pwrite(fd, b, 0)
        os.close(fd)
    time.sleep(0.01)
print(n)
EOF
cat >"$T/check.py" <<'EOF'
import os, sys
root, last = sys.argv[1], int(sys.argv[2])
def body(name, n):
    head = ("v%d %s\n" % (n, name)).encode()
    return head + (bytes([65 + n % 26]) * min(6000000, 20000 * n))
for name in sorted(os.listdir(root)):
    if not name.startswith("f"):
        continue
    data = open(os.path.join(root, name), "rb").read()
    first = data.split(b"\n", 1)[0].split(b" ")
    ok = len(first) == 2 and first[0][:1] == b"v" and first[1].decode() == name
    n = int(first[0][1:]) if ok else -1
    if not ok or n < 1 or n > last or data != body(name, n):
        exp = body(name, n) if n > 0 else b""
        sys.exit("%s/%s: not a completed version (%d bytes, head %r, want %d)" % (root, name, len(data), data[:20], len(exp)))
EOF

mkdir -p "$T/p/data"
echo keep >"$T/p/data/stable"
# niced: on a loaded machine the writer, not the reader, should get the CPU
# (a writer stopped between its truncation and its write for over 100 ms is
# the still, partial file of docs/RELIABILITY.md)
NETWORK_VOLUME="$T/p" nice -n 10 "$NETVOL" sync --loop >"$T/loop.log" 2>&1 &
loop=$!
at_exit "kill -9 $loop 2>/dev/null"
last=$(python3 "$T/writer.py" "$T/p/data" 6)
sleep 2.5 # at least one round of the quiet tree
t0=$(date +%s%N)
kill -TERM $loop
set +e
wait $loop
rc=$?
set -e
took=$((($(date +%s%N) - t0) / 1000000))
OUT=$(cat "$T/loop.log")
assert_eq "$rc" 0 "exit code of the final round"
assert_contains "$OUT" "event=sync.loop_started interval_ms=1000"
assert_contains "$OUT" "event=sync.stopping signal=SIGTERM"
assert_contains "$OUT" "final=true datasets=1 failed=0"
rounds=$(printf '%s\n' "$OUT" | grep -c 'event=sync.summary')
[ "$rounds" -ge 4 ] || fail "only $rounds rounds: $OUT"
[ "$took" -lt 5000 ] || fail "the final round took ${took}ms"
# the last rounds saw a quiet tree: a metadata walk, nothing uploaded
last_done=$(printf '%s\n' "$OUT" | grep 'event=sync.done' | tail -n 1)
assert_contains "$last_done" "result=unchanged"
assert_contains "$last_done" "bytes_read=0"
assert_contains "$last_done" "bytes_uploaded=0"
changed=$(printf '%s\n' "$OUT" | grep -c 'event=sync.file_changed' || true)
echo "t0400: writer versions=$last rounds=$rounds file_changed=$changed final_ms=$took"

# every snapshot of the history holds only completed versions
i=0
for id in $(NETWORK_VOLUME="$T/p" "$NETVOL" log data | awk 'NR > 1 && length($1) == 64 {print $1}'); do
	i=$((i + 1))
	mkdir -p "$T/h$i"
	assert_exit 0 nv_pod "$T/h$i" restore --snapshot "$id" data
	python3 "$T/check.py" "$T/h$i/data" "$last" || fail "snapshot $id has a torn file"
done
[ $i -ge 2 ] || fail "history has $i snapshots"
# and HEAD is the quiet tree exactly
assert_exit 0 nv_pod "$T/r" restore
treecmp "$T/p/data" "$T/r/data"

# deadline from the signal: the final round cannot finish, HEAD untouched
[ "${NETVOL_TEST_S3:-0}" = 1 ] || {
	store=${NETVOL_STORE#file://}/$POD_USER_NAME
	head_before=$(cat "$store/user/data/HEAD")
	NETVOL_SYNC_INTERVAL=1h NETVOL_DEADLINE=100ms NETVOL_ZSTD_LEVEL=19 NETWORK_VOLUME="$T/p" \
		"$NETVOL" sync --loop >"$T/dl.log" 2>&1 &
	loop=$!
	at_exit "kill -9 $loop 2>/dev/null"
	# round 1 (unchanged) done, then new data, then the signal
	n=0
	until grep -q 'event=sync.summary' "$T/dl.log"; do
		sleep 0.1
		n=$((n + 1))
		[ $n -lt 100 ] || fail "no first round: $(cat "$T/dl.log")"
	done
	head -c 40000000 /dev/urandom >"$T/p/data/big"
	kill -TERM $loop
	set +e
	wait $loop
	rc=$?
	set -e
	OUT=$(cat "$T/dl.log")
	assert_eq "$rc" 1 "a final round past its deadline"
	assert_contains "$OUT" "event=sync.failed dataset=data code=DEADLINE"
	assert_contains "$OUT" "final=true datasets=1 failed=1"
	assert_eq "$(cat "$store/user/data/HEAD")" "$head_before" "HEAD moved"

	# the signal during a periodic round: that round stops by the deadline too
	rm -f "$T/p/.netvol/cache/"*
	t0=$(date +%s%N)
	NETVOL_SYNC_INTERVAL=1h NETVOL_DEADLINE=300ms NETVOL_ZSTD_LEVEL=19 NETWORK_VOLUME="$T/p" \
		"$NETVOL" sync --loop >"$T/mid.log" 2>&1 &
	loop=$!
	at_exit "kill -9 $loop 2>/dev/null"
	sleep 0.5
	kill -TERM $loop
	set +e
	wait $loop
	rc=$?
	set -e
	took=$((($(date +%s%N) - t0) / 1000000))
	OUT=$(cat "$T/mid.log")
	assert_eq "$rc" 1 "exit code"
	assert_contains "$OUT" "round=1 final=false datasets=1 failed=1"
	assert_contains "$OUT" "round=2 final=true datasets=1 failed=1"
	[ "$took" -lt 4000 ] || fail "signal at 500ms, deadline 300ms, exit after ${took}ms"
	assert_eq "$(cat "$store/user/data/HEAD")" "$head_before" "HEAD moved"
	rm -f "$T/p/data/big"
}

# kill -9 at random moments: HEAD always restores whole, never older than
# the last round that completed
export NETVOL_SYNC_INTERVAL=1s
k=0
while [ $k -lt 5 ]; do
	k=$((k + 1))
	NETWORK_VOLUME="$T/p" "$NETVOL" sync --loop >"$T/k.log" 2>&1 &
	loop=$!
	python3 "$T/writer.py" "$T/p/data" 1.5 >/dev/null &
	w=$!
	sleep "1.$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')"
	completed=$(grep 'event=sync.done' "$T/k.log" | tail -n 1 | tr ' ' '\n' | sed -n 's/^snapshot=//p')
	kill -9 $loop
	wait $loop 2>/dev/null || true
	wait $w
	rm -rf "$T/k$k"
	assert_exit 0 nv_pod "$T/k$k" restore
	python3 "$T/check.py" "$T/k$k/data" 1000000 || fail "kill $k: torn file restored"
	[ -f "$T/k$k/data/stable" ] || fail "kill $k: lost a file every round had"
	if [ -n "$completed" ]; then
		hist=$(NETWORK_VOLUME="$T/p" "$NETVOL" log data | awk 'NR > 1 && length($1) == 64 {print $1}')
		assert_contains "$hist" "$completed" "kill $k: a completed round's snapshot"
	fi
done
echo "t0400: ok"
