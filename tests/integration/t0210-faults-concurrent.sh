#!/bin/sh
# Two pods at once. (1) Both sync the same dataset with different content,
# several rounds: each sync succeeds, HEAD names a complete snapshot that
# merges both (DESIGN rule 8: each pod's own big file is there as that pod
# wrote it, every other file is one of the two pods' versions),
# `netvol verify` is clean.
# (2) Both copy the same folder onto an empty network volume, several
# rounds: exactly one copy is visible, identical to one pod's folder (never
# a mix), the loser discards its copy and no staging folder is left.
. "$(dirname "$0")/lib.sh"
treecmp_q() { python3 "$(dirname "$0")/treecmp.py" "$1" "$2" >/dev/null 2>&1; }

export NETVOL_STORE="$(nv_store_url race)" POD_USER_NAME=ray NETVOL_DATASETS=data:user
rounds=3 compared=0
fill() { # fill DIR ROUND TAG: shared files, files of this pod, a big one
	mkdir -p "$1/data/common" "$1/data/own"
	i=0
	while [ $i -lt 20 ]; do
		printf 'common %s %s\n' "$i" "$2" >"$1/data/common/c$i"
		printf 'own %s %s %s\n' "$3" "$i" "$2" >"$1/data/own/o$i"
		i=$((i + 1))
	done
	head -c 3000000 /dev/urandom >"$1/data/big-$3"
	ln -sf "big-$3" "$1/data/latest"
}
r=1
while [ $r -le $rounds ]; do
	rm -rf "$T/a/data" "$T/b/data"
	fill "$T/a" $r a
	fill "$T/b" $r b
	( NETWORK_VOLUME="$T/a" "$NETVOL" sync >"$T/ra" 2>&1 ) &
	pa=$!
	( NETWORK_VOLUME="$T/b" "$NETVOL" sync >"$T/rb" 2>&1 ) &
	pb=$!
	wait $pa || fail "round $r: pod a's sync failed: $(cat "$T/ra")"
	wait $pb || fail "round $r: pod b's sync failed: $(cat "$T/rb")"
	rm -rf "$T/r"
	assert_exit 0 nv_pod "$T/r" restore
	python3 - "$T/a/data" "$T/b/data" "$T/r/data" <<'EOF2' || fail "round $r: not a merge of both pods"
import os, sys
a, b, r = sys.argv[1:]
def read(p):
    if os.path.islink(p):
        return ("l", os.readlink(p))
    if os.path.isdir(p):
        return ("d",)
    return ("f", open(p, "rb").read()) if os.path.exists(p) else None
for tag, src in (("a", a), ("b", b)):
    if read(os.path.join(r, "big-" + tag)) != read(os.path.join(src, "big-" + tag)):
        sys.exit("big-%s is not pod %s's" % (tag, tag))
for d, dirs, files in os.walk(r):
    for n in dirs + files:
        rel = os.path.relpath(os.path.join(d, n), r)
        got = read(os.path.join(r, rel))
        if got not in (read(os.path.join(a, rel)), read(os.path.join(b, rel))):
            sys.exit("%s is neither pod's version" % rel)
EOF2
	winner=merged
	compared=$((compared + $(du -sb --apparent-size "$T/r/data" | cut -f1)))
	assert_exit 0 env NETWORK_VOLUME="$T/r" "$NETVOL" verify
	assert_contains "$OUT" "; 0 problems"
	echo "sync round $r: HEAD = pod $winner's snapshot"
	r=$((r + 1))
done

# two pods copy the same folder onto an empty network volume at once
export NETVOL_DATASETS=venv
make_tree "$T/src1"
rm "$T/src1/venv/fifo"
cp -a "$T/src1" "$T/src2"
head -c 3000000 /dev/urandom >"$T/src2/venv/lib/only-in-2.so"
echo two >"$T/src2/venv/bin/tool"
r=1
while [ $r -le $rounds ]; do
	nv="$T/nv$r"
	mkdir "$nv"
	( _NETWORK_VOLUME="$nv" NETWORK_VOLUME="$T/src1" "$NETVOL" sync >"$T/r1" 2>&1 ) &
	p1=$!
	( _NETWORK_VOLUME="$nv" NETWORK_VOLUME="$T/src2" "$NETVOL" sync >"$T/r2" 2>&1 ) &
	p2=$!
	wait $p1 || fail "round $r: first racer failed: $(cat "$T/r1")"
	wait $p2 || fail "round $r: second racer failed: $(cat "$T/r2")"
	if treecmp_q "$T/src1/venv" "$nv/venv"; then winner=1; else
		treecmp "$T/src2/venv" "$nv/venv"
		winner=2
	fi
	compared=$((compared + $(du -sb --apparent-size "$nv/venv" | cut -f1)))
	assert_eq "$(ls -A "$nv" | tr '\n' ' ')" ".netvol venv " "round $r: network volume root"
	stale=$(find "$nv" -name '.netvol-stage*' -o -name '.netvol-link*' | head -n 1)
	[ -z "$stale" ] || fail "round $r: staging left: $stale"
	copied=$(cat "$T/r1" "$T/r2" | grep -c 'result=copied' || true)
	[ "$copied" -le 1 ] || fail "round $r: both pods claim to have copied"
	grep -q "result=copied" "$T/r$winner" || fail "round $r: pod $winner's copy is visible but it did not report copying"
	echo "copy round $r: pod $winner's copy is on the network volume; $(cat "$T/r1" "$T/r2" | grep -o 'result=lost_race_discarded' | wc -l) discarded"
	rm -rf "$nv"
	r=$((r + 1))
done
echo "faults: concurrent rounds=$((2 * rounds)) bytes_compared=$compared bytes_lost=0"
