#!/bin/sh
# make test-images (issue 14): build the two images with a real engine, as an
# admin does, check them, then run ComfyUI pods the way the kubelet runs them
# (tests/pods/). Everything on this machine, nothing but loopback:
#
#   1. dockerd on a private socket (tests/images/lib.sh), state in
#      /var/tmp/netvol-ci (the layer cache survives between runs);
#   2. debian:12 / debian:12-slim from a cached debootstrap (no registry);
#   3. docker build of Dockerfile.init, Dockerfile.webhook and the ComfyUI-like
#      test image tests/pods/comfyui/Dockerfile;
#   4. image checks: sizes, the init image's user and `netvol version`, the
#      webhook image serving /healthz over TLS and mutating a review;
#   5. the pod scenarios (tests/pods/scenarios.py) against radosgw on
#      loopback (tests/s3/rgw.sh) and two webhook containers.
#
#   tests/images/run.sh [all|images|pods]     (default all)
# Prints "N passed, N failed"; exit 1 when something failed. A trap removes
# every container, stops dockerd and radosgw, whatever happens.
set -u
cd "$(dirname "$0")/../.." || exit 2
WHAT=${1:-all}
. tests/images/lib.sh

T0=$(date +%s)
W=$(mktemp -d "${TMPDIR:-/tmp}/netvol-images.XXXXXX")
NV_LOGS=$W/logs
mkdir -p "$NV_LOGS"
RGW_DIR=
cleanup() {
	nv_dockerd_stop
	[ -n "$RGW_DIR" ] && tests/s3/rgw.sh stop "$RGW_DIR"
	RGW_DIR=
	if [ "${NV_KEEP:-0}" = 1 ]; then echo "images: kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() {
	fail=$((fail + 1))
	echo "FAIL $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | tail -n 25 | sed 's/^/     /'
	return 0
}
phase() { echo "images: $(($(date +%s) - T0)) s: $*" >&2; }
finish() {
	phase "done"
	echo "images: $pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit $?
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

INIT_IMAGE=netvol-ci/netvol-init:test
WEBHOOK_IMAGE=netvol-ci/netvol-webhook:test
APP_IMAGE=netvol-ci/comfyui:test
# Bounds of the image sizes (MB, 10^6 bytes as docker prints them).
INIT_MAX_MB=${NV_INIT_MAX_MB:-12}
WEBHOOK_MAX_MB=${NV_WEBHOOK_MAX_MB:-150}

# The env model of the pod harness first (no docker needed).
out=$(python3 tests/pods/test_podenv.py 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^(ok|FAIL)' | sed -n '/^FAIL/,+2p'
n=$(printf '%s\n' "$out" | grep -c '^ok ')
[ $rc = 0 ] && ok "tests/pods/test_podenv.py: $n checks of the kubelet's env rules" || ko "tests/pods/test_podenv.py" "$out"

nv_dockerd_start
phase "dockerd up"
nv_base_images
phase "base images ready"

t=$(date +%s)
if nv_build "$INIT_IMAGE" Dockerfile.init; then
	ok "docker build -f Dockerfile.init ($(($(date +%s) - t)) s)"
else
	ko "docker build -f Dockerfile.init" "$(tail -n 25 "$NV_LOGS"/build-*init*.log)"
fi
t=$(date +%s)
if nv_build "$WEBHOOK_IMAGE" Dockerfile.webhook; then
	ok "docker build -f Dockerfile.webhook ($(($(date +%s) - t)) s)"
else
	ko "docker build -f Dockerfile.webhook" "$(tail -n 25 "$NV_LOGS"/build-*webhook*.log)"
fi
phase "product images built"
[ "$fail" = 0 ] || finish

size_mb() { echo $(($(dk image inspect -f '{{.Size}}' "$1") / 1000000)); }

if [ "$WHAT" != pods ]; then
	# ---- the init image ------------------------------------------------
	mb=$(size_mb "$INIT_IMAGE")
	echo "images: $INIT_IMAGE: $mb MB"
	if [ "$mb" -lt "$INIT_MAX_MB" ]; then ok "init image is $mb MB (< $INIT_MAX_MB)"; else ko "init image is $mb MB (>= $INIT_MAX_MB)"; fi
	u=$(dk image inspect -f '{{.Config.User}}' "$INIT_IMAGE")
	[ "$u" = 65532:65532 ] && ok "init image user is 65532:65532" || ko "init image user is $u"
	out=$(dk run --rm --network none "$INIT_IMAGE" version 2>&1)
	case "$out" in
	*"netvol 0.1.0 (commit $NV_GIT_COMMIT)"*libcurl/*) ok "init image: netvol version (as its user, no network)" ;;
	*) ko "init image: netvol version" "$out" ;;
	esac
	out=$(dk run --rm --network none "$INIT_IMAGE" 2>&1)
	case "$out" in *"usage: netvol"*) ok "init image: default CMD prints the help" ;; *) ko "init image: default CMD" "$out" ;; esac
	for alias in netvol-restore netvol-sync; do
		out=$(dk run --rm --network none --entrypoint "/$alias" "$INIT_IMAGE" --help 2>&1)
		case "$out" in *usage*) ok "init image: /$alias is the binary" ;; *) ko "init image: /$alias" "$out" ;; esac
	done
	# The injected command, as the non-root user: the binary copies itself
	# into the bin emptyDir, then restores from an (empty) file store.
	d=$W/init-check
	mkdir -p "$d/bin" "$d/data" "$d/store"
	chmod 0777 "$d/bin" "$d/data" "$d/store"
	out=$(dk run --rm --network none -v "$d/bin:/netvol-bin" -v "$d/data:/data" -v "$d/store:/store" \
		-e NETWORK_VOLUME=/data -e NETVOL_STORE=file:///store -e POD_ID=check-0 -e POD_USER_NAME=check \
		"$INIT_IMAGE" restore --install-to /netvol-bin 2>&1)
	rc=$?
	owner=$(stat -c %u "$d/bin/netvol" 2>/dev/null)
	if [ $rc = 0 ] && [ "$owner" = 65532 ] && "$d/bin/netvol" version >/dev/null 2>&1; then
		ok "init image: restore --install-to as uid 65532 (the copy runs on the host too)"
	else
		ko "init image: restore --install-to (exit $rc, owner '$owner')" "$out"
	fi
	[ -d "$d/data/venv" ] && [ "$(stat -c %u "$d/data/venv")" = 65532 ] &&
		ok "init image: an empty restore makes the dataset folders, owned by 65532" ||
		ko "init image: dataset folders after an empty restore" "$(ls -la "$d/data")"

	# ---- the webhook image ----------------------------------------------
	mb=$(size_mb "$WEBHOOK_IMAGE")
	echo "images: $WEBHOOK_IMAGE: $mb MB"
	if [ "$mb" -lt "$WEBHOOK_MAX_MB" ]; then ok "webhook image is $mb MB (< $WEBHOOK_MAX_MB)"; else ko "webhook image is $mb MB (>= $WEBHOOK_MAX_MB)"; fi
	u=$(dk image inspect -f '{{.Config.User}}' "$WEBHOOK_IMAGE")
	[ "$u" = 65532:65532 ] && ok "webhook image user is 65532:65532" || ko "webhook image user is $u"
	out=$(dk run --rm --network none "$WEBHOOK_IMAGE" --version 2>&1)
	case "$out" in *0.1.0*) ok "webhook image: --version" ;; *) ko "webhook image: --version" "$out" ;; esac
fi

# ---- TLS material and the webhooks of the pod scenarios -----------------
# A CA and a serving certificate for 127.0.0.1, readable by uid 65532.
tls=$W/tls
mkdir -p "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$tls/ca.key" -out "$tls/ca.crt" -subj "/CN=netvol CI CA" \
	-addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tls/tls.key" \
	-out "$tls/tls.csr" -subj /CN=netvol-webhook >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$tls/ext"
openssl x509 -req -in "$tls/tls.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
	-extfile "$tls/ext" -out "$tls/tls.crt" >/dev/null 2>&1
chmod 0755 "$tls"
chmod 0644 "$tls/tls.key" "$tls/tls.crt"

# start_webhook NAME CONFIG_JSON: a webhook container on a free loopback
# port (--network host), the certificate and the config mounted as the
# chart mounts them; prints the port.
start_webhook() {
	cfgdir=$W/webhook-$1
	mkdir -p "$cfgdir"
	printf '%s\n' "$2" >"$cfgdir/config.json"
	chmod 0755 "$cfgdir"
	chmod 0644 "$cfgdir/config.json"
	port=$(free_port)
	dk run -d --name "netvol-webhook-$1" --label netvol-pods --network host \
		-v "$tls:/etc/netvol/tls:ro" -v "$cfgdir:/etc/netvol/cfg:ro" "$WEBHOOK_IMAGE" \
		--listen "127.0.0.1:$port" --tls-cert /etc/netvol/tls/tls.crt --tls-key /etc/netvol/tls/tls.key \
		--config /etc/netvol/cfg/config.json >/dev/null || return 1
	i=0
	until curl -sf --cacert "$tls/ca.crt" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 100 ] && { dk logs "netvol-webhook-$1" >&2; return 1; }
		sleep 0.1
	done
	echo "$port"
}

# The platform's pods name their pod storage `workspace` (NETWORK_VOLUME)
# and the user's network volume `network`: the chart's defaults
# (workspaceVolume: workspace, dataVolume: data) are the other way round,
# so the admin sets both.
cfg() {
	printf '{"workspaceVolume": "network", "restoreSync": {"enabled": true, "image": "%s", "imagePullPolicy": "Never", "dataVolume": "workspace", "storeSecret": "netvol-store", "runAsUser": %s}}' \
		"$INIT_IMAGE" "$1"
}
if WH_UID1000=$(start_webhook uid1000 "$(cfg 1000)") && WH_DEFAULT=$(start_webhook default "$(cfg null)"); then
	ok "webhook image: serves /readyz over TLS on 127.0.0.1 (config mounted, as uid 65532)"
else
	ko "webhook containers start"
	finish
fi
out=$(curl -sS --cacert "$tls/ca.crt" "https://127.0.0.1:$WH_DEFAULT/healthz" 2>&1)
[ "$out" = ok ] && ok "webhook image: GET /healthz over TLS (verified against the CA)" || ko "webhook image: /healthz" "$out"
# One review through the image, checked by the pod harness's admission step.
out=$(NV_CA=$tls/ca.crt python3 - "https://127.0.0.1:$WH_DEFAULT" <<'EOF' 2>&1
import json, os, sys
sys.path.insert(0, "tests/pods")
import kubelet
pod = json.load(open("tests/pods/fixtures/comfyui-pod.json"))
out, info = kubelet.admit(pod, sys.argv[1], os.environ["NV_CA"])
assert info["result"] == "patched", info
init = [c["name"] for c in out["spec"]["initContainers"]]
env = {e["name"]: e.get("value") for e in out["spec"]["containers"][0]["env"]}
assert init == ["netvol-restore"], init
assert env["_NETWORK_VOLUME"] == "/network", env
print("patched: %d ops, init containers %s" % (info["ops"], init))
EOF
)
case "$out" in patched:*) ok "webhook image: POST /mutate patches a ComfyUI pod ($out)" ;; *) ko "webhook image: POST /mutate" "$out" ;; esac
phase "image checks done"
[ "$WHAT" = images ] && finish

# ---- the pods ---------------------------------------------------------
t=$(date +%s)
if nv_build "$APP_IMAGE" tests/pods/comfyui/Dockerfile tests/pods/comfyui; then
	ok "docker build of the ComfyUI-like test image ($(($(date +%s) - t)) s)"
else
	ko "docker build of the ComfyUI-like test image" "$(tail -n 25 "$NV_LOGS"/build-*comfyui*.log)"
	finish
fi
if ! rgw=$(tests/s3/rgw.sh start); then
	ko "radosgw starts"
	finish
fi
eval "$rgw"
RGW_DIR=$NV_RGW_DIR
python3 tests/pods/s3mini.py mkbucket netvol-ci || { ko "create the test bucket"; finish; }
phase "radosgw up, bucket netvol-ci"

out=$(NV_WORK=$W/pods NV_LOGS=$NV_LOGS NV_CA=$tls/ca.crt NV_INIT_IMAGE=$INIT_IMAGE NV_APP_IMAGE=$APP_IMAGE \
	NV_WEBHOOK_UID1000="https://127.0.0.1:$WH_UID1000" NV_WEBHOOK_DEFAULT="https://127.0.0.1:$WH_DEFAULT" \
	NV_WEBHOOK_DOWN="https://127.0.0.1:$(free_port)" NV_BUCKET=netvol-ci \
	python3 tests/pods/scenarios.py 2>"$NV_LOGS/scenarios.log")
rc=$?
printf '%s\n' "$out"
p=$(printf '%s\n' "$out" | grep -c '^ok ')
f=$(printf '%s\n' "$out" | grep -c '^FAIL ')
pass=$((pass + p))
fail=$((fail + f))
if [ $rc != 0 ] && [ "$f" = 0 ]; then
	ko "tests/pods/scenarios.py exited $rc" "$(tail -n 25 "$NV_LOGS/scenarios.log")"
fi
[ "$f" = 0 ] || { echo "images: the harness's log (last lines):"; tail -n 40 "$NV_LOGS/scenarios.log" | sed 's/^/     /'; }
finish
