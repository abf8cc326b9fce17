#!/bin/sh
# Retries honour NETVOL_DEADLINE (retry.h): against an S3 endpoint that only
# ever answers 503 SlowDown, with 100 attempts allowed, a sync with a 3 s
# deadline stops within the deadline (plus one request), exits 1 with a
# deadline error, instead of sleeping through minutes of backoff. Without a
# deadline it gives up after AWS_MAX_ATTEMPTS.
. "$(dirname "$0")/lib.sh"

cat >"$T/slow.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        body = b"<?xml version='1.0'?><Error><Code>SlowDown</Code><Message>slow down</Message><RequestId>r1</RequestId></Error>"
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = answer
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$T/slow.py" >"$T/port" &
srv=$!
at_exit "kill $srv"
n=0
while [ ! -s "$T/port" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
port=$(cat "$T/port")

mkdir -p "$T/pod/venv"
echo x >"$T/pod/venv/f"
run() {
	env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secretsecret AWS_REGION=us-east-1 \
		AWS_ENDPOINT_URL_S3="http://127.0.0.1:$port" NETWORK_VOLUME="$T/pod" \
		NETVOL_STORE=s3://nv-bucket/base POD_USER_NAME=u1 NETVOL_DATASETS=venv "$@"
}

t0=$(date +%s%N)
assert_exit 1 run AWS_MAX_ATTEMPTS=100 NETVOL_DEADLINE=3s "$NETVOL" sync
ms=$((($(date +%s%N) - t0) / 1000000))
assert_contains "$OUT" "deadline reached, no time left to retry"
assert_contains "$OUT" "code=DEADLINE"
# 3 s of deadline, a few hundred ms for the request in flight and the exit
[ "$ms" -lt 4500 ] || fail "sync took ${ms} ms with a 3 s deadline"
[ "$ms" -ge 1000 ] || fail "sync gave up after ${ms} ms: it did not retry"

# the restore too
t0=$(date +%s%N)
assert_exit 1 run AWS_MAX_ATTEMPTS=100 NETVOL_DEADLINE=2s NETWORK_VOLUME="$T/pod2" "$NETVOL" restore
ms=$((($(date +%s%N) - t0) / 1000000))
assert_contains "$OUT" "deadline reached"
[ "$ms" -lt 3500 ] || fail "restore took ${ms} ms with a 2 s deadline"

# no deadline: the attempts run out instead
assert_exit 1 run AWS_MAX_ATTEMPTS=3 "$NETVOL" sync
assert_contains "$OUT" "SlowDown"
assert_not_contains "$OUT" "deadline reached"
assert_contains "$OUT" "3 attempts"
