#!/bin/sh
# The webhook tests validate patched pods against the Kubernetes v1 Pod schema
# with the npm package kubernetes-models, installed under tests/.tools/.
# Idempotent and fast when done.
set -eu
cd "$(dirname "$0")/../.."
dir=tests/.tools/webhook
if [ -f "$dir/node_modules/kubernetes-models/package.json" ]; then
	exit 0
fi
command -v npm >/dev/null || { echo "deps: npm missing (apt-get install npm)" >&2; exit 2; }
mkdir -p "$dir"
[ -f "$dir/package.json" ] || printf '{"name":"netvol-webhook-tools","private":true}\n' >"$dir/package.json"
echo "deps: installing kubernetes-models into $dir"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error kubernetes-models@4 >/dev/null
