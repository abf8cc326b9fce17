# Shared by tests/images/run.sh and tests/pods/run.sh (sourced, POSIX sh):
# a private dockerd and the Debian base images, with no registry.
#
#   nv_dockerd_start    start dockerd on a private socket (exports DOCKER_HOST)
#   nv_dockerd_stop     remove every container of this run, stop dockerd
#   nv_base_images      debian:12 and debian:12-slim from a cached debootstrap
#   nv_build IMAGE DOCKERFILE [ARGS...]   docker build as an admin runs it
#
# State (kept between runs on the same machine, so the base image and the
# build stages are built once): NV_CI_STATE (default /var/tmp/netvol-ci) holds
# dockerd's --data-root and --exec-root; NV_CI_CACHE (default
# /var/cache/netvol-ci) the debootstrap tarball. One run at a time per
# machine (flock on $NV_CI_STATE/lock).
#
# Containers never get a network of their own: dockerd runs with
# --bridge=none --iptables=false, and every container is started with
# --network host (and talks to 127.0.0.1 only) or --network none.

NV_CI_STATE=${NV_CI_STATE:-/var/tmp/netvol-ci}
NV_CI_CACHE=${NV_CI_CACHE:-/var/cache/netvol-ci}
NV_DOCKER=${NV_DOCKER:-/usr/bin/docker}
NV_DOCKERD_DIR=$NV_CI_STATE/docker
NV_DOCKERD_PID=
# The commit the images are built from (read once: a commit during the run
# does not change what the checks expect).
NV_GIT_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

nv_say() { echo "images: $*" >&2; }
nv_die() { echo "images: $*" >&2; exit 1; }

# docker with this run's daemon (the Debian client: /usr/local/bin may hold another).
dk() { "$NV_DOCKER" "$@"; }

nv_dockerd_start() {
	for b in dockerd "$NV_DOCKER" debootstrap; do
		command -v "$b" >/dev/null || nv_die "$b missing (make deps: scripts/deps.d/images.txt)"
	done
	[ "$(id -u)" = 0 ] || nv_die "dockerd needs root"
	mkdir -p "$NV_DOCKERD_DIR/data" "$NV_DOCKERD_DIR/exec" "$NV_CI_CACHE"
	# One run per machine: the data root is shared between runs.
	exec 9>"$NV_CI_STATE/lock"
	flock -w 600 9 || nv_die "another run holds $NV_CI_STATE/lock"
	sock=$NV_DOCKERD_DIR/docker.sock
	# A daemon left over by a killed run (its pid file) is stopped first.
	old=$(cat "$NV_DOCKERD_DIR/dockerd.pid" 2>/dev/null || true)
	if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
		nv_say "stopping the dockerd a previous run left ($old)"
		kill "$old" 2>/dev/null
		i=0; while kill -0 "$old" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	fi
	rm -f "$sock" "$NV_DOCKERD_DIR/dockerd.pid"
	opts="--storage-driver vfs --bridge=none --iptables=false"
	dockerd --help 2>&1 | grep -q -- --ip6tables && opts="$opts --ip6tables=false"
	# shellcheck disable=SC2086
	dockerd --host "unix://$sock" --data-root "$NV_DOCKERD_DIR/data" \
		--exec-root "$NV_DOCKERD_DIR/exec" --pidfile "$NV_DOCKERD_DIR/dockerd.pid" \
		$opts >"$NV_DOCKERD_DIR/dockerd.log" 2>&1 &
	NV_DOCKERD_PID=$!
	DOCKER_HOST=unix://$sock
	export DOCKER_HOST
	i=0
	until dk version >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$NV_DOCKERD_PID" 2>/dev/null; then
			tail -n 20 "$NV_DOCKERD_DIR/dockerd.log" >&2
			nv_die "dockerd did not start"
		fi
		sleep 0.1
	done
	nv_say "dockerd $NV_DOCKERD_PID on $sock ($opts)"
}

# Idempotent; safe from a trap.
nv_dockerd_stop() {
	[ -n "$NV_DOCKERD_PID" ] || return 0
	ids=$(dk ps -aq 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -n "$ids" ] && dk rm -f $ids >/dev/null 2>&1
	# No `image prune` on every run: the build stages of multi-stage builds
	# are untagged images, and pruning them would throw the layer cache
	# away. Only when the data root grows past NV_CI_MAX_GB (default 30) are
	# the dangling images (old builds, and with them the cache) removed.
	gb=$(du -s --block-size=1G "$NV_DOCKERD_DIR/data" 2>/dev/null | cut -f1)
	if [ "${gb:-0}" -gt "${NV_CI_MAX_GB:-30}" ]; then
		nv_say "data root is $gb GB: pruning dangling images"
		dk image prune -f >/dev/null 2>&1 || true
	fi
	kill "$NV_DOCKERD_PID" 2>/dev/null
	i=0
	while kill -0 "$NV_DOCKERD_PID" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 200 ] && { kill -9 "$NV_DOCKERD_PID" 2>/dev/null; break; }
		sleep 0.1
	done
	# dockerd leaves its default network namespace mounted.
	umount "$NV_DOCKERD_DIR/exec/netns/default" 2>/dev/null || true
	NV_DOCKERD_PID=
}

# The first Debian mirror configured on the host for its codename (deb822
# .sources or one-line .list files).
nv_mirror() {
	cn=$(. /etc/os-release && echo "$VERSION_CODENAME")
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v cn="$cn" '
		/^[ \t]*$/ { if (s ~ ("(^| )" cn "( |$)") && u != "") { print u; exit } u = s = ""; next }
		tolower($1) == "uris:" { u = $2 }
		tolower($1) == "suites:" { $1 = ""; s = $0 " " }
		END { if (s ~ ("(^| )" cn "( |$)") && u != "") print u }' "$f"
	done | head -n 1 | grep . && return 0
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v cn="$cn" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++
			if ($(i + 1) == cn) { print $i; exit } }' | grep .
}

# debian:12 and debian:12-slim: one debootstrap --variant=minbase bookworm
# from the host's mirror, with the host's apt sources inside, cached as a
# tarball; imported only when the daemon lacks the image.
nv_base_images() {
	# The name carries the recipe's version: a change of the recipe makes a new one.
	tarball=$NV_CI_CACHE/debian-12-minbase-v3.tar
	if [ ! -s "$tarball" ]; then
		mirror=$(nv_mirror) || nv_die "no Debian mirror for bookworm in /etc/apt"
		nv_say "debootstrap --variant=minbase bookworm from $mirror (cached in $tarball)"
		r=$(mktemp -d "$NV_CI_CACHE/root.XXXXXX")
		if ! debootstrap --variant=minbase bookworm "$r" "$mirror" >"$NV_CI_CACHE/debootstrap.log" 2>&1; then
			tail -n 20 "$NV_CI_CACHE/debootstrap.log" >&2
			rm -rf "$r"
			nv_die "debootstrap failed"
		fi
		# apt inside the image reaches the host's mirrors (Debian sources only:
		# only *.sources and *.list files are read, and only Debian ones are copied).
		rm -f "$r/etc/apt/sources.list"
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] && grep -q debian "$f" && ! grep -qE 'nodesource|google' "$f" &&
				cp "$f" "$r${f}"
		done
		# What the official (slim) images do: no recommends, no apt caches,
		# no documentation or translations (kept out of later installs too).
		printf 'APT::Install-Recommends "false";\n' >"$r/etc/apt/apt.conf.d/90netvol-ci"
		printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
			'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
			'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
			>"$r/etc/dpkg/dpkg.cfg.d/90netvol-ci-slim"
		find "$r/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null
		rm -rf "$r/usr/share/man"/* "$r/usr/share/info"/* "$r/usr/share/locale"/*
		rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb
		chmod 0755 "$r" # mktemp made it 0700: it becomes the image's /
		tar -C "$r" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
		rm -rf "$r"
		dk rmi -f debian:12 debian:12-slim >/dev/null 2>&1 || true
	fi
	if ! dk image inspect debian:12 >/dev/null 2>&1 || ! dk image inspect debian:12-slim >/dev/null 2>&1; then
		nv_say "docker import $tarball as debian:12, debian:12-slim"
		dk import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'CMD ["bash"]' "$tarball" debian:12 >/dev/null || nv_die "docker import failed"
		dk tag debian:12 debian:12-slim
	fi
}

# nv_build TAG DOCKERFILE [CONTEXT]: the admin's command line
# (docker build -f ... --build-arg GIT_COMMIT=... .) from the repository
# root, plus --network host (the daemon has no bridge; apt reaches the mirror
# through the host). The log goes to $NV_LOGS/build-TAG.log.
nv_build() {
	tag=$1 df=$2 ctx=${3:-.}
	log=$NV_LOGS/build-$(echo "$tag" | tr '/:' '__').log
	if ! dk build --network host -f "$df" --build-arg "GIT_COMMIT=$NV_GIT_COMMIT" \
		-t "$tag" "$ctx" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		return 1
	fi
}
