"""The public surface: every exported name is typed in the stubs and documented; the
sequential builder validates through the Rust reader."""

import inspect
import os

import numpy as np
import pytest

import fhez

STUBS = os.path.join(os.path.dirname(fhez.__file__), "__init__.pyi")


def test_stubs_ship_and_cover_every_export():
    with open(STUBS) as fh:
        text = fh.read()
    assert os.path.exists(os.path.join(os.path.dirname(fhez.__file__), "py.typed"))
    for name in fhez.__all__:
        assert (
            f"class {name}" in text or f"def {name}" in text or f"{name}:" in text
            or f"as {name}" in text
        ), name


def test_every_public_class_and_method_is_documented():
    for name in fhez.__all__:
        obj = getattr(fhez, name)
        if not inspect.isclass(obj) and not callable(obj):
            continue
        assert obj.__doc__ and obj.__doc__.strip(), name
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not callable(member) and not hasattr(member, "__get__"):
                    continue
                doc = getattr(member, "__doc__", None)
                assert doc and doc.strip(), f"{name}.{attr}"


def test_exception_hierarchy():
    for name in ["InvalidBytes", "LevelExhausted", "MissingGaloisKey", "ShapeError",
                 "PlanMismatch", "BatchTooLarge", "UnknownNode", "InsecureParams",
                 "ParamsMismatch", "TooManyValues", "NonFiniteValue", "ModelError"]:
        assert issubclass(getattr(fhez, name), fhez.FhezError)
    assert issubclass(fhez.SizeLimit, fhez.InvalidBytes)
    assert fhez.LevelExhausted.__module__ == "fhez"


def test_sequential_matches_numpy():
    rng = np.random.default_rng(2)
    Wc, bc = rng.normal(0, 0.3, (2, 3, 3)), rng.normal(0, 0.1, 2)
    W1, b1 = rng.normal(0, 0.3, (2 * 16, 5)), rng.normal(0, 0.1, 5)
    m = fhez.sequential((6, 6), [fhez.Conv2d(Wc, bc, (1, 1)), fhez.Square(), fhez.Dense(W1, b1)])
    x = rng.random((3, 6, 6))
    # NumPy reference: channel-major flatten of the 4x4 windows.
    conv = np.stack([
        np.array([[np.sum(x[:, i:i + 3, j:j + 3] * Wc[c], axis=(1, 2)) for j in range(4)]
                  for i in range(4)]).transpose(2, 0, 1) + bc[c]
        for c in range(2)
    ], axis=1)
    logits = (conv**2).reshape(3, -1) @ W1 + b1
    assert np.array_equal(m.infer({"x": x})["y_hat"], logits.argmax(1).astype(float))


def test_sequential_weights_are_checked_by_the_reader():
    with pytest.raises(fhez.FhezError):
        fhez.sequential((6, 6), [fhez.Dense(np.ones((35, 2)), np.ones(2))])
