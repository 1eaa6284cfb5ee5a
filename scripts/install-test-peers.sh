#!/usr/bin/env bash
# Installs, idempotently, the real peers that node-exporter's talking collectors are tested
# against (crates/node-exporter/tests/peers.rs); the tests skip, saying why, when one is missing:
#   dbus         dbus-daemon: a private session bus for the systemd and logind collectors
#   supervisor   supervisord: the supervisord collector's XML-RPC peer
#   chrony       chronyd: an NTP server on a loopback port for the ntp collector
# Debian's packaged daemons are stopped again: the tests start their own copies on free ports.
set -euo pipefail

packages=(dbus supervisor chrony)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-test-peers: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-test-peers: installing ${missing[*]}"
$SUDO apt-get update -qq
# policy-rc.d 101: keep dpkg from starting supervisord and chronyd (chronyd would try to step
# this machine's clock); removed again whatever happens.
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
if [ $had_policy -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
