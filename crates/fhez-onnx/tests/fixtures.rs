//! Every case of `tests/fixtures/manifest.json` (expected outputs from the `onnx` reference
//! evaluator, `examples/onnx/make_fixtures.py`): ok cases import and their plaintext forward
//! matches the committed output within the manifest's `atol` (for replaced activations,
//! `atol` plus the exact-vs-imported difference the import reports on the calibration set,
//! whose first row is the test input); error cases give one line naming what the manifest
//! lists.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::{Path, PathBuf};

use fhez_nn::Tensor;
use fhez_onnx::{ImportOptions, import};
use serde_json::Value;

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn npy(name: &str) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(dir().join(name)).expect(name);
    fhez_data::npy::parse_shaped(&bytes).expect(name)
}

/// The calibration rows of a case, one tensor per sample.
fn calibration(case: &Value) -> Option<Vec<Tensor>> {
    let file = case["calibration"]["file"].as_str()?;
    let (shape, data) = npy(file);
    let per: usize = shape[1..].iter().product();
    Some(
        data.chunks(per)
            .map(|c| Tensor::new(shape[1..].to_vec(), c.to_vec()).unwrap())
            .collect(),
    )
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Runs one ok case; the error text on a mismatch.
fn ok_case(case: &Value) -> Result<(), String> {
    let name = case["name"].as_str().unwrap_or("?");
    let bytes = std::fs::read(dir().join(case["file"].as_str().unwrap())).unwrap();
    let options = ImportOptions {
        calibration: calibration(case),
        ..ImportOptions::default()
    };
    let imported = import(&bytes, &options).map_err(|e| format!("{name}: import: {e}"))?;
    let (shape, x) = npy(case["input"]["file"].as_str().unwrap());
    let x = Tensor::new(shape, x).unwrap();
    let (_, want) = npy(case["output"]["file"].as_str().unwrap());
    let atol = case["atol"].as_f64().unwrap();
    let got = imported
        .forward(&x)
        .map_err(|e| format!("{name}: forward: {e}"))?;
    let exact = imported
        .forward_exact(&x)
        .map_err(|e| format!("{name}: exact: {e}"))?;
    if got.len() != want.len() || exact.len() != want.len() {
        return Err(format!(
            "{name}: {} / {} values, expected {}",
            got.len(),
            exact.len(),
            want.len()
        ));
    }
    let approximated = case.get("approximated").is_some();
    let tol = if approximated {
        let c = imported
            .report()
            .calibration
            .as_ref()
            .ok_or("no calibration report")?;
        if imported.report().replaced.is_empty() {
            return Err(format!("{name}: nothing was replaced"));
        }
        atol + c.max_abs_diff
    } else {
        if !imported.report().replaced.is_empty() {
            return Err(format!("{name}: replaced {:?}", imported.report().replaced));
        }
        atol
    };
    for (k, ((g, e), w)) in got.iter().zip(&exact).zip(&want).enumerate() {
        if (g - w).abs() > tol {
            return Err(format!("{name}[{k}]: imported {g} vs {w} (tol {tol})"));
        }
        if (e - w).abs() > atol {
            return Err(format!("{name}[{k}]: exact {e} vs {w} (atol {atol})"));
        }
    }
    Ok(())
}

fn error_case(case: &Value) -> Result<(), String> {
    let name = case["name"].as_str().unwrap_or("?");
    let bytes = std::fs::read(dir().join(case["file"].as_str().unwrap())).unwrap();
    let Err(e) = import(&bytes, &ImportOptions::default()) else {
        return Err(format!("{name}: imported, expected an error"));
    };
    let msg = e.to_string();
    if msg.contains('\n') {
        return Err(format!("{name}: error is not one line: {msg}"));
    }
    let lower = msg.to_ascii_lowercase();
    for want in case["contains"].as_array().unwrap() {
        let want = want.as_str().unwrap().to_ascii_lowercase();
        if !lower.contains(&want) {
            return Err(format!("{name}: `{msg}` does not name `{want}`"));
        }
    }
    Ok(())
}

#[test]
fn every_manifest_case() -> TestResult {
    let m = manifest();
    let cases = m["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    let (mut ok, mut err) = (0, 0);
    for case in cases {
        let r = if case["expect"] == "ok" {
            ok += 1;
            ok_case(case)
        } else {
            err += 1;
            error_case(case)
        };
        if let Err(f) = r {
            failures.push(f);
        }
    }
    assert!(ok >= 40 && err >= 10, "{ok} ok and {err} error cases");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}
