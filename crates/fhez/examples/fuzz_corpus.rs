//! Writes the fuzzing seed corpus (`fuzz/seeds/<target>/`, see `docs/FUZZING.md`): valid
//! objects of the tiny insecure-for-testing parameter set (`Preset::TinyInsecure`, N = 2^10)
//! for every fuzz target, each followed by a few truncations. All randomness comes from a
//! fixed ChaCha20 seed, so the files only change when a format does.
//!
//! ```sh
//! cargo run --release -p fhez --example fuzz_corpus [-- OUT_DIR]   # default fuzz/seeds
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use fhez::bundle::public_bundle_to_bytes;
use fhez::ckks::{CkksClient, CkksParams, Encoder, Preset, ServerKeys, wire};
use fhez::data::npy;
use fhez::erray::{Erray, Packing, PlainArray};
use fhez::nn::{PlanRequest, prefab};
use fhez::{CtBatch, CtEntry, ModelFile, Task};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Writes `bytes` as `dir/name`, then its truncations to the envelope's size (48 bytes),
/// one byte less, half, and one byte short of the whole.
fn seed(dir: &Path, name: &str, bytes: &[u8]) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = 0;
    let mut put = |file: String, b: &[u8]| -> Result<()> {
        let path = dir.join(file);
        std::fs::write(&path, b).with_context(|| format!("writing {}", path.display()))?;
        written += b.len();
        Ok(())
    };
    put(name.to_owned(), bytes)?;
    for cut in [47, 48, bytes.len() / 2, bytes.len().saturating_sub(1)] {
        if let Some(prefix) = bytes.get(..cut).filter(|_| cut < bytes.len()) {
            put(format!("{name}.cut{cut}"), prefix)?;
        }
    }
    Ok(written)
}

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("fuzz/seeds"), PathBuf::from);
    let mut rng = ChaCha20Rng::seed_from_u64(0x5EED);
    let params: Arc<CkksParams> = CkksParams::new(&Preset::TinyInsecure.spec())?;
    let client = CkksClient::generate_with_rng(&params, &[1], &mut rng)?;
    let sk = client.secret_key();
    let keys: Arc<ServerKeys> = client.server_keys();
    let mut total = 0;
    let mut put = |target: &str, name: &str, bytes: &[u8]| -> Result<()> {
        total += seed(&out.join(target), name, bytes)?;
        Ok(())
    };

    // Each wire object kind.
    put("wire_params", "tiny", &wire::params_to_bytes(&params)?)?;
    let values: Vec<f64> = (0..8).map(|k| f64::from(k) / 8.0 - 0.5).collect();
    let encoder = Encoder::new(&params);
    for level in [0, 1] {
        let pt = encoder.encode(&values, params.default_scale(), level)?;
        put(
            "wire_plaintext",
            &format!("level{level}"),
            &wire::plaintext_to_bytes(&pt)?,
        )?;
        let ct = sk.encrypt(&pt, &mut rng)?;
        put(
            "wire_ciphertext",
            &format!("level{level}"),
            &wire::ciphertext_to_bytes(&ct)?,
        )?;
        let seeded = sk.encrypt_seeded(&pt, &mut rng)?;
        put(
            "wire_seeded_ciphertext",
            &format!("level{level}"),
            &wire::seeded_ciphertext_to_bytes(&seeded)?,
        )?;
    }
    put(
        "wire_public_key",
        "pk",
        &wire::public_key_to_bytes(keys.public_key())?,
    )?;
    put(
        "wire_relin_key",
        "rk",
        &wire::relin_key_to_bytes(keys.relin_key())?,
    )?;
    put(
        "wire_galois_keys",
        "rot1",
        &wire::galois_keys_to_bytes(keys.galois_keys())?,
    )?;
    put("wire_secret_key", "sk", &sk.to_secret_bytes())?;

    // A key bundle (what a client registers).
    put("public_bundle", "bundle", &public_bundle_to_bytes(&keys)?)?;

    // Ciphertext messages: a client's seeded request, full ciphertexts batch-in-slots and flat.
    let x = PlainArray::from_fn(vec![3, 2], |k| (k as f64) / 10.0)?;
    put(
        "ct_message",
        "seeded",
        &CtBatch::encrypt_seeded_bytes(&client, &[("x", x.clone())])?,
    )?;
    for (name, packing) in [
        ("batched", Packing::BatchInSlots { batch: 3 }),
        ("flat", Packing::Flat),
    ] {
        let e = Erray::encrypt(&client, &x, packing)?;
        let batch = CtBatch {
            entries: vec![CtEntry {
                name: "x".to_owned(),
                shape: x.shape().to_vec(),
                packing,
                cts: e.cts().to_vec(),
            }],
        };
        put("ct_message", name, &batch.to_bytes()?)?;
        // Arrays (fhez-erray wire) of the same ciphertexts.
        put("erray", name, &e.to_bytes()?)?;
    }

    // Model files: a small valid one and the two hostile fixtures of issue 12.
    let graph = prefab::cnn_regressor((6, 2), 3, 3, 7)?;
    let request = PlanRequest {
        release: fhez::nn::ReleaseChoice::Shared,
        batch: 4,
        precision_bits: 20,
        magnitude_bits: 20,
        standard: fhez::nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let task = Task::Regressor {
        scale: 1.0,
        offset: 0.0,
    };
    let model = ModelFile::new("toy", &graph, &["x"], "Decrypt", task, request)?;
    put("model_file", "toy.json", model.to_json()?.as_bytes())?;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for name in ["hostile-input-1e5x1e5.json", "hostile-enqueue-1e9.json"] {
        let bytes = std::fs::read(fixtures.join(name))
            .with_context(|| format!("reading fixture {name}"))?;
        put("model_file", name, &bytes)?;
    }

    // A single-input plan of a two-filter bank (its input layout carries the im2col
    // gather), and the same plan with a gather index beyond the input.
    let bank = {
        use fhez::nn::nodes::{CrossCorrelationConfig, Decrypt, Enqueue, Input};
        let mut rng = ChaCha20Rng::seed_from_u64(16);
        let mut g = fhez::nn::GraphBuilder::new();
        let x = g.add("x", Input::new(&[6, 6]))?;
        let stack = g.add("stack", Enqueue { length: 2 })?;
        for f in 0..2 {
            let cc = CrossCorrelationConfig {
                kernel: vec![3, 3],
                stride: vec![1, 1],
            }
            .init(&mut rng);
            let id = g.add(&format!("cc{f}"), cc)?;
            g.chain(&[x, id])?;
            g.connect_ports(id, 0, stack, f)?;
        }
        let dec = g.add("Decrypt", Decrypt {})?;
        g.chain(&[stack, dec])?;
        g.build()?
    };
    let single = fhez::nn::plan_single_input(&bank, &request)?;
    put("plan", "single-input.json", &serde_json::to_vec(&single)?)?;
    let mut hostile = serde_json::to_value(&single)?;
    if let Some(layouts) = hostile.get_mut("layouts").and_then(|l| l.as_array_mut()) {
        for l in layouts {
            l["gather"] = serde_json::json!({"source_len": 4, "period": 4, "slots": [0, 9]});
        }
    }
    put(
        "plan",
        "hostile-gather.json",
        &serde_json::to_vec(&hostile)?,
    )?;

    // .npy arrays: f8, and the same header as u1 with a one-byte-per-element body.
    let f8 = npy::write_f64(&[2, 3], &[1.0, -2.0, 3.5, 4.0, 0.0, 255.0])?;
    put("npy", "f8.npy", &f8)?;
    let header_end = f8.len() - 6 * 8;
    let mut u1 = String::from_utf8_lossy(f8.get(..header_end).unwrap_or(&[]))
        .replace("'<f8'", "'|u1'")
        .into_bytes();
    u1.extend_from_slice(&[1, 2, 3, 4, 5, 255]);
    put("npy", "u1.npy", &u1)?;

    // ONNX models: importer fixtures (crates/fhez-onnx/tests/fixtures, made by
    // examples/onnx/make_fixtures.py) covering each folding path and one refused operator.
    let onnx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fhez-onnx/tests/fixtures");
    for name in [
        "cnn_small",
        "conv_batchnorm",
        "transpose_reorder_gemm",
        "gemm_silu",
        "avgpool_k3_s1_p1_exclude_pad",
        "maxpool",
        "reshape_const",
    ] {
        let file = format!("{name}.onnx");
        let bytes =
            std::fs::read(onnx.join(&file)).with_context(|| format!("reading fixture {file}"))?;
        put("onnx_import", &file, &bytes)?;
    }

    println!("wrote {total} bytes of seeds under {}", out.display());
    Ok(())
}
