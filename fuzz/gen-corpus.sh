#!/bin/sh
# Regenerate the seed corpus in fuzz/corpus/<target>/ with the real encoder:
# `netvol sync` of a few tiny trees into a file store, then the objects it
# wrote (HEAD, pack indexes, manifests, manifest bodies, restore inputs) are
# copied out. Usage: fuzz/gen-corpus.sh path/to/netvol
set -eu
NETVOL=${1:?usage: gen-corpus.sh NETVOL}
cd "$(dirname "$0")"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
C=corpus
rm -rf "$C"
mkdir -p "$C/head" "$C/idx" "$C/manifest" "$C/config" "$C/restore"

# three small trees: files, a symlink, a hardlink, an empty dir, odd modes
mkdir -p "$T/p/ds/sub/deep" "$T/p/ds/empty"
printf 'hello\n' >"$T/p/ds/a"
printf 'x%.0s' $(seq 1 300) >"$T/p/ds/sub/b"
ln -s ../a "$T/p/ds/sub/link"
ln "$T/p/ds/a" "$T/p/ds/hard"
: >"$T/p/ds/sub/deep/empty-file"
chmod 750 "$T/p/ds/sub"
n=0
for round in 1 2 3; do
	NETWORK_VOLUME="$T/p" NETVOL_STORE="file://$T/s" NETVOL_DATASETS=ds:user \
		"$NETVOL" sync >/dev/null 2>&1
	d="$T/s/user/ds"
	cp "$d/HEAD" "$C/head/head$round"
	for f in "$d"/packs/*.idx; do cp "$f" "$C/idx/$(basename "$f" .idx | cut -c1-16)"; done
	id=$(tail -n 1 "$d/HEAD")
	m="$d/snapshots/$id"
	# whole object (mode byte 0) and body (mode byte 1)
	{ printf '\000'; cat "$m"; } >"$C/manifest/object$round"
	tail -c +9 "$m" | zstd -d -q -c >"$T/body"
	{ printf '\001'; cat "$T/body"; } >"$C/manifest/body$round"
	# restore input: 4-byte length, body, the pack (a fresh store: one pack)
	NETWORK_VOLUME="$T/p" NETVOL_STORE="file://$T/one$round" NETVOL_DATASETS=ds:user \
		"$NETVOL" sync >/dev/null 2>&1
	d="$T/one$round/user/ds"
	tail -c +9 "$d/snapshots/$(tail -n 1 "$d/HEAD")" | zstd -d -q -c >"$T/body"
	len=$(wc -c <"$T/body")
	pack=$(ls "$d"/packs/*.pack)
	python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<I", int(sys.argv[1])))' "$len" \
		>"$C/restore/tree$round"
	cat "$T/body" "$pack" >>"$C/restore/tree$round"
	n=$((n + 1))
	echo "more $round" >"$T/p/ds/new$round"
	mkdir -p "$T/p/ds/dir$round"
done

# configurations: good and bad environments
cfg() { printf '%b' "$2" >"$C/config/$1"; }
cfg ok 'NETWORK_VOLUME=/workspace\n_NETWORK_VOLUME=/network\nNETVOL_STORE=file:///srv/s\nPOD_USER_NAME=alice\nPOD_ID=p-1\n'
cfg datasets 'NETWORK_VOLUME=/w\nNETVOL_DATASETS=venv,.comfyui:shared\nComfyUI/user:pod,data:user\nPOD_ID=x\n'
cfg durations 'NETWORK_VOLUME=/w\nNETVOL_NV_TIMEOUT=1m30s\nNETVOL_DEADLINE=250ms\nNETVOL_PROGRESS_INTERVAL=2h\n'
cfg numbers 'NETWORK_VOLUME=/w\nNETVOL_PARALLEL=256\nNETVOL_ZSTD_LEVEL=19\nAWS_MAX_ATTEMPTS=3\n'
cfg logs 'NETVOL_LOG_FORMAT=json\nNETVOL_LOG_LEVEL=debug\nNETVOL_S3_ADDRESSING=path\n'
cfg aws 'AWS_BUCKET_NAME=b\nPOD_USER_NAME=u\nAWS_REGION=eu-west-1\nAWS_ENDPOINT_URL=http://127.0.0.1:9000\nAWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY=s\n'
cfg bad 'NETWORK_VOLUME=rel\nNETVOL_DATASETS=../x,a/./b,a:nope\nNETVOL_DEADLINE=1x\n'
echo "corpus: $n trees; $(find "$C" -type f | wc -l) files, $(du -sk "$C" | cut -f1) KiB"
