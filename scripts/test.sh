#!/usr/bin/env bash
# The whole test suite (the README's test command): the Rust workspace, then the Python
# package — its wheel built with maturin into a virtual environment under target/ (never
# the system site-packages) and its pytest suite (crates/fhez-py/tests).
#
#   scripts/test.sh            everything
#   scripts/test.sh --python   only the Python part (wheel + pytest)
#
# Needs the Rust toolchain and Python >= 3.9 with the venv module; maturin, numpy and
# pytest are installed into the venv from PyPI on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--python" ]; then
    echo "== cargo test --workspace --release"
    cargo test --workspace --release
fi

echo "== Python: wheel and pytest (crates/fhez-py)"
# The service-client tests start the `fhez serve` of this build.
cargo build --release -p fhez-cli
venv=target/py-venv
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade "maturin>=1.8,<2" "numpy>=1.21" "pytest>=7"
# The wheel reuses the workspace's release build directory (target/), so after the cargo
# test above only the extension crate and its pyo3 build are compiled again.
rm -f target/wheels/fhez-*.whl
CARGO_TARGET_DIR="$PWD/target" "$venv/bin/maturin" build --release --quiet \
    -m crates/fhez-py/Cargo.toml -o target/wheels
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps target/wheels/fhez-*.whl
"$venv/bin/python" -m pytest -q crates/fhez-py/tests
