#!/usr/bin/env bash
# Installs, idempotently, MIT Kerberos from Debian for kafka-exporter's GSSAPI test
# (crates/kafka-exporter/tests/kafka/test_gssapi.py):
#   krb5-kdc            krb5kdc, the KDC the test runs in the foreground on a free loopback port
#   krb5-admin-server   kadmin.local, to create the realm's principals and keytabs offline
#   krb5-user           kinit/klist, to check a keytab or password by hand
#   libgssapi-krb5-2    libgssapi_krb5.so.2, which the exporter loads at run time for GSSAPI
# The test writes its own krb5.conf/kdc.conf and database under a temporary directory; the
# packaged KDC service (if Debian started one) is stopped: nothing here uses it.
set -euo pipefail

packages=(krb5-kdc krb5-admin-server krb5-user libgssapi-krb5-2)
# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
apt_missing "${packages[@]}"
[ ${#MISSING[@]} -eq 0 ] && exit 0
# krb5-config asks for a default realm; noninteractive leaves /etc/krb5.conf without one,
# which is fine: the test never reads /etc/krb5.conf (KRB5_CONFIG points at its own).
apt_install install-krb5 "${MISSING[@]}"
for svc in krb5-kdc krb5-admin-server; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
