#!/bin/sh
# The network-volume scenarios: none, empty (sync copies onto it), populated
# (restore makes symlinks, sync snapshots the linked folder), unusable
# (missing, a file), and two pods copying the same folder at once.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url nv)" POD_USER_NAME=carol POD_ID=p1
export NETVOL_DATASETS="venv,.comfyui,ComfyUI/output:pod"
make_tree "$T/a"
rm "$T/a/venv/fifo"
mkdir -p "$T/a/.comfyui" "$T/a/ComfyUI/output"
echo cfg >"$T/a/.comfyui/settings.json"
echo img >"$T/a/ComfyUI/output/out.png"
mkdir "$T/nv"

# no network volume
assert_exit 0 nv_pod "$T/a" sync
assert_contains "$OUT" "_NETWORK_VOLUME is not set"

# an empty network volume: sync copies the shared datasets onto it
export _NETWORK_VOLUME="$T/nv"
assert_exit 0 nv_pod "$T/a" sync
assert_contains "$OUT" "result=copied"
treecmp "$T/a/venv" "$T/nv/venv"
treecmp "$T/a/.comfyui" "$T/nv/.comfyui"
[ ! -e "$T/nv/ComfyUI/output" ] || fail "pod-scoped data went onto the network volume"
assert_eq "$(ls -A "$T/nv" | tr '\n' ' ')" ".comfyui .netvol venv " "network volume root"

# a populated network volume: restore links shared datasets, restores the pod's
assert_exit 0 nv_pod "$T/b" restore
assert_eq "$(readlink "$T/b/venv")" "$T/nv/venv" "venv symlink"
assert_eq "$(readlink "$T/b/.comfyui")" "$T/nv/.comfyui" ".comfyui symlink"
[ -d "$T/b/ComfyUI/output" ] && [ ! -L "$T/b/ComfyUI/output" ] || fail "output must be restored, not linked"
assert_contains "$OUT" "result=created"
assert_exit 0 nv_pod "$T/b" restore
assert_contains "$OUT" "result=already_linked"

# sync from a linked dataset snapshots the network volume's folder
echo more >"$T/nv/venv/added-on-nv"
assert_exit 0 nv_pod "$T/b" sync
assert_contains "$OUT" "source=$T/nv/venv"
assert_contains "$OUT" "used_nv=true"
unset _NETWORK_VOLUME
assert_exit 0 nv_pod "$T/c" restore venv
treecmp "$T/nv/venv" "$T/c/venv"

# unusable: missing, or a file: optimization off, the store is used
for bad in "$T/missing" "$T/a/.comfyui/settings.json"; do
	rm -rf "$T/d"
	assert_exit 0 env _NETWORK_VOLUME="$bad" NETWORK_VOLUME="$T/d" "$NETVOL" restore venv
	assert_contains "$OUT" "usable=false"
	[ -d "$T/d/venv" ] && [ ! -L "$T/d/venv" ] || fail "want a restored folder with $bad"
done

# a link into a network volume that is not usable is reported, not followed
mkdir -p "$T/e"
ln -s "$T/nv-gone/venv" "$T/e/venv"
assert_exit 1 env _NETWORK_VOLUME="$T/nv-gone" NETWORK_VOLUME="$T/e" "$NETVOL" sync venv
assert_contains "$OUT" "not usable"

# two pods copy the same folder onto an empty network volume at once
mkdir "$T/nv2"
cp -a "$T/a" "$T/a2"
( _NETWORK_VOLUME="$T/nv2" NETWORK_VOLUME="$T/a" "$NETVOL" sync venv >"$T/r1" 2>&1 ) &
p1=$!
( _NETWORK_VOLUME="$T/nv2" NETWORK_VOLUME="$T/a2" "$NETVOL" sync venv >"$T/r2" 2>&1 ) &
p2=$!
wait $p1 || fail "first racer failed: $(cat "$T/r1")"
wait $p2 || fail "second racer failed: $(cat "$T/r2")"
treecmp "$T/a/venv" "$T/nv2/venv"
ls -A "$T/nv2" | grep -q stage && fail "staging left on the network volume"
cat "$T/r1" "$T/r2" | grep -q 'result=copied' || fail "nobody copied"
true

# the volume roots may themselves be symlinks (they are configuration)...
ln -s "$T/b" "$T/pod-link"
ln -s "$T/nv" "$T/nv-link"
rm -rf "$T/b"/* "$T/b"/.comfyui "$T/b"/.netvol
assert_exit 0 env _NETWORK_VOLUME="$T/nv-link" NETWORK_VOLUME="$T/pod-link" "$NETVOL" restore
assert_eq "$(readlink "$T/b/venv")" "$T/nv-link/venv" "venv symlink through linked roots"
mkdir -p "$T/nv3" && ln -s "$T/nv3" "$T/nv3-link"
assert_exit 0 env _NETWORK_VOLUME="$T/nv3-link" NETWORK_VOLUME="$T/a" "$NETVOL" sync venv
treecmp "$T/a/venv" "$T/nv3/venv"
# ...but a symlink among a dataset's own parent folders is refused
mkdir -p "$T/f" "$T/elsewhere"
ln -s "$T/elsewhere" "$T/f/ComfyUI"
assert_exit 1 env NETVOL_DATASETS="ComfyUI/custom_nodes" NETWORK_VOLUME="$T/f" "$NETVOL" restore
assert_contains "$OUT" "symlink"
[ -z "$(ls -A "$T/elsewhere")" ] || fail "restore wrote through a symlink"
