#!/bin/sh
# Install what building and testing netvol needs on Debian 12, idempotently:
# the Debian packages listed in scripts/deps.d/*.txt, then each
# scripts/deps.d/*.sh (npm tools and the like). Fast when all is there.
set -eu
cd "$(dirname "$0")/.."
want=$(cat scripts/deps.d/*.txt | sed 's/#.*//' | tr -s ' \n' '\n' | sed '/^$/d' | sort -u)
missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "deps: installing Debian packages:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "deps: run as root (or: sudo apt-get install$missing)" >&2
		exit 2
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
for s in scripts/deps.d/*.sh; do
	[ -e "$s" ] || continue
	sh "$s"
done
