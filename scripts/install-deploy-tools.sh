#!/usr/bin/env bash
# Installs, idempotently, what scripts/check-deploy.sh needs beyond scripts/install-deps.sh,
# into ${CARGO_HOME:-$HOME/.cargo}/venvs/deploy (CI caches the cargo home):
#   helm-python-sdk        Helm 4's Go SDK behind a C ABI (no helm binary): lint, render,
#                          values.schema.json validation, offline
#   kubernetes-validate    the Kubernetes OpenAPI schemas of each release, offline, strict mode
#   botocore               the AWS API models (ECS, EKS), to validate the Container Insights
#                          requests of deploy/aws/container-insights offline
#   @kubernetes-models/prometheus-operator (npm, Node.js)
#                          schemas of ServiceMonitor, PodMonitor and PrometheusRule, generated from
#                          prometheus-operator's Go types (deploy/tools/package-lock.json pins it)
# Every version is pinned here; a run with the same pins returns at once.
#
# Why not helm-sdkpy: it declares Python >= 3.12, and although it loads on 3.11 when forced, it
# has no template/render call (install needs a cluster), so it cannot check a chart offline.
set -euo pipefail
cd "$(dirname "$0")/.."

PY_PINS=(helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.3 botocore==1.43.11)
DEST="${CARGO_HOME:-$HOME/.cargo}/venvs/deploy"
stamp="$DEST/.pins"
want="$(printf '%s\n' "${PY_PINS[@]}"; cat deploy/tools/package.json deploy/tools/package-lock.json)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$DEST/bin/python" ] &&
  [ -d "$DEST/node/node_modules/@kubernetes-models/prometheus-operator" ]; then
  exit 0
fi

# The pyenv Python if there is one (3.11 on these machines), else Debian's; the wheel of
# helm-python-sdk is manylinux_2_28 x86_64 and needs Python >= 3.10.
PYTHON=${PYTHON:-python3}
for tool in "$PYTHON" node npm; do
  command -v "$tool" > /dev/null || { echo "install-deploy-tools: missing $tool" >&2; exit 1; }
done
echo "install-deploy-tools: installing into $DEST"
rm -rf "$DEST"
"$PYTHON" -m venv "$DEST"
"$DEST/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "${PY_PINS[@]}"
mkdir -p "$DEST/node"
cp deploy/tools/package.json deploy/tools/package-lock.json "$DEST/node/"
(cd "$DEST/node" && npm ci --silent --no-audit --no-fund --ignore-scripts)
"$DEST/bin/python" -c 'import helm_python as h; print("helm-python-sdk: Helm SDK", h.helm_sdk_version())'
printf '%s' "$want" > "$stamp"
