"""The CKKS layer against NumPy: every operation within the precision the parameters
promise, levels going down as documented, bytes round trips, the public context."""

import pickle

import numpy as np
import pytest

import fhez
from conftest import tolerance


def close(ctx, got, want, terms=1):
    want = np.asarray(want, dtype=float)
    bound = tolerance(ctx, float(np.max(np.abs(want))) if want.size else 1.0, terms)
    assert np.asarray(got).shape == want.shape
    assert np.max(np.abs(np.asarray(got) - want)) < bound, (got, want, bound)


@pytest.fixture
def xy(ctx):
    rng = np.random.default_rng(3)
    return rng.uniform(-1, 1, 16), rng.uniform(-1, 1, 16)


def test_encrypt_decrypt(ctx, xy):
    x, _ = xy
    close(ctx, ctx.encrypt(x).decrypt(), x)


def test_arithmetic_with_tensors_arrays_and_scalars(ctx, xy):
    x, y = xy
    a, b = ctx.encrypt(x), ctx.encrypt(y)
    close(ctx, (a + b).decrypt(), x + y)
    close(ctx, (a - b).decrypt(), x - y)
    close(ctx, (a * b).decrypt(), x * y, terms=2)
    close(ctx, (a + y).decrypt(), x + y)
    close(ctx, (y + a).decrypt(), y + x)
    close(ctx, (y - a).decrypt(), y - x)
    close(ctx, (a * y).decrypt(), x * y, terms=2)
    close(ctx, (2.5 - a).decrypt(), 2.5 - x)
    close(ctx, (3 * a).decrypt(), 3 * x)
    close(ctx, (-a).decrypt(), -x)


def test_products_rescale_and_spend_one_level(ctx, xy):
    x, y = xy
    a, b = ctx.encrypt(x), ctx.encrypt(y)
    assert a.level == ctx.max_level
    assert (a * b).level == ctx.max_level - 1
    assert (a + b).level == ctx.max_level
    # Operands at different levels are aligned automatically.
    close(ctx, (a * b + a).decrypt(), x * y + x, terms=3)


def test_sum_dot_matmul(ctx, xy):
    x, y = xy
    a = ctx.encrypt(x)
    # Sums over the 16 elements: 16 summands, each with its own error.
    close(ctx, a.sum().decrypt(), x.sum(), terms=16)
    close(ctx, a.dot(y).decrypt(), x.dot(y), terms=16)
    w = np.random.default_rng(5).uniform(-1, 1, (16, 4))
    with pytest.raises(fhez.MissingGaloisKey):
        a.matmul(w)
    steps = fhez.matmul_rotations(16, 4, ctx.slots)
    ctx = fhez.Context("TINY_INSECURE", rotations=steps)
    a = ctx.encrypt(x)
    close(ctx, a.matmul(w).decrypt(), x @ w, terms=16)
    close(ctx, (a @ w).decrypt(), x @ w, terms=16)


def test_rotate(ctx, xy):
    x, _ = xy
    a = ctx.encrypt(x)
    # Slots past the vector hold zero: rotating left by 3 shifts zeros in at the end.
    # Terms: the encryption, the padding mask (a product), the key switches (3 = 1 + 2 and
    # -2 = slots - 2 are composed of power-of-two rotations).
    want = np.concatenate([x[3:], np.zeros(3)])
    close(ctx, a.rotate(3).decrypt(), want, terms=4)
    want = np.concatenate([np.zeros(2), x[:-2]])
    close(ctx, a.rotate(-2).decrypt(), want, terms=2 + int(np.log2(ctx.slots)))


def test_polyval_and_pow(ctx, xy):
    x, _ = xy
    a = ctx.encrypt(x)
    c = [0.5, -1.0, 0.25]
    close(ctx, a.polyval(c).decrypt(), c[0] + c[1] * x + c[2] * x**2, terms=4)
    close(ctx, (a**3).decrypt(), x**3, terms=4)


def test_level_exhausted_carries_the_numbers(ctx, xy):
    x, _ = xy
    a = ctx.encrypt(x)
    for _ in range(ctx.max_level):
        a = a * a
    assert a.level == 0
    with pytest.raises(fhez.LevelExhausted) as e:
        a * a
    assert e.value.needed == 1
    assert e.value.available == 0
    assert isinstance(e.value, fhez.FhezError)


def test_missing_galois_key_carries_the_step():
    ctx = fhez.Context("TINY_INSECURE", rotations=[1, 3])
    a = ctx.encrypt(np.arange(4.0))
    close(ctx, a.rotate(1).decrypt(), [1.0, 2.0, 3.0, 0.0], terms=3)
    close(ctx, a.rotate(3).decrypt(), [3.0, 0.0, 0.0, 0.0], terms=3)
    with pytest.raises(fhez.MissingGaloisKey) as e:
        a.rotate(2)
    assert e.value.step == 2
    with pytest.raises(fhez.MissingGaloisKey) as e:
        a.rotate(-1)
    assert e.value.step == ctx.slots - 1


def test_tensor_bytes_round_trip_and_public_context(ctx, xy):
    x, y = xy
    a = ctx.encrypt(x)
    bundle = ctx.public_bundle()
    public = fhez.Context.from_public_bundle(bundle, insecure_for_testing=True)
    assert not public.is_private and ctx.is_private
    # The server side: reads the tensor, computes, returns bytes; it cannot decrypt.
    on_server = public.tensor_from_bytes(a.to_bytes())
    result = on_server * y + 1.0
    with pytest.raises(fhez.FhezError):
        result.decrypt()
    with pytest.raises(fhez.FhezError):
        public.encrypt(x)
    back = ctx.tensor_from_bytes(result.to_bytes())
    close(ctx, back.decrypt(), x * y + 1.0, terms=2)


def test_insecure_bundle_refused_by_default(ctx):
    with pytest.raises(fhez.InsecureParams) as e:
        fhez.Context.from_public_bundle(ctx.public_bundle())
    assert e.value.log_n == 10


def test_mixing_private_and_public_tensors_is_refused(ctx, xy):
    x, _ = xy
    a = ctx.encrypt(x)
    public = ctx.public()
    b = public.tensor_from_bytes(a.to_bytes())
    with pytest.raises(fhez.FhezError):
        a + b


def test_secret_never_in_repr_nor_pickled(ctx):
    assert "hidden" in repr(ctx)
    with pytest.raises(TypeError):
        pickle.dumps(ctx)


def test_shape_errors(ctx):
    a = ctx.encrypt(np.ones(4))
    with pytest.raises(fhez.ShapeError):
        a + np.ones(5)
    with pytest.raises(fhez.ShapeError):
        a.matmul(np.ones((4, 600)))
    with pytest.raises(fhez.ShapeError):
        ctx.encrypt(np.ones((2, 2))).rotate(1)


def test_non_finite_refused(ctx):
    with pytest.raises(fhez.NonFiniteValue) as e:
        ctx.encrypt(np.array([0.0, np.nan]))
    assert e.value.index == 1


def test_unknown_preset():
    with pytest.raises(fhez.FhezError):
        fhez.Context("N99")


def test_matmul_rotations_checks_its_sizes():
    with pytest.raises(fhez.ShapeError):
        fhez.matmul_rotations(10**9, 10**9, 512)
    with pytest.raises(fhez.ShapeError):
        fhez.matmul_rotations(4, 4, 1 << 40)
