# shellcheck shell=bash
# Sourced by the install scripts: Debian packages, each installed once.
#
#   apt_missing PACKAGE...             sets MISSING to those not installed yet
#   apt_install WHO PACKAGE...         installs them quietly (as root, or through sudo); WHO names
#                                      the calling script in its messages. APT_NO_START=1 keeps
#                                      dpkg from starting the packages' daemons.
# Both set SUDO ("" or "sudo") for what the caller does after (stopping packaged services).

SUDO=""

apt_missing() {
  MISSING=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || MISSING+=("$p")
  done
}

apt_install() {
  local who=$1
  shift
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "$who: need root (or sudo) to install: $*" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "$who: installing $*" >&2
  $SUDO apt-get update -qq
  local own_policy=0
  # policy-rc.d exit 101: dpkg starts no daemon; removed again, whatever happens.
  if [ "${APT_NO_START:-0}" = 1 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    own_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
  [ $own_policy = 0 ] || $SUDO rm -f /usr/sbin/policy-rc.d
  return $rc
}
