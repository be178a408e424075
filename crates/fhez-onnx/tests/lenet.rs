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

use fhez_nn::{PlanRequest, SecurityStandard, Tensor, plan_single_input};
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

/// The single-input plan of the imported LeNet-5: depth 7 (conv1, its square, pool1 composed
/// into conv2, its square, pool2 composed into fc0, its square, fc2), the accounting of every
/// node, and the ring the precision request buys under the release flooding: up to 6 bits
/// fit N = 2^14 (5 are needed: `2^-5` is below half of the smallest top-2 logit margin on
/// the first 1,000 test images, 0.111, `docs/results/onnx.md`), 7 bits or more need
/// N = 2^15, whose operations cost about twice as much.
#[test]
fn lenet_poly_single_input_plan_and_the_ring_its_precision_buys() -> TestResult {
    let imported = import(
        &std::fs::read(file("lenet_poly.onnx"))?,
        &ImportOptions::default(),
    )?;
    let request = |precision_bits| PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits,
        magnitude_bits: 10,
        standard: SecurityStandard::Standard2018,
        key_budget: None,
    };
    let plan = plan_single_input(imported.graph(), &request(6))?;
    assert_eq!((plan.log_n, plan.depth), (14, 7));
    assert_eq!(plan.log_q, vec![56, 46, 46, 46, 46, 46, 46, 46]);
    assert_eq!((plan.log_p.clone(), plan.log_qp), (vec![60], 438));
    assert_eq!(plan.release().map(|r| r.precision_bits()), Some(6));
    let levels: u32 = plan.nodes.iter().map(|n| n.consumed).sum();
    assert_eq!(levels, plan.depth);
    let ks = |kind: &str| -> Vec<u64> {
        plan.nodes
            .iter()
            .filter(|n| n.kind == kind)
            .map(|n| n.key_switches)
            .collect()
    };
    // conv1 on the row-major input (its im2col gather needs 2^15 slots), then the composed
    // pool1 → conv2 (a full 2048-diagonal map): most of the 184 key switches.
    assert_eq!(ks("conv"), vec![50, 96]);
    assert_eq!(ks("dense"), vec![26, 9]);
    assert_eq!(ks("poly"), vec![1, 1, 1]);
    let composed: Vec<&str> = plan
        .nodes
        .iter()
        .filter_map(|n| n.composed_into.as_deref())
        .collect();
    assert_eq!(composed, ["/conv2/Conv", "/fc/fc.0/Gemm"]);
    // One more bit than the 2^14 chain holds moves the plan to 2^15.
    assert_eq!(plan_single_input(imported.graph(), &request(7))?.log_n, 15);
    Ok(())
}
