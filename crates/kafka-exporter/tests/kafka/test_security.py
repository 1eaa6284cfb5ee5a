"""SASL and TLS listeners of one Apache Kafka node: the right credentials collect (kafka_up 1 and
the values the broker reports through the same listener), wrong ones give kafka_up 0 and a log
line naming the cause, never an exit, and a password never shows in the exporter's output.

cluster.py's node has SASL_PLAINTEXT with SCRAM-SHA-256/512 users (made at format time), PLAIN
added here through its `overrides`, and SSL with a CA of its own, whose listener only requests a
client certificate; mutual TLS runs on a second node whose SSL listener requires one
(ssl.client.auth=required): the CA's client certificate is accepted, none or a foreign one refused.
"""

import re
import subprocess
import time

import pytest

import groundtruth as gt
from conftest import REFRESH, open_cluster, series, wait_until

USER = "alice"
PASSWORD = "Tr0ub4dor-alice-7731"
WRONG = "Wr0ng-pass-zq81x"
# A librdkafka mechanism per --sasl.mechanism.
MECHANISMS = {"scram-sha512": "SCRAM-SHA-512", "scram-sha256": "SCRAM-SHA-256", "plain": "PLAIN"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    plain = ('org.apache.kafka.common.security.plain.PlainLoginModule required user_%s="%s";'
             % (USER, PASSWORD))
    c = open_cluster(tmp_path_factory, 1, scram_users={USER: PASSWORD}, tls=True, overrides={
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": plain,
    })
    try:
        b = c.bootstrap
        gt.create_topic(b, "secured", 2)
        gt.produce(b, "secured", {0: 25, 1: 10})
        gt.commit(b, "reader", [["secured", 0, 20], ["secured", 1, 10]])
        yield c
    finally:
        c.close()


def sasl_conf(mechanism, password=PASSWORD):
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": MECHANISMS[mechanism],
            "sasl.username": USER, "sasl.password": password}


def assert_serves_truth(e, bootstrap, conf):
    """The exporter serves what the broker reports through the same listener (so that the
    advertised addresses in kafka_broker_info agree)."""
    s = gt.state(bootstrap, conf=conf)
    assert not s["errors"], s["errors"]
    m = e.scrape().samples
    assert series(m, "kafka_up") == 1, "kafka_up %s" % series(m, "kafka_up")
    d = gt.diff(gt.expected_samples(s), gt.compared(m))
    assert not d, "exporter differs from the broker:\n" + d
    assert series(m, "kafka_topic_partition_current_offset", topic="secured", partition="0") == 25
    assert series(m, "kafka_consumergroup_lag", consumergroup="reader", topic="secured",
                  partition="0") == 5
    return m


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
def test_sasl_right_credentials_collect(cluster, start_exporter, mechanism):
    e = start_exporter(cluster.sasl_bootstrap, "--sasl.enabled", "--sasl.mechanism=" + mechanism,
                       "--sasl.username=" + USER, "--sasl.password=" + PASSWORD)
    e.wait_collected()
    wait_until(lambda: assert_serves_truth(e, cluster.sasl_bootstrap, sasl_conf(mechanism)), 20)
    assert PASSWORD not in e.everything_served()


def test_sasl_password_from_the_environment(cluster, start_exporter):
    """SASL_USER_PASSWORD, as upstream: the password then is not even on the command line."""
    e = start_exporter(cluster.sasl_bootstrap, "--sasl.enabled", "--sasl.mechanism=scram-sha512",
                       "--sasl.username=" + USER, env={"SASL_USER_PASSWORD": PASSWORD})
    e.wait_collected()
    wait_until(lambda: assert_serves_truth(e, cluster.sasl_bootstrap, sasl_conf("scram-sha512")), 20)
    assert PASSWORD not in e.everything_served()


@pytest.mark.parametrize("via", ["flag", "env"])
def test_sasl_wrong_password(cluster, start_exporter, via):
    args = ["--sasl.enabled", "--sasl.mechanism=scram-sha512", "--sasl.username=" + USER]
    env = None
    if via == "flag":
        args.append("--sasl.password=" + WRONG)
    else:
        env = {"SASL_USER_PASSWORD": WRONG}
    e = start_exporter(cluster.sasl_bootstrap, *args, env=env)

    def refused():
        m = e.scrape().samples
        assert series(m, "kafka_up") == 0, "kafka_up %s" % series(m, "kafka_up")
        errors = series(m, "kafka_exporter_collection_errors_total")
        assert errors is not None and errors >= 1, "no failed collection yet (errors %s)" % errors
        lines = [l for l in e.log().splitlines() if re.search(r"authenticat", l, re.I)]
        assert lines, "no log line names the cause (authentication):\n" + e.log_tail()
        return m

    wait_until(refused, 30)
    # Still there several refreshes later, still down, and nothing has leaked.
    time.sleep(4 * REFRESH)
    e.assert_alive()
    m = e.scrape().samples
    assert series(m, "kafka_up") == 0
    assert series(m, "kafka_brokers") is None, "a failed login must not produce cluster series"
    served = e.everything_served()
    assert WRONG not in served, "the password appears in the exporter's output"
    assert PASSWORD not in served


def tls_conf(cluster, cert=None, key=None):
    conf = {"security.protocol": "SSL", "ssl.ca.location": cluster.ca_file}
    if cert:
        conf.update({"ssl.certificate.location": cert, "ssl.key.location": key})
    return conf


def test_tls_with_ca_file(cluster, start_exporter):
    e = start_exporter(cluster.tls_bootstrap, "--tls.enabled", "--tls.ca-file=" + cluster.ca_file)
    e.wait_collected()
    wait_until(lambda: assert_serves_truth(e, cluster.tls_bootstrap, tls_conf(cluster)), 20)


@pytest.fixture(scope="module")
def mtls_cluster(tmp_path_factory):
    """A node whose SSL listener requires a client certificate signed by its CA."""
    c = open_cluster(tmp_path_factory, 1, tls=True,
                     overrides={"listener.name.ssl.ssl.client.auth": "required"})
    try:
        gt.create_topic(c.bootstrap, "secured", 2)
        gt.produce(c.bootstrap, "secured", {0: 25, 1: 10})
        gt.commit(c.bootstrap, "reader", [["secured", 0, 20], ["secured", 1, 10]])
        yield c
    finally:
        c.close()


def test_mutual_tls(mtls_cluster, start_exporter):
    c = mtls_cluster
    e = start_exporter(c.tls_bootstrap, "--tls.enabled", "--tls.ca-file=" + c.ca_file,
                       "--tls.cert-file=" + c.client_cert, "--tls.key-file=" + c.client_key)
    e.wait_collected()
    wait_until(lambda: assert_serves_truth(
        e, c.tls_bootstrap, tls_conf(c, c.client_cert, c.client_key)), 20)


def stranger_certificate(tmp_path):
    """A client certificate and key that the cluster's CA did not sign."""
    key, cert = str(tmp_path / "stranger.key"), str(tmp_path / "stranger.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=stranger"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return cert, key


@pytest.mark.parametrize("client", ["no certificate", "untrusted certificate"])
def test_mutual_tls_refused(mtls_cluster, start_exporter, tmp_path, client):
    """Without a certificate, or with one the CA did not sign, the broker refuses the
    connection: kafka_up 0, no exit. (The refusal of a foreign certificate is what shows that
    --tls.cert-file is presented at all.)"""
    c = mtls_cluster
    args = ["--tls.enabled", "--tls.ca-file=" + c.ca_file]
    if client == "untrusted certificate":
        cert, key = stranger_certificate(tmp_path)
        args += ["--tls.cert-file=" + cert, "--tls.key-file=" + key]
    e = start_exporter(c.tls_bootstrap, *args)

    def refused():
        m = e.scrape().samples
        assert series(m, "kafka_up") == 0, "kafka_up %s" % series(m, "kafka_up")
        errors = series(m, "kafka_exporter_collection_errors_total")
        assert errors is not None and errors >= 1, "no failed collection yet"
        return m

    wait_until(refused, 30)
    time.sleep(3 * REFRESH)
    e.assert_alive()
    m = e.scrape().samples
    assert series(m, "kafka_up") == 0
    assert series(m, "kafka_brokers") is None
