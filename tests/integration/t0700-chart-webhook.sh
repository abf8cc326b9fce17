#!/bin/sh
# The chart and the real netvol-webhook together: render the chart (default
# values, then full injection), start netvol-webhook with the Deployment's own
# args, env, config.json and generated TLS Secret (paths mapped into a temp
# dir, listening on 127.0.0.1), reach it by the Service's DNS name trusting
# only the caBundle of the MutatingWebhookConfiguration, and send an
# AdmissionReview. Skipped (exit 0, says so) when netvol-webhook isn't built.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HELM=$ROOT/tests/.tools/bin/helm
TOOLS=$ROOT/tests/.tools/chart
WEBHOOK=$NETVOL_BIN/netvol-webhook
if [ ! -x "$WEBHOOK" ]; then
	echo "SKIP: $WEBHOOK not built"
	exit 0
fi
[ -x "$HELM" ] || fail "helm missing (make deps)"

PID=""
stop_webhook() {
	[ -n "$PID" ] || return 0
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=""
}
at_exit stop_webhook

# run_case NAME [helm args]: render, start, probe, mutate
run_case() {
	name=$1; shift
	D=$T/$name
	mkdir -p "$D"
	"$HELM" template netvol "$ROOT/deploy/helm/netvol" -n netvol-system "$@" >"$D/rendered.yaml" ||
		fail "$name: helm template"
	node "$ROOT/tests/helm/extract.mjs" "$TOOLS" "$D/rendered.yaml" "$D" || fail "$name: extract"
	# The Deployment's args with its mount paths mapped into $D and the
	# listen address on loopback (port 0: the webhook logs the real port).
	set --
	while IFS= read -r a; do
		case "$a" in
		:8443) a=127.0.0.1:0 ;;
		/etc/netvol/config.json) a=$D/config.json ;;
		/etc/netvol/tls/*) a=$D/${a#/etc/netvol/tls/} ;;
		/*) fail "$name: unexpected path argument $a" ;;
		esac
		set -- "$@" "$a"
	done <"$D/args"
	assert_eq "$(grep -c . "$D/args")" 10 "$name: number of args (with --shutdown-delay)"
	: >"$D/log"
	# shellcheck disable=SC2046 # NAME=value words, no spaces
	env $(cat "$D/env") "$WEBHOOK" "$@" >"$D/log" 2>&1 &
	PID=$!
	port=""
	i=0
	while [ -z "$port" ] && [ $i -lt 100 ]; do
		kill -0 "$PID" 2>/dev/null || fail "$name: webhook exited: $(cat "$D/log")"
		port=$(sed -n 's/.*"port":\([0-9][0-9]*\).*/\1/p; s/.* port=\([0-9][0-9]*\).*/\1/p' "$D/log" | head -n 1)
		[ -n "$port" ] || sleep 0.05
		i=$((i + 1))
	done
	[ -n "$port" ] || fail "$name: no port in the log: $(cat "$D/log")"
	host=$(cat "$D/host")
	C="curl -sS --max-time 5 --cacert $D/ca.crt --resolve $host:$port:127.0.0.1"
	U=https://$host:$port
	for p in /healthz /readyz /metrics; do
		code=$($C -o "$D/body" -w '%{http_code}' "$U$p") || fail "$name: GET $p (TLS with the chart's caBundle)"
		assert_eq "$code" 200 "$name: GET $p"
	done
	# The chart's log format reaches the webhook.
	fmt=$(sed -n 's/^NETVOL_LOG_FORMAT=//p' "$D/env")
	if [ "$fmt" = json ]; then
		head -n 1 "$D/log" | node -e 'JSON.parse(require("fs").readFileSync(0, "utf8"))' ||
			fail "$name: log is not JSON: $(head -n 1 "$D/log")"
	fi
	cat >"$D/review.json" <<JSON
{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-$name",
 "kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
 "operation":"CREATE","namespace":"comfy","object":{"apiVersion":"v1","kind":"Pod",
 "metadata":{"name":"p","namespace":"comfy"},"spec":{"volumes":[{"name":"$VOL","emptyDir":{}},
 {"name":"$DATA","emptyDir":{}}],"containers":[{"name":"comfy","image":"comfy:1",
 "volumeMounts":[{"name":"$VOL","mountPath":"/workspace"},{"name":"$DATA","mountPath":"/data"}]}]}}}}
JSON
	$C -H 'Content-Type: application/json' --data-binary @"$D/review.json" "$U/mutate" >"$D/resp.json" ||
		fail "$name: POST /mutate"
	node -e '
const fs = require("fs");
const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).response;
if (!r || r.allowed !== true || r.uid !== process.argv[2]) throw new Error("bad response " + JSON.stringify(r));
const patch = JSON.parse(Buffer.from(r.patch, "base64").toString());
fs.writeFileSync(process.argv[3], JSON.stringify(patch));' "$D/resp.json" "u-$name" "$D/patch.json" ||
		fail "$name: response: $(cat "$D/resp.json")"
	stop_webhook
}

VOL=workspace DATA=data
run_case default
p=$(cat "$T/default/patch.json")
assert_contains "$p" '"_NETWORK_VOLUME"' "default patch"
assert_contains "$p" '"/workspace"' "default patch"
assert_not_contains "$p" 'initContainers' "default patch (restore/sync off)"

VOL=ws DATA=pod-data
run_case full -f "$ROOT/tests/helm/values/full.yaml"
p=$(cat "$T/full/patch.json")
assert_contains "$p" '"_NETWORK_VOLUME"' "full patch"
assert_contains "$p" 'registry.example.test/team/netvol-init:1.2.3' "full patch: init image from values"
assert_contains "$p" '"comfy-store"' "full patch: store secret from values"
assert_contains "$p" '"runAsUser":1337' "full patch: runAsUser from values"
assert_contains "$p" '"/netvol/bin/netvol","sync"' "full patch: preStop sync"
# podIdFromPodName: true in full.yaml, and the review's pod sets no POD_ID
assert_contains "$p" '{"name":"POD_ID","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}' \
	"full patch: POD_ID from the pod's name (podIdFromPodName)"
assert_not_contains "$(cat "$T/default/patch.json")" 'POD_ID' "default patch: no POD_ID"
# The injected init container must be startable from the init image
# (Dockerfile.init): its command is a file of the image, and no volume is
# mounted on or under a file of the image (a container runtime can't create
# a mount point below a regular file). The preStop command lives in the bin
# emptyDir the app container mounts.
{
	# files copied one by one into the final stage
	sed -n '/^FROM scratch/,$p' "$ROOT/Dockerfile.init" | sed -n 's/^COPY .* \(\/[^ ]*[^/ ]\)$/\1/p'
	# the binaries of the build stage's /out/bin/, copied as a folder to /
	if grep -q '^COPY --from=build /out/bin/ /$' "$ROOT/Dockerfile.init"; then
		grep -o '/out/bin/[A-Za-z0-9_-][A-Za-z0-9_-]*' "$ROOT/Dockerfile.init" | sed 's|^/out/bin/|/|' | sort -u
	fi
} >"$T/image-files"
[ -s "$T/image-files" ] || fail "no files found in Dockerfile.init's final stage"
node "$ROOT/tests/helm/fits-image.mjs" "$T/full/patch.json" "$T/image-files" ||
	fail "full patch does not fit the init image"
echo "ok: chart config, args, env and TLS work with netvol-webhook"
