#!/usr/bin/env bash
# Installs, idempotently, the Python packages of the Kafka tests and tools into a virtual
# environment at ~/.cache/observability-venv (python3 -m venv), and prints its python's path:
#   confluent-kafka   the Kafka client of scripts/kafka/workload.py and the pytest tests
#                     (librdkafka inside the wheel; 2.16 speaks the new consumer group protocol,
#                     group.protocol=consumer, KIP-848)
#   pytest            the test runner of crates/kafka-exporter/tests/kafka/
#   aws-msk-iam-sasl-signer-python (with boto3/botocore and their dependencies)
#                     the reference MSK IAM signer our token is compared with (test_msk_iam.py)
#   PyJWT, cryptography
#                     the OIDC token endpoint and JWKS served by test_oauth.py
# The versions are pinned here. The marker ($venv/.installed: the python's version, then the
# pins installed) makes a second run instant; a pin it lacks is added to the environment (other
# pins already there stay: branches that pin more share the environment without rebuilding it
# in turn), and a change of python rebuilds it. Installs Debian's python3-venv only if venv is
# missing.
#   usage: scripts/install-pydeps.sh
set -euo pipefail

[ $# -eq 0 ] || { echo "install-pydeps: takes no arguments" >&2; exit 64; }
pins=(confluent-kafka==2.16.2 pytest==9.2.0
  aws-msk-iam-sasl-signer-python==1.0.2 boto3==1.44.18 botocore==1.44.18 s3transfer==0.19.3
  jmespath==1.1.0 python-dateutil==2.9.0.post0 six==1.17.0 urllib3==2.8.0 click==8.5.1
  PyJWT==2.15.1 cryptography==51.0.1 cffi==2.1.1 pycparser==3.12)
venv="${XDG_CACHE_HOME:-$HOME/.cache}/observability-venv"
py=${PYTHON:-python3}
command -v "$py" > /dev/null || { echo "install-pydeps: $py not found" >&2; exit 1; }
version=$("$py" -c 'import sys; print(sys.version.split()[0])')
marker="$venv/.installed"

# The pins the marker lacks (all of them if the environment is missing or of another python).
missing() {
  local have=() p
  if [ -x "$venv/bin/python" ] && [ -f "$marker" ]; then
    read -r -a have < "$marker" || true
  fi
  if [ "${have[0]:-}" != "$version" ]; then
    echo "${pins[@]}"
    return
  fi
  for p in "${pins[@]}"; do
    [[ " ${have[*]:1} " == *" $p "* ]] || echo "$p"
  done
}

if [ -z "$(missing)" ]; then
  echo "$venv/bin/python"
  exit 0
fi

# One install at a time: the others wait, then find the marker.
mkdir -p "$(dirname "$venv")"
exec 9> "$venv.lock"
flock 9
mapfile -t need < <(missing | tr ' ' '\n' | sed '/^$/d')
if [ ${#need[@]} -eq 0 ]; then
  echo "$venv/bin/python"
  exit 0
fi

have_line=""
if [ -x "$venv/bin/python" ] && [ -f "$marker" ] && [ "$(cut -d' ' -f1 "$marker")" = "$version" ]; then
  # Another version of a package named in `need` leaves the marker (pip replaces it).
  have_line=$version
  read -r -a old < "$marker" || true
  for p in "${old[@]:1}"; do
    keep=1
    for n in "${need[@]}"; do [ "${p%%==*}" = "${n%%==*}" ] && keep=0; done
    [ $keep = 0 ] || have_line+=" $p"
  done
  echo "install-pydeps: adding ${need[*]} to $venv" >&2
else
  if ! "$py" -c 'import venv, ensurepip' 2> /dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "install-pydeps: installing python3-venv (Debian)" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv > /dev/null
  fi
  echo "install-pydeps: creating $venv with ${pins[*]} (once)" >&2
  rm -rf "$venv"
  "$py" -m venv "$venv"
  have_line=$version
fi
# A second try if the first fails (a registry hiccup); pip's cache keeps what it fetched.
for attempt in 1 2; do
  if "$venv/bin/python" -m pip install -q --disable-pip-version-check "${need[@]}" >&2; then
    echo "$have_line ${need[*]}" > "$marker"
    echo "$venv/bin/python"
    exit 0
  fi
  echo "install-pydeps: attempt $attempt failed" >&2
done
exit 1
