"""SASL GSSAPI (Kerberos) against a real MIT KDC (Debian's krb5-kdc, kdc.py) and a Kafka node
whose GSSAPI listener checks tickets with the broker's keytab (Krb5LoginModule, service name
kafka, principal kafka/localhost@REALM).

The exporter authenticates as exporter@REALM from a keytab (keytabAuth) and with the password
(userAuth), and then reports the cluster; a wrong password or a missing keytab gives kafka_up 0
and one log line naming the cause, and the process stays up; without MIT's library the exporter
stops at start with one line naming it. The ground truth comes through the PLAINTEXT listener
(the Python client is not asked to speak Kerberos).
"""

import os
import re
import subprocess
import time

import pytest

import groundtruth as gt
from conftest import REFRESH, open_cluster, series, wait_until
from kdc import Kdc, tools_missing

REALM = "EXAMPLE.TEST"
PASSWORD = "Krb-exporter-pw-5521"
WRONG = "Krb-wrong-pw-0094"


@pytest.fixture(scope="module")
def kerberos(tmp_path_factory):
    missing = tools_missing()
    if missing:
        pytest.skip("MIT Kerberos tools missing (scripts/install-krb5.sh): %s" % " ".join(missing))
    d = str(tmp_path_factory.mktemp("kdc"))
    kdc = Kdc(d, REALM)
    try:
        kdc.start()
        broker_keytab = os.path.join(d, "kafka.keytab")
        kdc.add_principal("kafka/localhost", keytab=broker_keytab)
        exporter_keytab = os.path.join(d, "exporter.keytab")
        kdc.add_principal("exporter", password=PASSWORD, keytab=exporter_keytab)
        c = open_cluster(tmp_path_factory, 1, gssapi={
            "keytab": broker_keytab, "principal": "kafka/localhost@" + REALM,
            "krb5_conf": kdc.krb5_conf})
        try:
            b = c.bootstrap
            gt.create_topic(b, "kerberized", 2)
            gt.produce(b, "kerberized", {0: 25, 1: 10})
            gt.commit(b, "reader", [["kerberized", 0, 20], ["kerberized", 1, 10]])
            yield kdc, c, exporter_keytab
        finally:
            c.close()
    finally:
        kdc.close()


def gssapi_args(kdc, *extra):
    return ["--sasl.enabled", "--sasl.mechanism=gssapi", "--sasl.service-name=kafka",
            "--sasl.kerberos-config-path=" + kdc.krb5_conf, "--sasl.realm=" + REALM,
            "--sasl.username=exporter", *extra]


def assert_reports_cluster(e):
    m = e.scrape().samples
    assert series(m, "kafka_up") == 1, "kafka_up %s" % series(m, "kafka_up")
    assert series(m, "kafka_brokers") == 1, "kafka_brokers %s" % series(m, "kafka_brokers")
    assert series(m, "kafka_topic_partitions", topic="kerberized") == 2
    assert series(m, "kafka_topic_partition_current_offset", topic="kerberized", partition="0") == 25
    assert series(m, "kafka_topic_partition_current_offset", topic="kerberized", partition="1") == 10
    assert series(m, "kafka_consumergroup_lag", consumergroup="reader", topic="kerberized",
                  partition="0") == 5
    return m


@pytest.mark.parametrize("auth", ["keytabAuth", "userAuth"])
def test_gssapi_authenticates_and_collects(kerberos, start_exporter, auth):
    kdc, c, keytab = kerberos
    if auth == "keytabAuth":
        extra = ["--sasl.kerberos-auth-type=keytabAuth", "--sasl.keytab-path=" + keytab]
        env = None
    else:
        # The password from the environment, as upstream's SASL_USER_PASSWORD.
        extra = ["--sasl.kerberos-auth-type=userAuth"]
        env = {"SASL_USER_PASSWORD": PASSWORD}
    e = start_exporter(c.gssapi_bootstrap, *gssapi_args(kdc, *extra), env=env)
    e.wait_collected(timeout=40)
    wait_until(lambda: assert_reports_cluster(e), 20)
    assert PASSWORD not in e.everything_served()


@pytest.mark.parametrize("fault", ["wrong password", "missing keytab"])
def test_gssapi_refused(kerberos, start_exporter, tmp_path, fault):
    kdc, c, _ = kerberos
    if fault == "wrong password":
        extra = ["--sasl.kerberos-auth-type=userAuth", "--sasl.password=" + WRONG]
        cause = r"from the password: .*Preauthentication failed"
    else:
        extra = ["--sasl.kerberos-auth-type=keytabAuth",
                 "--sasl.keytab-path=" + str(tmp_path / "absent.keytab")]
        cause = r"absent\.keytab"
    e = start_exporter(c.gssapi_bootstrap, *gssapi_args(kdc, *extra))

    def refused():
        m = e.scrape().samples
        assert series(m, "kafka_up") == 0, "kafka_up %s" % series(m, "kafka_up")
        errors = series(m, "kafka_exporter_collection_errors_total")
        assert errors is not None and errors >= 1, "no failed collection yet (errors %s)" % errors
        lines = [l for l in e.log().splitlines() if "GSSAPI" in l and re.search(cause, l)]
        assert lines, "no log line names the cause (%s):\n%s" % (cause, e.log_tail())
        return lines

    lines = wait_until(refused, 30)
    assert all(len(l) < 1000 for l in lines), lines
    time.sleep(3 * REFRESH)
    e.assert_alive()
    m = e.scrape().samples
    assert series(m, "kafka_up") == 0
    assert series(m, "kafka_brokers") is None
    served = e.everything_served()
    assert WRONG not in served and PASSWORD not in served


def test_gssapi_without_the_library_is_one_line(exporter_binary, tmp_path):
    """Where MIT's library is absent (here: named so by KAFKA_EXPORTER_GSSAPI_LIBRARY), the
    exporter stops at start with one line naming it, exit 64, before any Kafka is needed."""
    conf = tmp_path / "krb5.conf"
    conf.write_text("[libdefaults]\n default_realm = EXAMPLE.TEST\n")
    argv = [exporter_binary, "--kafka.server=127.0.0.1:9", "--web.listen-address=127.0.0.1:0",
            "--sasl.enabled", "--sasl.mechanism=gssapi", "--sasl.service-name=kafka",
            "--sasl.kerberos-config-path=%s" % conf, "--sasl.username=exporter",
            "--sasl.kerberos-auth-type=keytabAuth", "--sasl.keytab-path=/nonexistent.keytab"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                       env={**os.environ, "KAFKA_EXPORTER_GSSAPI_LIBRARY": "libgssapi_krb5-absent.so.9"})
    assert r.returncode == 64, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "libgssapi_krb5-absent.so.9" in lines[0], r.stderr
