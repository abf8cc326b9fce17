# Helpers for the webhook's integration tests (tests/integration/t05xx-webhook-*.sh),
# sourced after tests/integration/lib.sh.
WEBHOOK="$NETVOL_BIN/netvol-webhook"
WH_DIR=$(cd "$(dirname "$0")/../webhook" && pwd)
WH_TOOLS=$(cd "$(dirname "$0")/.." && pwd)/.tools/webhook
PY=/usr/bin/python3
# Under ASan the server is slower to start and answer.
WH_WAIT=${NETVOL_ASAN:+40}
WH_WAIT=${WH_WAIT:-20}

# wh_ca NAME: a CA in $T/NAME-ca.{crt,key}
wh_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$T/$1-ca.key" -out "$T/$1-ca.crt" -days 3 -subj "/CN=$1 test CA" \
		-addext basicConstraints=critical,CA:TRUE 2>/dev/null
}

# wh_cert CA OUTPREFIX [DAYS]: a server cert for localhost/127.0.0.1/::1 signed by CA
wh_cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$2.key" -out "$2.csr" -subj "/CN=netvol-webhook" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' >"$2.ext"
	openssl x509 -req -in "$2.csr" -CA "$T/$1-ca.crt" -CAkey "$T/$1-ca.key" -CAcreateserial \
		-days "${3:-2}" -extfile "$2.ext" -out "$2.crt" 2>/dev/null
	rm -f "$2.csr" "$2.ext"
}

# wh_start LOG args...: start the webhook on a free loopback port; sets WH_PID, WH_PORT, WH_URL
wh_start() {
	_log=$1; shift
	"$WEBHOOK" --listen 127.0.0.1:0 "$@" 2>"$_log" &
	WH_PID=$!
	at_exit "kill $WH_PID 2>/dev/null; wait $WH_PID 2>/dev/null"
	_i=0
	while ! grep -q 'event=webhook.start' "$_log" 2>/dev/null; do
		kill -0 "$WH_PID" 2>/dev/null || fail "webhook died: $(cat "$_log")"
		_i=$((_i + 1)); [ $_i -lt $((WH_WAIT * 10)) ] || fail "webhook did not start: $(cat "$_log")"
		sleep 0.1
	done
	WH_PORT=$(sed -n 's/.*event=webhook.start .*port=\([0-9]*\).*/\1/p' "$_log" | head -n 1)
	[ -n "$WH_PORT" ] || fail "no port in: $(cat "$_log")"
	WH_URL="https://127.0.0.1:$WH_PORT"
}

# wh_post CA FILE [curl args...]: POST FILE to /mutate; body in $BODY, status in $CODE
wh_post() {
	_ca=$1; _f=$2; shift 2
	CODE=$(curl -sS --max-time 10 --cacert "$_ca" -o "$T/body" -w '%{http_code}' \
		-H 'Content-Type: application/json' --data-binary "@$_f" "$@" "$WH_URL/mutate") || CODE=000
	BODY=$(cat "$T/body" 2>/dev/null || true)
}

# wh_get CA PATH [curl args...]: GET; body in $BODY, status in $CODE
wh_get() {
	_ca=$1; _p=$2; shift 2
	CODE=$(curl -sS --max-time 10 --cacert "$_ca" -o "$T/body" -w '%{http_code}' "$@" "$WH_URL$_p") || CODE=000
	BODY=$(cat "$T/body" 2>/dev/null || true)
}

# wh_review OP POD.json OUT.json: wrap a pod in an AdmissionReview
wh_review() {
	$PY - "$1" "$2" "$3" <<'PYEOF'
import json, sys
op, pod, out = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
json.dump({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
           "request": {"uid": "0c3bd5a4-6a3e-4a5e-9a0e-5e1f0c6d7a11",
                       "kind": {"group": "", "version": "v1", "kind": "Pod"},
                       "resource": {"group": "", "version": "v1", "resource": "pods"},
                       "operation": op, "namespace": "comfy",
                       "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
                       "object": pod, "dryRun": False}}, open(out, "w"))
PYEOF
}

# wh_apply POD.json RESPONSE(json string) OUT.json: apply the response's base64 JSONPatch
# with python3-jsonpatch (an independent implementation); prints the op count
wh_apply() {
	printf '%s' "$2" | $PY -c '
import base64, json, sys, jsonpatch
pod = json.load(open(sys.argv[1]))
resp = json.load(sys.stdin)
r = resp["response"]
assert resp["apiVersion"] == "admission.k8s.io/v1" and resp["kind"] == "AdmissionReview"
assert r["allowed"] is True and r["uid"] == "0c3bd5a4-6a3e-4a5e-9a0e-5e1f0c6d7a11"
ops = json.loads(base64.b64decode(r["patch"])) if "patch" in r else []
if ops: assert r["patchType"] == "JSONPatch"
json.dump(jsonpatch.apply_patch(pod, ops), open(sys.argv[2], "w"))
print(len(ops))' "$1" "$3"
}

# wh_validate POD.json...: each must validate as a v1 Pod (npm kubernetes-models)
wh_validate() {
	node "$WH_DIR/validate-pod.js" "$WH_TOOLS" "$@"
}
