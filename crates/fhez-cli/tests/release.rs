//! `--release private` is a named opt-out: `plan`, `keygen` and the key directory record
//! it, `decrypt` and `inspect` show it, and the default stays shared.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, reason = "test code")]

mod common;

use common::{ok, p};

use fhez_model::{ModelFile, Task};
use fhez_nn::{PlanRequest, ReleaseChoice, SecurityStandard, Tensor, prefab};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The (6, 2) → 1 regressor of `cli.rs`, 20 bits requested.
fn model() -> ModelFile {
    let graph = prefab::cnn_regressor((6, 2), 3, 3, 7).unwrap();
    let request = PlanRequest {
        release: ReleaseChoice::Shared,
        batch: 4,
        precision_bits: 20,
        magnitude_bits: 10,
        standard: SecurityStandard::Standard2018,
        key_budget: None,
    };
    let task = Task::Regressor {
        scale: 1.0,
        offset: 0.0,
    };
    ModelFile::new("toy", &graph, &["x"], "Decrypt", task, request).unwrap()
}

#[test]
fn private_release_is_named_recorded_and_shown() {
    let d = common::dir("release", "private");
    let file = model();
    let model_path = d.join("model.json");
    file.save(&model_path).unwrap();

    let shared = json(&ok(&["plan", p(&model_path), "--json"]));
    let private = json(&ok(&[
        "plan",
        p(&model_path),
        "--release",
        "private",
        "--json",
    ]));
    assert_eq!(shared["request"].get("release"), None, "{shared}");
    assert_eq!(private["request"]["release"], "private-only");
    assert_eq!(private["plan"]["release"]["decryptions"], "private-only");
    assert_eq!(private["plan"]["release"]["precision_bits"], 20);
    assert!(shared["plan"]["release"]["stat_security_bits"].is_u64());
    let scale = |v: &Value| v["plan"]["log_scale"].as_u64().unwrap();
    assert!(
        scale(&private) < scale(&shared),
        "no flooding bits: {private}"
    );
    let text = ok(&["plan", p(&model_path), "--release", "private"]);
    assert!(text.contains("NO noise flooding"), "{text}");

    let keys = d.join("keys");
    let kg = json(&ok(&[
        "keygen",
        "--model",
        p(&model_path),
        "--out",
        p(&keys),
        "--release",
        "private",
        "--json",
    ]));
    assert_eq!(kg["release"], "private-only");
    let recorded = json(&std::fs::read_to_string(keys.join("release.json")).unwrap());
    assert_eq!(recorded["decryptions"], "private-only");
    let inspect = json(&ok(&["inspect", p(&keys.join("secret.key")), "--json"]));
    assert_eq!(
        inspect["release"]["decryptions"], "private-only",
        "{inspect}"
    );
    let inspect = json(&ok(&["inspect", p(&keys.join("release.json")), "--json"]));
    assert_eq!(inspect["kind"], "release policy");

    let xs: Vec<Vec<f64>> = vec![(0..12).map(|k| f64::from(k % 7) / 10.0).collect()];
    let x_json = d.join("x.json");
    std::fs::write(&x_json, serde_json::to_string(&xs).unwrap()).unwrap();
    let (x_ct, y_ct) = (d.join("x.ct"), d.join("y.ct"));
    ok(&[
        "encrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&x_json),
        "--out",
        p(&x_ct),
    ]);
    // The server is told the policy (it decides the parameters), or reads the key
    // directory's model copy, which records it.
    ok(&[
        "eval",
        "--model",
        p(&model_path),
        "--keys",
        p(&keys.join("public")),
        "--input",
        p(&x_ct),
        "--out",
        p(&y_ct),
        "--release",
        "private",
    ]);
    let copy = ModelFile::load(&keys.join("model.json")).unwrap();
    assert_eq!(copy.plan.release, ReleaseChoice::PrivateOnly);
    let dec = json(&ok(&["decrypt", "--keys", p(&keys), "--input", p(&y_ct)]));
    assert_eq!(dec["release"], "private-only");
    assert_eq!(dec["precision_bits"], 20);
    let got = dec["outputs"][0]["samples"][0]["values"][0]
        .as_f64()
        .unwrap();
    let want = file
        .graph()
        .unwrap()
        .infer(&[("x", Tensor::new(vec![6, 2], xs[0].clone()).unwrap())])
        .unwrap()["y_hat"]
        .item();
    assert!((got - want).abs() < 1e-3, "{got} vs {want}");
    assert_eq!(
        got * 2f64.powi(20),
        (got * 2f64.powi(20)).round(),
        "rounded"
    );

    // Shared stays the default of keygen.
    let shared_keys = d.join("shared-keys");
    let kg = json(&ok(&[
        "keygen",
        "--model",
        p(&model_path),
        "--out",
        p(&shared_keys),
        "--json",
    ]));
    assert_eq!(kg["release"], "shared");
}
