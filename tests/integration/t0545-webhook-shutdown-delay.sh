#!/bin/sh
# --shutdown-delay: after SIGTERM /readyz fails at once ("shutting down")
# while /mutate is still answered on new connections for the delay; then
# the server drains and exits 0. Without the flag nothing changes (t0540).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../webhook/lib.sh"

wh_ca one
wh_cert one "$T/srv"
assert_exit 2 "$WEBHOOK" --tls-cert a --tls-key b --shutdown-delay 301
assert_contains "$OUT" "--shutdown-delay '301'"
assert_exit 0 "$WEBHOOK" --help
assert_contains "$OUT" "--shutdown-delay SECONDS"

wh_start "$T/wh.log" --tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --shutdown-delay 3
CA="$T/one-ca.crt"
wh_review CREATE "$WH_DIR/pod-comfyui.json" "$T/review.json"
wh_get "$CA" /readyz
assert_eq "$CODE" 200 "ready before SIGTERM"

t0=$(date +%s)
kill -TERM "$WH_PID"
i=0
until grep -q 'event=webhook.unready' "$T/wh.log" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no unready line: $(cat "$T/wh.log")"
	sleep 0.05
done
assert_contains "$(cat "$T/wh.log")" "event=webhook.unready signal=SIGTERM delay_s=3"
wh_get "$CA" /readyz
assert_eq "$CODE" 503 "/readyz during the delay"
assert_contains "$BODY" "shutting down"
# admissions on new connections are still answered, several times over the delay
n=0
while [ $n -lt 5 ]; do
	wh_post "$CA" "$T/review.json"
	assert_eq "$CODE" 200 "admission $n during the delay"
	assert_contains "$(cat "$T/body")" '"allowed":true'
	n=$((n + 1))
	sleep 0.3
done
kill -0 "$WH_PID" 2>/dev/null || fail "exited before the delay ended"
wait "$WH_PID" || fail "webhook exited $? after SIGTERM, want 0"
t1=$(date +%s)
[ $((t1 - t0)) -ge 2 ] || fail "the delay was not kept: $((t1 - t0))s"
assert_contains "$(cat "$T/wh.log")" "event=webhook.stop abandoned=0"
# after the delay the port is closed
if curl -sS --max-time 2 --cacert "$CA" -o /dev/null "$WH_URL/healthz" 2>/dev/null; then
	fail "still serving after the delay"
fi
echo "t0545 ok"
