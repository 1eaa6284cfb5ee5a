#!/usr/bin/env bash
# kafka-exporter's acceptance tests against real Apache Kafka (KRaft, 1 and 3 nodes; `make
# test-kafka`): crates/kafka-exporter/tests/kafka/, in pytest. Installs Kafka's jars
# (scripts/install-kafka.sh), MIT Kerberos's KDC and library (scripts/install-krb5.sh) and the Python packages (scripts/install-pydeps.sh: confluent-kafka,
# pytest, AWS's MSK IAM signer, PyJWT) once, builds the exporter (debug, like `cargo test`) into ${CARGO_TARGET_DIR:-target},
# and runs pytest with the environment's python; the exit code is pytest's.
#
#   scripts/test-kafka.sh [PYTEST_ARGS...]      e.g. -k security, or -x
#
# KAFKA_EXPORTER_BIN names danielqsj/kafka_exporter 1.9.0's binary for test_parity.py (not built
# here; without it that module is skipped with one line). KAFKA_SKIP_FAULT_LOOP=1 skips the 20-cycle kill/restart loop (a quick run);
# KAFKA_FAULT_CYCLES=N and KAFKA_FAULT_SEED=S change it. KAFKA_CLUSTER_KEEP=1 keeps the brokers'
# directories. Each test's exporter log is under pytest's temporary directory (printed on failure).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

scripts/install-kafka.sh --quiet > /dev/null
# MIT Kerberos (a KDC, kadmin.local, libgssapi_krb5) for test_gssapi.py.
scripts/install-krb5.sh
python=$(scripts/install-pydeps.sh)
cargo build -q -p kafka-exporter --bin kafka-exporter --example msk-iam-token
export KAFKA_EXPORTER="${CARGO_TARGET_DIR:-$repo/target}/debug/kafka-exporter"
# test_msk_iam.py: our MSK IAM token for fixed inputs, compared with AWS's reference signer.
export MSK_IAM_TOKEN_BIN="${CARGO_TARGET_DIR:-$repo/target}/debug/examples/msk-iam-token"

# -rfEs: the short summary names every failure, error and skip (with its reason); pytest's
# last line is the count. No cache directory in the source tree.
set +e
"$python" -m pytest -p no:cacheprovider -rfEs crates/kafka-exporter/tests/kafka "$@"
rc=$?
set -e
exit $rc
