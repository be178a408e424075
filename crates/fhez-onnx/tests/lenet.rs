//! The committed PyTorch LeNet-5 (`examples/onnx/lenet_poly.onnx`, square activations):
//! imported without any replacement, its plaintext forward equals torch's logits for the
//! first 16 MNIST test images (`lenet_poly.first16.out.npy`) within the fixtures' rule
//! (1e-4 × the largest logit magnitude: float32 torch against f64), with the same arg-maxes.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code"
)]

use std::path::{Path, PathBuf};

use fhez_nn::Tensor;
use fhez_onnx::{ImportOptions, import};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/onnx")
        .join(name)
}

fn npy(name: &str) -> (Vec<usize>, Vec<f64>) {
    fhez_data::npy::parse_shaped(&std::fs::read(file(name)).expect(name)).expect(name)
}

#[test]
fn lenet_poly_matches_torch_on_the_first_16_images() -> TestResult {
    let imported = import(
        &std::fs::read(file("lenet_poly.onnx"))?,
        &ImportOptions::default(),
    )?;
    assert!(imported.report().replaced.is_empty());
    assert_eq!(imported.input_shape(), &[1, 28, 28]);
    let (shape, x) = npy("first16.in.npy");
    assert_eq!(shape, vec![16, 1, 28, 28]);
    let (_, want) = npy("lenet_poly.first16.out.npy");
    let atol = 1e-4 * want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, img) in x.chunks(784).enumerate() {
        let got = imported.forward(&Tensor::new(vec![1, 28, 28], img.to_vec())?)?;
        let w = &want[i * 10..(i + 1) * 10];
        for (a, b) in got.iter().zip(w) {
            assert!(
                (a - b).abs() <= atol,
                "image {i}: {a} vs torch {b} (atol {atol})"
            );
        }
        let am = |v: &[f64]| (0..v.len()).max_by(|&p, &q| v[p].total_cmp(&v[q])).unwrap();
        assert_eq!(am(&got), am(w), "image {i}");
    }
    Ok(())
}
