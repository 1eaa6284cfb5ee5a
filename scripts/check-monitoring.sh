#!/usr/bin/env bash
# Checks the monitoring stack's configuration without running it (no Docker engine needed):
# Prometheus config, rules and their unit tests, Alertmanager, Grafana provisioning and
# dashboards (every panel query parses), docker-compose.yml for each profile, the Dockerfile,
# and the generated localhost variant of the Prometheus configuration; the Prometheus checks
# again under promtool 3.x (scripts/install-prometheus3.sh builds it once; PROMETHEUS3=0 skips).
# Prints each check and its result; exits 1 if any failed. Tools: scripts/install-deps.sh.
set -uo pipefail
cd "$(dirname "$0")/.."

TOOLS=monitoring/tools
# shellcheck source=lib/checks.sh
. scripts/lib/checks.sh

missing=()
for tool in promtool amtool docker-compose yamllint jq /usr/bin/python3; do
  command -v "$tool" > /dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "check-monitoring: missing ${missing[*]}; run scripts/install-deps.sh" >&2
  exit 1
fi
PY=/usr/bin/python3 # Debian's: it has PyYAML and docker-compose's modules

# ------------------------------------------------------------------------------ YAML
check "yamllint: docker-compose.yml and monitoring/**.yml" \
  yamllint -c monitoring/.yamllint.yml docker-compose.yml monitoring/

# ------------------------------------------------------------------------ Prometheus
check "promtool check config monitoring/prometheus/prometheus.yml" \
  promtool check config monitoring/prometheus/prometheus.yml
check "promtool check rules monitoring/prometheus/rules/*.yml" \
  promtool check rules monitoring/prometheus/rules/*.yml
check "every alert: severity, summary, description, runbook section; a test where it fires and one where it stays silent" \
  "$PY" $TOOLS/checks.py alerts

# The unit tests, a file at a time, so that a failure names its file.
for t in monitoring/prometheus/tests/*.test.yml; do
  check "promtool test rules $t" promtool test rules "$t"
done

check "the unit tests catch a halved threshold or a dropped \`for\` in every alert" \
  "$PY" $TOOLS/mutate_rules.py

# ---------------------------------------------------------------------- Alertmanager
check "amtool check-config monitoring/alertmanager/alertmanager.yml (with its templates)" \
  amtool check-config monitoring/alertmanager/alertmanager.yml
routes() {
  local sev want got
  for pair in critical=slack-critical warning=slack-warning info=blackhole; do
    sev=${pair%%=*}
    want=${pair#*=}
    got=$(amtool config routes test --config.file=monitoring/alertmanager/alertmanager.yml \
      alertname=Test severity="$sev" 2> /dev/null)
    echo "severity=$sev -> $got (want $want)"
    [ "$got" = "$want" ] || return 1
  done
}
check "Alertmanager routes by severity" routes
render() {
  local t
  for t in color title text; do
    amtool template render --template.glob='monitoring/alertmanager/templates/*.tmpl' \
      --template.text="{{ template \"slack.platform.$t\" . }}" > /dev/null || return 1
    echo "slack.platform.$t renders"
  done
}
check "the Slack templates render" render
check "the Slack webhook URL comes from a git-ignored file" "$PY" $TOOLS/checks.py alertmanager
check "no Slack webhook URL in any tracked file" "$PY" $TOOLS/checks.py secrets

# ---------------------------------------------------------------------------- Grafana
json_valid() {
  local f
  for f in monitoring/grafana/dashboards/*.json; do
    jq empty "$f" || return 1
    echo "$f: $(jq '[.. | objects | select(has("targets")) | .targets[]] | length' "$f") queries"
  done
}
check "dashboards are valid JSON (jq)" json_valid
check "dashboards: uid, variables, \${datasource} references only, panels" "$PY" $TOOLS/checks.py dashboards
check "dashboards and rules keep environments apart (environment, region, cluster)" "$PY" $TOOLS/checks.py environments
panel_queries_parse() {
  # Template variables substituted, every query becomes a recording rule for promtool to parse.
  "$PY" $TOOLS/dashboard_queries.py --format rules monitoring/grafana/dashboards/*.json > "$TMP/queries.yml" &&
    promtool check rules "$TMP/queries.yml"
}
check "every panel and variable query parses (promtool check rules on them)" panel_queries_parse
query_check_catches_errors() {
  # The check above must fail on a broken query, or it proves nothing.
  jq '.panels[1].targets[0].expr = "sum(rate(up[$__rate_interval])"' \
    monitoring/grafana/dashboards/system-overview.json > "$TMP/broken.json" &&
    "$PY" $TOOLS/dashboard_queries.py --format rules "$TMP/broken.json" > "$TMP/broken.yml" &&
    ! promtool check rules "$TMP/broken.yml" > /dev/null 2>&1 &&
    echo "a dashboard with a broken query is rejected"
}
check "the query check rejects a broken query" query_check_catches_errors
check "Grafana provisioning: data source uid, dashboard path, Slack from the environment" \
  "$PY" $TOOLS/checks.py provisioning

# ---------------------------------------------------------------------- Compose, Docker
for profiles in "observability" "kafka" "observability kafka"; do
  args=()
  for p in $profiles; do args+=(--profile "$p"); done
  check "docker-compose ${args[*]} config" docker-compose "${args[@]}" config -q
done
check "services and ports of each profile (docker-compose 1.29's own resolution)" \
  "$PY" $TOOLS/compose_profiles.py
mounted_files_pass() {
  local kind path rest rc=0
  "$PY" $TOOLS/checks.py mounts > "$TMP/mounts" || return 1
  while IFS=$'\t' read -r kind path rest; do
    echo "$path ($kind, mounted at $rest)"
    case $kind in
      prometheus-config) promtool check config "$path" > /dev/null || rc=1 ;;
      prometheus-rules) promtool check rules "$path"/*.yml > /dev/null || rc=1 ;;
      alertmanager-config) amtool check-config "$path/alertmanager.yml" > /dev/null || rc=1 ;;
      grafana-provisioning)
        { yamllint -c monitoring/.yamllint.yml "$path" && "$PY" $TOOLS/checks.py provisioning "$path"; } > /dev/null || rc=1 ;;
      grafana-dashboards) "$PY" $TOOLS/checks.py dashboards "$path"/*.json > /dev/null || rc=1 ;;
      *) echo "no checker for $kind"; rc=1 ;;
    esac
  done < "$TMP/mounts"
  return $rc
}
check "every file docker-compose.yml mounts exists and passes its checker" mounted_files_pass
check "Dockerfile: a non-root, shell-free stage per compose build target" "$PY" $TOOLS/checks.py dockerfile

# ------------------------------------------------------------- localhost Prometheus
local_variant() {
  "$PY" $TOOLS/prometheus_local.py --out "$TMP/local" \
    --target prometheus=127.0.0.1:19090 --alertmanager 127.0.0.1:19093 \
    --scrape-interval 1s --evaluation-interval 1s --max-for 5s &&
    promtool check config "$TMP/local/prometheus.yml" &&
    "$PY" $TOOLS/checks.py local-config monitoring/prometheus "$TMP/local" 127.0.0.1 5s
}
check "generated localhost variant passes promtool check config and matches its source" local_variant
local_variant_trimmed() {
  "$PY" $TOOLS/prometheus_local.py --out "$TMP/local2" --no-alertmanager \
    --drop-job alertmanager --drop-job user-service --for ServiceDown=2s --max-for 10s &&
    promtool check config "$TMP/local2/prometheus.yml" &&
    "$PY" $TOOLS/checks.py local-config monitoring/prometheus "$TMP/local2" 127.0.0.1 10s alertmanager user-service &&
    grep -A3 'alert: ServiceDown' "$TMP/local2/rules/services.yml" | grep -q "for: 2s" &&
    echo "ServiceDown has for: 2s"
}
check "generated variant without Alertmanager, with jobs dropped and one alert's for set" local_variant_trimmed
local_variant_rejects_typos() {
  ! "$PY" $TOOLS/prometheus_local.py --out "$TMP/local3" --target api-gatway=127.0.0.1:1 2> "$TMP/err" &&
    cat "$TMP/err" &&
    ! "$PY" $TOOLS/prometheus_local.py --out "$TMP/local3" --for ServiceDwn=1s 2> "$TMP/err" &&
    cat "$TMP/err"
}
check "the generator rejects an unknown job or alert" local_variant_rejects_typos

# ------------------------------------------------------------------------ Prometheus 3
# The same configuration, rules, unit tests and panel queries under promtool 3.x (built once by
# scripts/install-prometheus3.sh into ~/.cache): 3.x parses UTF-8 names, reads `le`/`quantile`
# as normalised floats, and checks configs more strictly. PROMETHEUS3=0 skips the section.
if [ "${PROMETHEUS3:-1}" != 0 ]; then
  if P3=$(scripts/install-prometheus3.sh --quiet); then
    promtool3() { "$P3/promtool" "$@"; }
    check "promtool 3.x: $("$P3/promtool" --version 2>&1 | head -1)" true
    check "promtool 3.x check config monitoring/prometheus/prometheus.yml" \
      promtool3 check config monitoring/prometheus/prometheus.yml
    check "promtool 3.x check rules monitoring/prometheus/rules/*.yml" \
      promtool3 check rules monitoring/prometheus/rules/*.yml
    for t in monitoring/prometheus/tests/*.test.yml; do
      check "promtool 3.x test rules $t" promtool3 test rules "$t"
    done
    panel_queries_parse3() {
      "$PY" $TOOLS/dashboard_queries.py --format rules monitoring/grafana/dashboards/*.json > "$TMP/queries3.yml" &&
        promtool3 check rules "$TMP/queries3.yml"
    }
    check "promtool 3.x: every panel and variable query parses" panel_queries_parse3
    local_variant3() {
      "$PY" $TOOLS/prometheus_local.py --out "$TMP/local4" --no-alertmanager --drop-job alertmanager \
        --scrape-interval 1s --evaluation-interval 1s --max-for 5s &&
        promtool3 check config "$TMP/local4/prometheus.yml"
    }
    check "promtool 3.x check config on the generated localhost variant" local_variant3
  else
    check "Prometheus 3.x built (scripts/install-prometheus3.sh)" false
  fi
fi

check_summary monitoring
