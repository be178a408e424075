"""Model.from_onnx on the importer's committed fixtures (crates/fhez-onnx/tests/fixtures):
a path and bytes give the same model, its plaintext inference matches the ONNX reference
output, a ReLU network needs calibration data and then reports the comparison in `metrics`,
and unsupported or broken files raise the right exception naming the node."""

from pathlib import Path

import numpy as np
import pytest

import fhez

FIXTURES = Path(__file__).resolve().parents[2] / "fhez-onnx" / "tests" / "fixtures"


def test_path_and_bytes_import_the_same_model_and_match_the_reference():
    path = FIXTURES / "cnn_small.onnx"
    a = fhez.Model.from_onnx(str(path))
    b = fhez.Model.from_onnx(path.read_bytes())
    assert a.to_json() == b.to_json()
    assert a.inputs == {"x": [1, 8, 8]}
    x = np.load(FIXTURES / "cnn_small.in.npy").astype(float)
    want = np.load(FIXTURES / "cnn_small.out.npy").astype(float).ravel()
    got = a.infer({"x": x.reshape(1, 1, 8, 8)})
    out = np.asarray(got[a.output]).ravel()
    atol = 1e-4 * max(1.0, float(np.abs(want).max()))
    assert np.abs(out - want).max() <= atol


def test_relu_needs_calibration_and_reports_it():
    path = FIXTURES / "gemm_relu.onnx"
    with pytest.raises(fhez.ModelError, match="calibration"):
        fhez.Model.from_onnx(path)
    calib = np.load(FIXTURES / "gemm_relu.calib.npy").astype(float)
    m = fhez.Model.from_onnx(path, calib, degree=6)
    assert 0.0 <= m.metrics["calibration_agreement"] <= 1.0
    assert m.metrics["replaced_activations"] == 1.0


def test_unsupported_and_broken_files_raise():
    with pytest.raises(fhez.ModelError, match="pool1.*MaxPool.*AveragePool"):
        fhez.Model.from_onnx(FIXTURES / "maxpool.onnx")
    with pytest.raises(fhez.InvalidBytes):
        fhez.Model.from_onnx(b"\x08\x07\x12")
    with pytest.raises(fhez.InvalidBytes):
        fhez.Model.from_onnx((FIXTURES / "truncated.onnx").read_bytes())
