#!/usr/bin/env bash
# Installs, idempotently, the Python packages of the Kafka tests and tools into a virtual
# environment at ~/.cache/observability-venv (python3 -m venv), and prints its python's path:
#   confluent-kafka   the Kafka client of scripts/kafka/workload.py and the pytest tests
#                     (librdkafka inside the wheel; 2.16 speaks the new consumer group protocol,
#                     group.protocol=consumer, KIP-848)
#   pytest            the test runner of crates/kafka-exporter/tests/kafka/
# The versions are pinned here; a change of them (or of the python) rebuilds the environment.
# A marker makes a second run instant. Installs Debian's python3-venv only if venv is missing.
#   usage: scripts/install-pydeps.sh
set -euo pipefail

[ $# -eq 0 ] || { echo "install-pydeps: takes no arguments" >&2; exit 64; }
pins=(confluent-kafka==2.16.2 pytest==9.2.0)
venv="${XDG_CACHE_HOME:-$HOME/.cache}/observability-venv"
py=${PYTHON:-python3}
command -v "$py" > /dev/null || { echo "install-pydeps: $py not found" >&2; exit 1; }
want="$("$py" -c 'import sys; print(sys.version.split()[0])') ${pins[*]}"
marker="$venv/.installed"

if [ -x "$venv/bin/python" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi

# One install at a time: the others wait, then find the marker.
mkdir -p "$(dirname "$venv")"
exec 9> "$venv.lock"
flock 9
if [ -x "$venv/bin/python" ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi

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
# A second try if the first fails (a registry hiccup); pip's cache keeps what it fetched.
for attempt in 1 2; do
  if "$venv/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}" >&2; then
    echo "$want" > "$marker"
    echo "$venv/bin/python"
    exit 0
  fi
  echo "install-pydeps: attempt $attempt failed" >&2
done
exit 1
