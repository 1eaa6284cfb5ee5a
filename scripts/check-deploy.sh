#!/usr/bin/env bash
# Checks the production deployment without a cluster, an AWS account or a Docker engine: the Helm
# chart (lint, render, Kubernetes and prometheus-operator schemas, values schema, its copies of
# monitoring/, prometheus-community's value names), the gateway sidecar patches,
# monitoring/prometheus-aws.yml, docker-compose.aws.yml (its secrets: none has a default), the
# Grafana provisioning for AMP, kube-prometheus-stack's values (Grafana admin guard, Slack), the
# IAM policies, Container Insights and the federation example.
# Prints each check and its result; exits 1 if any failed. Tools: scripts/install-deps.sh and
# scripts/install-deploy-tools.sh (`make test-deploy` runs both first).
set -uo pipefail
cd "$(dirname "$0")/.."

VENV="${CARGO_HOME:-$HOME/.cargo}/venvs/deploy"
VPY="$VENV/bin/python"           # helm-python-sdk, kubernetes-validate
PY=/usr/bin/python3              # Debian's: PyYAML and docker-compose's modules
CHART=deploy/helm/platform-observability
TOOLS=deploy/tools
# shellcheck source=lib/checks.sh
. scripts/lib/checks.sh

missing=()
for tool in promtool docker-compose yamllint jq node "$PY" "$VPY"; do
  command -v "$tool" > /dev/null || missing+=("$tool")
done
[ -d "$VENV/node/node_modules/@kubernetes-models/prometheus-operator" ] || missing+=("prometheus-operator schemas")
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-deploy: missing ${missing[*]}; run scripts/install-deps.sh and scripts/install-deploy-tools.sh" >&2
  exit 1
fi

# ------------------------------------------------------------------------------ YAML
# Helm templates are not YAML until rendered; they are checked by rendering below. The chart's
# files/ are copies, held to their sources' style where those are linted (monitoring/): here
# they only have to parse.
yaml_files() {
  find deploy -type f \( -name '*.yml' -o -name '*.yaml' \) -not -path '*/templates/*' -not -path '*/files/*' | sort
  echo docker-compose.aws.yml
  echo monitoring/prometheus-aws.yml
}
yaml_lint() {
  local files
  mapfile -t files < <(yaml_files)
  yamllint -c monitoring/.yamllint.yml "${files[@]}" && echo "${#files[@]} files"
}
check "yamllint: deploy/ (less Helm templates and copies), docker-compose.aws.yml, monitoring/prometheus-aws.yml" yaml_lint
check "the chart's copied YAML parses (yamllint, relaxed)" \
  yamllint -d '{extends: relaxed, rules: {line-length: disable}}' "$CHART/files"
json_parse() {
  local f
  for f in $(find deploy -type f -name '*.json' -not -path '*/files/dashboards/*' | sort); do
    jq empty "$f" || return 1
    echo "$f"
  done
}
check "every JSON file under deploy/ parses (jq): IAM policies, values schema, npm pins" json_parse

# ------------------------------------------------------------------------------ chart
same_as_sources() {
  scripts/sync-chart-files.sh --out "$TMP/files" &&
    diff -r "$TMP/files" "$CHART/files" &&
    find "$CHART/files" -type f | sort | sed 's/^/identical: /'
}
check "the chart's files/ are byte for byte what scripts/sync-chart-files.sh makes from monitoring/ and routes.yml" same_as_sources
mkdir -p "$TMP/render"
check "helm lint --strict and helm template: default values and each ci/*-values.yaml" \
  "$VPY" $TOOLS/check_chart.py lint "$TMP/render"
check "rendered manifests against the Kubernetes schemas (kubernetes-validate, strict)" \
  "$VPY" $TOOLS/check_chart.py validate "$TMP/render"
check "ServiceMonitors, PodMonitors, PrometheusRules, kube-prometheus-stack's Prometheus against prometheus-operator's schemas" \
  env NODE_PATH="$VENV/node/node_modules" node $TOOLS/check_crds.mjs "$TMP/render/crds.json"
check "values.yaml passes values.schema.json; bad values fail at install with the key named" \
  "$VPY" $TOOLS/check_chart.py schema
check "values written for prometheus-community's node-exporter and kafka-exporter charts take effect (ci/prometheus-community-values.yaml)" \
  "$VPY" $TOOLS/check_chart.py compat
check "each SASL mechanism renders its flags and only the Secret it needs (ci/msk-iam-values.yaml: MSK IAM by IRSA)" \
  "$VPY" $TOOLS/check_chart.py sasl
# The flags the chart passes must be ones the binary knows (a flag it does not know exits 64 and
# the DaemonSet crash-loops): our debug build parses each rendered command line.
node_exporter_args() {
  cargo build -q -p node-exporter --bin node-exporter &&
    "$VPY" $TOOLS/check_chart.py args "$TMP/render" "${CARGO_TARGET_DIR:-target}/debug/node-exporter"
}
check "every node-exporter command line the chart renders (and values.yaml's extraArgs example) parses in our binary" \
  node_exporter_args
check "rendered PrometheusRules and ConfigMaps carry monitoring/'s rules and dashboards unchanged" \
  "$VPY" $TOOLS/check_chart.py sources
check "gateway sidecar patches applied to a stand-in gateway: valid, and matching the chart's names" \
  "$VPY" $TOOLS/check_chart.py patches

# ------------------------------------------------------------------------- Prometheus
check "promtool check config monitoring/prometheus-aws.yml" promtool check config monitoring/prometheus-aws.yml
entrypoint_render() {
  ENVIRONMENT=production AWS_REGION=eu-west-1 AMP_WORKSPACE_ID=ws-1234abcd-56ef-78ab-90cd-1234567890ab \
    PROMETHEUS_AWS_TEMPLATE=monitoring/prometheus-aws.yml PROMETHEUS_AWS_CONFIG=monitoring/.prometheus-aws.rendered.yml \
    PROMETHEUS=true sh deploy/aws/prometheus-entrypoint.sh &&
    cp monitoring/.prometheus-aws.rendered.yml "$TMP/rendered.yml" &&
    promtool check config monitoring/.prometheus-aws.rendered.yml
  local rc=$?
  rm -f monitoring/.prometheus-aws.rendered.yml
  return $rc
}
check "deploy/aws/prometheus-entrypoint.sh fills it in; the result passes promtool check config" entrypoint_render
entrypoint_refuses() {
  ! ENVIRONMENT='' AWS_REGION=eu-west-1 AMP_WORKSPACE_ID=ws-1 PROMETHEUS=true \
    PROMETHEUS_AWS_TEMPLATE=monitoring/prometheus-aws.yml PROMETHEUS_AWS_CONFIG="$TMP/x.yml" \
    sh deploy/aws/prometheus-entrypoint.sh
}
check "the entry point refuses to start without ENVIRONMENT" entrypoint_refuses
check "prometheus-aws.yml: 30 s, external labels, SigV4 remote_write, the jobs of prometheus.yml" \
  "$PY" $TOOLS/check_aws.py prometheus "$TMP/rendered.yml"
check "promtool check config deploy/aws/federation/prometheus-global.yml" \
  promtool check config deploy/aws/federation/prometheus-global.yml

# ---------------------------------------------------------------------------- Compose
# compose.env.example leaves the secrets empty (docker-compose then refuses to start); these stand
# in for what the operator supplies from Secrets Manager.
compose_secrets=(GRAFANA_ADMIN_PASSWORD=check-a GRAFANA_DB_PASSWORD=check-b
  GRAFANA_OAUTH_CLIENT_SECRET=check-c KAFKA_UI_PASSWORD=check-d)
for profiles in "observability" "kafka" "observability kafka"; do
  args=()
  for p in $profiles; do args+=(--profile "$p"); done
  check "docker-compose -f docker-compose.yml -f docker-compose.aws.yml ${args[*]} config" \
    env "${compose_secrets[@]}" docker-compose -f docker-compose.yml -f docker-compose.aws.yml \
    --env-file deploy/aws/compose.env.example "${args[@]}" config -q
done
compose_needs_settings() {
  # With an empty environment and env file (not a developer's .env): docker-compose must name
  # what is missing.
  : > "$TMP/empty.env"
  ! env -i PATH="$PATH" docker-compose -f docker-compose.yml -f docker-compose.aws.yml \
    --env-file "$TMP/empty.env" --profile observability config -q 2> "$TMP/err" &&
    cat "$TMP/err" && grep -q 'set ' "$TMP/err"
}
check "docker-compose.aws.yml refuses to run without its settings, naming the first one missing" compose_needs_settings
check "docker-compose.aws.yml refuses to run without each secret (Grafana admin, database, OAuth, Kafka UI), naming it" \
  "$PY" $TOOLS/check_compose_aws.py secrets
check "no default credential in the rendered AWS compose config: every password is one the operator supplied" \
  "$PY" $TOOLS/check_compose_aws.py credentials
check "docker-compose.aws.yml per profile: services, awslogs, Prometheus, Grafana and Kafka UI settings (compose's own resolution)" \
  "$PY" $TOOLS/check_compose_aws.py resolve

# -------------------------------------------------------------------- Grafana and IAM
check "Grafana: AMP data source (plugin type, SigV4 default chain), SSO for kube-prometheus-stack's Grafana" \
  "$PY" $TOOLS/check_aws.py grafana
check "IAM policies: remote write and query on the workspace only, awslogs' CloudWatch Logs actions on its group; trust policies parse" \
  "$PY" $TOOLS/check_aws.py iam
check "Container Insights: ECS cluster setting and EKS CloudWatch Observability add-on, against botocore's API models" \
  "$VPY" $TOOLS/check_aws.py insights

# ------------------------------------------------------------------------------- EKS
check "kube-prometheus-stack values: node dashboards kept, Grafana admin from a Secret, Alertmanager to Slack with the webhook from a Secret" \
  "$PY" $TOOLS/check_aws.py eks "$TMP/eks"
check "kube-prometheus-stack values: the install stops without Grafana's admin Secret (rendered as that chart renders extraManifests)" \
  "$VPY" $TOOLS/check_chart.py kps-guard "$TMP"
chart_no_defaults() {
  ! grep -rnE 'admin123|prom-operator|change-?me' "$TMP/render" &&
    echo "$(find "$TMP/render" -name '*.yaml' | wc -l) rendered files: no known default password"
}
check "the chart's renders (every value set) carry no known default password" chart_no_defaults

check_summary deploy
