#!/bin/sh
# A copy onto the network volume is published only from a tree that did not
# change while it was copied (issue 15): with a writer busy in the folder,
# sync discards its copy (the network volume stays without the folder, the
# upload goes on); once the folder is quiet, the next sync copies it.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url copych)" POD_USER_NAME=cc POD_ID=p1 NETVOL_DATASETS=venv
mkdir -p "$T/pod/venv/lib" "$T/nv"
i=0
while [ $i -lt 150 ]; do
	head -c 1000000 /dev/urandom >"$T/pod/venv/lib/m$i.so"
	i=$((i + 1))
done
echo 0 >"$T/pod/venv/counter"
# the writer: the counter changes every few milliseconds, for far longer
# than the copy of 150 MB takes
# (at a higher priority than the sync, so a loaded machine does not starve it)
nice -n -10 python3 -c '
import os, sys, time
p = sys.argv[1]
end = time.time() + 60
n = 0
while time.time() < end and not os.path.exists(sys.argv[2]):
    n += 1
    with open(p, "w") as f:
        f.write("%d\n" % n)
    time.sleep(0.001)
' "$T/pod/venv/counter" "$T/stop" &
w=$!
at_exit "touch '$T/stop'; kill $w 2>/dev/null"
# the writer is at work before the sync starts
n=0
while [ "$(cat "$T/pod/venv/counter")" -lt 20 ] 2>/dev/null || [ -z "$(cat "$T/pod/venv/counter")" ]; do
	sleep 0.05
	n=$((n + 1))
	[ $n -lt 400 ] || fail "the writer did not start"
done
assert_exit 0 env NETWORK_VOLUME="$T/pod" _NETWORK_VOLUME="$T/nv" "$NETVOL" sync
assert_contains "$OUT" "event=sync.copy_to_nv dataset=venv"
assert_contains "$OUT" "result=source_changed_discarded"
assert_contains "$OUT" "changed while it was copied"
assert_contains "$OUT" "event=sync.done dataset=venv"
[ ! -e "$T/nv/venv" ] || fail "a copy of a changing tree was published"
[ -z "$(ls -A "$T/nv" | grep -v "^\.netvol$")" ] || fail "staging left on the network volume: $(ls -A "$T/nv")"
touch "$T/stop"
wait $w 2>/dev/null || true
assert_exit 0 env NETWORK_VOLUME="$T/pod" _NETWORK_VOLUME="$T/nv" "$NETVOL" sync
assert_contains "$OUT" "result=copied"
python3 "$(dirname "$0")/treecmp.py" "$T/pod/venv" "$T/nv/venv" || fail "the copy differs from the folder"
