"""SASL/OAUTHBEARER against a real Apache Kafka broker that checks JWTs itself: cluster.py's OAUTH
listener uses Kafka's own validator (OAuthBearerValidatorCallbackHandler) with the JWKS that
this module serves on 127.0.0.1, next to a small OAuth 2.0 token endpoint (client-credentials
grant, RS256 JWTs signed with a key made here, PyJWT and cryptography from the venv).

- the exporter gets a token with --sasl.oauthbearer-token-url, --sasl.username (client id),
  --sasl.password (secret) and --sasl.oauthbearer-scopes, and collects what the broker holds;
- tokens that live 15 s are renewed with no gap: scraped every second for three lifetimes,
  kafka_up stays 1 and no collection fails. The broker ends each SASL session when its token
  expires (connections.max.reauth.ms, no clock skew allowed), so a token kept too long would
  show as a failed collection;
- a wrong secret, or a token the broker cannot verify: kafka_up 0, one log line naming the
  cause, the secret nowhere in what the exporter says;
- --sasl.mechanism=awsiam against the same listener: without AWS credentials kafka_up 0 and one
  log line; with (fake) credentials the MSK IAM token reaches the broker, which refuses it (it is
  no JWT). The AWS chain is kept off the network: no instance metadata, no profile files.
"""

import base64
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import groundtruth as gt
from conftest import REFRESH, open_cluster, series, wait_until

CLIENT_ID = "kafka-exporter"
SECRET = "Idp-s3cret-4411-zz"
ISSUER = "http://127.0.0.1/test-idp"
AUDIENCE = "kafka"
TOKEN_SECONDS = 15


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class IdP:
    """A token endpoint (/token) and its JWKS (/jwks) on 127.0.0.1: client credentials only,
    client authentication by Basic header or in the body (both are in RFC 6749)."""

    def __init__(self):
        self.key = new_key()
        self.kid = "test-key-1"
        # Tokens for the client id "rogue" are signed with a key the JWKS does not hold.
        self.rogue_key = new_key()
        self.ttl = TOKEN_SECONDS
        self.issued = []  # (unix time, client id, scope)
        self.lock = threading.Lock()
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/jwks":
                    self.reply(200, idp.jwks())
                else:
                    self.reply(404, {"error": "not_found"})

            def do_POST(self):
                if self.path != "/token":
                    return self.reply(404, {"error": "not_found"})
                n = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
                cid, secret = form.get("client_id"), form.get("client_secret")
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    pair = base64.b64decode(auth[6:]).decode()
                    cid, _, secret = pair.partition(":")
                    cid, secret = urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(secret)
                if form.get("grant_type") != "client_credentials":
                    return self.reply(400, {"error": "unsupported_grant_type"})
                if cid not in (CLIENT_ID, "rogue") or secret != SECRET:
                    return self.reply(401, {"error": "invalid_client",
                                            "error_description": "bad client credentials"})
                self.reply(200, idp.token(cid, form.get("scope", "")))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def jwks(self):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def token(self, cid, scope):
        now = int(time.time())
        with self.lock:
            ttl = self.ttl
            self.issued.append((time.time(), cid, scope))
        claims = {"sub": cid, "iss": ISSUER, "aud": AUDIENCE, "iat": now - 1, "nbf": now - 1,
                  "exp": now + ttl, "jti": str(uuid.uuid4())}
        if scope:
            claims["scope"] = scope
        key = self.rogue_key if cid == "rogue" else self.key
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        token = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": self.kid})
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    def issued_to(self, cid):
        with self.lock:
            return [i for i in self.issued if i[1] == cid]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def idp():
    i = IdP()
    yield i
    i.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, idp):
    c = open_cluster(tmp_path_factory, 1, oauth={
        "jwks_url": idp.url + "/jwks", "audience": AUDIENCE, "issuer": ISSUER,
    }, overrides={
        # A session ends when its token does (or after 5 minutes), and a token is not accepted
        # a second past its exp.
        "connections.max.reauth.ms": 300000,
        "sasl.oauthbearer.clock.skew.seconds": 0,
    })
    try:
        gt.create_topic(c.bootstrap, "billing", 3)
        gt.produce(c.bootstrap, "billing", {0: 7, 1: 3, 2: 0})
        gt.commit(c.bootstrap, "invoicer", [["billing", 0, 5], ["billing", 1, 3]])
        yield c
    finally:
        c.close()


def oauth_args(idp, client_id=CLIENT_ID, secret=SECRET, scopes="kafka,metrics"):
    return ["--sasl.enabled", "--sasl.mechanism=oauthbearer", "--sasl.username=" + client_id,
            "--sasl.password=" + secret, "--sasl.oauthbearer-token-url=" + idp.url + "/token",
            "--sasl.oauthbearer-scopes=" + scopes]


def assert_collected(e):
    m = e.scrape().samples
    assert series(m, "kafka_up") == 1, "kafka_up %s" % series(m, "kafka_up")
    assert series(m, "kafka_topic_partitions", topic="billing") == 3
    assert series(m, "kafka_topic_partition_current_offset", topic="billing", partition="0") == 7
    assert series(m, "kafka_consumergroup_lag", consumergroup="invoicer", topic="billing",
                  partition="0") == 2
    return m


def refused(e, pattern):
    """kafka_up 0 after a failed collection, and exactly one log line matching `pattern` (the
    exporter logs a failure once, not once per interval)."""
    def check():
        m = e.scrape().samples
        assert series(m, "kafka_up") == 0, "kafka_up %s" % series(m, "kafka_up")
        errors = series(m, "kafka_exporter_collection_errors_total")
        assert errors is not None and errors >= 1, "no failed collection yet"
        lines = [l for l in e.log().splitlines() if pattern in l]
        assert lines, "no log line says %r:\n%s" % (pattern, e.log_tail())
        return lines
    wait_until(check, 30)
    time.sleep(4 * REFRESH)
    e.assert_alive()
    m = e.scrape().samples
    assert series(m, "kafka_up") == 0
    assert series(m, "kafka_brokers") is None
    lines = [l for l in e.log().splitlines() if pattern in l]
    assert len(lines) == 1, "want one log line, got:\n" + "\n".join(lines)
    return lines[0]


def test_oauthbearer_collects(cluster, idp, start_exporter):
    before = len(idp.issued_to(CLIENT_ID))
    e = start_exporter(cluster.oauth_bootstrap, *oauth_args(idp))
    e.wait_collected()
    wait_until(lambda: assert_collected(e), 20)
    issued = idp.issued_to(CLIENT_ID)[before:]
    assert issued, "no token was asked for"
    assert issued[0][2] == "kafka metrics", "scopes sent: %r" % issued[0][2]
    assert SECRET not in e.everything_served()


def test_token_endpoint_from_the_environment(cluster, idp, start_exporter):
    """SASL_OAUTHBEARER_TOKEN_URL and SASL_USER_PASSWORD, as upstream reads them."""
    e = start_exporter(cluster.oauth_bootstrap, "--sasl.enabled", "--sasl.mechanism=oauthbearer",
                       "--sasl.username=" + CLIENT_ID,
                       env={"SASL_OAUTHBEARER_TOKEN_URL": idp.url + "/token",
                            "SASL_USER_PASSWORD": SECRET})
    e.wait_collected()
    wait_until(lambda: assert_collected(e), 20)


def test_tokens_are_renewed_without_a_gap(cluster, idp, start_exporter):
    """Three token lifetimes, a scrape every second: every scrape after the first collection
    says kafka_up 1 and the failed-collection count does not move, while new tokens are
    fetched as the old ones near their end."""
    e = start_exporter(cluster.oauth_bootstrap, *oauth_args(idp))
    e.wait_collected()
    first = e.scrape().samples
    errors0 = series(first, "kafka_exporter_collection_errors_total")
    issued0 = len(idp.issued_to(CLIENT_ID))
    t0 = time.monotonic()
    downs, scrapes, last_success = [], 0, 0.0
    while time.monotonic() - t0 < 3 * TOKEN_SECONDS + 3:
        m = e.scrape().samples
        scrapes += 1
        if series(m, "kafka_up") != 1:
            downs.append(round(time.monotonic() - t0, 1))
        ts = series(m, "kafka_exporter_last_collection_timestamp_seconds")
        # Collections keep succeeding: the last success is never older than a few intervals.
        assert ts is not None and time.time() - ts < 3 * REFRESH + 2, \
            "no successful collection for %.1f s" % (time.time() - ts)
        last_success = ts
        time.sleep(1.0)
    renewals = len(idp.issued_to(CLIENT_ID)) - issued0
    m = e.scrape().samples
    assert not downs, "kafka_up 0 at %s s of %d scrapes\n%s" % (downs, scrapes, e.log_tail())
    assert series(m, "kafka_exporter_collection_errors_total") == errors0, e.log_tail()
    assert last_success > 0
    # 48 s with 15 s tokens renewed with 10 s to spare: at least 4 new ones.
    assert renewals >= 3, "only %d tokens fetched in %d s" % (renewals, 3 * TOKEN_SECONDS)
    assert SECRET not in e.everything_served()


def test_wrong_secret(cluster, idp, start_exporter):
    e = start_exporter(cluster.oauth_bootstrap, *oauth_args(idp, secret="Wr0ng-idp-secret"))
    line = refused(e, "invalid_client")
    assert "token endpoint refused" in line, line
    served = e.everything_served()
    assert "Wr0ng-idp-secret" not in served and SECRET not in served


def test_token_the_broker_cannot_verify(cluster, idp, start_exporter):
    """Signed with a key the JWKS does not hold: the broker refuses it."""
    e = start_exporter(cluster.oauth_bootstrap, *oauth_args(idp, client_id="rogue"))
    line = refused(e, "SASL authentication failed")
    assert "OAUTHBEARER" in line or "authentication" in line.lower(), line
    assert idp.issued_to("rogue"), "no token was fetched"


def aws_env(tmp_path, monkeypatch, **creds):
    """An AWS environment that cannot reach the network: no instance metadata, no profile files,
    none of the caller's AWS variables (removed from this process's environment, which the
    exporter inherits, for this test only)."""
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
              "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
              "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
              "AWS_EC2_METADATA_SERVICE_ENDPOINT"):
        monkeypatch.delenv(k, raising=False)
    env = {"AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path),
           "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
           "AWS_REGION": "eu-west-1"}
    env.update(creds)
    return env


def test_awsiam_without_credentials(cluster, start_exporter, tmp_path, monkeypatch):
    e = start_exporter(cluster.oauth_bootstrap, "--sasl.enabled", "--sasl.mechanism=awsiam",
                       env=aws_env(tmp_path, monkeypatch))
    line = refused(e, "AWS credentials")
    assert "getting a token" in line, line


def test_awsiam_token_reaches_the_broker(cluster, start_exporter, tmp_path, monkeypatch):
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    e = start_exporter(cluster.oauth_bootstrap, "--sasl.enabled", "--sasl.mechanism=awsiam",
                       "--sasl.aws-region=us-east-1",
                       env=aws_env(tmp_path, monkeypatch, AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
                                   AWS_SECRET_ACCESS_KEY=secret))
    refused(e, "SASL authentication failed")
    assert secret not in e.everything_served()
