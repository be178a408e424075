#!/usr/bin/env bash
# A fuzzing campaign of one target: SECONDS of one job on one core, growing the corpus in
# fuzz/corpus/TARGET (git-ignored) from the committed seeds, crashes in fuzz/artifacts/TARGET.
# Prints libFuzzer's final statistics (executions, peak RSS) and the crash count; the log is
# kept in fuzz/campaign-TARGET.log.
#
#   scripts/fuzz-campaign.sh TARGET SECONDS
#
# FUZZ_SANITIZER as in scripts/fuzz-smoke.sh (default `address`).
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: $0 TARGET SECONDS" >&2
    exit 2
fi
target="$1"
seconds="$2"
sanitizer="${FUZZ_SANITIZER:-address}"
cd "$(dirname "$0")/../fuzz"
if ! grep -qx "$target" targets.txt; then
    echo "unknown target $target (see fuzz/targets.txt)" >&2
    exit 2
fi
mkdir -p "corpus/$target" "artifacts/$target"
log="campaign-$target.log"
start=$(date +%s)
set +e
cargo +nightly fuzz run --release --sanitizer "$sanitizer" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1
rc=$?
set -e
crashes=$(find "artifacts/$target" -type f | wc -l)
echo "target $target: exit $rc, wall $(( $(date +%s) - start )) s, artifacts $crashes"
grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)" "$log" || tail -n 20 "$log"
echo "corpus entries: $(find "corpus/$target" -type f | wc -l)"
exit "$rc"
