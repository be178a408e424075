"""Shared fixtures: a small prefab classifier planned for both packings, with keys on toy
parameters (ring degree 2^10, INSECURE, for tests only)."""

import numpy as np
import pytest

import fhez

# Toy ring degree: 512 slots, fast keys. Such parameters protect nothing.
TOY_LOG_N = 10


@pytest.fixture(scope="session")
def model():
    m = fhez.Model.cnn(
        input=(8, 8), kernel=(3, 3), stride=(1, 1), filters=2, classes=3, batch=8
    )
    rng = np.random.default_rng(7)
    x = rng.random((24, 8, 8))
    y = rng.integers(0, 3, 24).astype(float)
    m.train({"x": x, "y": y}, epochs=1, batch_size=8)
    return m


@pytest.fixture(scope="session", params=["batch-in-slots", "single-input"])
def planned(request, model):
    return model.plan(request.param, batch=8)


@pytest.fixture(scope="session")
def client(planned):
    return planned.keygen(insecure_log_n=TOY_LOG_N)


@pytest.fixture(scope="session")
def server(planned, client):
    return fhez.Server(planned, client.public_bundle(), insecure_for_testing=True)


@pytest.fixture(scope="session")
def images():
    return np.random.default_rng(11).random((8, 8, 8))


@pytest.fixture(scope="session")
def ctx():
    return fhez.Context("TINY_INSECURE")


def tolerance(ctx, magnitude=1.0, terms=1):
    """Error bound of a CKKS result: each noisy term (a fresh encryption, a product, a key
    switch, a summand) leaves about log_scale - log_n - 2 bits after the binary point
    (fhez_model::promised_precision_bits) relative to the magnitude; errors of `terms`
    terms add up at most linearly."""
    return terms * 2.0 ** -(ctx.log_scale - ctx.log_n - 2) * max(1.0, magnitude)
