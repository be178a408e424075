//! An imported fixture (`cnn_small`: Conv → BatchNormalization → x² → AveragePool → Conv →
//! x² → Flatten → Gemm → x² → Dropout → Gemm) evaluated encrypted in single-input packing:
//! on `Plain` and `Sim` through the graph walk (same levels per node; `Plain` equal to the
//! imported plaintext forward to 1e-9) and on CKKS with toy parameters through the model
//! API (within the plan's precision of the plaintext forward and of the ONNX reference).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code"
)]

use std::path::Path;

use fhez_backend::{Backend, Plain, Sim, SimConfig};
use fhez_ckks::{CkksParams, CkksParamsSpec, CkksServer};
use fhez_erray::{Erray, Packing, PlainArray};
use fhez_model::EncryptedModel;
use fhez_nn::{Graph, LayoutRole, PackingChoice, PlanRequest, SecurityStandard, Tensor};
use fhez_onnx::{ImportOptions, import};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect(name)
}

fn npy(name: &str) -> Vec<f64> {
    fhez_data::npy::parse_shaped(&fixture(name)).expect(name).1
}

fn walk<B: Backend>(g: &Graph, input: &str, e: Erray<B>) -> fhez_nn::Result<(Erray<B>, Vec<u32>)> {
    let mut refresh = |e: &Erray<B>| -> fhez_nn::Result<Erray<B>> { Ok(e.clone()) };
    let run = g.forward_enc(&[(input, e)], &mut refresh)?;
    let levels = run.levels.iter().flatten().map(|l| l.consumed()).collect();
    Ok((run.boundary[0].1.clone(), levels))
}

#[test]
fn cnn_small_runs_single_input_on_plain_sim_and_ckks() -> TestResult {
    let imported = import(&fixture("cnn_small.onnx"), &ImportOptions::default())?;
    let x = npy("cnn_small.in.npy");
    let want_onnx = npy("cnn_small.out.npy");
    let shape = imported.input_shape().to_vec();
    let plain_fwd = imported.forward(&Tensor::new(shape.clone(), x.clone())?)?;
    let (g, input) = (imported.graph(), imported.input());

    let mut eshape = vec![1];
    eshape.extend(&shape);
    let data = PlainArray::new(eshape, x.clone())?;
    let plain = Plain::new(1024).with_max_level(16);
    let (y, levels) = walk(
        g,
        input,
        Erray::encrypt(&plain, &data, Packing::single_input(64))?,
    )?;
    for (a, b) in y.decrypt()?.data().iter().zip(&plain_fwd) {
        assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
    }
    let sim = Sim::new(SimConfig::planning(1024, 16, 40.0))?;
    let (_, sim_levels) = walk(
        g,
        input,
        Erray::encrypt(&sim, &data, Packing::single_input(64))?,
    )?;
    assert_eq!(levels, sim_levels);

    let request = PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits: 20,
        magnitude_bits: 10,
        standard: SecurityStandard::Standard2018,
        key_budget: None,
    };
    let model = EncryptedModel::with_packing(g.clone(), &request, PackingChoice::SingleInput)?;
    assert_eq!(model.plan().depth, levels.iter().sum::<u32>());
    // DISCLAIMER: toy parameters (the plan's chain on a ring of 2^11, the smallest whose
    // slots hold the planned im2col input layout), they protect nothing.
    let spec = CkksParamsSpec {
        log_n: 11,
        ..model.spec()
    }
    .insecure_for_testing();
    let client = model.keygen(&CkksParams::new(&spec)?)?;
    let server = CkksServer::new(client.server_keys());
    let layout = model.plan().layout(input, LayoutRole::Input).unwrap();
    let sent = model.encrypt(
        &client,
        &[(input, PlainArray::new(layout.shape.clone(), x)?)],
    )?;
    let reply = model.evaluate(&server, &sent)?;
    let out = model.decrypt_finish(&client, &reply, &[])?;
    let got = out[0][imported.output()].data().to_vec();
    assert_eq!(got.len(), want_onnx.len());
    // 20 bits of precision relative to values of magnitude up to 2^10 (the request).
    let tol = 2f64.powi(10 - 20) * 4.0;
    for ((a, p), w) in got.iter().zip(&plain_fwd).zip(&want_onnx) {
        assert!(
            (a - p).abs() <= tol * (1.0 + p.abs()),
            "{a} vs plaintext {p}"
        );
        assert!(
            (a - w).abs() <= tol * (1.0 + w.abs()) + 1e-3,
            "{a} vs onnx {w}"
        );
    }
    Ok(())
}
