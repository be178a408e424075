"""The Python layer's overhead against the Rust API on the same work: the tutorial network
(random weights), planned single-input, per image encrypt -> evaluate -> decrypt, through
`fhez` (this interpreter) and through `crates/fhez/examples/python_overhead.rs`, alternating
rounds so that both see the same machine load. Prints JSON (medians and the overhead).

    cargo build --release -p fhez --example python_overhead
    python examples/python/overhead.py --images 4 --rounds 3 [--out FILE]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import fhez  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def python_round(model_path, images, packing):
    net = fhez.Model.load(model_path)
    model = net.plan(packing)
    client = model.keygen()
    server = fhez.Server(model, client.public_bundle())
    ms = []
    for image in images:
        t = time.perf_counter()
        out = client.decrypt(server.evaluate(client.encrypt(image[None])))
        ms.append((time.perf_counter() - t) * 1e3)
        assert out
    return ms


def rust_round(binary, model_path, images_path, packing):
    out = subprocess.run([binary, model_path, images_path, packing], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)["ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--packing", default="single-input")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    binary = os.path.join(ROOT, "target", "release", "examples", "python_overhead")
    if not os.path.exists(binary):
        sys.exit("build it first: cargo build --release -p fhez --example python_overhead")
    rng = np.random.default_rng(0)
    shapes = [(4, 7, 7), (4,), (256, 64), (64,), (64, 10), (10,)]
    Wc, bc, W1, b1, W2, b2 = [rng.normal(0, 0.1, s) for s in shapes]
    net = fhez.sequential((28, 28), [fhez.Conv2d(Wc, bc, (3, 3)), fhez.Square(),
                                     fhez.Dense(W1, b1), fhez.Square(), fhez.Dense(W2, b2)],
                          precision_bits=16)
    images = rng.random((args.images, 28, 28))
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "model.json")
        images_path = os.path.join(tmp, "images.json")
        net.save(model_path)
        with open(images_path, "w") as fh:
            json.dump({"shape": list(images.shape), "data": images.ravel().tolist()}, fh)
        py, rs = [], []
        for _ in range(args.rounds):
            rs += rust_round(binary, model_path, images_path, args.packing)
            py += python_round(model_path, images, args.packing)
    res = {
        "what": "per image encrypt -> evaluate -> decrypt, the tutorial network, "
                f"{args.packing}, Python package vs Rust API, alternating rounds",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other builds; RAYON_NUM_THREADS=1",
        "images_per_round": args.images,
        "rounds": args.rounds,
        "rust_median_ms": round(statistics.median(rs), 2),
        "python_median_ms": round(statistics.median(py), 2),
        "rust_min_ms": round(min(rs), 2),
        "python_min_ms": round(min(py), 2),
    }
    res["overhead_median_pct"] = round(100 * (res["python_median_ms"] / res["rust_median_ms"] - 1), 2)
    res["overhead_min_pct"] = round(100 * (res["python_min_ms"] / res["rust_min_ms"] - 1), 2)
    print(json.dumps(res, indent=2))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(res, fh, indent=2)
            fh.write("\n")


if __name__ == "__main__":
    main()
