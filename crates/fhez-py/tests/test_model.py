"""The model flow: client keygen / encrypt, server evaluation from the public bundle and
bytes only, client decrypt, for both packings; the results agree with plaintext inference."""

import json
import pickle

import numpy as np
import pytest

import fhez
from conftest import TOY_LOG_N


def test_flow_over_bytes_matches_plaintext(model, planned, client, images):
    # Everything the server sees arrives as bytes: the plan, the bundle, the message.
    on_server = fhez.EncryptedModel.from_bytes(planned.to_bytes())
    server = fhez.Server(on_server, client.public_bundle(), insecure_for_testing=True)
    n = planned.batch
    x = images[:n]
    request = client.encrypt(x).to_bytes()
    reply = server.evaluate(server.read(request)).to_bytes()
    got = client.finish(client.read(reply))
    want = model.infer({"x": x})
    assert np.array_equal(got["y_hat"], want["y_hat"])
    logits = client.decrypt(client.read(reply))[model.output]
    assert logits.shape == (n, 3)
    assert np.array_equal(np.argmax(logits, axis=1).astype(float), want["y_hat"])


def test_plan_reports_the_packing(planned):
    assert planned.packing in ("batch-in-slots", "single-input")
    assert planned.depth >= 1
    assert '"depth"' in planned.plan_json()
    if planned.packing == "single-input":
        assert planned.batch == 1
    else:
        assert planned.batch == 8


def test_batch_too_large(planned, client, images):
    with pytest.raises(fhez.BatchTooLarge) as e:
        client.encrypt(np.concatenate([images, images]))
    assert e.value.planned == planned.batch
    assert e.value.batch == 16


def test_unknown_input(client, images):
    with pytest.raises(fhez.UnknownNode) as e:
        client.encrypt({"nope": images[:1]})
    assert e.value.name == "nope"


def test_model_bytes_round_trip(model):
    again = fhez.Model.from_bytes(model.to_bytes())
    assert again.to_json() == model.to_json()
    assert fhez.Model.from_json(model.to_json()).to_json() == model.to_json()


def test_model_file_save_load(model, tmp_path):
    path = tmp_path / "m.json"
    model.save(str(path))
    assert fhez.Model.load(str(path)).to_json() == model.to_json()


def test_client_secret_round_trip(planned, client, server, images):
    x = images[: planned.batch]
    reply = server.evaluate(client.encrypt(x))
    again = fhez.Client.from_bytes(
        planned,
        client.secret_key_bytes(),
        client.public_bundle(),
        insecure_for_testing=True,
    )
    a = client.decrypt(reply)
    b = again.decrypt(reply)
    # Every decryption for release adds fresh flooding noise and rounds to the promised
    # precision, so two decryptions of one reply under the same key agree to within two
    # promised steps (a wrong key gives values unrelated to the first).
    step = 2.0 ** -json.loads(planned.plan_json())["release"]["precision_bits"]
    for k in a:
        assert np.max(np.abs(a[k] - b[k])) <= 2 * step


def test_client_save_load(planned, client, tmp_path):
    client.save(str(tmp_path / "keys"))
    again = fhez.Client.load(planned, str(tmp_path / "keys"), insecure_for_testing=True)
    assert again.public_bundle() == client.public_bundle()
    # A toy key directory is refused by the default reader.
    with pytest.raises(fhez.InsecureParams):
        fhez.Client.load(planned, str(tmp_path / "keys"))


def test_client_hides_its_secret(client):
    assert "hidden" in repr(client)
    secret = client.secret_key_bytes()
    assert secret.hex()[:64] not in repr(client)
    with pytest.raises(TypeError):
        pickle.dumps(client)


def test_another_clients_reply_is_refused(planned, client, server, images):
    # A reply encrypted under another parameter set (another ring degree) is refused.
    other = planned.keygen(insecure_log_n=TOY_LOG_N + 1)
    reply = server.evaluate(client.encrypt(images[: planned.batch])).to_bytes()
    with pytest.raises(fhez.FhezError):
        other.read(reply)


def test_training_reports_progress_and_lowers_the_loss():
    m = fhez.Model.cnn(input=(6, 6), kernel=(3, 3), stride=(1, 1), filters=2, classes=2)
    rng = np.random.default_rng(1)
    x = rng.random((40, 6, 6))
    # A separable task: class 1 iff the top-left pixel exceeds one half.
    y = (x[:, 0, 0] > 0.5).astype(float)
    seen = []
    losses = m.train(
        {"x": x, "y": y},
        epochs=8,
        batch_size=8,
        lr=0.05,
        progress=lambda epoch, loss: seen.append((epoch, loss)),
    )
    assert [e for e, _ in seen] == list(range(1, 9))
    assert [l for _, l in seen] == losses
    assert losses[-1] < losses[0]


def test_training_input_errors(model):
    with pytest.raises(fhez.ShapeError):
        model.train({"x": np.zeros((4, 8, 8))})
    with pytest.raises(fhez.ShapeError):
        model.train({"x": np.zeros((4, 8, 8)), "y": np.zeros(3)})


def test_unknown_packing(model):
    with pytest.raises(fhez.ModelError):
        model.plan("diagonal")


def test_single_input_key_budget(model):
    exact = model.plan("single-input")
    planned = model.plan("single-input", key_budget=2)
    assert len(planned.rotation_steps) <= 2 < len(exact.rotation_steps)
    plan = json.loads(planned.plan_json())
    assert plan["key_budget"] == 2
    composed = plan["rotation_compose"]
    assert composed
    keys = set(planned.rotation_steps)
    for parts in composed.values():
        assert set(parts) <= keys
    assert "rotation_compose" not in json.loads(exact.plan_json())
