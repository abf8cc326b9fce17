#!/bin/sh
# Recovery point of the sync sidecar: a writer adds a file stamped with the
# time every 100 ms under NETWORK_VOLUME/data while `netvol sync --loop`
# runs; at a random moment everything is killed with SIGKILL (no final
# sync), the dataset is restored into a fresh folder, and the loss is the
# kill time minus the newest stamp restored. Prints each trial and the
# worst. Usage: scripts/measure-rpo.sh [BIN_DIR] [INTERVAL] [TRIALS]
set -eu
BIN=${1:-$(dirname "$0")/../bin}
INTERVAL=${2:-2s}
TRIALS=${3:-5}
T=$(mktemp -d "${TMPDIR:-/tmp}/netvol-rpo.XXXXXX")
trap 'rm -rf "$T"' EXIT
export NETVOL_STORE="file://$T/store" POD_USER_NAME=rpo NETVOL_DATASETS="data:user"
export NETVOL_SYNC_INTERVAL=$INTERVAL
now_ms() { date +%s%3N; }
worst=0
i=0
while [ $i -lt "$TRIALS" ]; do
	i=$((i + 1))
	rm -rf "$T/p" "$T/r" "$T/store"
	mkdir -p "$T/p/data"
	# some bulk, so that a round costs a walk of a real tree
	head -c 20000000 /dev/urandom >"$T/p/data/bulk"
	NETWORK_VOLUME="$T/p" "$BIN/netvol" sync --loop >"$T/log" 2>&1 &
	loop=$!
	(while :; do t=$(now_ms); echo "$t" >"$T/p/data/.w" && mv "$T/p/data/.w" "$T/p/data/s$t"; sleep 0.1; done) &
	w=$!
	sleep "$((3 + $(od -An -N1 -tu1 /dev/urandom) % 5)).$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')"
	kill -9 $loop $w
	killed=$(now_ms)
	wait $loop $w 2>/dev/null || true
	NETWORK_VOLUME="$T/r" "$BIN/netvol" restore >/dev/null 2>&1
	newest=$(ls "$T/r/data" | sed -n 's/^s//p' | sort -n | tail -n 1)
	loss=$((killed - ${newest:-0}))
	round=$(grep 'event=sync.done' "$T/log" | tail -n 1 | tr ' ' '\n' | sed -n 's/^duration_ms=//p')
	echo "trial $i: lost the last ${loss} ms of writes (last round took ${round:-?} ms)"
	[ $loss -gt $worst ] && worst=$loss
done
echo "rpo: interval=$INTERVAL trials=$TRIALS worst_loss_ms=$worst"
