#!/bin/bash
# netvol against its peers on one local S3 server (issue 6): a Ceph radosgw
# on loopback (tests/s3/rgw.sh), the same for every tool.
#
#   bench/s3.sh BIN OUTDIR [SIZE]     SIZE: small (default) | medium | large
#
# Tools: netvol, restic, rclone, and the seed's way (tar.gz chunks moved with
# `aws s3 cp` in parallel). Scenarios, each tool on the same tree, the tool
# order rotated each repetition: full sync of a fresh tree, unchanged sync,
# cold restore into an empty folder, incremental sync after `gen.py change`.
# Then netvol's network-volume path (symlink restore, preStop copy), the
# scaling runs, and the server's raw GET throughput (parallel ranged GETs with
# curl). Every run records wall, user+sys CPU, peak RSS (GNU time), bytes
# sent to / received from the server port (iptables counters on lo) and the
# 1-minute load average; results go to OUTDIR/results.tsv, and
# bench/report.py turns them into Markdown.
#
# Env: RUNS (repetitions, default 3), BENCH_DATA (where generated trees are
# kept between runs, default /var/tmp/netvol-bench-data), BENCH_TMP,
# BENCH_TOOLS (default "netvol restic rclone tgz"), BENCH_SCALING=0 to skip
# the scaling runs, TGZ_CHUNKS (default 4), BENCH_STATIC (the static
# netvol, also timed on the symlink path), BENCH_LOOPFS=0 to restore onto
# the file system of BENCH_TMP instead of a fresh loop-mounted ext4.
set -eu
BIN=$1 OUT=$2 SIZE=${3:-small}
RUNS=${RUNS:-3}
TOOLS=${BENCH_TOOLS:-netvol restic rclone tgz}
TGZ_CHUNKS=${TGZ_CHUNKS:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
DATA=${BENCH_DATA:-/var/tmp/netvol-bench-data}
mkdir -p "$OUT" "$DATA"
B=$(mktemp -d "${BENCH_TMP:-/var/tmp}/netvol-s3bench.XXXXXX")
RES="$OUT/results.tsv"
: >"$RES"
RGW_DIR="" PORT="" W=$B

cleanup() {
	set +e
	[ -n "$PORT" ] && {
		iptables -D OUTPUT -o lo -p tcp --dport "$PORT" -m comment --comment nvbench-sent-$PORT 2>/dev/null
		iptables -D OUTPUT -o lo -p tcp --sport "$PORT" -m comment --comment nvbench-recv-$PORT 2>/dev/null
	}
	[ -n "$RGW_DIR" ] && "$ROOT/tests/s3/rgw.sh" stop "$RGW_DIR"
	[ "$W" != "$B" ] && umount "$W"
	chmod -R u+w "$B" 2>/dev/null
	rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $(date -u +%H:%M:%S) $*" >&2; }

# ---- data ----
gen_tree() { # gen_tree DIR ARGS...: generate once, keep in $DATA
	d=$1; shift
	if [ ! -f "$d.done" ]; then
		rm -rf "$d" "$d.undo"
		log "generating $d ($*)"
		python3 "$HERE/gen.py" "$@"
		touch "$d.done"
	fi
}
SRC="$DATA/tree-$SIZE"
gen_tree "$SRC" tree "$SRC" --size "$SIZE" --seed 1
python3 "$HERE/gen.py" revert "$SRC" # a run killed mid-change
rm -rf "$SRC/.netvol"
NFILES=$(find "$SRC" -type f | wc -l)
NENT=$(find "$SRC" | wc -l)
BYTES=$(du -sb "$SRC" | cut -f1)

# ---- where trees are written ----
# Restores and copies go to a fresh ext4 with a journal on a loop device,
# as a node's disk would be. This machine's root file system has no
# journal, and ext4 without one skips every inode freed in the last minute
# when it allocates a new one (recently_deleted()): right after the previous
# tool's tree was removed, creating 50k files then cost most of a restore's
# CPU, on the cores the S3 server needs too (perf, docs/BENCHMARKS.md).
if [ "${BENCH_LOOPFS:-1}" = 1 ] && truncate -s $((BYTES * 5 / 2 + (2 << 30))) "$B/fs.img" &&
	mkfs.ext4 -q -F "$B/fs.img" && mkdir -p "$B/fs" && mount -o loop "$B/fs.img" "$B/fs"; then
	W=$B/fs
	DSTFS="fresh ext4 with journal on a loop device ($(df -h --output=size "$W" | tail -n1 | tr -d ' '))"
else
	DSTFS="$(df --output=fstype "$B" | tail -n1) at $B (no loop device)"
fi
log "restores write to: $DSTFS"

# ---- server ----
log "starting radosgw"
# the server keeps objects in memory: the large tree (~6 GB stored per tool,
# the bucket emptied after each) needs more than the tests' 4 GiB
[ "$SIZE" = large ] && export NV_RGW_MEMSTORE_BYTES=${NV_RGW_MEMSTORE_BYTES:-12884901888}
eval "$("$ROOT/tests/s3/rgw.sh" start)"
RGW_DIR=$NV_RGW_DIR
EP=$AWS_ENDPOINT_URL_S3
PORT=${EP##*:}
CEPHCONF="$RGW_DIR/ceph.conf"
iptables -A OUTPUT -o lo -p tcp --dport "$PORT" -m comment --comment nvbench-sent-$PORT
iptables -A OUTPUT -o lo -p tcp --sport "$PORT" -m comment --comment nvbench-recv-$PORT
# (rules named by port: two runs at once each count their own server)
counters() { # "sent recv" bytes (IP packets) to/from the server port so far
	iptables -L OUTPUT -n -v -x | awk -v p="$PORT" '
		index($0, "nvbench-sent-" p " ") {s = $2}
		index($0, "nvbench-recv-" p " ") {r = $2}
		END {printf "%.0f %.0f\n", s, r}'
}
export AWS_DEFAULT_REGION=$AWS_REGION AWS_MAX_ATTEMPTS=5
AWS="aws --endpoint-url $EP"
mkbucket() { $AWS s3api create-bucket --bucket "$1" >/dev/null; }
rmbucket() { # drop a bucket and free its space now (memstore is 4 GiB)
	radosgw-admin -c "$CEPHCONF" -n client.rgw bucket rm --bucket="$1" --purge-objects >/dev/null 2>&1 || true
	radosgw-admin -c "$CEPHCONF" -n client.rgw gc process --include-all >/dev/null 2>&1 || true
}

# ---- measuring ----
# run SCENARIO TOOL CMD...: one measured run, appended to $RES
run() {
	sc=$1 tool=$2; shift 2
	load=$(cut -d' ' -f1 /proc/loadavg)
	read -r s0 r0 <<<"$(counters)"
	if ! /usr/bin/time -f '%e %U %S %M' -o "$B/time" bash -c '"$@"' _ "$@" >"$B/out" 2>"$B/err"; then
		log "FAILED: $sc $tool: $*"
		tail -n 20 "$B/err" >&2
		echo -e "$sc\t$tool\tFAIL\t\t\t\t\t$load" >>"$RES"
		return 1
	fi
	read -r s1 r1 <<<"$(counters)"
	read -r w u s m <"$B/time"
	cpu=$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')
	echo -e "$sc\t$tool\t$w\t$cpu\t$m\t$((s1 - s0))\t$((r1 - r0))\t$load" >>"$RES"
	log "$sc $tool: ${w}s cpu ${cpu}s rss $((m / 1024))MiB sent $(((s1 - s0) >> 20))MiB recv $(((r1 - r0) >> 20))MiB load $load"
}

# ---- the tools ----
export NETVOL_LOG_LEVEL=warn POD_USER_NAME=bench POD_ID=bench-pod
NV_DS="venv:shared,.cache:shared,ComfyUI/custom_nodes:shared"
nv() { # nv STORE_ROOT NETWORK_VOLUME [_NETWORK_VOLUME] VERB
	env NETVOL_STORE="$1" NETWORK_VOLUME="$2" _NETWORK_VOLUME="$3" NETVOL_DATASETS="$NV_DS" \
		"$BIN/netvol" "$4"
}
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$B/restic-cache"
RESTIC_REPO="s3:$EP/nvb-restic/repo"
export RCLONE_CONFIG_NVB_TYPE=s3 RCLONE_CONFIG_NVB_PROVIDER=Ceph RCLONE_CONFIG_NVB_ENDPOINT=$EP
export RCLONE_CONFIG_NVB_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_NVB_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export RCLONE_CONFIG_NVB_REGION=$AWS_REGION

# The seed's way: TGZ_CHUNKS tar.gz objects of about equal size, made and
# uploaded in parallel; restored by parallel `aws s3 cp - | tar -xz`.
tgz_sync() { # tgz_sync SRC BUCKET
	cd "$1"
	# contiguous slices of the sorted list, of about equal bytes (parallel
	# tar -x of interleaved files races on creating the same folders)
	find . -mindepth 1 \( -type f -o -type l \) -printf '%s %p\n' | sort -k2 >"$B/tgzall"
	awk -v n="$TGZ_CHUNKS" -v d="$B/tgzlist" -v t="$(awk '{s += $1} END {printf "%.0f", s}' "$B/tgzall")" '
		{ i = int(c * n / (t + 1)); c += $1; print substr($0, index($0, " ") + 1) > (d "." i) }' "$B/tgzall"
	for i in $(seq 0 $((TGZ_CHUNKS - 1))); do touch "$B/tgzlist.$i"; done
	i=0
	while [ $i -lt "$TGZ_CHUNKS" ]; do
		(tar -czf - -T "$B/tgzlist.$i" | $AWS s3 cp - "s3://$2/tgz/chunk$i.tar.gz" --quiet) &
		i=$((i + 1))
	done
	fails=0
	for j in $(jobs -p); do wait "$j" || fails=1; done
	rm -f "$B"/tgzlist.* "$B/tgzall"
	return $fails
}
tgz_restore() { # tgz_restore BUCKET DST
	mkdir -p "$2"
	i=0
	while [ $i -lt "$TGZ_CHUNKS" ]; do
		($AWS s3 cp "s3://$1/tgz/chunk$i.tar.gz" - --quiet | tar -xzf - -C "$2") &
		i=$((i + 1))
	done
	fails=0
	for j in $(jobs -p); do wait "$j" || fails=1; done
	return $fails
}

# tool_sync TOOL: one sync of $SRC (full, incremental or unchanged)
tool_sync() {
	case $1 in
	netvol) nv "s3://nvb-netvol/root" "$SRC" "" sync ;;
	restic) (cd "$SRC" && restic -r "$RESTIC_REPO" backup -q --exclude .netvol .) ;;
	rclone) env -u AWS_CA_BUNDLE rclone sync -l --exclude '/.netvol/**' "$SRC" nvb:nvb-rclone/tree ;;
	tgz) bash -c 'tgz_sync "$0" nvb-tgz' "$SRC" ;;
	esac
}
tool_restore() { # tool_restore TOOL DST
	case $1 in
	netvol) nv "s3://nvb-netvol/root" "$2" "" restore ;;
	restic) rm -rf "$RESTIC_CACHE_DIR" && restic -r "$RESTIC_REPO" restore latest -q --target "$2" ;;
	rclone) env -u AWS_CA_BUNDLE rclone copy -l nvb:nvb-rclone/tree "$2" ;;
	tgz) bash -c 'tgz_restore nvb-tgz "$0"' "$2" ;;
	esac
}
tool_init() {
	rm -rf "$SRC/.netvol" "$RESTIC_CACHE_DIR"
	mkbucket "nvb-$1"
	if [ "$1" = restic ]; then restic -r "$RESTIC_REPO" init -q >/dev/null; fi
}

export -f nv tgz_sync tgz_restore tool_sync tool_restore
export B TGZ_CHUNKS AWS SRC BIN NV_DS RESTIC_REPO EP

# check_tree DST: the restored tree has the source's files and bytes
check_tree() {
	n=$(find "$1" -path "$1/.netvol" -prune -o -type f -print | wc -l)
	b=$(find "$1" -path "$1/.netvol" -prune -o -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f\n", s}')
	sb=$(find "$SRC" -path "$SRC/.netvol" -prune -o -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f\n", s}')
	[ "$n" -eq "$NFILES" ] && [ "$b" -eq "$sb" ] || {
		log "restored tree differs: $n files $b bytes, expected $NFILES files $sb bytes"
		return 1
	}
}

# ---- raw GET throughput of the server ----
# The most this server gives one client for what a restore fetches: netvol's
# stored objects (packs, indexes, manifests) of the tree, each GET whole by
# curl to /dev/null, 16 connections (netvol's default), SigV4-signed.
raw_get() {
	mkbucket nvb-raw
	nv "s3://nvb-raw/root" "$SRC" "" sync >/dev/null 2>&1
	rm -rf "$SRC/.netvol"
	$AWS s3api list-objects-v2 --bucket nvb-raw --query 'Contents[].[Key,Size]' --output text >"$B/rawkeys"
	awk '{s += $2} END {printf "%.0f\n", s}' "$B/rawkeys" >"$OUT/rawget_bytes"
	# 16 curl config files, objects dealt round-robin, one connection each
	awk -v d="$B/rawcfg" -v ep="$EP" '{
		f = d "." (NR % 16)
		k = $1
		gsub("%", "%25", k) # keys hold escaped dataset names (%2F)
		print "url = \"" ep "/nvb-raw/" k "\"" > f
		print "output = \"/dev/null\"" > f
	}' "$B/rawkeys"
	cat >"$B/rawget.sh" <<EOF
#!/bin/bash
for f in $B/rawcfg.*; do
	curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \\
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -K "\$f" &
done
fails=0
for j in \$(jobs -p); do wait \$j || fails=1; done
exit \$fails
EOF
	chmod +x "$B/rawget.sh"
	r=0
	while [ $r -lt "$RUNS" ]; do
		r=$((r + 1))
		run rawget curl "$B/rawget.sh" || true
	done
	rmbucket nvb-raw
}

# ---- main scenarios ----
scenarios() {
	r=0
	set -- $TOOLS
	ntools=$#
	while [ $r -lt "$RUNS" ]; do
		# rotate the order each repetition
		k=0 order=""
		for t in $TOOLS; do
			order="$order $(echo $TOOLS | tr ' ' '\n' | sed -n "$(((k + r) % ntools + 1))p")"
			k=$((k + 1))
		done
		r=$((r + 1))
		log "repetition $r of $RUNS:$order"
		for t in $order; do
			tool_init "$t"
			run full_sync "$t" tool_sync "$t" || true
			# the seed's way has no incremental mode: an unchanged sync is a full one
			[ "$t" = tgz ] || run unchanged_sync "$t" tool_sync "$t" || true
			rm -rf "$W/dst"
			run cold_restore "$t" tool_restore "$t" "$W/dst" || true
			check_tree "$W/dst" || echo -e "check\t$t\tFAIL" >>"$RES"
			chmod -R u+w "$W/dst" 2>/dev/null || true; rm -rf "$W/dst"
			python3 "$HERE/gen.py" change "$SRC" --seed $((100 + r)) >"$OUT/changed_bytes"
			run incr_sync "$t" tool_sync "$t" || true
			python3 "$HERE/gen.py" revert "$SRC"
			rmbucket "nvb-$t"
		done
	done
}

# ---- the network-volume path (netvol only) ----
nvpath() {
	tool_init netvol
	nv "s3://nvb-netvol/root" "$SRC" "" sync
	# restore when the network volume ($SRC) holds every shared dataset
	r=0
	while [ $r -lt $((RUNS * 3)) ]; do
		r=$((r + 1))
		rm -rf "$W/pod"
		mkdir -p "$W/pod"
		run nv_symlink_restore netvol env NETVOL_LOG_LEVEL=info NETVOL_STORE=s3://nvb-netvol/root \
			NETWORK_VOLUME="$W/pod" _NETWORK_VOLUME="$SRC" NETVOL_DATASETS="$NV_DS" "$BIN/netvol" restore || true
		# netvol's own duration (store open, probe, links), without process start-up
		ms=$(sed -n 's/.*event=restore.summary.* duration_ms=\([0-9]*\).*/\1/p' "$B/err")
		[ -n "$ms" ] && echo -e "nv_symlink_internal\tnetvol\t$(awk -v m="$ms" 'BEGIN {print m / 1000}')\t0\t0\t0\t0\t$(cut -d' ' -f1 /proc/loadavg)" >>"$RES"
		# the static binary the init container runs (make static), no dynamic loader
		if [ -x "${BENCH_STATIC:-}" ]; then
			rm -rf "$W/pod"
			mkdir -p "$W/pod"
			run nv_symlink_restore netvol-static env NETVOL_LOG_LEVEL=info NETVOL_STORE=s3://nvb-netvol/root \
				NETWORK_VOLUME="$W/pod" _NETWORK_VOLUME="$SRC" NETVOL_DATASETS="$NV_DS" "$BENCH_STATIC" restore || true
		fi
	done
	# preStop: the pod has real folders, the network volume has none
	rm -rf "$W/pod"
	nv "s3://nvb-netvol/root" "$W/pod" "" restore
	r=0
	while [ $r -lt "$RUNS" ]; do
		r=$((r + 1))
		rm -rf "$W/nv" && mkdir -p "$W/nv"
		run nv_prestop_copy netvol nv "s3://nvb-netvol/root" "$W/pod" "$W/nv" sync || true
		rm -rf "$W/nv" && mkdir -p "$W/nv"
		run nv_prestop_copy cp-a sh -c 'cd "$0" && cp -a venv .cache ComfyUI "$1/"' "$W/pod" "$W/nv" || true
	done
	rm -rf "$W/pod" "$W/nv"
	rmbucket nvb-netvol
}

# ---- scaling (netvol; one run per point) ----
scaling() {
	case $SIZE in
	small) mbs="50 100 200" files="2500 5000 10000" fixmb=100 fixfiles=5000 ;;
	medium) mbs="500 1000 2000" files="10000 30000 100000" fixmb=500 fixfiles=20000 ;;
	large) mbs="2000 4000 8000" files="30000 100000 300000" fixmb=2000 fixfiles=50000 ;;
	esac
	pts=""
	for mb in $mbs; do pts="$pts $mb:$fixfiles"; done
	for f in $files; do pts="$pts $fixmb:$f"; done
	for p in $(echo $pts | tr ' ' '\n' | sort -u -t: -k1,1n -k2,2n); do
		mb=${p%:*} f=${p#*:}
		d="$DATA/venv-$mb-$f"
		gen_tree "$d" venv "$d/venv" --mb "$mb" --files "$f" --seed 2
		rm -rf "$d/.netvol"
		mkbucket nvb-scale
		e="s3://nvb-scale/root"
		run "scale_sync:$mb:$f" netvol env NETVOL_STORE=$e NETWORK_VOLUME="$d" NETVOL_DATASETS=venv "$BIN/netvol" sync || true
		run "scale_unchanged:$mb:$f" netvol env NETVOL_STORE=$e NETWORK_VOLUME="$d" NETVOL_DATASETS=venv "$BIN/netvol" sync || true
		rm -rf "$W/dst"
		run "scale_restore:$mb:$f" netvol env NETVOL_STORE=$e NETWORK_VOLUME="$W/dst" NETVOL_DATASETS=venv "$BIN/netvol" restore || true
		rm -rf "$W/dst" "$d/.netvol"
		rmbucket nvb-scale
	done
}

{
	echo "size=$SIZE"
	echo "runs=$RUNS"
	echo "tree_files=$NFILES"
	echo "tree_entries=$NENT"
	echo "tree_bytes=$BYTES"
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine=$(nproc) cores ($(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed "s/^ //")), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
	echo "netvol=$("$BIN/netvol" version | tr '\n' ' ')"
	[ -x "${BENCH_STATIC:-}" ] && echo "netvol_static=$("$BENCH_STATIC" version | head -n1)"
	echo "restic=$(restic version | head -n1)"
	echo "rclone=$(rclone version | head -n1)"
	echo "aws=$(aws --version 2>&1)"
	echo "curl=$(curl --version | head -n1)"
	echo "radosgw=$(radosgw --version 2>/dev/null | head -n1)"
	echo "tgz_chunks=$TGZ_CHUNKS"
	echo "dst_fs=$DSTFS"
} >"$OUT/meta"
log "tree $SRC: $NFILES files, $BYTES bytes"
raw_get
scenarios
nvpath
[ "${BENCH_SCALING:-1}" = 0 ] || scaling
log "done: $RES"
