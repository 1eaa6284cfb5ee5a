"""kafka-exporter's AWS MSK IAM token (--sasl.mechanism=awsiam) against AWS's own signer:
aws-msk-iam-sasl-signer-python (pinned in scripts/install-pydeps.sh, with botocore), for fixed
credentials, region and time, must make the same signed URL byte for byte. Only the
`&User-Agent=` part after it differs, by design (it names the signer).

Ours comes from the example binary msk-iam-token (MSK_IAM_TOKEN_BIN, built by
scripts/test-kafka.sh), which calls the exporter's own `aws_iam::presign`. The reference reads
the time through botocore.auth.get_current_datetime, fixed here. No network: neither side
fetches credentials.
"""

import base64
import datetime
import os
import subprocess
from unittest import mock

import pytest

from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
from botocore.credentials import CredentialProvider, Credentials

HERE = os.path.dirname(os.path.abspath(__file__))

# AWS's documentation example keys, and session tokens with the characters that need encoding.
KEYS = [
    ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    ("ASIAEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "IQoJb3JpZ2luX2VjE/session+token=="),
    ("ASIA0123456789ABCDEF", "9drTJvcXLB89EXAMPLELB8923FB892xMFI/+=sec",
     "FwoGZXIvYXdzEXAMPLE//////////wEaDEXAMPLE+token/with=padding=="),
]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]
TIMES = [1704164645, 1767225599, 1893456000]  # 2024-01-02T03:04:05Z, 2025-12-31T23:59:59Z, 2030-01-01


@pytest.fixture(scope="module")
def ours():
    path = os.environ.get("MSK_IAM_TOKEN_BIN")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR",
                                os.path.join(HERE, "..", "..", "..", "..", "target"))
        path = os.path.join(target, "debug", "examples", "msk-iam-token")
    if not os.access(path, os.X_OK):
        pytest.fail("msk-iam-token %s not found: set MSK_IAM_TOKEN_BIN or run scripts/test-kafka.sh"
                    % path)

    def run(key, secret, session, region, t):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret})
        if session is not None:
            env["AWS_SESSION_TOKEN"] = session
        r = subprocess.run([path, region, str(t)], env=env, capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        token, expiry_ms = r.stdout.split()
        return token, int(expiry_ms)
    return run


class Fixed(CredentialProvider):
    METHOD = "fixed"

    def __init__(self, key, secret, session):
        super().__init__()
        self.creds = Credentials(key, secret, session)

    def load(self):
        return self.creds


def reference(key, secret, session, region, t):
    now = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", lambda *a, **k: now):
        return MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(
            region, Fixed(key, secret, session))


def decode(token):
    assert "=" not in token and "+" not in token and "/" not in token, "not base64url unpadded"
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("keys", range(len(KEYS)))
def test_token_matches_the_reference_signer(ours, keys, t, region):
    key, secret, session = KEYS[keys]
    ref_token, ref_expiry = reference(key, secret, session, region, t)
    our_token, our_expiry = ours(key, secret, session, region, t)
    ref_url, our_url = decode(ref_token), decode(our_token)
    ref_signed, ref_ua = ref_url.split("&User-Agent=")
    our_signed, our_ua = our_url.split("&User-Agent=")
    assert our_signed == ref_signed
    assert ref_ua.startswith("aws-msk-iam-sasl-signer-python%2F")
    assert our_ua.startswith("kafka-exporter%2F")
    assert our_expiry == ref_expiry == (t + 900) * 1000
    assert ("X-Amz-Security-Token=" in our_signed) == (session is not None)
    assert our_signed.startswith(
        "https://kafka.%s.amazonaws.com/?Action=kafka-cluster%%3AConnect&X-Amz-Algorithm=" % region)


def test_reference_time_is_really_fixed():
    """The patch reaches botocore: two different times sign differently."""
    a, _ = reference(*KEYS[0], "us-east-1", TIMES[0])
    b, _ = reference(*KEYS[0], "us-east-1", TIMES[1])
    assert "X-Amz-Date=20240102T030405Z" in decode(a)
    assert decode(a) != decode(b)
