"""Threads: the objects are shared between threads; concurrent encryption and evaluation
give the same results as sequential ones."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import fhez


def test_concurrent_model_flow(model, planned, client, server, images):
    n = planned.batch
    batches = [np.roll(images, k, axis=0)[:n] for k in range(6)]

    def run(x):
        return client.finish(server.evaluate(client.encrypt(x)))["y_hat"]

    with ThreadPoolExecutor(max_workers=3) as pool:
        got = list(pool.map(run, batches))
    for x, y in zip(batches, got):
        assert np.array_equal(y, model.infer({"x": x})["y_hat"])


def test_concurrent_tensor_ops(ctx):
    xs = [np.linspace(-1, 1, 32) * (k + 1) / 8 for k in range(8)]

    def run(x):
        t = ctx.encrypt(x)
        return (t * t + t).sum().decrypt()

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(run, xs))
    for x, g in zip(xs, got):
        assert abs(float(g) - float((x * x + x).sum())) < 1e-3
