#!/bin/sh
# Tests of the Helm chart deploy/helm/netvol with the real helm (v4) binary:
# lint --strict, template renderings checked by check.mjs (Kubernetes schema
# validation of every object + assertions), values.schema.json rejections,
# and the TLS Secret reuse through `lookup` against fake-apiserver.mjs.
# Tools come from scripts/deps.d/chart.sh. Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
CHART=deploy/helm/netvol
TOOLS=$ROOT/tests/.tools/chart
HELM=$ROOT/tests/.tools/bin/helm
[ -x "$HELM" ] || { echo "helm missing: run make deps" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/netvol-helm.XXXXXX")
SRV_PID=""
cleanup() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$T/err" ] && sed 's/^/     /' "$T/err" | tail -n 30; }
# run NAME cmd...: one test, output kept in $T/err
run() {
	name=$1; shift
	if "$@" >"$T/err" 2>&1; then ok "$name"; else ko "$name"; fi
}

# --- lint
run "lint --strict (defaults)" "$HELM" lint --strict "$CHART"
for v in tests/helm/values/*.yaml; do
	run "lint --strict ($(basename "$v"))" "$HELM" lint --strict "$CHART" -f "$v"
done

# --- renderings: CASE RELEASE NAMESPACE [helm args]
render_check() {
	case_=$1 rel=$2 ns=$3; shift 3
	if ! "$HELM" template "$rel" "$CHART" -n "$ns" "$@" >"$T/$case_.yaml" 2>"$T/err"; then
		ko "template $case_"; return
	fi
	if node tests/helm/check.mjs "$TOOLS" "$case_" "$T/$case_.yaml" "$rel" "$ns" >"$T/err" 2>&1; then
		grep -c '^ok' "$T/err" | sed "s/^/     checks passed: /"
		ok "template $case_"
	else
		ko "template $case_"
	fi
}
render_check default netvol netvol-system
render_check certmanager netvol netvol-system -f tests/helm/values/certmanager.yaml
render_check full comfy gpu-infra -f tests/helm/values/full.yaml

# --- NOTES.txt tells the admin how to label a namespace
if "$HELM" install netvol "$CHART" -n netvol-system --dry-run=client >"$T/notes" 2>"$T/err" &&
	grep -q 'kubectl label namespace <namespace> netvol.io/inject=enabled' "$T/notes"; then
	ok "NOTES.txt shows the namespace label"
else
	cp "$T/notes" "$T/err" 2>/dev/null; ko "NOTES.txt shows the namespace label"
fi

# --- values.schema.json: each of these must make helm template fail
while IFS='|' read -r flag val; do
	[ -n "$flag" ] || continue
	name="schema rejects $flag $val"
	if "$HELM" template x "$CHART" "$flag" "$val" >/dev/null 2>"$T/err"; then
		ko "$name"
	elif grep -q "meet the specifications of the schema" "$T/err"; then
		ok "$name"
	else
		ko "$name (failed for another reason)"
	fi
done <<'EOF'
--set-string|replicaCount=two
--set|replicaCount=0
--set|noSuchKey=1
--set|webhook.noSuchKey=1
--set|webhook.failurePolicy=Maybe
--set|webhook.timeoutSeconds=31
--set-string|webhook.timeoutSeconds=5
--set|webhook.reinvocationPolicy=Always
--set|webhook.namespaceSelector=enabled
--set|webhook.namespaceSelector.matchExpressions[0].key=a
--set|webhook.namespaceSelector.matchExpressions[0].operator=Near
--set|webhook.excludeNamespaces[0]=Bad_NS
--set|inject.workspaceVolume=Bad_Name
--set|inject.envName=1BAD
--set-string|inject.restoreSync.enabled=yes
--set|inject.restoreSync.runAsUser=-1
--set-string|inject.restoreSync.runAsUser=1337
--set|inject.restoreSync.image.repository=
--set-string|inject.restoreSync.podIdFromPodName=true
--set|inject.restoreSync.podIdFromPodName=1
--set|image.pullPolicy=Sometimes
--set|logFormat=xml
--set|certManager.enabled=1
--set|certManager.duration=1year
--set|certManager.issuerRef.kind=Cluster
--set|service.port=70000
--set|podAntiAffinity=maybe
--set|tls.validityDays=0
--set|metrics.serviceMonitor.enabled=on
--set|shutdownDelaySeconds=301
--set|shutdownDelaySeconds=-1
EOF
run "schema accepts runAsUser=1337 and null" sh -c \
	"'$HELM' template x '$CHART' --set inject.restoreSync.runAsUser=1337 >/dev/null &&
	 '$HELM' template x '$CHART' --set inject.restoreSync.runAsUser=null >/dev/null"

# --- shutdownDelaySeconds reaches the webhook's --shutdown-delay (default 5)
delay_case() {
	want=$1; shift
	"$HELM" template x "$CHART" "$@" >"$T/delay.yaml" || return 1
	grep -A1 -e '- --shutdown-delay' "$T/delay.yaml" | grep -q "\"$want\"\$"
}
run "shutdownDelaySeconds: 5 by default" delay_case 5
run "shutdownDelaySeconds: --set ...=0 renders 0" delay_case 0 --set shutdownDelaySeconds=0

# --- restoreSync.podIdFromPodName reaches the webhook's config.json, as a boolean
# pod_id_case WANT [helm args]
pod_id_case() {
	want=$1; shift
	"$HELM" template x "$CHART" "$@" >"$T/podid.yaml" || return 1
	mkdir -p "$T/podid" && node tests/helm/extract.mjs "$TOOLS" "$T/podid.yaml" "$T/podid" || return 1
	node -e '
const cfg = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const v = cfg.restoreSync.podIdFromPodName;
if (v !== JSON.parse(process.argv[2])) throw new Error("podIdFromPodName is " + JSON.stringify(v));' \
		"$T/podid/config.json" "$want"
}
run "podIdFromPodName: false by default" pod_id_case false
run "podIdFromPodName: --set ...=true renders true" pod_id_case true --set inject.restoreSync.podIdFromPodName=true
run "podIdFromPodName: --set ...=false renders false" pod_id_case false --set inject.restoreSync.podIdFromPodName=false

# --- lookup: a TLS Secret that already exists is kept across upgrades.
# helm template --dry-run=server talks to fake-apiserver.mjs on 127.0.0.1.
node tests/helm/check.mjs "$TOOLS" dump-secret "$T/default.yaml" "$T/secret.json" netvol netvol-system
# The same Secret without ca.crt: must be replaced.
node -e '
const fs = require("fs");
const s = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
delete s.data["ca.crt"];
fs.writeFileSync(process.argv[2], JSON.stringify(s));' "$T/secret.json" "$T/partial.json"
fake_server() {
	rm -f "$T/port"
	node tests/helm/fake-apiserver.mjs "$T/port" "$T/api.log" "$@" &
	SRV_PID=$!
	i=0
	while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	cat >"$T/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: http://127.0.0.1:$(cat "$T/port")
contexts:
- name: fake
  context: {cluster: fake, user: fake}
users:
- name: fake
  user: {}
current-context: fake
KC
}
stop_server() { kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
# lookup_case CASE SECRET_FILE EXPECTED
lookup_case() {
	case_=$1 file=$2
	: >"$T/api.log"
	fake_server "$file"
	if KUBECONFIG=$T/kubeconfig "$HELM" template netvol "$CHART" -n netvol-system \
		--dry-run=server --disable-openapi-validation >"$T/$case_.yaml" 2>"$T/err" &&
		grep -q '^GET /api/v1/namespaces/netvol-system/secrets/netvol-webhook-tls 200' "$T/api.log" &&
		node tests/helm/check.mjs "$TOOLS" "$case_" "$T/$case_.yaml" netvol netvol-system "$file" \
			>"$T/err" 2>&1; then
		ok "lookup $case_"
	else
		cat "$T/api.log" >>"$T/err"; ko "lookup $case_"
	fi
	stop_server
}
lookup_case reuse "$T/secret.json"
lookup_case regenerate "$T/partial.json"

echo "helm: $pass passed, $fail failed"
[ "$fail" = 0 ]
