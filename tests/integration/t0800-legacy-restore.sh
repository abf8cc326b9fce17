#!/bin/sh
# Datasets without a snapshot come back from the shell scripts' layout
# (LEGACY.md), every generation and variant: per-venv chunk folders (whole
# venv; lib only + venv_other_folders.zip), the single-venv folder (whole,
# lib only, site-packages only; stale chunks left out), venv.tar.gz, loose
# objects, the zip generation, the pod archives; venv.zip, loose and
# venv.tar.gz of one venv at their root (older: NV/venv was the venv). --dry-run names the objects.
. "$(dirname "$0")/lib.sh"

export NETVOL_LEGACY_STORE="$(nv_legacy_store good)"
all="venv .comfyui .cache ComfyUI ComfyUI/custom_nodes"
# ComfyUI holds the nested custom_nodes dataset: not part of its tree
skip_of() { [ "$1" = ComfyUI ] && echo custom_nodes; true; }

# user pod generation-of-venv datasets-with-legacy-data
while read -r user pod venvgen has; do
	export NETVOL_STORE="$(nv_store_url "$user")" POD_USER_NAME=$user POD_ID=$pod
	root=$T/pod-$user
	# a dry run reads no data and writes nothing
	assert_exit 0 nv_pod "$root" restore --dry-run
	assert_contains "$OUT" "event=restore.legacy_would_read dataset=venv"
	assert_contains "$OUT" "result=would_restore source=legacy legacy=$venvgen"
	[ ! -e "$root/venv" ] || fail "dry run wrote $root/venv"
	assert_exit 0 nv_pod "$root" restore
	# each archive read is logged (loose objects: the restore.done line counts them)
	[ "$venvgen" = loose ] || assert_contains "$OUT" "event=restore.legacy_object dataset=venv"
	for ds in $all; do
		case " $has " in
		*" $ds "*)
			echo "$OUT" | grep "event=restore.done dataset=$ds " | grep -q "result=restored source=legacy" ||
				fail "$user $ds: not restored from legacy: $OUT"
			legacy_check "$user" "$ds" "$root/$ds" $(skip_of "$ds")
			;;
		*)
			echo "$OUT" | grep "event=restore.done dataset=$ds " | grep -q "result=fresh_empty" ||
				fail "$user $ds: want fresh_empty: $OUT"
			assert_eq "$(ls -A "$root/$ds" | grep -vx "$(skip_of "$ds")")" "" "$user $ds"
			;;
		esac
	done
	ls -aR "$root" | grep -q '^\.netvol-stage' && fail "$user: staging left behind"
	case $user in alice)
		assert_contains "$OUT" "event=restore.legacy_excluded dataset=.cache key=shared/_cache.tar.gz folder=aws/ members=3"
		[ ! -e "$root/.cache/aws" ] || fail "the AWS CLI's credentials were restored"
		;;
	esac
	case $user in alice)
		# the pod archive whole, but what the dataset excludes
		assert_contains "$(echo "$OUT" | grep 'event=restore.done dataset=ComfyUI ')" \
			"legacy=comfyui_pod_specific_data.tar.gz objects=1"
		for x in models .browser-session custom_nodes/stray-node; do
			[ ! -e "$root/ComfyUI/$x" ] || fail "excluded $x restored into ComfyUI"
		done
		;;
	carol) [ ! -e "$root/ComfyUI/models" ] || fail "loose models restored into ComfyUI" ;;
	esac
	case $user in bob) assert_contains "$OUT" "legacy=venv_chunks_single objects=7 stale_chunks=2" ;; esac
	case $user in erin) assert_contains "$OUT" "stale_chunks=1" ;; esac
	# a second restore finds data and keeps it
	assert_exit 0 nv_pod "$root" restore venv
	assert_contains "$OUT" "result=kept_local_data"
done <<'LIST'
alice pod-a1 venv_chunks venv .comfyui .cache ComfyUI/custom_nodes ComfyUI
bob pod-b1 venv_chunks_single venv .comfyui ComfyUI/custom_nodes
erin pod-e1 venv_chunks_single venv
frank pod-f1 venv_chunks_single venv
carol pod-c1 venv.tar.gz venv .comfyui ComfyUI/custom_nodes ComfyUI
dave pod-d1 venv.zip venv .comfyui ComfyUI/custom_nodes
gina pod-g1 venv.zip venv
hank pod-h1 loose venv
ivan pod-i1 venv.tar.gz venv
LIST

# the newest name wins over older ones for the same data
export NETVOL_STORE="$(nv_store_url alice2)" POD_USER_NAME=alice POD_ID=pod-a1
assert_exit 0 nv_pod "$T/a2" restore .comfyui ComfyUI/custom_nodes
assert_contains "$OUT" "legacy=_comfyui.tar.gz"
assert_contains "$OUT" "legacy=custom_nodes.tar.gz"
# another pod of the same user: the pod archive is not its own
export POD_ID=pod-zz
assert_exit 0 nv_pod "$T/a3" restore ComfyUI
assert_contains "$OUT" "result=fresh_empty"
# the older per-folder datasets still read their part of the pod archive
export POD_ID=pod-a1 NETVOL_DATASETS=ComfyUI/user:pod,ComfyUI/output:pod
assert_exit 0 nv_pod "$T/a5" restore
for ds in ComfyUI/user ComfyUI/output; do legacy_check alice "$ds" "$T/a5/$ds"; done
[ ! -e "$T/a5/ComfyUI/main.py" ] || fail "ComfyUI/user took the whole archive"
# a pod-scoped dataset outside ComfyUI/ comes from other_pod_specific_data.tar.gz
export POD_ID=pod-a1 NETVOL_DATASETS=extra:pod
assert_exit 0 nv_pod "$T/a4" restore
assert_contains "$OUT" "legacy=other_pod_specific_data.tar.gz"
legacy_check alice extra "$T/a4/extra"
# a venv's interpreter links point at pyvenv.cfg's home when it exists here
if [ -x /usr/bin/python3.11 ]; then
	assert_eq "$(readlink "$T/pod-frank/venv/comfyui/bin/python")" /usr/bin/python3.11 "python link"
	"$T/pod-frank/venv/comfyui/bin/python" -c 'import sys; print(sys.prefix)' >"$T/prefix"
	assert_eq "$(cat "$T/prefix")" "$T/pod-frank/venv/comfyui" "venv python"
fi
# the legacy objects are never changed
if [ "${NETVOL_TEST_S3:-0}" != 1 ]; then
	find "$T/legacy-good/store" -newer "$T/legacy-good/hostile.txt" 2>/dev/null | grep -q . &&
		fail "legacy objects changed"
fi
echo "ok"
