#!/bin/sh
# netvol-webhook's command line: --help/--version exit 0, misuse and bad
# configuration exit 2 with a clear message, an unusable address exits 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../webhook/lib.sh"

assert_exit 0 "$WEBHOOK" --help
assert_contains "$OUT" "usage: netvol-webhook"
assert_contains "$OUT" "--tls-cert"
assert_eq "$("$WEBHOOK" --help 2>/dev/null | head -n 1)" "usage: netvol-webhook [options]" "help goes to stdout"
assert_exit 0 "$WEBHOOK" --version
assert_contains "$OUT" "netvol-webhook 0."

assert_exit 2 "$WEBHOOK" --no-such-flag
assert_exit 2 "$WEBHOOK" extra-arg --tls-cert a --tls-key b
assert_contains "$OUT" "unexpected argument 'extra-arg'"
assert_exit 2 env -u NETVOL_TLS_CERT -u NETVOL_TLS_KEY "$WEBHOOK"
assert_contains "$OUT" "no TLS certificate"
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --threads 0
assert_contains "$OUT" "--threads '0'"
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --max-body lots
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --timeout -1

# the config file: the Helm chart's exact document parses; anything unknown is refused
cat >"$T/config.json" <<'JSON'
{
  "workspaceVolume": "workspace",
  "envName": "_NETWORK_VOLUME",
  "restoreSync": {
    "enabled": false,
    "image": "netvol-init:0.1.0",
    "imagePullPolicy": "IfNotPresent",
    "dataVolume": "data",
    "storeSecret": "netvol-store",
    "runAsUser": null,
    "podIdFromPodName": false,
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
  }
}
JSON
printf '{"workspaceVolume":"workspace","restoreSync":{"enabeld":true}}' >"$T/typo.json"
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --config "$T/typo.json"
assert_contains "$OUT" "config '$T/typo.json': unknown key 'restoreSync.enabeld'"
printf '{"restoreSync":{"podIdFromPodName":"yes"}}' >"$T/podid.json"
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --config "$T/podid.json"
assert_contains "$OUT" "restoreSync.podIdFromPodName must be true or false"
assert_exit 0 "$WEBHOOK" --help
assert_contains "$OUT" "--pod-id-from-pod-name"
printf '{"workspaceVolume": ' >"$T/broken.json"
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --config "$T/broken.json"
assert_contains "$OUT" "not valid JSON"
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --config "$T/missing.json"
assert_contains "$OUT" "cannot open config '$T/missing.json'"
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --config "$T/config.json" --workspace-volume Bad_Name
assert_contains "$OUT" "workspaceVolume 'Bad_Name' is not a valid volume name"
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --config "$T/config.json" --data-volume netvol-bin
assert_contains "$OUT" "reserved"

# addresses
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --config "$T/config.json" --listen nonsense
assert_contains "$OUT" "bad listen address 'nonsense'"
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --listen 127.0.0.1:99999
assert_contains "$OUT" "bad port"
# a port already taken: exit 1 (cannot serve), not a usage error
wh_ca a
wh_cert a "$T/srv"
wh_start "$T/first.log" --tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --config "$T/config.json"
assert_exit 1 "$WEBHOOK" --tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --listen "127.0.0.1:$WH_PORT"
assert_contains "$OUT" "cannot listen on '127.0.0.1:$WH_PORT'"
# ":PORT" listens on every address: IPv4 and, where the machine has it, IPv6
kill -TERM "$WH_PID"; wait "$WH_PID" || fail "SIGTERM should exit 0"
wh_start "$T/any.log" --tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --listen :0
curl -sS --max-time 5 --cacert "$T/a-ca.crt" "https://127.0.0.1:$WH_PORT/healthz" >/dev/null || fail ":0 not reachable on 127.0.0.1"
if $PY -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	curl -sS --max-time 5 --cacert "$T/a-ca.crt" "https://[::1]:$WH_PORT/healthz" >/dev/null || fail ":0 not reachable on ::1"
fi
# the env variables name the certificate too
NETVOL_TLS_CERT="$T/srv.crt" NETVOL_TLS_KEY="$T/srv.key" "$WEBHOOK" --listen 127.0.0.1:0 2>"$T/env.log" &
pid=$!
i=0
until grep -q 'event=webhook.start' "$T/env.log"; do i=$((i + 1)); [ $i -lt 200 ] || fail "no start: $(cat "$T/env.log")"; sleep 0.1; done
assert_contains "$(cat "$T/env.log")" "event=tls.loaded"
kill -TERM $pid
wait $pid || fail "SIGTERM should exit 0"
# --review FILE: offline, no certificate; the decoded patch on stdout, warnings on stderr
POD="$(dirname "$0")/../webhook/pod-comfyui.json"
env -u NETVOL_TLS_CERT -u NETVOL_TLS_KEY "$WEBHOOK" --review "$POD" --restore-sync \
	>"$T/review.out" 2>"$T/review.err" || fail "--review of a pod should exit 0"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert isinstance(p,list) and p and all(o["op"]=="add" for o in p); assert any(o["path"]=="/spec/initContainers/-" or o["path"].startswith("/spec/initContainers") for o in p)' "$T/review.out" \
	|| fail "--review did not print a JSON Patch: $(cat "$T/review.out")"
assert_contains "$(cat "$T/review.out")" "netvol-restore"
assert_contains "$(cat "$T/review.err")" "warning: container 'comfyui' sets no POD_ID"
# the same pod inside an AdmissionReview, from stdin; opted out: an empty patch, the reason
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); p.setdefault("metadata",{}).setdefault("annotations",{})["netvol.io/inject"]="false"; print(json.dumps({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":p}}))' "$POD" >"$T/review.json"
"$WEBHOOK" --review - <"$T/review.json" >"$T/review.out" 2>"$T/review.err" || fail "--review - should exit 0"
assert_eq "$(cat "$T/review.out")" "[]" "an opted-out pod gets no patch"
assert_contains "$(cat "$T/review.err")" "skipped: opted out"
printf '{"kind":"Service"}' >"$T/svc.json"
assert_exit 2 "$WEBHOOK" --review "$T/svc.json"
assert_contains "$OUT" "neither a Pod nor an AdmissionReview"
printf 'not json' >"$T/junk.json"
assert_exit 2 "$WEBHOOK" --review "$T/junk.json"
assert_contains "$OUT" "is not a JSON object"
assert_exit 2 "$WEBHOOK" --review "$T/missing.json"
assert_contains "$OUT" "cannot open '$T/missing.json'"
printf '{"apiVersion":"v1","kind":"AdmissionReview"}' >"$T/badrev.json"
assert_exit 2 "$WEBHOOK" --review "$T/badrev.json"
assert_contains "$OUT" "is not admission.k8s.io/v1"
assert_exit 2 "$WEBHOOK" --review "$POD" --config "$T/typo.json"
assert_contains "$OUT" "unknown key"

echo "t0500 ok"
