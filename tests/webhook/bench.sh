#!/bin/sh
# make bench-webhook: wrk over TLS keep-alive on loopback against the real
# netvol-webhook with a realistic ComfyUI pod AdmissionReview. Prints req/s,
# p50/p99 latency and the server's RSS after each round (flat = no growth).
# BENCH_SECONDS (default 10), BENCH_ROUNDS (default 3), BENCH_THREADS (server
# threads, default: the CPUs), BENCH_CONNS (default 32).
set -eu
BIN=${1:?usage: bench.sh BINDIR}
cd "$(dirname "$0")"
command -v wrk >/dev/null || { echo "bench: wrk missing (apt-get install wrk)" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/netvol-bench.XXXXXX")
pid=""
trap 'if [ -n "$pid" ]; then kill $pid 2>/dev/null; fi; rm -rf "$T"' EXIT INT TERM
secs=${BENCH_SECONDS:-10}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNS:-32}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/tls.key" \
	-out "$T/tls.crt" -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null
/usr/bin/python3 - pod-comfyui.json "$T/review.json" <<'PYEOF'
import json, sys
pod = json.load(open(sys.argv[1]))
json.dump({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
           "request": {"uid": "0c3bd5a4-6a3e-4a5e-9a0e-5e1f0c6d7a11",
                       "kind": {"group": "", "version": "v1", "kind": "Pod"},
                       "resource": {"group": "", "version": "v1", "resource": "pods"},
                       "operation": "CREATE", "namespace": "comfy",
                       "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                                    "groups": ["system:serviceaccounts", "system:authenticated"]},
                       "object": pod, "oldObject": None, "dryRun": False,
                       "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}},
          open(sys.argv[2], "w"))
PYEOF
{
	echo "local f = io.open(\"$T/review.json\", \"rb\")"
	echo 'wrk.method = "POST"'
	echo 'wrk.body = f:read("*a")'
	echo 'f:close()'
	echo 'wrk.headers["Content-Type"] = "application/json"'
} >"$T/post.lua"

set -- --listen 127.0.0.1:0 --tls-cert "$T/tls.crt" --tls-key "$T/tls.key"
if [ -n "${BENCH_THREADS:-}" ]; then set -- "$@" --threads "$BENCH_THREADS"; fi
"$BIN/netvol-webhook" "$@" 2>"$T/wh.log" &
pid=$!
i=0
until grep -q event=webhook.start "$T/wh.log"; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat "$T/wh.log"; exit 1; }
	sleep 0.1
done
port=$(sed -n 's/.*event=webhook.start .*port=\([0-9]*\).*/\1/p' "$T/wh.log")
rss() { awk '/VmRSS/ {print $2 " kB"}' /proc/$pid/status; }
echo "review body: $(wc -c <"$T/review.json") bytes; server $(grep -o 'threads=[0-9]*' "$T/wh.log"); RSS at start: $(rss)"
echo "command: wrk -t2 -c$conns -d${secs}s --latency -s post.lua https://127.0.0.1:$port/mutate"
r=1
while [ $r -le "$rounds" ]; do
	wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$T/post.lua" "https://127.0.0.1:$port/mutate" >"$T/wrk.out" 2>&1
	rps=$(awk '/^Requests\/sec/ {print $2}' "$T/wrk.out")
	p50=$(awk '$1 == "50%" {print $2}' "$T/wrk.out")
	p99=$(awk '$1 == "99%" {print $2}' "$T/wrk.out")
	errs=$(grep -E 'Non-2xx|Socket errors' "$T/wrk.out" | tr '\n' ' ' || true)
	echo "round $r: $rps req/s, p50 $p50, p99 $p99, RSS after: $(rss) $errs"
	r=$((r + 1))
done
echo "admissions logged: $(grep -c 'event=admission.*result=patched' "$T/wh.log")"
kill -TERM $pid
if wait $pid; then echo "webhook exited 0 on SIGTERM"; fi
pid=""
