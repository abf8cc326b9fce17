#!/bin/sh
# The per-file cost of a restore, counted (issue 17): system calls by name
# (strace -c -f) and page faults (GNU time), divided by the files restored,
# for a real tree (the Python installation sys.prefix names, or TREE=dir),
# restored from a file:// store onto a fresh journaled ext4 on a loop device.
# Counts, not seconds: they do not depend on the machine's load.
#
#   bench/syscalls.sh OUT.md NETVOL [NETVOL_BEFORE]
set -eu
out=$1 new=$2 old=${3:-}
tree=${TREE:-$(python3 -c 'import sys; print(sys.prefix)')}
W=$(mktemp -d /var/tmp/nv-syscalls.XXXXXX)
cleanup() { umount "$W/mnt" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT INT TERM
mkdir -p "$W/pod" "$W/mnt"
cp -a "$tree" "$W/pod/venv"
files=$(find "$W/pod/venv" -type f | wc -l)
entries=$(find "$W/pod/venv" | wc -l)
mb=$(du -sm "$W/pod/venv" | cut -f1)
truncate -s $((mb * 3 + 1024))M "$W/fs.img"
mkfs.ext4 -q -F "$W/fs.img"
mount -o loop "$W/fs.img" "$W/mnt"
export NETVOL_STORE="file://$W/store" POD_USER_NAME=bench NETVOL_DATASETS=venv NETVOL_LOG_LEVEL=warn
NETWORK_VOLUME="$W/pod" "$new" sync
# count NAME BINARY: "name calls" lines in $W/NAME.calls, faults in $W/NAME.faults
count() {
	rm -rf "$W/mnt/r"
	strace -c -f -o "$W/$1.strace" env NETWORK_VOLUME="$W/mnt/r" "$2" restore
	awk 'NR > 2 && $1 !~ /^-/ && $NF != "total" { print $NF, ($4 ~ /^[0-9]+$/ ? $4 : $4) }' \
		"$W/$1.strace" | awk '{ n[$1] = $2 } END { for (k in n) print k, n[k] }' >"$W/$1.calls"
	rm -rf "$W/mnt/r"
	/usr/bin/time -f '%R %F' -o "$W/$1.faults" env NETWORK_VOLUME="$W/mnt/r" "$2" restore
}
count new "$new"
[ -n "$old" ] && count old "$old"
{
	echo "Tree: \`$tree\` ($mb MiB, $entries entries, $files files), restored from a file:// store"
	echo "onto a fresh ext4 (loop device). Per restored file; \`bench/syscalls.sh\`."
	echo
	if [ -n "$old" ]; then
		echo "| system call | before | after |"
		echo "| --- | ---: | ---: |"
	else
		echo "| system call | per file |"
		echo "| --- | ---: |"
	fi
	for c in openat2 openat pwrite64 write close fchmodat fchmod utimensat mkdirat newfstatat symlinkat linkat; do
		n=$(awk -v c=$c '$1 == c { print $2 }' "$W/new.calls")
		o=""
		[ -n "$old" ] && o=$(awk -v c=$c '$1 == c { print $2 }' "$W/old.calls")
		[ -z "$n$o" ] && continue
		if [ -n "$old" ]; then
			printf '| %s | %s | %s |\n' $c "$(echo "${o:-0} $files" | awk '{ printf "%.2f", $1 / $2 }')" \
				"$(echo "${n:-0} $files" | awk '{ printf "%.2f", $1 / $2 }')"
		else
			printf '| %s | %s |\n' $c "$(echo "${n:-0} $files" | awk '{ printf "%.2f", $1 / $2 }')"
		fi
	done
	tot_n=$(awk '{ s += $2 } END { print s }' "$W/new.calls")
	if [ -n "$old" ]; then
		tot_o=$(awk '{ s += $2 } END { print s }' "$W/old.calls")
		printf '| all | %s | %s |\n' "$(echo "$tot_o $files" | awk '{ printf "%.2f", $1 / $2 }')" \
			"$(echo "$tot_n $files" | awk '{ printf "%.2f", $1 / $2 }')"
		printf '| minor page faults | %s | %s |\n' \
			"$(awk -v f=$files '{ printf "%.2f", $1 / f }' "$W/old.faults")" \
			"$(awk -v f=$files '{ printf "%.2f", $1 / f }' "$W/new.faults")"
	else
		printf '| all | %s |\n' "$(echo "$tot_n $files" | awk '{ printf "%.2f", $1 / $2 }')"
		printf '| minor page faults | %s |\n' "$(awk -v f=$files '{ printf "%.2f", $1 / f }' "$W/new.faults")"
	fi
} >"$out"
cat "$out"
