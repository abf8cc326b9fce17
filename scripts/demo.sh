#!/bin/sh
# The main job on a built-in default: a local store (file://) in a temp
# folder, no cloud account. Three pods of one user:
#   A: no network volume - its sync uploads to the store;
#   B: an empty network volume - restore from the store, then its sync also
#      copies the shared datasets onto the network volume;
#   C: the populated network volume - restore makes symlinks in milliseconds.
set -eu
BIN=${1:-$(dirname "$0")/../bin}
NETVOL="$BIN/netvol"
D=$(mktemp -d "${TMPDIR:-/tmp}/netvol-demo.XXXXXX")
export NETVOL_STORE="file://$D/store" POD_USER_NAME=demo-user
export NETVOL_DATASETS="venv,.comfyui,ComfyUI/custom_nodes,ComfyUI/output:pod"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "pod A: a user's first pod, no network volume"
mkdir -p "$D/podA/.comfyui" "$D/podA/ComfyUI/custom_nodes/my-node" "$D/podA/ComfyUI/output"
/usr/bin/python3 -m venv --without-pip "$D/podA/venv"
cp -r /usr/lib/python3/dist-packages/jsonpatch.py "$D/podA/venv/lib/"python3*/site-packages/ 2>/dev/null || true
head -c 20000000 /dev/urandom >"$D/podA/venv/lib/libbig.so"
echo '{"theme": "dark"}' >"$D/podA/.comfyui/settings.json"
echo 'print("hello")' >"$D/podA/ComfyUI/custom_nodes/my-node/__init__.py"
echo 'png' >"$D/podA/ComfyUI/output/image-0001.png"
POD_ID=pod-a NETWORK_VOLUME="$D/podA" "$NETVOL" sync

say "pod A again: nothing changed, nothing is uploaded"
POD_ID=pod-a NETWORK_VOLUME="$D/podA" "$NETVOL" sync

say "pod B: an empty network volume; restore comes from the store"
mkdir -p "$D/nv"
POD_ID=pod-b _NETWORK_VOLUME="$D/nv" NETWORK_VOLUME="$D/podB" "$NETVOL" restore
say "pod B stops: sync copies the shared datasets onto the network volume"
POD_ID=pod-b _NETWORK_VOLUME="$D/nv" NETWORK_VOLUME="$D/podB" "$NETVOL" sync

say "pod C: the network volume holds the data; restore makes symlinks"
POD_ID=pod-c _NETWORK_VOLUME="$D/nv" NETWORK_VOLUME="$D/podC" "$NETVOL" restore
ls -lA "$D/podC" | sed 's/^/   /'

say "what the store holds"
"$NETVOL" ls
"$NETVOL" verify
say "done; everything is in $D (remove it when you are done looking)"
