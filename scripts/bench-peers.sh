#!/usr/bin/env bash
# Side-by-side CKKS primitive benchmark: fhez vs Microsoft SEAL (native C++), one run,
# one machine, single core, as ratios (contract: ../shared/bench/README.md).
#   bash scripts/bench-peers.sh            # both parameter sets, 2 interleaved rounds
#   REPEAT=1 BUDGET=0.5 bash scripts/bench-peers.sh   # quicker
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
export PEERS_HOME=${PEERS_HOME:-target/peers}
if [ ! -x "$PEERS_HOME/.venv/bin/python" ]; then
  PEERS_QUICK=1 bash "$SHARED/bench/peers/setup_peers.sh"
fi
if [ ! -x "$PEERS_HOME/.seal-native/seal_native" ]; then
  command -v cmake >/dev/null || apt-get install -y -q cmake >/dev/null
  bash "$SHARED/bench/peers/build_seal_native.sh"
fi
cargo build --release -p fhez-bench --bin fhez-ops-bench
out=${OUT:-target/peers/results-ckks.json}
FHEZ_OPS_BENCH=target/release/fhez-ops-bench taskset -c 0 "$PEERS_HOME/.venv/bin/python" \
  "$SHARED/bench/peers/ckks_ops.py" --peers seal-native,fhez --repeat "${REPEAT:-2}" --out "$out"
python3 "$SHARED/bench/ratios.py" "$out"
