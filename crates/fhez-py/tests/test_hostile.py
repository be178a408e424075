"""Hostile bytes: every reader refuses truncated, corrupted, oversized or foreign input
with an exception of its kind, never a crash."""

import numpy as np
import pytest

import fhez

# Frame header of a ciphertext message (fhez_backend::frame::HEADER_LEN): magic, version,
# kind, params id, payload length.
HEADER = 48


@pytest.fixture(scope="module")
def message(client, planned, images):
    return client.encrypt(images[: planned.batch]).to_bytes()


def test_truncations_are_refused(server, message):
    for cut in [0, 1, 4, 47, 48, 100, len(message) // 2, len(message) - 1]:
        with pytest.raises(fhez.InvalidBytes):
            server.read(message[:cut])


def test_trailing_bytes_are_refused(server, message):
    with pytest.raises(fhez.InvalidBytes):
        server.read(message + b"\0")


def test_corrupted_header_bytes_are_refused(server, message):
    rng = np.random.default_rng(0)
    refused = 0
    for i in range(HEADER):
        data = bytearray(message)
        data[i] ^= 1 << int(rng.integers(0, 8))
        try:
            server.read(bytes(data))
        except fhez.FhezError:
            refused += 1
    # Every header byte is checked (magic, version, kind, params id, length): a
    # flipped bit is always refused.
    assert refused == HEADER


def test_renamed_entry_is_refused_at_evaluation(server, message):
    # The first entry's name (`x`) follows the header and its length; a different name
    # reads fine and is refused by the evaluation, naming it.
    at = message.index(b"\x01\x00x", HEADER - 8) + 2
    data = bytearray(message)
    data[at] = ord("z")
    with pytest.raises(fhez.UnknownNode) as e:
        server.evaluate(server.read(bytes(data)))
    assert e.value.name == "z"


def test_size_limit_before_reading(server, message):
    with pytest.raises(fhez.SizeLimit) as e:
        server.read(message, limit=100)
    assert e.value.limit == 100
    assert e.value.size == len(message)
    assert isinstance(e.value, fhez.InvalidBytes)


def test_random_bytes_everywhere(planned, ctx):
    rng = np.random.default_rng(1)
    for n in [0, 1, 8, 48, 300, 5000]:
        junk = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        with pytest.raises(fhez.FhezError):
            fhez.Server(planned, junk, insecure_for_testing=True)
        with pytest.raises(fhez.FhezError):
            fhez.Model.from_bytes(junk)
        with pytest.raises(fhez.FhezError):
            fhez.EncryptedModel.from_bytes(junk)
        with pytest.raises(fhez.FhezError):
            fhez.Context.from_public_bundle(junk, insecure_for_testing=True)
        with pytest.raises(fhez.FhezError):
            ctx.tensor_from_bytes(junk)


def test_fhez_magic_with_junk_payload(server):
    data = b"FHEZ" + bytes(200)
    with pytest.raises(fhez.InvalidBytes):
        server.read(data)


def test_model_json_over_limit():
    with pytest.raises(fhez.SizeLimit):
        fhez.Model.from_bytes(b"{" * 1000, limit=10)


def test_bad_secret_key_bytes(planned, client):
    secret = bytearray(client.secret_key_bytes())
    secret[-1] = 7  # not a ternary coefficient
    with pytest.raises(fhez.InvalidBytes):
        fhez.Client.from_bytes(
            planned, bytes(secret), client.public_bundle(), insecure_for_testing=True
        )
