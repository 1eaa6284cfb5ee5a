#!/usr/bin/env bash
# Copies into the Helm chart what it ships from elsewhere in the repository, unchanged (Helm reads
# no file outside a chart, and a hand-kept second copy would drift):
#   monitoring/prometheus/rules/*.yml      -> files/rules/         (PrometheusRules)
#   monitoring/grafana/dashboards/*.json   -> files/dashboards/    (dashboard ConfigMaps)
#   crates/gateway-sidecar/routes.yml      -> files/gateway-sidecar/routes.yml (default rules)
# Run it after changing any of those, and commit the result. scripts/check-deploy.sh runs it into
# a temporary directory and fails if the chart's copy differs by a byte.
#
#   scripts/sync-chart-files.sh               update deploy/helm/platform-observability/files
#   scripts/sync-chart-files.sh --out DIR     write the tree to DIR instead
set -euo pipefail
cd "$(dirname "$0")/.."

out=deploy/helm/platform-observability/files
if [ "${1:-}" = "--out" ] && [ -n "${2:-}" ]; then
  out=$2
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--out DIR]" >&2
  exit 2
fi

# Start from nothing, so a file deleted at the source goes from the chart too.
rm -rf "$out/rules" "$out/dashboards" "$out/gateway-sidecar"
mkdir -p "$out/rules" "$out/dashboards" "$out/gateway-sidecar"
cp monitoring/prometheus/rules/*.yml "$out/rules/"
cp monitoring/grafana/dashboards/*.json "$out/dashboards/"
cp crates/gateway-sidecar/routes.yml "$out/gateway-sidecar/routes.yml"
