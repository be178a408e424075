//! The `fhez` binary end to end on a small model written in-test: plan, keygen, encrypt
//! (JSON and .npy), eval with only the public bundle present, decrypt against the plaintext
//! graph, inspect on every file kind (never secret bytes), training when data is present,
//! and one-line errors (non-zero exit, no panic) on bad input.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{BIN, fails, fhez, ok, p};

use fhez_erray::{Erray, Packing, PlainArray};
use fhez_model::{ModelFile, Task};
use fhez_nn::{PlanRequest, Tensor, prefab};
use serde_json::Value;

/// The reply `y_ct` with four times the reply bound added to the imaginary part of slot 1
/// of its first ciphertext: what a server probing the client's decryption sends.
fn probe_reply(keys: &Path, y_ct: &Path) -> Vec<u8> {
    use fhez_ckks::{CkksServer, Complex64, Encoder, Evaluator};
    let bundle = std::fs::read(keys.join("public/keys.fhez")).unwrap();
    let server_keys = fhez_model::bundle::public_bundle_from_bytes(&bundle, 1 << 30).unwrap();
    let server = CkksServer::new(server_keys);
    let params = server.params().clone();
    let policy = fhez_model::release_policy(&params).unwrap();
    let mut reply =
        fhez_model::CtBatch::from_bytes(&server, &std::fs::read(y_ct).unwrap(), 1 << 30).unwrap();
    let ct = reply.entries[0].cts[0].ciphertext().clone();
    let bound = policy.reply_bound(params.n(), ct.scale());
    let delta = [Complex64::new(0.0, 0.0), Complex64::new(0.0, 4.0 * bound)];
    let pt = Encoder::new(&params)
        .encode_complex(&delta, ct.scale(), ct.level())
        .unwrap();
    let probed = Evaluator::new(&params).add_plain(&ct, &pt).unwrap();
    reply.entries[0].cts[0] = server.import(probed).unwrap();
    reply.to_bytes().unwrap()
}

fn dir(name: &str) -> PathBuf {
    common::dir("cli", name)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A (6, 2) → 1 regressor (depth 4: CC, ReLU, Dense, ReLU) planned for 4 samples.
fn model(precision_bits: u32) -> ModelFile {
    let graph = prefab::cnn_regressor((6, 2), 3, 3, 7).unwrap();
    let request = PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 4,
        precision_bits,
        magnitude_bits: 10,
        standard: fhez_nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let task = Task::Regressor {
        scale: 2.0,
        offset: 1.0,
    };
    ModelFile::new("toy", &graph, &["x"], "Decrypt", task, request).unwrap()
}

/// A (6, 6) → 2 model for single-input packing (which has no `Dequeue`): CC 3×3 → ReLU →
/// Dense(16 → 2) → Decrypt, planned for 4 samples in batch-in-slots packing.
fn single_model() -> ModelFile {
    use fhez_nn::nodes::{CrossCorrelationConfig, Decrypt, DenseConfig, Input, Relu};
    use rand_core::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let mut g = fhez_nn::GraphBuilder::new();
    let x = g.add("x", Input::new(&[6, 6])).unwrap();
    let cc = CrossCorrelationConfig {
        kernel: vec![3, 3],
        stride: vec![1, 1],
    }
    .init(&mut rng);
    let cc = g.add("cc", cc).unwrap();
    let relu = g.add("relu", Relu::new(4.0).unwrap()).unwrap();
    let dense = g
        .add("dense", DenseConfig { d_in: 16, d_out: 2 }.init(&mut rng))
        .unwrap();
    let dec = g.add("Decrypt", Decrypt {}).unwrap();
    g.chain(&[x, cc, relu, dense, dec]).unwrap();
    let graph = g.build().unwrap();
    let request = PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 4,
        precision_bits: 20,
        magnitude_bits: 10,
        standard: fhez_nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let task = Task::Regressor {
        scale: 1.0,
        offset: 0.0,
    };
    ModelFile::new("toy-single", &graph, &["x"], "Decrypt", task, request).unwrap()
}

fn samples() -> Vec<Vec<f64>> {
    (0..3)
        .map(|s| (0..12).map(|k| ((s * 12 + k) % 7) as f64 / 10.0).collect())
        .collect()
}

fn npy(shape: &[usize], values: &[f64]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[test]
fn help_on_every_command() {
    for cmd in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["ckks-demo", "--help"],
        vec!["params", "--help"],
        vec!["params", "list", "--help"],
        vec!["train", "--help"],
        vec!["plan", "--help"],
        vec!["graph", "--help"],
        vec!["keygen", "--help"],
        vec!["encrypt", "--help"],
        vec!["eval", "--help"],
        vec!["decrypt", "--help"],
        vec!["inspect", "--help"],
    ] {
        let out = ok(&cmd);
        assert!(out.contains("Usage"), "{cmd:?}: {out}");
    }
}

#[test]
fn client_server_flow_and_errors() {
    let d = dir("flow");
    let file = model(20);
    let model_path = d.join("model.json");
    file.save(&model_path).unwrap();

    // plan --json
    let plan = json(&ok(&["plan", p(&model_path), "--json"]));
    assert_eq!(plan["plan"]["depth"], 6);
    assert_eq!(plan["params"]["security"], "Tc128");
    assert!(plan["sizes"]["public_bundle"].as_u64().unwrap() > 0);
    let human = ok(&["plan", p(&model_path)]);
    assert!(
        human.contains("1D-CC")
            && human.contains("rotation steps")
            && human.contains("key switches"),
        "{human}"
    );

    // keygen (client)
    let keys = d.join("keys");
    ok(&["keygen", "--model", p(&model_path), "--out", p(&keys)]);
    assert!(keys.join("secret.key").is_file());
    assert!(keys.join("public/keys.fhez").is_file());
    let again = fails(&["keygen", "--model", p(&model_path), "--out", p(&keys)]);
    assert!(again.contains("already exists"), "{again}");

    // encrypt (client): a JSON batch of 3 samples, and one .npy sample
    let xs = samples();
    let x_json = d.join("x.json");
    std::fs::write(&x_json, serde_json::to_string(&xs).unwrap()).unwrap();
    let x_ct = d.join("x.ct");
    let enc = json(&ok(&[
        "encrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&x_json),
        "--out",
        p(&x_ct),
        "--json",
    ]));
    assert_eq!(enc["samples"], 3);
    let x_npy = d.join("x.npy");
    std::fs::write(&x_npy, npy(&[6, 2], &xs[0])).unwrap();
    let x1_ct = d.join("x1.ct");
    ok(&[
        "encrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&x_npy),
        "--out",
        p(&x1_ct),
    ]);

    // eval (server): only the public bundle, copied somewhere else
    let server = d.join("server");
    std::fs::create_dir_all(server.join("public")).unwrap();
    std::fs::copy(
        keys.join("public/keys.fhez"),
        server.join("public/keys.fhez"),
    )
    .unwrap();
    std::fs::copy(&model_path, server.join("model.json")).unwrap();
    let y_ct = d.join("y.ct");
    let ev = json(&ok(&[
        "eval",
        "--model",
        p(&server.join("model.json")),
        "--keys",
        p(&server.join("public")),
        "--input",
        p(&x_ct),
        "--out",
        p(&y_ct),
        "--json",
    ]));
    assert!(!server.join("secret.key").exists());
    assert_eq!(ev["reply_cts"], 1);
    let y1_ct = d.join("y1.ct");
    ok(&[
        "eval",
        "--model",
        p(&model_path),
        "--keys",
        p(&server.join("public/keys.fhez")),
        "--input",
        p(&x1_ct),
        "--out",
        p(&y1_ct),
    ]);

    // decrypt (client) equals the plaintext graph
    let graph = file.graph().unwrap();
    let dec = json(&ok(&["decrypt", "--keys", p(&keys), "--input", p(&y_ct)]));
    let got = dec["outputs"][0]["samples"].as_array().unwrap();
    assert_eq!(got.len(), 3);
    for (x, g) in xs.iter().zip(got) {
        let want = graph
            .infer(&[("x", Tensor::new(vec![6, 2], x.clone()).unwrap())])
            .unwrap()["y_hat"]
            .item();
        let v = g["values"][0].as_f64().unwrap();
        assert!((v - want).abs() < 1e-3, "{v} vs {want}");
        let pred = g["prediction"][0].as_f64().unwrap();
        assert!((pred - (want * 2.0 + 1.0)).abs() < 1e-2);
    }
    let dec1 = json(&ok(&["decrypt", "--keys", p(&keys), "--input", p(&y1_ct)]));
    let v1 = dec1["outputs"][0]["samples"][0]["values"][0]
        .as_f64()
        .unwrap();
    let v0 = got[0]["values"][0].as_f64().unwrap();
    assert!((v1 - v0).abs() < 1e-3, "npy {v1} vs json {v0}");
    // Values are decrypted for release: flooded and rounded to the bits the plan promises
    // after flooding (20 requested: the scale is capped, 12 hold at N = 2^14), unless
    // --exact-decrypt is given (with a warning); the exact values carry noise below that
    // (so almost surely off the grid), and the release is within one step of them (six
    // flooding deviations and the rounding, each at most half a step).
    let bits = u32::try_from(dec["precision_bits"].as_u64().unwrap()).unwrap();
    assert_eq!(plan["plan"]["release"]["precision_bits"], bits);
    assert!((8..20).contains(&bits), "{bits}");
    let step = f64::from(bits).exp2();
    let exact_args = [
        "decrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&y_ct),
        "--exact-decrypt",
    ];
    let full = json(&ok(&exact_args));
    let warned = fhez(&exact_args);
    assert!(
        String::from_utf8_lossy(&warned.stderr).contains("warning: --exact-decrypt"),
        "no warning"
    );
    assert!(full["precision_bits"].is_null());
    let mut off_grid = 0;
    for (r, f) in got
        .iter()
        .zip(full["outputs"][0]["samples"].as_array().unwrap())
    {
        let (r, f) = (
            r["values"][0].as_f64().unwrap(),
            f["values"][0].as_f64().unwrap(),
        );
        assert_eq!((r * step).fract(), 0.0, "{r} not a multiple of 2^-{bits}");
        assert!((r - f).abs() <= 1.0 / step, "{r} vs {f}");
        off_grid += usize::from((f * step).fract() != 0.0);
    }
    assert!(off_grid > 0, "the exact values are all on the grid");

    // A server probing the client: four times the reply bound added to the imaginary part
    // of a slot. `fhez decrypt` refuses it (one error line, exit 1); --exact-decrypt does not
    // check.
    let probed = d.join("y-probed.ct");
    std::fs::write(&probed, probe_reply(&keys, &y_ct)).unwrap();
    let err = fails(&["decrypt", "--keys", p(&keys), "--input", p(&probed)]);
    assert!(err.contains("reply rejected"), "{err}");
    ok(&[
        "decrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&probed),
        "--exact-decrypt",
    ]);

    // inspect every kind
    let client = fhez_model::bundle::load_client_keys(&keys).unwrap();
    let er = Erray::encrypt(
        &client,
        &PlainArray::new(vec![4], vec![1.0, 2.0, 3.0, 4.0]).unwrap(),
        Packing::Flat,
    )
    .unwrap();
    let er_path = d.join("x.erray");
    std::fs::write(&er_path, er.to_bytes().unwrap()).unwrap();
    let ct_path = d.join("one.ct");
    let one = client.encrypt_seeded(&[1.0]).unwrap();
    std::fs::write(
        &ct_path,
        fhez_ckks::wire::seeded_ciphertext_to_bytes(&one).unwrap(),
    )
    .unwrap();
    for (path, kind) in [
        (model_path.clone(), "model"),
        (keys.join("public/keys.fhez"), "public key bundle"),
        (x_ct.clone(), "ciphertext message"),
        (y_ct.clone(), "ciphertext message"),
        (er_path, "erray"),
        (ct_path, "seeded ciphertext"),
    ] {
        let v = json(&ok(&["inspect", p(&path), "--json"]));
        assert_eq!(v["kind"], kind, "{}", path.display());
        ok(&["inspect", p(&path)]);
    }
    let y = json(&ok(&["inspect", p(&y_ct), "--json"]));
    assert_eq!(y["entries"][0]["levels"][0], 0);
    // The secret key: kind, parameter set and size, no key bytes.
    let secret = std::fs::read(keys.join("secret.key")).unwrap();
    let sk_out = ok(&["inspect", p(&keys.join("secret.key")), "--json"]);
    let sk = json(&sk_out);
    assert_eq!(sk["kind"], "secret key");
    assert_eq!(sk["bytes"], secret.len());
    let payload: String = secret[48..64].iter().map(|b| format!("{b:02x}")).collect();
    let human = ok(&["inspect", p(&keys.join("secret.key"))]);
    for out in [&sk_out, &human] {
        assert!(!out.contains(&payload), "{out}");
        assert!(out.len() < 1000, "{out}");
    }
    // Six envelope fields and the release policy the key directory records.
    assert_eq!(sk.as_object().unwrap().len(), 7, "{sk_out}");
    assert!(sk["release"]["decryptions"] == "shared", "{sk_out}");

    // errors: one line, exit code 1, no panic
    let missing = d.join("missing.ct");
    fails(&["inspect", p(&missing)]);
    fails(&[
        "eval",
        "--model",
        p(&model_path),
        "--keys",
        p(&server.join("public")),
        "--input",
        p(&missing),
        "--out",
        p(&d.join("z.ct")),
    ]);
    fails(&[
        "decrypt",
        "--keys",
        p(&d.join("nokeys")),
        "--input",
        p(&y_ct),
    ]);
    let bytes = std::fs::read(&x_ct).unwrap();
    let cut = d.join("cut.ct");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = fails(&[
        "eval",
        "--model",
        p(&model_path),
        "--keys",
        p(&server.join("public")),
        "--input",
        p(&cut),
        "--out",
        p(&d.join("z.ct")),
    ]);
    assert!(e.contains("cut.ct"), "{e}");
    fails(&["inspect", p(&cut)]);
    fails(&["decrypt", "--keys", p(&keys), "--input", p(&cut)]);
    std::fs::write(d.join("junk.json"), "{\"format\": \"fhez-model\"").unwrap();
    fails(&["inspect", p(&d.join("junk.json"))]);
    fails(&["plan", p(&d.join("junk.json"))]);
    // a model planned differently than the keys (8 bits: a smaller scale than the capped 20)
    let other = d.join("other.json");
    model(8).save(&other).unwrap();
    let e = fails(&[
        "eval",
        "--model",
        p(&other),
        "--keys",
        p(&server.join("public")),
        "--input",
        p(&x_ct),
        "--out",
        p(&d.join("z.ct")),
    ]);
    assert!(e.contains("parameter set"), "{e}");
    // too many samples, wrong sample size
    let five: Vec<Vec<f64>> = (0..5).map(|_| vec![0.5; 12]).collect();
    std::fs::write(d.join("five.json"), serde_json::to_string(&five).unwrap()).unwrap();
    let e = fails(&[
        "encrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&d.join("five.json")),
        "--out",
        p(&d.join("z.ct")),
    ]);
    assert!(e.contains("planned batch"), "{e}");
    std::fs::write(d.join("odd.json"), "[1, 2, 3]").unwrap();
    fails(&[
        "encrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&d.join("odd.json")),
        "--out",
        p(&d.join("z.ct")),
    ]);
    fails(&["params", "show", "NOPE"]);
    // usage errors: one line too, exit code 2
    for args in [
        vec!["demo", "--bogus"],
        vec!["encrypt", "--keys", "k"],
        vec!["demo", "--images", "x"],
    ] {
        let out = fhez(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
    }
}

#[test]
fn train_a_small_classifier_when_digits_are_present() {
    if !fhez_data::data_dir().join("sklearn").is_dir() {
        eprintln!("skipped: no data/sklearn (scripts/fetch-datasets.sh sklearn)");
        return;
    }
    let d = dir("train");
    let out = d.join("digits.json");
    let summary = json(&ok(&[
        "train",
        "--model",
        "cnn-classifier",
        "--data",
        "digits",
        "--epochs",
        "2",
        "--lr",
        "0.03",
        "--batch",
        "16",
        "--test-limit",
        "100",
        "--plan-batch",
        "128",
        "--out",
        p(&out),
        "--json",
    ]));
    assert_eq!(summary["history"].as_array().unwrap().len(), 2);
    let acc = summary["metrics"]["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.5, "{acc}");
    for f in [
        "digits.json",
        "digits-curves.png",
        "digits-confusion.png",
        "digits-graph.html",
    ] {
        let bytes = std::fs::read(d.join(f)).unwrap();
        assert!(bytes.len() > 1000, "{f}");
    }
    assert!(
        std::fs::read(d.join("digits-curves.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );
    let view = std::fs::read_to_string(d.join("digits-graph.html")).unwrap();
    assert!(view.starts_with("<!DOCTYPE html>") && view.contains("key switches"));
    let plan = json(&ok(&["plan", p(&out), "--json"]));
    assert_eq!(plan["plan"]["depth"], 4);
    // the test images of the model's data set, encrypted, evaluated and decrypted
    let keys = d.join("keys");
    ok(&["keygen", "--model", p(&out), "--out", p(&keys)]);
    let x = d.join("x.ct");
    ok(&[
        "encrypt",
        "--keys",
        p(&keys),
        "--image",
        "0",
        "--count",
        "4",
        "--out",
        p(&x),
    ]);
    let y = d.join("y.ct");
    ok(&[
        "eval",
        "--model",
        p(&out),
        "--keys",
        p(&keys.join("public")),
        "--input",
        p(&x),
        "--out",
        p(&y),
    ]);
    let dec = json(&ok(&["decrypt", "--keys", p(&keys), "--input", p(&y)]));
    let s = dec["outputs"][0]["samples"].as_array().unwrap();
    assert_eq!(s.len(), 4);
    assert!(s[0]["class"].as_u64().unwrap() < 10);
    // the demo on this model: server from the public bundle bytes, encrypted = plaintext
    let demo = json(&ok(&[
        "demo",
        "--model",
        p(&out),
        "--images",
        "40",
        "--json",
    ]));
    assert_eq!(demo["images"], 40);
    assert_eq!(demo["agreement"], 40);
    assert_eq!(demo["encrypted_accuracy"], demo["plain_accuracy"]);
    assert!(demo["max_abs_logit_diff"].as_f64().unwrap() < 1e-2);
    // the demo in single-input packing: one image per ciphertext, one request per image
    let single = json(&ok(&[
        "demo",
        "--model",
        p(&out),
        "--packing",
        "single",
        "--images",
        "2",
        "--json",
    ]));
    assert_eq!(single["packing"], "single");
    assert_eq!(single["batches"], 2);
    assert_eq!(single["agreement"], 2);
    assert!(single["max_abs_logit_diff"].as_f64().unwrap() < 1e-2);
    let per_request = |v: &Value| v["bytes"]["request_per_batch"].as_u64().unwrap();
    assert!(
        per_request(&single) * 10 < per_request(&demo),
        "{} vs {}",
        per_request(&single),
        per_request(&demo)
    );
    // training the saved model further
    let out2 = d.join("digits2.json");
    ok(&[
        "train",
        "--model",
        p(&out),
        "--data",
        "digits",
        "--epochs",
        "1",
        "--limit",
        "100",
        "--test-limit",
        "50",
        "--out",
        p(&out2),
        "--no-plots",
    ]);
    let m = ModelFile::load(&out2).unwrap();
    // plots without any font: drawn without text
    let out3 = d.join("nofont.json");
    let run = Command::new(BIN)
        .env("FHEZ_FONT", "none")
        .args([
            "train",
            "--data",
            "digits",
            "--epochs",
            "1",
            "--limit",
            "200",
            "--test-limit",
            "50",
            "--out",
            p(&out3),
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for f in ["nofont-curves.png", "nofont-confusion.png"] {
        assert!(
            std::fs::read(d.join(f)).unwrap().starts_with(b"\x89PNG"),
            "{f}"
        );
    }
    assert_eq!(m.metrics["epochs"], 3.0);
    fails(&[
        "train",
        "--model",
        "cnn-regressor",
        "--data",
        "digits",
        "--out",
        p(&out2),
    ]);
    fails(&[
        "train",
        "--model",
        "nope",
        "--data",
        "digits",
        "--out",
        p(&out2),
    ]);
}

/// Issue 12, finding 5: the hostile model files committed under `crates/fhez/tests/fixtures`
/// (an input of 100,000 × 100,000; an `Enqueue` of 10^9 ports) made `plan` and `keygen`
/// abort on a failed allocation; both now print one `error:` line naming the limit and exit 1.
#[test]
fn hostile_model_files_get_one_error_line() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fhez/tests/fixtures");
    let d = dir("hostile");
    for (file, what) in [
        (
            "hostile-input-1e5x1e5.json",
            "tensor elements of 10000000000",
        ),
        (
            "hostile-enqueue-1e9.json",
            "graph input ports of 1000000001",
        ),
    ] {
        let model = fixtures.join(file);
        let e = fails(&["plan", p(&model)]);
        assert!(e.contains(what) && e.contains("exceeds the limit"), "{e}");
        let keys = d.join(file);
        let e = fails(&["keygen", "--model", p(&model), "--out", p(&keys)]);
        assert!(e.contains(what), "{e}");
        assert!(!keys.exists(), "keygen created {}", keys.display());
    }
}

#[test]
fn insecure_keys_are_refused_by_every_command_that_reads_them() {
    use fhez_ckks::{CkksClient, CkksParams, CkksParamsSpec};
    use fhez_model::bundle::save_client_keys;
    // DISCLAIMER: a toy set that opts out of the security check, which is what is tested.
    let spec = CkksParamsSpec::new(10)
        .with_log_q(&[50, 40])
        .with_log_p(&[50])
        .with_log_scale(40)
        .insecure_for_testing();
    let params = CkksParams::new(&spec).unwrap();
    let d = dir("insecure");
    let keys = d.join("keys");
    save_client_keys(&keys, &CkksClient::generate(&params, &[]).unwrap()).unwrap();
    let model_path = d.join("model.json");
    std::fs::write(&model_path, model(20).to_json().unwrap()).unwrap();
    let missing = d.join("absent.fhez");
    let out = d.join("out.fhez");
    let refused = "opt out of the security check";
    // The client side (secret key and bundle) and the server side (public bundle only).
    let err = fails(&["decrypt", "--keys", p(&keys), "--input", p(&missing)]);
    assert!(err.contains(refused), "{err}");
    let err = fails(&[
        "eval",
        "--model",
        p(&model_path),
        "--keys",
        p(&keys.join("public")),
        "--input",
        p(&missing),
        "--out",
        p(&out),
    ]);
    assert!(err.contains(refused), "{err}");
}

#[test]
fn plan_under_the_2024_guideline_values() {
    use fhez_ckks::params::{max_log_qp_128, max_log_qp_128_2024};
    let d = dir("standard");
    let path = d.join("model.json");
    std::fs::write(&path, model(14).to_json().unwrap()).unwrap();
    let bits = |v: &Value, k: &str| u32::try_from(v["params"][k].as_u64().unwrap()).unwrap();
    let old = json(&ok(&["plan", p(&path), "--json"]));
    assert_eq!(old["params"]["security"], "Tc128");
    let log_n = bits(&old, "log_n");
    assert!(old["plan"]["log_qp"].as_u64().unwrap() <= u64::from(max_log_qp_128(log_n).unwrap()));
    assert_eq!(
        old,
        json(&ok(&["plan", p(&path), "--json", "--standard", "2018"]))
    );
    let new = json(&ok(&["plan", p(&path), "--json", "--standard", "2024"]));
    assert_eq!(new["params"]["security"], "Tc128Guideline2024");
    assert_eq!(new["request"]["standard"], "2024");
    let log_n = bits(&new, "log_n");
    let bound = f64::from(max_log_qp_128_2024(log_n).unwrap());
    assert!(new["params"]["log_qp"].as_f64().unwrap() <= bound);
    assert!(new["plan"]["log_qp"].as_f64().unwrap() <= bound);
    let text = ok(&["plan", p(&path), "--standard", "2024"]);
    assert!(text.contains("2024 security table"), "{text}");
    assert!(
        fhez(&["plan", p(&path), "--standard", "2030"])
            .status
            .code()
            != Some(0)
    );
}

/// `--packing single`: keygen records the plan, encrypt writes one seeded ciphertext per
/// sample (a batch-in-slots message of the same sample holds one ciphertext per input
/// element), eval and decrypt take the packing from the message and the key directory and
/// agree with the plaintext graph; every packing mismatch between `--packing`, the keys and
/// a message is one error line naming both packings.
#[test]
fn single_input_flow_and_packing_mismatches() {
    let d = dir("single");
    let file = single_model();
    let model_path = d.join("model.json");
    file.save(&model_path).unwrap();
    let plan = json(&ok(&[
        "plan",
        p(&model_path),
        "--packing",
        "single",
        "--json",
    ]));
    assert_eq!(plan["plan"]["packing"], "single-input");
    assert_eq!(plan["sizes"]["request_cts"], 1);

    let keys = d.join("keys");
    let kg = json(&ok(&[
        "keygen",
        "--model",
        p(&model_path),
        "--out",
        p(&keys),
        "--packing",
        "single",
        "--json",
    ]));
    assert_eq!(kg["packing"], "single");
    assert!(keys.join("plan.json").is_file());
    let batch_keys = d.join("batch-keys");
    ok(&["keygen", "--model", p(&model_path), "--out", p(&batch_keys)]);

    let xs: Vec<Vec<f64>> = (0..3)
        .map(|s| {
            (0..36)
                .map(|k| ((s * 36 + k) % 11) as f64 / 10.0 - 0.5)
                .collect()
        })
        .collect();
    let x_json = d.join("x.json");
    std::fs::write(&x_json, serde_json::to_string(&xs[..1]).unwrap()).unwrap();
    let x_ct = d.join("x.ct");
    let enc = json(&ok(&[
        "encrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&x_json),
        "--out",
        p(&x_ct),
        "--json",
    ]));
    assert_eq!(enc["packing"], "single");
    let xb_ct = d.join("xb.ct");
    let enc_b = json(&ok(&[
        "encrypt",
        "--keys",
        p(&batch_keys),
        "--input",
        p(&x_json),
        "--out",
        p(&xb_ct),
        "--json",
    ]));
    assert_eq!(enc_b["packing"], "batch");
    // one ciphertext against one per input element (36)
    let inspect = json(&ok(&["inspect", p(&x_ct), "--json"]));
    assert_eq!(inspect["entries"][0]["ciphertexts"], 1, "{inspect}");
    let packing = inspect["entries"][0]["packing"].as_str().unwrap();
    assert!(packing.starts_with("single-input (period "), "{inspect}");
    let inspect_b = json(&ok(&["inspect", p(&xb_ct), "--json"]));
    assert_eq!(inspect_b["entries"][0]["ciphertexts"], 36, "{inspect_b}");

    let y_ct = d.join("y.ct");
    let ev = json(&ok(&[
        "eval",
        "--model",
        p(&model_path),
        "--keys",
        p(&keys.join("public")),
        "--input",
        p(&x_ct),
        "--out",
        p(&y_ct),
        "--json",
    ]));
    assert_eq!(ev["packing"], "single");
    assert_eq!(ev["reply_cts"], 1);
    let dec = json(&ok(&["decrypt", "--keys", p(&keys), "--input", p(&y_ct)]));
    assert_eq!(dec["packing"], "single");
    let want = file
        .graph()
        .unwrap()
        .infer(&[("x", Tensor::new(vec![6, 6], xs[0].clone()).unwrap())])
        .unwrap()["Decrypt"]
        .data()
        .to_vec();
    let got = dec["outputs"][0]["samples"][0]["values"]
        .as_array()
        .unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        let g = g.as_f64().unwrap();
        assert!((g - w).abs() < 1e-3, "{g} vs {w}");
    }

    // mismatches
    let e = fails(&[
        "encrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&x_json),
        "--out",
        p(&d.join("z.ct")),
        "--packing",
        "batch",
    ]);
    assert!(
        e.contains("packing mismatch")
            && e.contains("--packing batch")
            && e.contains("--packing single"),
        "{e}"
    );
    let e = fails(&[
        "eval",
        "--model",
        p(&model_path),
        "--keys",
        p(&keys.join("public")),
        "--input",
        p(&x_ct),
        "--out",
        p(&d.join("z.ct")),
        "--packing",
        "batch",
    ]);
    assert!(
        e.contains("packing mismatch") && e.contains("single-input (period"),
        "{e}"
    );
    let e = fails(&[
        "eval",
        "--model",
        p(&model_path),
        "--keys",
        p(&batch_keys.join("public")),
        "--input",
        p(&x_ct),
        "--out",
        p(&d.join("z.ct")),
    ]);
    assert!(
        e.contains("--packing single")
            && (e.contains("N = 2^")
                || e.contains("rotation steps [")
                || e.contains("another parameter set")),
        "{e}"
    );
    let e = fails(&[
        "decrypt",
        "--keys",
        p(&batch_keys),
        "--input",
        p(&y_ct),
        "--packing",
        "batch",
    ]);
    assert!(
        (e.contains("packing mismatch") && e.contains("single-input (period"))
            || (e.contains("another parameter set") && e.contains("--packing single")),
        "{e}"
    );
    let three = d.join("three.json");
    std::fs::write(&three, serde_json::to_string(&xs).unwrap()).unwrap();
    let e = fails(&[
        "encrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&three),
        "--out",
        p(&d.join("z.ct")),
    ]);
    assert!(
        e.contains("3 samples exceed the model's planned batch of 1"),
        "{e}"
    );
}

/// `--key-budget K`: `plan` prints at most K Galois keys and the steps composed from them,
/// `keygen` generates exactly those, `eval` with the same budget agrees with the plaintext
/// graph, and `eval` without it (exact keys) is refused for the missing steps.
#[test]
fn single_input_key_budget_flow() {
    let d = dir("key-budget");
    let file = single_model();
    let model_path = d.join("model.json");
    file.save(&model_path).unwrap();
    let exact = json(&ok(&[
        "plan",
        p(&model_path),
        "--packing",
        "single",
        "--json",
    ]));
    let all = exact["plan"]["rotation_steps"].as_array().unwrap().len();
    assert!(all > 2, "{exact}");
    let args = ["--packing", "single", "--key-budget", "2"];
    let plan = json(&ok(
        &[&["plan", p(&model_path), "--json"][..], &args].concat()
    ));
    assert_eq!(plan["plan"]["key_budget"], 2);
    let keys_n = plan["plan"]["rotation_steps"].as_array().unwrap().len();
    assert!(keys_n <= 2, "{plan}");
    assert!(
        !plan["plan"]["rotation_compose"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    let human = ok(&[&["plan", p(&model_path)][..], &args].concat());
    assert!(
        human.contains(&format!("Galois keys: {keys_n} (")),
        "{human}"
    );
    assert!(human.contains("key budget 2"), "{human}");

    let keys = d.join("keys");
    let kg = json(&ok(&[
        &[
            "keygen",
            "--model",
            p(&model_path),
            "--out",
            p(&keys),
            "--json",
        ][..],
        &args,
    ]
    .concat()));
    assert_eq!(kg["rotation_steps"], plan["plan"]["rotation_steps"]);
    let x: Vec<f64> = (0..36).map(|k| (k % 11) as f64 / 10.0 - 0.5).collect();
    let x_json = d.join("x.json");
    std::fs::write(&x_json, serde_json::to_string(&[&x]).unwrap()).unwrap();
    let x_ct = d.join("x.ct");
    ok(&[
        "encrypt",
        "--keys",
        p(&keys),
        "--input",
        p(&x_json),
        "--out",
        p(&x_ct),
    ]);
    let y_ct = d.join("y.ct");
    let public = keys.join("public");
    let eval = [
        "eval",
        "--model",
        p(&model_path),
        "--keys",
        p(&public),
        "--input",
        p(&x_ct),
    ];
    let e = fails(&[&eval[..], &["--out", p(&y_ct)]].concat());
    assert!(e.contains("rotation") || e.contains("Galois"), "{e}");
    ok(&[&eval[..], &["--out", p(&y_ct), "--key-budget", "2"]].concat());
    let dec = json(&ok(&["decrypt", "--keys", p(&keys), "--input", p(&y_ct)]));
    let want = file
        .graph()
        .unwrap()
        .infer(&[("x", Tensor::new(vec![6, 6], x).unwrap())])
        .unwrap()["Decrypt"]
        .data()
        .to_vec();
    let got = dec["outputs"][0]["samples"][0]["values"]
        .as_array()
        .unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        let g = g.as_f64().unwrap();
        assert!((g - w).abs() < 1e-3, "{g} vs {w}");
    }
}
