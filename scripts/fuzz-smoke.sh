#!/usr/bin/env bash
# Short run of every fuzz target (CI): build all targets once, then run each on its
# committed seeds (fuzz/seeds/<target>) for SECONDS (default 20) with one job. Fails on
# the first crash, panic, timeout or out-of-memory.
#
#   scripts/fuzz-smoke.sh [SECONDS]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# FUZZ_SANITIZER selects the sanitizer (default `address`; `none` built in 7.2 min against
# 7.9 min with it on the shared 2-core machine and runs several times more inputs per
# second, but catches only panics, aborts, hangs and OOMs, not memory errors in the unsafe
# code of dependencies — fhez itself is safe Rust).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
sanitizer="${FUZZ_SANITIZER:-address}"
start=$(date +%s)
cargo +nightly fuzz build --release --sanitizer "$sanitizer"
echo "fuzz build (sanitizer $sanitizer): $(( $(date +%s) - start )) s"
mapfile -t targets < targets.txt
for t in "${targets[@]}"; do
    [ -n "$t" ] || continue
    work="$(mktemp -d)"
    echo "== fuzz $t (${seconds}s)"
    # Run on a scratch corpus so the committed seeds never change; -rss_limit_mb and
    # -timeout make OOMs and hangs failures too.
    set +e
    cargo +nightly fuzz run --release --sanitizer "$sanitizer" "$t" "$work" "seeds/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$work.log" 2>&1
    rc=$?
    set -e
    grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$work.log" || true
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$work.log"
        echo "fuzz target $t failed (exit $rc); reproduce with: cargo +nightly fuzz run $t fuzz/artifacts/$t/<file>"
        exit 1
    fi
    rm -rf "$work" "$work.log"
done
echo "fuzz smoke: ${#targets[@]} targets, $(( $(date +%s) - start )) s in total"
