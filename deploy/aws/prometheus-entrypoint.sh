#!/bin/sh
# Entry point of Prometheus in docker-compose.aws.yml (busybox sh in the prom/prometheus image):
# fills the __PLACEHOLDERS__ of monitoring/prometheus-aws.yml from the environment, writes the
# result beside it (so its relative rule_files still resolve), then runs Prometheus with the
# arguments given. scripts/check-deploy.sh runs it with PROMETHEUS=true to check the output.
#   ENVIRONMENT        external label `environment`, e.g. production
#   AWS_REGION         external label `region` and the AMP workspace's region, e.g. eu-west-1
#   AMP_WORKSPACE_ID   e.g. ws-1234abcd-56ef-78ab-90cd-1234567890ab
set -eu
src=${PROMETHEUS_AWS_TEMPLATE:-/etc/prometheus/prometheus-aws.yml}
out=${PROMETHEUS_AWS_CONFIG:-/etc/prometheus/prometheus-aws.rendered.yml}
for v in ENVIRONMENT AWS_REGION AMP_WORKSPACE_ID; do
  eval "val=\${$v:-}"
  case $val in
    '' | *[!A-Za-z0-9._-]*)
      echo "prometheus-entrypoint: $v must be set to letters, digits, '.', '_' or '-' (got '$val')" >&2
      exit 64
      ;;
  esac
done
sed -e "s/__ENVIRONMENT__/$ENVIRONMENT/g" \
  -e "s/__AWS_REGION__/$AWS_REGION/g" \
  -e "s/__AMP_WORKSPACE_ID__/$AMP_WORKSPACE_ID/g" "$src" > "$out"
exec ${PROMETHEUS:-/bin/prometheus} --config.file="$out" "$@"
