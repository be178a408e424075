"""Sequential models from NumPy weights: `fhez.sequential(input_shape, [layers...])`.

The layers become the nodes of fhez's graph format (`fhez_nn::graph::config`); the Rust
side validates the whole graph (shapes, weight sizes, limits) when the model is read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ._fhez import Model


def _tensor(a) -> dict:
    a = np.asarray(a, dtype=float)
    return {"shape": list(a.shape), "data": a.ravel().tolist()}


@dataclass
class Conv2d:
    """`channels` cross-correlations of one 2-d input with `weights` of shape
    `(channels, k_rows, k_cols)` and one bias per channel, stacked channel-first into
    `(channels, out_rows, out_cols)`. Encrypted depth 1."""

    weights: np.ndarray
    bias: np.ndarray
    stride: Tuple[int, int] = (1, 1)


@dataclass
class Square:
    """`x * x` elementwise. Encrypted depth 1."""


@dataclass
class Dense:
    """`x @ weights + bias` on the flattened input, `weights` of shape `(d_in, d_out)`.
    Encrypted depth 1."""

    weights: np.ndarray
    bias: np.ndarray


Layer = "Conv2d | Square | Dense"


def sequential(
    input_shape: Sequence[int],
    layers: List[object],
    *,
    labels: Optional[List[str]] = None,
    name: str = "sequential",
    batch: int = 4096,
    precision_bits: int = 14,
    magnitude_bits: int = 8,
) -> Model:
    """A classifier `x → layers → Decrypt`, then on the client `Argmax → y_hat` (and
    `Softmax → Loss-CCE ← One-hot ← y` for training). The last layer's width is the
    number of classes. `batch`, `precision_bits` and `magnitude_bits` are the default plan
    request (see `Model.plan`)."""
    nodes: list = [{"name": "x", "kind": "input", "shape": [int(d) for d in input_shape]}]
    edges: list = []

    def add(node: dict) -> int:
        nodes.append(node)
        return len(nodes) - 1

    def connect(a: int, b: int, to_port: int = 0) -> None:
        edges.append({"from": a, "from_port": 0, "to": b, "to_port": to_port})

    last, width = 0, None
    for i, layer in enumerate(layers):
        if isinstance(layer, Conv2d):
            w = np.asarray(layer.weights, dtype=float)
            b = np.asarray(layer.bias, dtype=float).reshape(-1)
            if w.ndim != 3 or b.shape[0] != w.shape[0]:
                raise ValueError("Conv2d weights are (channels, k_rows, k_cols), one bias per channel")
            stack = add({"name": f"conv{i}", "kind": "enqueue", "length": int(w.shape[0])})
            for c in range(w.shape[0]):
                cc = add({
                    "name": f"conv{i}-{c}",
                    "kind": "cc",
                    "kernel": list(w.shape[1:]),
                    "stride": [int(s) for s in layer.stride],
                    "weights": _tensor(w[c]),
                    "bias": _tensor(np.asarray(b[c])),
                })
                connect(last, cc)
                connect(cc, stack, c)
            last = stack
        elif isinstance(layer, Square):
            sq = add({"name": f"square{i}", "kind": "square"})
            connect(last, sq)
            last = sq
        elif isinstance(layer, Dense):
            w = np.asarray(layer.weights, dtype=float)
            d = add({
                "name": f"dense{i}",
                "kind": "dense",
                "d_in": int(w.shape[0]),
                "d_out": int(w.shape[1]),
                "weights": _tensor(w),
                "bias": _tensor(layer.bias),
            })
            connect(last, d)
            last, width = d, int(w.shape[1])
        else:
            raise TypeError(f"unknown layer {layer!r} (Conv2d, Square or Dense)")
    if width is None:
        raise ValueError("the last layers must include a Dense layer (its width is the class count)")
    dec = add({"name": "Decrypt", "kind": "decrypt"})
    connect(last, dec)
    soft = add({"name": "Softmax", "kind": "softmax"})
    loss = add({"name": "Loss-CCE", "kind": "cce"})
    y = add({"name": "y", "kind": "input", "shape": []})
    hot = add({"name": "One-hot", "kind": "one_hot_encode", "length": width})
    am = add({"name": "Argmax", "kind": "argmax"})
    y_hat = add({"name": "y_hat", "kind": "one_hot_decode"})
    connect(dec, soft)
    connect(soft, loss)
    connect(y, hot)
    connect(hot, loss, 1)
    connect(dec, am)
    connect(am, y_hat)
    labels = labels if labels is not None else [str(c) for c in range(width)]
    doc = {
        "format": "fhez-model",
        "format_version": 1,
        "name": name,
        "dataset": None,
        "task": {"kind": "classifier", "labels": labels},
        "inputs": [{"name": "x", "shape": [int(d) for d in input_shape]}],
        "output": "Decrypt",
        "plan": {
            "batch": batch,
            "precision_bits": precision_bits,
            "magnitude_bits": magnitude_bits,
        },
        "metrics": {},
        "graph": {"format_version": 1, "nodes": nodes, "edges": edges},
    }
    return Model.from_json(json.dumps(doc))
