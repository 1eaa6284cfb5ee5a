#!/usr/bin/env bash
# rustfmt --check on every tracked .rs file, each named on the command line. `cargo fmt --check`
# only reaches the files rustfmt finds by following `mod` items from each crate root, and it does
# not follow modules declared inside macros; naming every file closes that gap.
# Exits 1 and prints the diff if any file is not formatted.
set -euo pipefail
cd "$(dirname "$0")/.."

git ls-files -z '*.rs' | xargs -0 rustfmt --edition 2021 --check
