//! A PyTorch LeNet-5 (`examples/onnx/`) imported from ONNX and run encrypted on MNIST in
//! single-input packing (one image per ciphertext): accuracy against the labels and against
//! torch (`examples/onnx/reference.json`), agreement with the imported plaintext model, and
//! the median latency per image next to the plaintext forward's.
//!
//! ```sh
//! scripts/fetch-datasets.sh mnist
//! RAYON_NUM_THREADS=1 cargo run --release -p fhez-onnx --example onnx_mnist -- \
//!     examples/onnx/lenet_poly.onnx --images 1000 [--degree D] [--json out.json] [--plain-only]
//! ```
//!
//! Calibration: `examples/onnx/calibration.npy` (the first 256 training images) with their
//! training labels, for the ranges of replaced activations and the before/after accuracy.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    reason = "example code"
)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use fhez_ckks::{CkksParams, CkksServer};
use fhez_erray::PlainArray;
use fhez_model::EncryptedModel;
use fhez_nn::{LayoutRole, PackingChoice, PlanRequest, SecurityStandard, Tensor};
use fhez_onnx::{ImportOptions, import};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// The gap between the largest and the second largest value: an error below half of it
/// cannot change the argmax.
fn top2_margin(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    match s.as_slice() {
        [a, b, ..] => a - b,
        _ => f64::INFINITY,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Plaintext only: the exact graph against the imported one (fitted polynomials) on the
/// first `images` test images.
fn plain_only(
    imported: &fhez_onnx::Imported,
    test: &fhez_data::Split,
    images: usize,
    json: &Option<String>,
) -> Result<()> {
    let n = images.min(test.len());
    let (mut right_exact, mut right_imported, mut agree) = (0, 0, 0);
    let mut margins = Vec::with_capacity(n);
    for i in 0..n {
        let x: Vec<f64> = test.sample(i).unwrap().iter().map(|p| p / 255.0).collect();
        let t = Tensor::new(vec![x.len()], x)?;
        let (e, p) = (imported.forward_exact(&t)?, imported.forward(&t)?);
        margins.push(top2_margin(&p));
        let label = usize::from(test.labels[i]);
        right_exact += usize::from(argmax(&e) == label);
        right_imported += usize::from(argmax(&p) == label);
        agree += usize::from(argmax(&e) == argmax(&p));
    }
    let pct = |k: usize| 100.0 * k as f64 / n.max(1) as f64;
    let summary = serde_json::json!({
        "images": n,
        "accuracy_plaintext_exact": pct(right_exact),
        "accuracy_plaintext_imported": pct(right_imported),
        "agreement_exact_vs_imported": pct(agree),
        "min_top2_margin_imported": margins.iter().copied().fold(f64::INFINITY, f64::min),
        "top2_margins_below_0_1": margins.iter().filter(|&&m| m < 0.1).count(),
        "depth": fhez_nn::plan_single_input(imported.graph(), &PlanRequest {
            release: fhez_nn::ReleaseChoice::Shared,
            batch: 1, precision_bits: 20, magnitude_bits: 10,
            standard: SecurityStandard::Standard2018,
            key_budget: None,
        }).map(|p| p.depth).ok(),
        "replaced": imported.report().replaced.iter().map(|r| serde_json::json!({
            "node": r.node, "ops": r.ops, "range": [r.range.0, r.range.1],
            "degree": r.degree, "max_error": r.max_error,
        })).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&summary)? + "\n")?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model_path = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map_or_else(|| root.join("examples/onnx/lenet_poly.onnx"), PathBuf::from);
    let images: usize = opt("--images").map_or(Ok(1000), |s| s.parse())?;
    // Index of the first test image (to split a long run into pieces).
    let first: usize = opt("--first").map_or(Ok(0), |s| s.parse())?;
    let precision: u32 = opt("--precision-bits").map_or(Ok(25), |s| s.parse())?;
    let degree: Option<usize> = opt("--degree").map(|s| s.parse()).transpose()?;
    let max_error: Option<f64> = opt("--max-error").map(|s| s.parse()).transpose()?;

    let data = fhez_data::mnist(&fhez_data::data_dir())?;
    let (cal_shape, cal) =
        fhez_data::npy::parse_shaped(&std::fs::read(root.join("examples/onnx/calibration.npy"))?)?;
    let per: usize = cal_shape[1..].iter().product();
    let calibration: Vec<Tensor> = cal
        .chunks(per)
        .map(|c| Tensor::new(vec![per], c.to_vec()))
        .collect::<std::result::Result<_, _>>()?;
    let labels: Vec<usize> = data.train.labels[..calibration.len()]
        .iter()
        .map(|&l| usize::from(l))
        .collect();
    let options = ImportOptions {
        calibration: Some(calibration),
        labels: Some(labels),
        degree,
        max_error,
        ..ImportOptions::default()
    };
    let t = Instant::now();
    let imported = import(&std::fs::read(&model_path)?, &options)?;
    let import_s = t.elapsed().as_secs_f64();
    println!("imported {} in {import_s:.2} s", model_path.display());
    print!("{}", imported.report());

    if args.iter().any(|a| a == "--plain-only") {
        return plain_only(&imported, &data.test, images, &opt("--json"));
    }
    let request = PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits: precision,
        magnitude_bits: 10,
        standard: SecurityStandard::Standard2018,
        key_budget: None,
    };
    let graph = imported.graph().clone();
    let model = EncryptedModel::with_packing(graph, &request, PackingChoice::SingleInput)?;
    let spec = model.spec();
    println!(
        "plan: single-input, N = 2^{}, depth {}, {} rotation keys",
        spec.log_n,
        model.plan().depth,
        model.plan().rotation_steps.len()
    );
    let t = Instant::now();
    let client = model.keygen(&CkksParams::new(&spec)?)?;
    let server = CkksServer::new(client.server_keys());
    println!("keygen {:.1} s", t.elapsed().as_secs_f64());
    let input = model
        .plan()
        .layout(imported.input(), LayoutRole::Input)
        .unwrap();

    let test = &data.test;
    let n = first.saturating_add(images).min(test.len());
    let (mut right_enc, mut right_plain, mut right_exact, mut agree) = (0, 0, 0, 0);
    let (mut enc_ms, mut plain_ms, mut total_ms) = (Vec::new(), Vec::new(), Vec::new());
    let mut max_diff = 0.0f64;
    let mut min_margin = f64::INFINITY;
    for i in first..n {
        let x: Vec<f64> = test.sample(i).unwrap().iter().map(|p| p / 255.0).collect();
        let label = usize::from(test.labels[i]);
        let tensor = Tensor::new(vec![x.len()], x.clone())?;
        let t = Instant::now();
        let plain = imported.forward(&tensor)?;
        plain_ms.push(t.elapsed().as_secs_f64() * 1e3);
        min_margin = min_margin.min(top2_margin(&plain));
        let exact = imported.forward_exact(&tensor)?;
        let t0 = Instant::now();
        let sent = model.encrypt(
            &client,
            &[(imported.input(), PlainArray::new(input.shape.clone(), x)?)],
        )?;
        let t = Instant::now();
        let reply = model.evaluate(&server, &sent)?;
        enc_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let out = model.decrypt_finish(&client, &reply, &[])?;
        total_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        let got = out[0][imported.output()].data().to_vec();
        for (a, b) in got.iter().zip(&plain) {
            max_diff = max_diff.max((a - b).abs());
        }
        let (pe, pp, px) = (argmax(&got), argmax(&plain), argmax(&exact));
        right_enc += usize::from(pe == label);
        right_plain += usize::from(pp == label);
        right_exact += usize::from(px == label);
        agree += usize::from(pe == pp);
        let every = opt("--every").map_or(Ok(10), |s| s.parse())?;
        if (i + 1) % every == 0 || i + 1 == n {
            let done = i + 1 - first;
            let pct = |k: usize| 100.0 * k as f64 / done as f64;
            let summary = serde_json::json!({
                "model": model_path.file_name().map(|s| s.to_string_lossy().into_owned()),
                "images": done,
                "first_image": first,
                "packing": "single-input",
                "threads": std::env::var("RAYON_NUM_THREADS").ok(),
                "log_n": spec.log_n,
                "depth": model.plan().depth,
                "precision_bits": precision,
                "rotation_keys": model.plan().rotation_steps.len(),
                "accuracy_encrypted": pct(right_enc),
                "accuracy_plaintext_imported": pct(right_plain),
                "accuracy_plaintext_exact": pct(right_exact),
                "agreement_encrypted_vs_plaintext": pct(agree),
                "max_abs_logit_diff": max_diff,
                "min_top2_margin_plaintext": min_margin,
                "median_ms_evaluate": median(enc_ms.clone()),
                "median_ms_encrypt_evaluate_decrypt": median(total_ms.clone()),
                "median_ms_plaintext": median(plain_ms.clone()),
                "import_s": import_s,
                "replaced": imported.report().replaced.iter().map(|r| serde_json::json!({
                    "node": r.node, "ops": r.ops, "range": [r.range.0, r.range.1],
                    "degree": r.degree, "max_error": r.max_error,
                })).collect::<Vec<_>>(),
                "calibration": imported.report().calibration.as_ref().map(|c| serde_json::json!({
                    "samples": c.samples, "agreement": c.agreement, "max_abs_diff": c.max_abs_diff,
                    "accuracy_exact": c.accuracy_exact, "accuracy_imported": c.accuracy_imported,
                })),
            });
            println!("{}", serde_json::to_string(&summary)?);
            if let Some(path) = opt("--json") {
                std::fs::write(path, serde_json::to_string_pretty(&summary)? + "\n")?;
            }
        }
    }
    Ok(())
}
