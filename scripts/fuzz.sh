#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ (see fuzz/README.md).
#
#   scripts/fuzz.sh [target...]        every target (or those named), FUZZ_SECONDS each
#   FUZZ_SECONDS=600 scripts/fuzz.sh   a long run (`make fuzz`); `make test-fuzz` runs 10 s each
#
# cargo-fuzz needs a nightly compiler: the installed nightly toolchain if rustup has one, else
# the stable one with RUSTC_BOOTSTRAP=1 (what a CI image without nightly has). cargo-fuzz itself
# is installed once into the cargo home (`cargo install --locked`), only when missing.
#
# Inputs found along the way go to ~/.cache/observability-fuzz/corpus/<target> (kept between
# runs, never into the committed seeds in fuzz/corpus/); a crash leaves its input in
# fuzz/artifacts/<target>/ and fails the run. Builds go to $CARGO_TARGET_DIR/fuzz (or
# target/fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
cache=${FUZZ_CACHE:-$HOME/.cache/observability-fuzz}
target_dir=${CARGO_TARGET_DIR:-$PWD/target}/fuzz

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    toolchain=()
    export RUSTC_BOOTSTRAP=1
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz into the cargo home (once)" >&2
    cargo install --locked cargo-fuzz
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list --fuzz-dir fuzz)
fi

# No sanitizer: the code under test is safe Rust, and what we look for (panics, overflow,
# unbounded loops or allocations) libFuzzer finds without one; ASan would double the build.
build=(--fuzz-dir fuzz --target-dir "$target_dir" --sanitizer none --debug-assertions)
echo "fuzz: building the targets" >&2
start=$(date +%s)
cargo "${toolchain[@]}" fuzz build "${build[@]}"
echo "fuzz: built in $(($(date +%s) - start)) s" >&2

failed=()
for t in "${targets[@]}"; do
    work="$cache/corpus/$t"
    mkdir -p "$work" "fuzz/artifacts/$t"
    seeds=()
    [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
    t0=$(date +%s)
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a runaway allocation is a crash.
    if cargo "${toolchain[@]}" fuzz run "${build[@]}" "$t" "$work" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        > "$cache/$t.log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$cache/$t.log" | grep -o '[0-9]*$' || echo '?')
        echo "fuzz: $t ok, $runs runs in $(($(date +%s) - t0)) s" >&2
    else
        echo "fuzz: $t FAILED after $(($(date +%s) - t0)) s; log $cache/$t.log, input in fuzz/artifacts/$t/" >&2
        grep -m5 -E 'panicked|ERROR|SUMMARY' "$cache/$t.log" >&2 || true
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
