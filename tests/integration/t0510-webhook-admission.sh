#!/bin/sh
# The real binary over real TLS (1.2 and 1.3): a ComfyUI pod gets
# _NETWORK_VOLUME (and, opted in, the restore/sync injection); the patch,
# applied with python3-jsonpatch, gives a valid v1 Pod (npm
# kubernetes-models) and reviewing that pod again returns no patch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../webhook/lib.sh"

wh_ca one
wh_cert one "$T/srv"
cat >"$T/config.json" <<'JSON'
{"workspaceVolume": "workspace", "envName": "_NETWORK_VOLUME",
 "restoreSync": {"enabled": false, "image": "registry.example/netvol-init:0.1.0",
  "imagePullPolicy": "IfNotPresent", "dataVolume": "data", "storeSecret": "netvol-store",
  "runAsUser": 1337, "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}}}
JSON
wh_start "$T/wh.log" --tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --config "$T/config.json"
CA="$T/one-ca.crt"

wh_get "$CA" /healthz
assert_eq "$CODE" 200 "healthz"
wh_get "$CA" /readyz
assert_eq "$CODE" 200 "readyz"
assert_eq "$BODY" "ready"

POD="$WH_DIR/pod-comfyui.json"
wh_validate "$POD" >/dev/null || fail "the fixture itself is not a valid pod"
wh_review CREATE "$POD" "$T/review.json"

for v in 1.2 1.3; do
	wh_post "$CA" "$T/review.json" --tlsv$v --tls-max $v -D "$T/headers"
	assert_eq "$CODE" 200 "mutate over TLS $v"
	assert_contains "$(cat "$T/headers")" "application/json"
	n=$(wh_apply "$POD" "$BODY" "$T/patched-$v.json")
	assert_eq "$n" 3 "ops over TLS $v (init container, comfyui, log-shipper)"
	wh_validate "$T/patched-$v.json" >/dev/null || fail "patched pod is not a valid v1 Pod"
done
# what each container got
got=$($PY -c '
import json, sys
p = json.load(open(sys.argv[1]))["spec"]
for c in p["initContainers"] + p["containers"]:
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    print(c["name"], env.get("_NETWORK_VOLUME"))' "$T/patched-1.3.json" | tr '\n' ' ')
assert_eq "$got" "fix-perms /workspace comfyui /workspace log-shipper /mnt/ws metrics None " "env per container"
# the existing env of comfyui is kept, in order
assert_eq "$($PY -c 'import json,sys; print([e["name"] for e in json.load(open(sys.argv[1]))["spec"]["containers"][0]["env"]])' "$T/patched-1.3.json")" \
	"['POD_USER_NAME', 'NETWORK_VOLUME', 'POD_IP', '_NETWORK_VOLUME']"

# the API server adds ?timeout=10s to the webhook's path
code=$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "@$T/review.json" "$WH_URL/mutate?timeout=10s")
assert_eq "$code" 200 "query string on /mutate"

# again on its own output: nothing to do
wh_review CREATE "$T/patched-1.3.json" "$T/review2.json"
wh_post "$CA" "$T/review2.json"
assert_eq "$CODE" 200
assert_not_contains "$BODY" '"patch"'
assert_eq "$(wh_apply "$T/patched-1.3.json" "$BODY" "$T/same.json")" 0

# opted in to restore-sync by annotation: the full injection
$PY -c '
import json, sys
p = json.load(open(sys.argv[1]))
p["metadata"]["annotations"]["netvol.io/restore-sync"] = "true"
json.dump(p, open(sys.argv[2], "w"))' "$POD" "$T/pod-full.json"
wh_review CREATE "$T/pod-full.json" "$T/review-full.json"
wh_post "$CA" "$T/review-full.json"
assert_eq "$CODE" 200
assert_contains "$BODY" "container 'comfyui' sets no POD_ID: netvol restore will exit 2 for pod-scoped datasets"
n=$(wh_apply "$T/pod-full.json" "$BODY" "$T/full.json")
[ "$n" -ge 7 ] || fail "full injection made only $n ops: $BODY"
wh_validate "$T/full.json" >/dev/null || fail "fully injected pod is not a valid v1 Pod: $(cat "$T/full.json")"
check=$($PY -c '
import json, sys
s = json.load(open(sys.argv[1]))["spec"]
init = s["initContainers"][-1]
assert init["name"] == "netvol-restore", init
assert init["image"] == "registry.example/netvol-init:0.1.0"
assert init["command"] == ["/netvol", "restore", "--install-to", "/netvol-bin"]
assert init["securityContext"] == {"runAsUser": 1337}
assert init["envFrom"] == [{"secretRef": {"name": "netvol-store"}}]
# the identity of the target itself (POD_USER_NAME, NETWORK_VOLUME), not POD_IP;
# no POD_ID: the pod sets none and podIdFromPodName is off
assert init["env"] == [{"name": "POD_USER_NAME", "value": "alice"},
                       {"name": "NETWORK_VOLUME", "value": "/data"},
                       {"name": "_NETWORK_VOLUME", "value": "/workspace"}], init["env"]
assert {m["name"]: m["mountPath"] for m in init["volumeMounts"]} == {"netvol-bin": "/netvol-bin", "data": "/data", "workspace": "/workspace"}
c = s["containers"][0]
assert c["lifecycle"]["preStop"]["exec"]["command"] == ["/netvol/bin/netvol", "sync"]
assert {"name": "netvol-bin", "mountPath": "/netvol/bin", "readOnly": True} in c["volumeMounts"]
assert {"name": "netvol-bin", "emptyDir": {}} in s["volumes"]
assert [e["name"] for e in c["env"]].count("NETWORK_VOLUME") == 1
assert [e["name"] for e in c["env"]].count("POD_ID") == 0
assert {"secretRef": {"name": "netvol-store"}} in c["envFrom"]
print("ok")' "$T/full.json")
assert_eq "$check" ok
wh_review CREATE "$T/full.json" "$T/review-full2.json"
wh_post "$CA" "$T/review-full2.json"
assert_not_contains "$BODY" '"patch"'

# opt-out, UPDATE, other kinds: allowed, no patch
$PY -c '
import json, sys
p = json.load(open(sys.argv[1]))
p["metadata"]["annotations"]["netvol.io/inject"] = "false"
json.dump(p, open(sys.argv[2], "w"))' "$POD" "$T/pod-out.json"
wh_review CREATE "$T/pod-out.json" "$T/review-out.json"
wh_post "$CA" "$T/review-out.json"
assert_eq "$CODE" 200
assert_contains "$BODY" '"allowed":true'
assert_not_contains "$BODY" '"patch"'
wh_review UPDATE "$POD" "$T/review-up.json"
wh_post "$CA" "$T/review-up.json"
assert_not_contains "$BODY" '"patch"'

# metrics and the log line per admission
wh_get "$CA" /metrics
assert_eq "$CODE" 200
assert_contains "$BODY" 'netvol_webhook_requests_total{path="/mutate",code="200"} 8'
assert_contains "$BODY" 'netvol_webhook_admissions_total{result="patched"} 4'
assert_contains "$BODY" 'netvol_webhook_admissions_total{result="unchanged"} 2'
assert_contains "$BODY" 'netvol_webhook_admissions_total{result="skipped"} 2'
assert_contains "$BODY" 'netvol_webhook_admission_duration_seconds_count 8'
assert_contains "$BODY" 'netvol_webhook_build_info{version="0.1.0"'
notafter=$(date -d "$(openssl x509 -in "$T/srv.crt" -noout -enddate | cut -d= -f2)" +%s)
assert_contains "$BODY" "netvol_webhook_tls_cert_not_after_seconds $notafter"
log=$(cat "$T/wh.log")
assert_contains "$log" "event=admission namespace=comfy pod=comfyui-7f9c6d5b8- uid=0c3bd5a4-6a3e-4a5e-9a0e-5e1f0c6d7a11 result=patched patch_ops=3"
assert_contains "$log" "result=skipped patch_ops=0 reason=\"opted out\""

kill -TERM "$WH_PID"
wait "$WH_PID" || fail "SIGTERM should exit 0"
echo "t0510 ok"
