"""The release policy is the plan's: shared (flooded) by default, private-only by name; the
client carries it (`release` attribute), keeps it through bytes and key directories, and
`run_encrypted` runs client and server in one process under it."""

import numpy as np
import pytest

import fhez
from conftest import TOY_LOG_N


def test_shared_is_the_default(model):
    planned = model.plan("single-input")
    assert planned.release == "shared"
    client = planned.keygen(insecure_log_n=TOY_LOG_N)
    assert client.release == "shared"
    assert "release=shared" in repr(client)


def test_private_only_must_be_named_and_is_kept(model, tmp_path):
    private = model.plan("single-input", release="private-only")
    assert private.release == "private-only"
    shared = model.plan("single-input")
    # No flooding bits in the scale: at least as many bits promised.
    assert private.precision_bits >= shared.precision_bits
    client = private.keygen(insecure_log_n=TOY_LOG_N)
    assert client.release == "private-only"
    again = fhez.Client.from_bytes(
        private, client.secret_key_bytes(), client.public_bundle(), insecure_for_testing=True
    )
    assert again.release == "private-only"
    client.save(tmp_path / "keys")
    loaded = fhez.Client.load(private, tmp_path / "keys", insecure_for_testing=True)
    assert loaded.release == "private-only"
    with pytest.raises(fhez.ModelError) as e:
        model.plan("single-input", release="private")
    assert e.value.release == "private"


def test_private_only_decrypts_rounded_without_flooding(model, images):
    private = model.plan("single-input", release="private-only")
    bits = private.precision_bits
    outs = list(fhez.run_encrypted(private, images[:2], insecure_log_n=TOY_LOG_N))
    assert len(outs) == 2
    want = model.infer({"x": images[:2]})
    for i, out in enumerate(outs):
        logits = out[model.output]
        assert logits.shape == (3,)
        # Rounded to the promised grid.
        assert np.array_equal(logits * 2.0**bits, np.round(logits * 2.0**bits))
        assert np.argmax(logits) == want["y_hat"][i]


def test_run_encrypted_matches_the_plaintext_model(model, images):
    planned = model.plan("single-input")
    got = [o[model.output] for o in fhez.run_encrypted(planned, images[:3], insecure_log_n=TOY_LOG_N)]
    want = model.infer({"x": images[:3]})
    assert np.array_equal(np.argmax(np.stack(got), axis=1).astype(float), want["y_hat"])
