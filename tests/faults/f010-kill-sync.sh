#!/bin/sh
# kill -9 of `netvol sync` at seeded random points (NETVOL_FAULT_SEED, else
# the time; printed, so a failing run can be replayed; NETVOL_FAULT_RUNS
# runs, default 20; the delays are fractions of a measured whole sync). After every kill: HEAD is either the old snapshot or a
# complete new one, whichever it is restores byte-identical to the tree it
# captured, `netvol verify` finds no problem, and the next sync completes,
# reusing the packs the killed one stored (bytes_new below the full size
# whenever a pack was stored), and restores identical to the pod's folder.
. "$(dirname "$0")/../integration/lib.sh"
[ "${NETVOL_TEST_S3:-0}" = 1 ] && exit 0 # reads store files directly
treecmp() { python3 "$(dirname "$0")/../integration/treecmp.py" "$1" "$2" || fail "trees differ: $1 $2"; }

SEED=${NETVOL_FAULT_SEED:-$(date +%s)}
RUNS=${NETVOL_FAULT_RUNS:-20}
echo "seed=$SEED runs=$RUNS (replay: NETVOL_FAULT_SEED=$SEED)"
export POD_USER_NAME=kim NETVOL_DATASETS=data:user NETVOL_PARALLEL=2 NETVOL_LOG_LEVEL=warn

# the old tree (small) and the new one: the old plus 24 x 1 MB of
# incompressible data (two packs), generated from the seed
python3 - "$T/old/data" "$T/new/data" "$SEED" <<'PY'
import os, random, sys
old, new, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = random.Random(seed)
for root in (old, new):
    os.makedirs(os.path.join(root, "sub"), exist_ok=True)
    for i in range(5):
        with open(os.path.join(root, "sub", "f%d" % i), "wb") as f:
            f.write(random.Random(seed + i).randbytes(1000 + 997 * i))
    os.symlink("sub/f1", os.path.join(root, "link"))
for i in range(24):
    with open(os.path.join(new, "big%02d" % i), "wb") as f:
        f.write(r.randbytes(1 << 20))
with open(os.path.join(new, "sub", "f0"), "ab") as f:
    f.write(b"changed\n")
PY
full=$(du -sb --apparent-size "$T/new/data" | cut -f1)

# the store with the old snapshot, copied for each run
export NETVOL_STORE="file://$T/store0"
assert_exit 0 nv_pod "$T/old" sync
head0=$(cat "$T/store0/kim/user/data/HEAD")
packs0=$(ls "$T/store0/kim/user/data/packs" | grep -c '\.idx$')

# how long a whole sync takes here (so the kill points cover all of it on
# a slow or a loaded machine), then seeded delays: 0-110% of that
cp -a "$T/store0" "$T/cal"
t0=$(date +%s%N)
assert_exit 0 env NETVOL_STORE="file://$T/cal" NETWORK_VOLUME="$T/new" "$NETVOL" sync
whole=$((($(date +%s%N) - t0) / 1000000))
rm -rf "$T/cal" "$T/new/.netvol"
echo "a whole sync takes ${whole}ms"
delays=$(awk -v s="$SEED" -v n="$RUNS" -v w="$whole" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%d ", rand() * w * 1.1 }')
i=0 moved=0 kept=0 reused=0 compared=0
for d in $delays; do
	i=$((i + 1))
	s="$T/store$i"
	cp -a "$T/store0" "$s"
	export NETVOL_STORE="file://$s"
	rm -rf "$T/new/.netvol"
	NETWORK_VOLUME="$T/new" "$NETVOL" sync >"$T/killed.log" 2>&1 &
	pid=$!
	sleep "$(awk -v d="$d" 'BEGIN { printf "%.3f", d / 1000 }')"
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	packs=$(($(ls "$s/kim/user/data/packs" | grep -c '\.idx$' || true) - packs0))
	h=$(cat "$s/kim/user/data/HEAD")
	rm -rf "$T/r"
	assert_exit 0 nv_pod "$T/r" restore
	if [ "$h" = "$head0" ]; then
		kept=$((kept + 1)) want="$T/old/data"
	else
		moved=$((moved + 1)) want="$T/new/data"
	fi
	treecmp "$want" "$T/r/data"
	compared=$((compared + $(du -sb --apparent-size "$want" | cut -f1)))
	assert_exit 0 env NETWORK_VOLUME="$T/r" "$NETVOL" verify
	# the next sync completes and reuses what the killed one stored
	rm -rf "$T/new/.netvol"
	assert_exit 0 env NETVOL_LOG_LEVEL=info NETWORK_VOLUME="$T/new" "$NETVOL" sync
	new=$(logval sync.done bytes_new)
	[ "$new" -le "$full" ] || fail "run $i: bytes_new $new > tree size $full"
	if [ "$packs" -gt 0 ]; then
		[ "$new" -lt "$full" ] || fail "run $i (delay ${d}ms): $packs packs stored, yet the next sync sent everything ($new bytes)"
		reused=$((reused + 1))
	fi
	rm -rf "$T/r"
	assert_exit 0 nv_pod "$T/r" restore
	treecmp "$T/new/data" "$T/r/data"
	compared=$((compared + full))
	echo "run $i: delay=${d}ms packs_after_kill=$packs head=$([ "$h" = "$head0" ] && echo old || echo new) next_bytes_new=$new"
	rm -rf "$s" "$T/r"
done
echo "faults: kill_sync seed=$SEED kills=$RUNS head_old=$kept head_new=$moved next_sync_reused_packs=$reused bytes_compared=$compared bytes_lost=0"
