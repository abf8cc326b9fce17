#!/bin/sh
# Engine benchmark on a local file:// store (issue 2): restore and full sync
# of a venv-like tree against `tar -I zstd` extract/create of the same tree,
# unchanged syncs (also the first after a restore), and peak RSS.
# usage: bench/engine.sh BIN OUT.md [MB] [FILES]
set -eu
BIN=$1 OUT=$2 MB=${3:-1000} FILES=${4:-30000}
RUNS=${RUNS:-3}
B=$(mktemp -d "${BENCH_TMP:-/var/tmp}/netvol-bench.XXXXXX")
trap 'rm -rf "$B"' EXIT
cd "$(dirname "$0")"
python3 gen.py venv "$B/src/venv" --mb "$MB" --files "$FILES"
nfiles=$(find "$B/src/venv" -type f | wc -l)
bytes=$(du -sb "$B/src/venv" | cut -f1)
export NETVOL_DATASETS=venv POD_USER_NAME=bench NETVOL_LOG_LEVEL=warn

# t CMD...: wall seconds and peak RSS (MiB) of one run, into $W and $R
t() {
	cut -d' ' -f1 /proc/loadavg >>"$B/load"
	/usr/bin/time -f '%e %M' -o "$B/time" "$@" >/dev/null 2>"$B/err" || { cat "$B/err" >&2; exit 1; }
	W=$(cut -d' ' -f1 "$B/time"); R=$(($(cut -d' ' -f2 "$B/time") / 1024))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for name in tar_create tar_extract nv_sync nv_unchanged nv_restore nv_after_restore; do : >"$B/$name"; done
rss_sync=0 rss_restore=0
i=0
while [ $i -lt "$RUNS" ]; do
	i=$((i + 1))
	rm -rf "$B/store" "$B/dst" "$B/x.tar.zst" "$B/tx" "$B/src/.netvol"
	mkdir -p "$B/tx"
	t tar -I 'zstd -3 -T1' -cf "$B/x.tar.zst" -C "$B/src" venv; echo "$W" >>"$B/tar_create"
	t tar -I 'zstd -T1' -xf "$B/x.tar.zst" -C "$B/tx"; echo "$W" >>"$B/tar_extract"
	export NETVOL_STORE="file://$B/store"
	t env NETWORK_VOLUME="$B/src" "$BIN/netvol" sync; echo "$W" >>"$B/nv_sync"; [ $R -gt $rss_sync ] && rss_sync=$R
	t env NETWORK_VOLUME="$B/src" "$BIN/netvol" sync; echo "$W" >>"$B/nv_unchanged"
	t env NETWORK_VOLUME="$B/dst" "$BIN/netvol" restore; echo "$W" >>"$B/nv_restore"; [ $R -gt $rss_restore ] && rss_restore=$R
	t env NETWORK_VOLUME="$B/dst" "$BIN/netvol" sync; echo "$W" >>"$B/nv_after_restore"
	rm -rf "$B/tx"
done
m() { median <"$B/$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
store_bytes=$(du -sb "$B/store" | cut -f1)
tar_bytes=$(stat -c %s "$B/x.tar.zst")
{
	echo "### Engine, local store ($(date -u +%Y-%m-%d))"
	echo
	echo "Command: \`make bench-engine\`, part of \`make bench\` (bench/engine.sh, $RUNS runs, median wall time; warm page cache)."
	echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $("$BIN/netvol" version | tail -n 1)."
	echo "Load average (1 min) at the start of the runs: $(sort -n "$B/load" | head -n1) to $(sort -n "$B/load" | tail -n1) (the machine is shared)."
	echo "Tree: venv-like (bench/gen.py venv --mb $MB --files $FILES): $nfiles files, $bytes bytes."
	echo
	echo "| step | netvol | tar -I zstd (-3, 1 thread) | ratio netvol/tar | peak RSS netvol |"
	echo "| --- | --- | --- | --- | --- |"
	echo "| full sync / tar create | $(m nv_sync) s | $(m tar_create) s | $(ratio "$(m nv_sync)" "$(m tar_create)") | $rss_sync MiB |"
	echo "| restore / tar extract | $(m nv_restore) s | $(m tar_extract) s | $(ratio "$(m nv_restore)" "$(m tar_extract)") | $rss_restore MiB |"
	echo "| unchanged sync | $(m nv_unchanged) s | | | |"
	echo "| first sync after a restore | $(m nv_after_restore) s | | | |"
	echo
	echo "Stored: netvol store $store_bytes bytes, tar.zst $tar_bytes bytes."
	echo
} >"$OUT"
cat "$OUT"
