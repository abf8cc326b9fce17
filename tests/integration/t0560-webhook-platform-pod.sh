#!/bin/sh
# The real binary on the platform's pod (tests/webhook/pod-platform.json):
# identity and store settings on the app container 'comfyui' (valueFrom
# fieldRef/secretKeyRef/configMapKeyRef, $(VAR) references, a ConfigMap by
# envFrom, subPathExpr $(POD_USER_NAME) on the data mount). netvol-restore must
# get exactly the target's identity/store env (verbatim, in its order), its
# envFrom and its user/group; the patched pod is a valid v1 Pod and reviewing
# it again yields no patch. Then --pod-id-from-pod-name on the same pod
# without POD_ID.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../webhook/lib.sh"

POD="$WH_DIR/pod-platform.json"
wh_validate "$POD" >/dev/null || fail "the fixture itself is not a valid pod"
wh_ca one
wh_cert one "$T/srv"
CA="$T/one-ca.crt"
# runAsUser 1337 is only a fallback: the target container sets its own user
cat >"$T/config.json" <<'JSON'
{"restoreSync": {"enabled": false, "image": "registry.example/netvol-init:0.1.0", "runAsUser": 1337}}
JSON

wh_start "$T/wh.log" --tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --config "$T/config.json"
wh_review CREATE "$POD" "$T/review.json"
wh_post "$CA" "$T/review.json"
assert_eq "$CODE" 200 "mutate"
assert_not_contains "$BODY" '"warnings"' "the platform pod needs no warning"
wh_apply "$POD" "$BODY" "$T/patched.json" >/dev/null
wh_validate "$T/patched.json" >/dev/null || fail "patched pod is not a valid v1 Pod: $(cat "$T/patched.json")"
check=$($PY - "$POD" "$T/patched.json" <<'PYEOF'
import json, sys
orig = json.load(open(sys.argv[1]))["spec"]["containers"][0]
s = json.load(open(sys.argv[2]))["spec"]
init = s["initContainers"][-1]
assert init["name"] == "netvol-restore", init
own = {e["name"]: e for e in orig["env"]}
want = [own[n] for n in ["POD_USER_NAME", "POD_ID", "PLATFORM_TENANT", "AWS_BUCKET_NAME",
                         "STORE_BASE", "NETVOL_STORE", "AWS_REGION", "NETWORK_VOLUME"]]
want.append({"name": "_NETWORK_VOLUME", "value": "/workspace"})
assert init["env"] == want, init["env"]
assert init["envFrom"] == [{"configMapRef": {"name": "comfy-session-alice"}},
                           {"secretRef": {"name": "netvol-store"}}], init["envFrom"]
assert init["securityContext"] == {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True}, init
mounts = {m["name"]: m for m in init["volumeMounts"]}
assert mounts["data"] == {"name": "data", "mountPath": "/data", "subPathExpr": "$(POD_USER_NAME)"}, mounts
assert mounts["workspace"] == {"name": "workspace", "mountPath": "/workspace"}, mounts
c = s["containers"][0]
# the target keeps its env, in order, and gets only what it lacked
assert c["env"][:len(orig["env"])] == orig["env"]
assert c["env"][len(orig["env"]):] == [{"name": "_NETWORK_VOLUME", "value": "/workspace"},
                                       {"name": "NETVOL_DEADLINE", "value": "290s"}], c["env"]
assert c["envFrom"] == orig["envFrom"] + [{"secretRef": {"name": "netvol-store"}}], c["envFrom"]
assert c["lifecycle"]["preStop"]["exec"]["command"] == ["/netvol/bin/netvol", "sync"]
# the other container is not the target: its own POD_USER_NAME stays its own
assert s["containers"][1]["env"][0] == {"name": "POD_USER_NAME", "value": "not-the-target"}
print("ok")
PYEOF
)
assert_eq "$check" ok "the init container and the target"
wh_review CREATE "$T/patched.json" "$T/review2.json"
wh_post "$CA" "$T/review2.json"
assert_eq "$CODE" 200
assert_not_contains "$BODY" '"patch"' "second pass"
kill -TERM "$WH_PID"
wait "$WH_PID" || fail "SIGTERM should exit 0"

# --pod-id-from-pod-name: a pod without POD_ID gets metadata.name in both containers
$PY - "$POD" "$T/pod-noid.json" <<'PYEOF'
import json, sys
p = json.load(open(sys.argv[1]))
c = p["spec"]["containers"][0]
c["env"] = [e for e in c["env"] if e["name"] != "POD_ID"]
json.dump(p, open(sys.argv[2], "w"))
PYEOF
wh_review CREATE "$T/pod-noid.json" "$T/review-noid.json"
wh_start "$T/wh2.log" --tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --config "$T/config.json"
assert_contains "$(cat "$T/wh2.log")" "pod_id_from_pod_name=false"
wh_post "$CA" "$T/review-noid.json"
assert_contains "$BODY" "container 'comfyui' sets no POD_ID in env (its envFrom may): netvol restore will exit 2"
kill -TERM "$WH_PID"
wait "$WH_PID" || fail "SIGTERM should exit 0"
wh_start "$T/wh3.log" --tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --config "$T/config.json" \
	--pod-id-from-pod-name
assert_contains "$(cat "$T/wh3.log")" "pod_id_from_pod_name=true"
wh_post "$CA" "$T/review-noid.json"
assert_eq "$CODE" 200
assert_not_contains "$BODY" '"warnings"' "POD_ID from the pod's name: no warning"
wh_apply "$T/pod-noid.json" "$BODY" "$T/patched-noid.json" >/dev/null
wh_validate "$T/patched-noid.json" >/dev/null || fail "patched pod is not a valid v1 Pod"
check=$($PY - "$T/patched-noid.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))["spec"]
ref = {"name": "POD_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
init = s["initContainers"][-1]
assert init["env"][-1] == ref, init["env"]
assert [e for e in s["containers"][0]["env"] if e["name"] == "POD_ID"] == [ref]
print("ok")
PYEOF
)
assert_eq "$check" ok "POD_ID from metadata.name"
kill -TERM "$WH_PID"
wait "$WH_PID" || fail "SIGTERM should exit 0"
echo "t0560 ok"
