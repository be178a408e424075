//! `fhez import` on the committed ONNX fixtures: a model file that `fhez plan` accepts in
//! both packings, the polynomial-replacement report with calibration data, and one-line
//! errors (exit 1, nothing written) for a missing calibration set, MaxPool and garbage.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::path::{Path, PathBuf};

use common::{fails, ok, p};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fhez-onnx/tests/fixtures")
        .join(name)
}

#[test]
fn import_writes_a_model_file_that_plans_in_both_packings() {
    let d = common::dir("import", "ok");
    let out = d.join("cnn.json");
    let text = ok(&["import", p(&fixture("cnn_small.onnx")), "--out", p(&out)]);
    assert!(text.contains("folded"), "{text}");
    let file = fhez_model::ModelFile::load(&out).unwrap();
    assert_eq!(file.inputs[0].shape, vec![1, 8, 8]);
    let single = ok(&["plan", p(&out), "--packing", "single", "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&single).unwrap();
    assert!(plan["plan"]["depth"].as_u64().unwrap() >= 5, "{single}");
    ok(&["plan", p(&out)]);
}

#[test]
fn relu_needs_calibration_and_reports_the_replacement() {
    let d = common::dir("import", "relu");
    let out = d.join("relu.json");
    let model = fixture("gemm_relu.onnx");
    let line = fails(&["import", p(&model), "--out", p(&out)]);
    assert!(
        line.contains("Relu") && line.contains("calibration"),
        "{line}"
    );
    assert!(!out.exists(), "nothing written on an error");
    let text = ok(&[
        "import",
        p(&model),
        "--out",
        p(&out),
        "--calibration",
        p(&fixture("gemm_relu.calib.npy")),
        "--degree",
        "4",
    ]);
    assert!(
        text.contains("replaced") && text.contains("degree 4"),
        "{text}"
    );
    assert!(text.contains("calibration (64 samples)"), "{text}");
    assert!(out.exists());
}

#[test]
fn unsupported_and_broken_files_are_one_line_errors() {
    let d = common::dir("import", "errors");
    let out = d.join("m.json");
    let line = fails(&["import", p(&fixture("maxpool.onnx")), "--out", p(&out)]);
    assert!(
        line.contains("pool1") && line.contains("MaxPool") && line.contains("AveragePool"),
        "{line}"
    );
    for bad in [
        "truncated.onnx",
        "random_bytes.onnx",
        "empty.onnx",
        "opset_99.onnx",
    ] {
        let line = fails(&["import", p(&fixture(bad)), "--out", p(&out)]);
        assert!(line.contains(bad), "{line}");
    }
    assert!(!out.exists(), "nothing written on an error");
}
