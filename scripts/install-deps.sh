#!/usr/bin/env bash
# Installs, idempotently, what the tests and benchmarks need from Debian's packages:
#   prometheus               promtool for `promtool check metrics`, and a real Prometheus
#   prometheus-node-exporter the Go node_exporter the parity test and `make bench-node` compare against
#   curl                     a real HTTP client for the TLS / basic-auth end-to-end tests
#   strace                   lists the files a scrape opens (benchmark floor)
#   prometheus-alertmanager  amtool for `amtool check-config` on monitoring/alertmanager
#   docker-compose           `docker-compose config` validates docker-compose.yml (no engine needed)
#   yamllint                 lints the YAML under monitoring/
#   jq                       validates the Grafana dashboards and pulls their panel queries
#   python3-yaml             the monitoring check tools (monitoring/tools/*.py) read YAML
set -euo pipefail

packages=(prometheus prometheus-node-exporter curl strace prometheus-alertmanager docker-compose yamllint jq python3-yaml)
# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
apt_missing "${packages[@]}"
[ ${#MISSING[@]} -eq 0 ] && exit 0
apt_install install-deps "${MISSING[@]}"
# Debian starts the packaged daemons; the tests start their own copies on free ports, and the
# packaged services would hold :9090, :9093 and :9100, which `make run` wants.
for svc in prometheus prometheus-node-exporter prometheus-alertmanager; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
