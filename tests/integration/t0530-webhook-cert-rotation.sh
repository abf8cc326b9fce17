#!/bin/sh
# Certificates are reloaded without a restart: the kubelet's `..data`
# symlink swap and a plain in-place rewrite are both picked up; a broken or
# mismatched new pair keeps the old one serving (and is logged); a server
# started before its certificate exists becomes ready once it appears.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../webhook/lib.sh"

wh_ca one
wh_ca two
wh_ca three
wh_cert one "$T/c1"
wh_cert two "$T/c2"
wh_cert three "$T/c3"

# serves CA: can a client that trusts only CA's certificate connect?
serves() {
	curl -sS --max-time 5 --cacert "$T/$1-ca.crt" -o /dev/null "$WH_URL/healthz" 2>/dev/null
}
# wait_serving CA: the new certificate shows up within a few seconds
wait_serving() {
	i=0
	until serves "$1"; do
		i=$((i + 1)); [ $i -lt 100 ] || fail "certificate of CA $1 never served; log: $(cat "$T/wh.log")"
		sleep 0.1
	done
}

# the kubelet's layout of a secret volume: files are symlinks through ..data
mkdir -p "$T/tls/..2026_11_30_a"
cp "$T/c1.crt" "$T/tls/..2026_11_30_a/tls.crt"
cp "$T/c1.key" "$T/tls/..2026_11_30_a/tls.key"
ln -s ..2026_11_30_a "$T/tls/..data"
ln -s ..data/tls.crt "$T/tls/tls.crt"
ln -s ..data/tls.key "$T/tls/tls.key"
wh_start "$T/wh.log" --tls-cert "$T/tls/tls.crt" --tls-key "$T/tls/tls.key"
serves one || fail "first certificate not served"
serves two && fail "second certificate served before the rotation"

# keep a connection open across the rotation: it goes on working
$PY - "$WH_PORT" "$T/one-ca.crt" >"$T/keepalive.out" 2>&1 <<'PYEOF' &
import http.client, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=10)
codes = []
for i in range(15):
    c.request("GET", "/healthz"); r = c.getresponse(); r.read(); codes.append(r.status)
    time.sleep(0.4)
print("codes", codes)
PYEOF
keep=$!
sleep 0.5

# rotate: new timestamped folder, then an atomic swap of ..data
mkdir "$T/tls/..2026_11_30_b"
cp "$T/c2.crt" "$T/tls/..2026_11_30_b/tls.crt"
cp "$T/c2.key" "$T/tls/..2026_11_30_b/tls.key"
ln -s ..2026_11_30_b "$T/tls/..data_tmp"
mv -T "$T/tls/..data_tmp" "$T/tls/..data"
rm -rf "$T/tls/..2026_11_30_a"
wait_serving two
serves one && fail "old certificate still served after the rotation"
wh_get "$T/two-ca.crt" /metrics
assert_contains "$BODY" "netvol_webhook_tls_pairs 2" "the open connection holds the old pair"
wait $keep || fail "keep-alive client failed: $(cat "$T/keepalive.out")"
assert_eq "$(cat "$T/keepalive.out")" "codes [$(printf '200, %.0s' $(seq 14))200]" "connection across rotation"
# once it is closed the old pair is freed
i=0
while wh_get "$T/two-ca.crt" /metrics && ! printf '%s' "$BODY" | grep -q '^netvol_webhook_tls_pairs 1$'; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "old pair never freed: $(printf '%s' "$BODY" | grep tls_pairs)"
	sleep 0.1
done

# a bad pair (key of another certificate): the old one stays, the log says why
mkdir "$T/tls/..2026_11_30_c"
cp "$T/c3.crt" "$T/tls/..2026_11_30_c/tls.crt"
cp "$T/c1.key" "$T/tls/..2026_11_30_c/tls.key"
ln -s ..2026_11_30_c "$T/tls/..data_tmp"
mv -T "$T/tls/..data_tmp" "$T/tls/..data"
i=0
until grep -q 'event=tls.reload_failed' "$T/wh.log"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "bad pair not reported: $(cat "$T/wh.log")"
	sleep 0.1
done
assert_contains "$(grep 'event=tls.reload_failed' "$T/wh.log")" "does not match the certificate"
assert_contains "$(grep 'event=tls.reload_failed' "$T/wh.log")" "serving_old=true"
serves two || fail "old pair not kept after a bad rotation"
serves three && fail "mismatched pair served"
# garbage is refused the same way
echo "not a certificate" >"$T/tls/..2026_11_30_c/tls.crt"
i=0
until [ "$(grep -c 'event=tls.reload_failed' "$T/wh.log")" -ge 2 ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "garbage not reported: $(cat "$T/wh.log")"
	sleep 0.1
done
serves two || fail "old pair not kept after garbage"
# the fixed pair is then taken
cp "$T/c3.key" "$T/tls/..2026_11_30_c/tls.key"
cp "$T/c3.crt" "$T/tls/..2026_11_30_c/tls.crt"
wait_serving three
wh_get "$T/three-ca.crt" /metrics
assert_contains "$BODY" "netvol_webhook_tls_reloads_total 3"
assert_contains "$BODY" "netvol_webhook_tls_reload_errors_total "
kill -TERM "$WH_PID"
wait "$WH_PID" || fail "SIGTERM should exit 0"

# plain files rewritten in place, and a start before the files exist
wh_start "$T/wh2.log" --tls-cert "$T/late.crt" --tls-key "$T/late.key"
assert_contains "$(cat "$T/wh2.log")" "event=tls.reload_failed"
assert_contains "$(cat "$T/wh2.log")" "ready=false"
serves one && fail "served without a certificate"
cp "$T/c1.key" "$T/late.key"
cp "$T/c1.crt" "$T/late.crt"
wait_serving one
wh_get "$T/one-ca.crt" /readyz
assert_eq "$CODE" 200 "ready once the certificate exists"
cat "$T/c2.key" >"$T/late.key"
cat "$T/c2.crt" >"$T/late.crt"
wait_serving two
kill -TERM "$WH_PID"
wait "$WH_PID" || fail "SIGTERM should exit 0"
echo "t0530 ok"
