# Sourced by the scripts/check-*.sh scripts: named checks whose output is indented under their
# name, a PASS or FAIL line each, and a summary. Sets TMP, a temporary directory removed on exit.

PASSED=0
FAILED=0
FAILED_NAMES=()
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Runs one named check: check NAME COMMAND [ARGS...]
check() {
  local name=$1
  shift
  echo "--- $name"
  if "$@" > "$TMP/out" 2>&1; then
    sed 's/^/    /' "$TMP/out"
    echo "PASS  $name"
    PASSED=$((PASSED + 1))
  else
    sed 's/^/    /' "$TMP/out"
    echo "FAIL  $name"
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$name")
  fi
}

# Prints the failed checks and `LABEL: N passed, M failed`; its status is the run's.
check_summary() {
  echo
  if [ "$FAILED" -gt 0 ]; then
    printf 'failed: %s\n' "${FAILED_NAMES[@]}"
  fi
  echo "$1: $PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
