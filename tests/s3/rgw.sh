#!/bin/sh
# A throw-away Ceph RADOS Gateway on loopback for the S3 tests: one monitor,
# one memstore OSD (pool size 1), cephx off, one radosgw (beast, plain HTTP
# and HTTPS with a fresh self-signed certificate).
#
#   eval "$(tests/s3/rgw.sh start)"   # prints the variables to export
#   tests/s3/rgw.sh stop "$NV_RGW_DIR" # kills every daemon, removes the dir
#
# start prints NV_RGW_DIR, AWS_ENDPOINT_URL_S3, NV_RGW_HTTPS_URL,
# NV_RGW_CA_BUNDLE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.
# NV_RGW_MEMSTORE_BYTES sizes the in-memory OSD (default 4 GiB; the large
# benchmark needs more). It takes about 6 seconds. On failure it stops what it started, shows the
# daemons' logs on stderr and exits 1.
set -eu

# The keys tests/integration/t0170 passes to check log redaction, so that
# test also runs against this server.
ACCESS_KEY=AKIDEXAMPLE
SECRET_KEY=TopSecretValue123

# free_ports N: N free loopback TCP ports, one per line
free_ports() {
	python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

stop() {
	d=$1
	[ -n "$d" ] && [ -d "$d" ] || return 0
	pids=""
	for p in radosgw osd mon; do
		pid=$(cat "$d/$p.pid" 2>/dev/null || true)
		[ -n "$pid" ] && pids="$pids $pid"
	done
	[ -n "$pids" ] && kill $pids 2>/dev/null
	# wait for them to go (a daemon removes its pid file as it exits), then make sure
	for i in $(seq 1 50); do
		alive=""
		for pid in $pids; do
			kill -0 "$pid" 2>/dev/null && alive="$alive $pid"
		done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	[ -n "$alive" ] && kill -9 $alive 2>/dev/null
	rm -rf "$d"
	return 0
}

fail() {
	echo "rgw.sh: $*" >&2
	for f in "$D"/log/*.log; do
		[ -f "$f" ] || continue
		echo "---- $f (last lines)" >&2
		tail -n 15 "$f" >&2
	done
	stop "$D"
	exit 1
}

T0=$(date +%s%N)
# phase NAME: with NV_RGW_TIMING=1, print the time since start on stderr
phase() {
	[ "${NV_RGW_TIMING:-0}" = 1 ] || return 0
	echo "rgw.sh: $(( ($(date +%s%N) - T0) / 1000000 )) ms: $1" >&2
}

# wait_for SECONDS CMD...: retry CMD every 0.1 s
wait_for() {
	n=$(($1 * 10)); shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

start() {
	for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph openssl; do
		command -v $b >/dev/null || { echo "rgw.sh: $b missing (make deps)" >&2; exit 1; }
	done
	D=$(mktemp -d "${TMPDIR:-/tmp}/nv-rgw.XXXXXX")
	mkdir -p "$D/mon" "$D/osd" "$D/run" "$D/log"
	ports=$(free_ports 3)
	MONPORT=$(echo "$ports" | sed -n 1p)
	HTTPPORT=$(echo "$ports" | sed -n 2p)
	HTTPSPORT=$(echo "$ports" | sed -n 3p)
	FSID=$(cat /proc/sys/kernel/random/uuid)
	C="$D/ceph.conf"
	cat >"$C" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MONPORT
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
keyring = $D/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pg bits = 3
osd pgp bits = 3
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
paxos propose interval = 0.05
mon data avail warn = 1
mon data avail crit = 0
[mon]
mon data = $D/mon
[osd]
osd data = $D/osd
osd objectstore = memstore
memstore device bytes = ${NV_RGW_MEMSTORE_BYTES:-4294967296}
osd max object size = 1073741824
osd journal size = 0
osd class load list = *
osd class default list = *
[client]
rgw frontends = beast tcp_nodelay=1 endpoint=127.0.0.1:$HTTPPORT ssl_endpoint=127.0.0.1:$HTTPSPORT ssl_certificate=$D/rgw.crt ssl_private_key=$D/rgw.key
rgw data = $D/rgw
rgw dns name = localhost
rgw thread pool size = 64
rgw enable usage log = false
rgw init timeout = 60
debug rgw = 1
EOF
	: >"$D/keyring"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$D/rgw.key" -out "$D/rgw.crt" >/dev/null 2>&1 || fail "openssl req failed"

	monmaptool --create --clobber --fsid "$FSID" --addv a "[v2:127.0.0.1:$MONPORT]" \
		"$D/monmap" >/dev/null 2>&1 || fail "monmaptool failed"
	ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" >"$D/log/mkfs.log" 2>&1 ||
		fail "ceph-mon --mkfs failed"
	ceph-mon -c "$C" -i a --pid-file "$D/mon.pid" >>"$D/log/daemons.log" 2>&1 ||
		fail "ceph-mon did not start"
	phase "monitor started"
	wait_for 30 ceph -c "$C" --connect-timeout 2 mon stat || fail "monitor not answering"
	phase "monitor answers"

	OSDUUID=$(cat /proc/sys/kernel/random/uuid)
	id=$(ceph -c "$C" osd new "$OSDUUID" 2>>"$D/log/daemons.log") || fail "osd new failed"
	ceph-osd -c "$C" -i "$id" --mkfs --osd-uuid "$OSDUUID" >"$D/log/osd-mkfs.log" 2>&1 ||
		fail "ceph-osd --mkfs failed"
	ceph-osd -c "$C" -i "$id" --pid-file "$D/osd.pid" >>"$D/log/daemons.log" 2>&1 ||
		fail "ceph-osd did not start"
	phase "osd started"
	wait_for 60 sh -c "ceph -c '$C' osd stat | grep -q '1 up'" || fail "osd not up"
	phase "osd up"

	radosgw -c "$C" -n client.rgw --pid-file "$D/radosgw.pid" >>"$D/log/daemons.log" 2>&1 ||
		fail "radosgw did not start"
	wait_for 60 python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$HTTPPORT/', timeout=2)" ||
		fail "radosgw not answering on port $HTTPPORT"
	phase "radosgw answers"
	radosgw-admin -c "$C" -n client.rgw user create --uid test --display-name test \
		--access-key "$ACCESS_KEY" --secret "$SECRET_KEY" >"$D/log/user.log" 2>&1 ||
		fail "radosgw-admin user create failed"
	phase "user created"
	cat <<EOF
NV_RGW_DIR='$D'
AWS_ENDPOINT_URL_S3='http://127.0.0.1:$HTTPPORT'
NV_RGW_HTTPS_URL='https://127.0.0.1:$HTTPSPORT'
NV_RGW_CA_BUNDLE='$D/rgw.crt'
AWS_ACCESS_KEY_ID='$ACCESS_KEY'
AWS_SECRET_ACCESS_KEY='$SECRET_KEY'
AWS_REGION='us-east-1'
export NV_RGW_DIR AWS_ENDPOINT_URL_S3 NV_RGW_HTTPS_URL NV_RGW_CA_BUNDLE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
EOF
}

# Kill the gateway (kill -9, like a crash), wait DOWN seconds, start it
# again on the same cluster and port: rgw.sh restart-gw DIR [DOWN]. With
# DOWN "never" it stays down.
restart_gw() {
	D=$1
	C="$D/ceph.conf"
	pid=$(cat "$D/radosgw.pid" 2>/dev/null || true)
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ "${2:-2}" = never ] && return 0
	sleep "${2:-2}"
	radosgw -c "$C" -n client.rgw --pid-file "$D/radosgw.pid" >>"$D/log/daemons.log" 2>&1 ||
		fail "radosgw did not restart"
	port=$(sed -n 's/.* endpoint=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$C" | head -n 1)
	wait_for 60 python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/', timeout=2)" ||
		fail "radosgw not answering after the restart"
}

case "${1:-}" in
start) start ;;
restart-gw) restart_gw "${2:?usage: rgw.sh restart-gw DIR [DOWN]}" "${3:-2}" ;;
stop) stop "${2:?usage: rgw.sh stop DIR}" ;;
*)
	echo "usage: rgw.sh start | rgw.sh stop DIR" >&2
	exit 2
	;;
esac
