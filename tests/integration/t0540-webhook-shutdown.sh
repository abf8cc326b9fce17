#!/bin/sh
# SIGTERM: the server stops accepting, finishes the request in flight, and
# exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../webhook/lib.sh"

wh_ca one
wh_cert one "$T/srv"
wh_start "$T/wh.log" --tls-cert "$T/srv.crt" --tls-key "$T/srv.key"
CA="$T/one-ca.crt"

# a review padded to ~60 KB, uploaded at 20 KB/s: about 3 s in flight
$PY - "$WH_DIR/pod-comfyui.json" "$T/slow.json" <<'PYEOF'
import json, sys
pod = json.load(open(sys.argv[1]))
pod["metadata"]["annotations"]["padding"] = "x" * 60000
json.dump({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
           "request": {"uid": "slow-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                       "operation": "CREATE", "namespace": "comfy", "object": pod}},
          open(sys.argv[2], "w"))
PYEOF
curl -sS --max-time 20 --cacert "$CA" --limit-rate 20K -o "$T/slow.out" -w '%{http_code}' \
	-H 'Content-Type: application/json' --data-binary "@$T/slow.json" "$WH_URL/mutate" >"$T/slow.code" 2>"$T/slow.err" &
client=$!
# send SIGTERM once the request is in flight (the metrics request counts itself)
i=0
until wh_get "$CA" /metrics && printf '%s\n' "$BODY" | grep -q '^netvol_webhook_requests_in_flight 2$'; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "the slow request never started: $(cat "$T/slow.err")"
	sleep 0.05
done
kill -TERM "$WH_PID"
i=0
until grep -q 'in_flight' "$T/wh.log" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no stopping line: $(cat "$T/wh.log")"
	sleep 0.1
done
assert_contains "$(cat "$T/wh.log")" "event=webhook.stopping signal=SIGTERM in_flight=1"
# new connections are refused while it drains
if curl -sS --max-time 2 --cacert "$CA" -o /dev/null "$WH_URL/healthz" 2>/dev/null; then
	fail "a new connection was accepted after SIGTERM"
fi
wait $client || fail "the slow client failed: $(cat "$T/slow.err")"
assert_eq "$(cat "$T/slow.code")" 200 "the request in flight was answered"
assert_contains "$(cat "$T/slow.out")" '"uid":"slow-1"'
assert_contains "$(cat "$T/slow.out")" '"patch"'
wait "$WH_PID" || fail "webhook exited $? after SIGTERM, want 0"
assert_contains "$(cat "$T/wh.log")" "event=webhook.stop abandoned=0"
assert_contains "$(cat "$T/wh.log")" "uid=slow-1 result=patched"
echo "t0540 ok"
