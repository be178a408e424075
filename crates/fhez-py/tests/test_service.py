"""The HTTP service client against a real `fhez serve` (target/release/fhez, built by
scripts/test.sh): keys are registered once per key directory, predictions agree with
plaintext inference, server errors arrive as fhez.ServiceError with the status."""

import os
import socket
import subprocess
import time

import numpy as np
import pytest

import fhez

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FHEZ = os.path.join(ROOT, "target", "release", "fhez")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    assert os.path.exists(FHEZ), "build the CLI first: cargo build --release -p fhez-cli"
    tmp = tmp_path_factory.mktemp("serve")
    # A small classifier on secure parameters (the server refuses toy ones).
    model = fhez.Model.cnn(input=(6, 6), kernel=(3, 3), stride=(1, 1), filters=2, classes=3,
                           batch=4, name="tiny")
    path = str(tmp / "tiny.json")
    model.save(path)
    port = free_port()
    proc = subprocess.Popen(
        [FHEZ, "serve", "--model", path, "--addr", f"127.0.0.1:{port}", "--db", str(tmp / "db.redb")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    client = fhez.ServiceClient(url)
    for _ in range(600):  # readiness: the first answered request, not a duration
        try:
            client.models()
            break
        except fhez.ServiceError:
            if proc.poll() is not None:
                raise RuntimeError("fhez serve exited")
            time.sleep(0.1)
    yield client, model, tmp
    proc.terminate()
    proc.wait()


def test_models_and_predict(served):
    client, model, tmp = served
    assert client.models() == ["tiny"]
    session = client.session("tiny", str(tmp / "keys"))
    x = np.random.default_rng(4).random((5, 6, 6))
    got = session.predict(x)
    want = model.infer({"x": x})["y_hat"]
    assert [p["index"] for p in got] == [int(v) for v in want]
    assert all(p["logits"].shape == (3,) for p in got)
    assert session.labels == ["0", "1", "2"]
    # A second session on the same key directory reuses the registered key.
    again = client.session("tiny", str(tmp / "keys"))
    assert again.key_id == session.key_id
    assert "secret=<in the key directory>" in repr(session)


def test_unknown_model_is_a_service_error(served):
    client, _, tmp = served
    with pytest.raises(fhez.ServiceError) as e:
        client.session("nope", str(tmp / "keys2"))
    assert e.value.status == 404


def test_bad_url():
    with pytest.raises(fhez.ServiceError):
        fhez.ServiceClient("ftp://example")
