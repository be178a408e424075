#!/usr/bin/env bash
# fhez vs TenSEAL side by side (examples/python/compare_tenseal.py), from the repository
# root: TenSEAL 0.3.18 in the peer venv (../shared/bench/peers/setup_peers.sh, quick mode),
# this checkout's wheel installed next to it, then the comparison and the overhead run.
set -euo pipefail
cd "$(dirname "$0")/../.."
peers=${PEERS_DIR:-../shared/bench/peers}
export PEERS_HOME=${PEERS_HOME:-target/peers}
[ -x "$PEERS_HOME/.venv/bin/python" ] || PEERS_QUICK=1 bash "$peers/setup_peers.sh"
scripts/test.sh --python >/dev/null   # builds target/wheels/fhez-*.whl
"$PEERS_HOME/.venv/bin/pip" install -q --force-reinstall target/wheels/fhez-*.whl
"$PEERS_HOME/.venv/bin/python" examples/python/compare_tenseal.py --peers "$peers" \
    --n-test "${N_TEST:-12}" --out docs/results/python-vs-tenseal.json
cargo build --release -p fhez --example python_overhead
"$PEERS_HOME/.venv/bin/python" examples/python/overhead.py --images 4 --rounds 3 \
    --out docs/results/python-overhead.json
