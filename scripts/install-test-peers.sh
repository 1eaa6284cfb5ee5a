#!/usr/bin/env bash
# Installs, idempotently, the real peers that node-exporter's talking collectors are tested
# against (crates/node-exporter/tests/peers.rs); the tests skip, saying why, when one is missing:
#   dbus         dbus-daemon: a private session bus for the systemd and logind collectors
#   supervisor   supervisord: the supervisord collector's XML-RPC peer
#   chrony       chronyd: an NTP server on a loopback port for the ntp collector
# Debian's packaged daemons are stopped again: the tests start their own copies on free ports.
set -euo pipefail

packages=(dbus supervisor chrony)
# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
apt_missing "${packages[@]}"
[ ${#MISSING[@]} -eq 0 ] && exit 0
# APT_NO_START: keep dpkg from starting supervisord and chronyd (chronyd would try to step
# this machine's clock).
APT_NO_START=1 apt_install install-test-peers "${MISSING[@]}"
