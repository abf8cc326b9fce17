#!/bin/sh
# The default datasets keep the shell scripts' scope: the pod's whole
# ComfyUI tree (code, user/, input/, output/, temp/, root and hidden files)
# except models, custom_nodes and .browser-session, with custom_nodes its
# own shared dataset, nested in it. Sync leaves the excluded paths out;
# restore does the parent first and renames it in around what is already
# there of the excluded paths (a linked custom_nodes, a models folder),
# never over it.
. "$(dirname "$0")/lib.sh"

export NETVOL_STORE="$(nv_store_url scope)" POD_USER_NAME=sam POD_ID=pod-s1
unset _NETWORK_VOLUME NETVOL_DATASETS

# a pod's tree, as ComfyUI leaves it
c=$T/a/ComfyUI
mkdir -p "$c/comfy" "$c/user/default/workflows" "$c/input" "$c/output/sub" "$c/temp" \
	"$c/models/checkpoints" "$c/custom_nodes/node-a" "$c/.browser-session" "$c/.git"
echo '# main' >"$c/main.py"
echo '# code' >"$c/comfy/sd.py"
echo '{"a": 1}' >"$c/user/default/comfy.settings.json"
head -c 70000 /dev/urandom >"$c/user/default/workflows/w1.json"
head -c 9000 /dev/urandom >"$c/input/example.png"
head -c 12000 /dev/urandom >"$c/output/sub/ComfyUI_00001_.png"
echo tmp >"$c/temp/x.tmp"
echo '*.pyc' >"$c/.gitignore"
echo 'ref: refs/heads/master' >"$c/.git/HEAD"
echo extra >"$c/extra_model_paths.yaml"
head -c 300000 /dev/urandom >"$c/models/checkpoints/big.safetensors"
echo '# node' >"$c/custom_nodes/node-a/__init__.py"
echo cookie >"$c/.browser-session/cookies"

assert_exit 0 nv_pod "$T/a" sync
assert_eq "$(echo "$OUT" | grep -c 'event=sync.done .*result=uploaded')" 2 "datasets synced"
# files=: ComfyUI without models, custom_nodes, .browser-session
assert_contains "$(echo "$OUT" | grep 'event=sync.done dataset=ComfyUI ')" "files=10"
assert_contains "$(echo "$OUT" | grep 'event=sync.done dataset=ComfyUI/custom_nodes ')" "files=1"

# expected: the tree without the excluded folders (custom_nodes compared apart)
cp -a "$c" "$T/want"
rm -rf "$T/want/models" "$T/want/.browser-session" "$T/want/custom_nodes"
same_comfy() { # DIR: DIR/ComfyUI is the synced tree (custom_nodes apart)
	rm -rf "$T/got"
	cp -a "$1/ComfyUI" "$T/got"
	rm -rf "$T/got/custom_nodes"
	touch -r "$T/want" "$T/got"
	treecmp "$T/want" "$T/got"
}

# round trip into a new pod: parent first, then the nested dataset
assert_exit 0 nv_pod "$T/b" restore
first=$(echo "$OUT" | grep -n 'event=restore.done dataset=ComfyUI ' | cut -d: -f1)
nested=$(echo "$OUT" | grep -n 'event=restore.done dataset=ComfyUI/custom_nodes ' | cut -d: -f1)
[ -n "$first" ] && [ -n "$nested" ] && [ "$first" -lt "$nested" ] || fail "order: $OUT"
assert_contains "$(echo "$OUT" | grep 'event=restore.done dataset=ComfyUI ')" "result=restored"
same_comfy "$T/b"
treecmp "$c/custom_nodes" "$T/b/ComfyUI/custom_nodes"
for x in models .browser-session; do
	[ ! -e "$T/b/ComfyUI/$x" ] || fail "$x was restored"
done

# with a network volume holding custom_nodes: linked from it, inside the
# restored ComfyUI
mkdir -p "$T/nv/ComfyUI/custom_nodes/node-nv"
echo '# nv node' >"$T/nv/ComfyUI/custom_nodes/node-nv/__init__.py"
export _NETWORK_VOLUME=$T/nv
assert_exit 0 nv_pod "$T/c" restore
assert_contains "$(echo "$OUT" | grep 'event=restore.linked dataset=ComfyUI/custom_nodes ')" "result=created"
assert_eq "$(readlink "$T/c/ComfyUI/custom_nodes")" "$T/nv/ComfyUI/custom_nodes" "link"
same_comfy "$T/c"
# a sync of it uploads no new data for ComfyUI (the link is not walked; only
# the folder's mtime changed, with the link made in it)
assert_exit 0 nv_pod "$T/c" sync ComfyUI
line=$(echo "$OUT" | grep 'event=sync.done dataset=ComfyUI ')
assert_contains "$line" "files=10 "
assert_contains "$line" "bytes_new=0 "
assert_contains "$line" "blobs_new=0 "

# the nested dataset already linked and a models folder there (the
# platform's): ComfyUI is restored around them, they are left as they were
mkdir -p "$T/d/ComfyUI/models/loras"
echo mine >"$T/d/ComfyUI/models/loras/mine.safetensors"
ln -s "$T/nv/ComfyUI/custom_nodes" "$T/d/ComfyUI/custom_nodes"
assert_exit 0 nv_pod "$T/d" restore
assert_contains "$(echo "$OUT" | grep 'event=restore.done dataset=ComfyUI ')" "result=restored"
assert_contains "$(echo "$OUT" | grep 'event=restore.linked dataset=ComfyUI/custom_nodes ')" \
	"result=already_linked"
assert_eq "$(cat "$T/d/ComfyUI/models/loras/mine.safetensors")" mine "models kept"
assert_eq "$(readlink "$T/d/ComfyUI/custom_nodes")" "$T/nv/ComfyUI/custom_nodes" "link kept"
rm -rf "$T/got" && cp -a "$T/d/ComfyUI" "$T/got" && rm -rf "$T/got/models" "$T/got/custom_nodes"
touch -r "$T/want" "$T/got" && treecmp "$T/want" "$T/got"
ls -A "$T/d" | grep -q '^\.netvol-' && fail "staging or aside folder left: $(ls -A "$T/d")"

# rule 1: a ComfyUI with data of its own is kept, whatever is nested in it
mkdir -p "$T/e/ComfyUI/user"
echo local >"$T/e/ComfyUI/user/notes.txt"
ln -s "$T/nv/ComfyUI/custom_nodes" "$T/e/ComfyUI/custom_nodes"
assert_exit 0 nv_pod "$T/e" restore ComfyUI
assert_contains "$OUT" "result=kept_local_data"
assert_eq "$(ls -A "$T/e/ComfyUI")" "custom_nodes
user" "nothing added"
assert_eq "$(cat "$T/e/ComfyUI/user/notes.txt")" local "local data untouched"

# a snapshot that has a name the target already holds (made without the
# excludes): nothing is merged or overwritten, the folder is kept
unset _NETWORK_VOLUME
export POD_ID=pod-s2
assert_exit 0 env NETVOL_DATASETS=ComfyUI:pod NETWORK_VOLUME="$T/a" "$NETVOL" sync
mkdir -p "$T/f/ComfyUI/models"
echo platform >"$T/f/ComfyUI/models/m"
assert_exit 0 nv_pod "$T/f" restore ComfyUI
assert_contains "$OUT" "result=kept_local_data"
assert_eq "$(ls -A "$T/f/ComfyUI")" models "nothing merged"
assert_eq "$(cat "$T/f/ComfyUI/models/m")" platform "models untouched"
ls -A "$T/f" | grep -q '^\.netvol-' && fail "staging or aside folder left: $(ls -A "$T/f")"
true
