#!/bin/sh
# Bad requests get a clear 4xx and the server keeps answering: unknown path,
# wrong method, wrong content type, oversized body, malformed reviews, plain
# HTTP and garbage on the TLS port, an old TLS version, many connections.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../webhook/lib.sh"

wh_ca one
wh_cert one "$T/srv"
wh_start "$T/wh.log" --tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --max-body 65536 --timeout 2
CA="$T/one-ca.crt"

wh_get "$CA" /nope
assert_eq "$CODE" 404 "unknown path"
wh_get "$CA" /mutate
assert_eq "$CODE" 405 "GET /mutate"
wh_get "$CA" /mutate -D "$T/h"
assert_contains "$(cat "$T/h")" "Allow: POST"
wh_get "$CA" /healthz -X POST -d x
assert_eq "$CODE" 405 "POST /healthz"
wh_get "$CA" /healthz -X DELETE
assert_eq "$CODE" 405 "DELETE /healthz"
wh_get "$CA" /healthz -I
assert_eq "$CODE" 200 "HEAD /healthz"

printf '{}' >"$T/empty.json"
wh_get "$CA" /mutate -X POST --data-binary "@$T/empty.json" -H 'Content-Type: text/plain'
assert_eq "$CODE" 415 "text/plain body"
wh_get "$CA" /mutate -X POST --data-binary "@$T/empty.json" -H 'Content-Type:'
assert_eq "$CODE" 415 "no content type"
wh_post "$CA" "$T/empty.json" -H 'Content-Type: application/json; charset=utf-8'
assert_eq "$CODE" 400 "charset parameter is fine, {} is not a review"

# malformed reviews: 400 with the reason
check400() {
	printf '%s' "$1" >"$T/bad.json"
	wh_post "$CA" "$T/bad.json"
	assert_eq "$CODE" 400 "$1"
	assert_contains "$BODY" "$2" "reason for $1"
}
check400 '' 'not valid JSON'
check400 '{"apiVersion":' 'not valid JSON'
check400 '[1,2]' 'not a JSON object'
check400 '{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u"}}' "apiVersion 'admission.k8s.io/v1beta1' is not admission.k8s.io/v1"
check400 '{"apiVersion":"admission.k8s.io/v1","kind":"Review","request":{"uid":"u"}}' "kind 'Review' is not AdmissionReview"
check400 '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}' 'no request'
check400 '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}' 'no uid'
# deep nesting is refused by the parser, not a stack overflow
$PY -c 'print("[" * 20000 + "]" * 20000)' >"$T/deep.json"
wh_post "$CA" "$T/deep.json"
assert_eq "$CODE" 400 "deeply nested JSON"

# bodies over --max-body: 413 whether announced or streamed (chunked)
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
wh_post "$CA" "$T/big.json"
assert_eq "$CODE" 413 "body over the cap"
wh_post "$CA" "$T/big.json" -H 'Transfer-Encoding: chunked'
assert_eq "$CODE" 413 "chunked body over the cap"
# just under the cap is read (and is not a review)
head -c 65000 /dev/zero | tr '\0' ' ' >"$T/under.json"
wh_post "$CA" "$T/under.json"
assert_eq "$CODE" 400 "body under the cap"

# TLS below 1.2 is refused; plain HTTP and garbage do not hurt
if curl -sS --max-time 5 --cacert "$CA" --tlsv1.0 --tls-max 1.1 "$WH_URL/healthz" >/dev/null 2>&1; then
	fail "TLS 1.1 was accepted"
fi
curl -sS --max-time 5 "http://127.0.0.1:$WH_PORT/healthz" >/dev/null 2>&1 || true
head -c 4096 /dev/urandom | curl -sS --max-time 3 -T - "telnet://127.0.0.1:$WH_PORT" >/dev/null 2>&1 || true
# a client that connects and says nothing is timed out (--timeout 2) and does not block others
$PY -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(4)' "$WH_PORT" &
idle=$!
# many clients at once
i=0; pids=""
while [ $i -lt 20 ]; do
	curl -sS --max-time 10 --cacert "$CA" -o /dev/null -w '%{http_code}\n' "$WH_URL/healthz" >>"$T/many" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
# shellcheck disable=SC2086
wait $pids $idle
assert_eq "$(grep -c '^200$' "$T/many")" 20 "20 parallel clients: $(cat "$T/many")"

wh_get "$CA" /healthz
assert_eq "$CODE" 200 "still alive"
wh_review CREATE "$WH_DIR/pod-comfyui.json" "$T/review.json"
wh_post "$CA" "$T/review.json"
assert_eq "$CODE" 200 "still admitting"
wh_get "$CA" /metrics
assert_contains "$BODY" 'netvol_webhook_requests_total{path="/mutate",code="413"} 2'
assert_contains "$BODY" 'netvol_webhook_requests_total{path="/mutate",code="415"} 2'
assert_contains "$BODY" 'netvol_webhook_requests_total{path="other",code="404"} 1'
assert_contains "$BODY" 'netvol_webhook_admissions_total{result="error"}'
assert_contains "$(cat "$T/wh.log")" 'result=error patch_ops=0 status=400 error="apiVersion '

kill -TERM "$WH_PID"
wait "$WH_PID" || fail "SIGTERM should exit 0"
echo "t0520 ok"
