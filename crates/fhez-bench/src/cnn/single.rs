//! Single-input packing (one image per ciphertext) through the public model API:
//! `EncryptedModel::with_packing(.., PackingChoice::SingleInput)` on the graph of
//! [`super::graph`], the same plan → keygen → encrypt (seeded message) → evaluate (a
//! `CkksServer`, public keys only) → decrypt calls as batch mode.

use std::time::Instant;

use anyhow::{Context, Result};
use fhez_backend::Backend;
use fhez_ckks::{CkksParams, CkksServer};
use fhez_erray::PlainArray;
use fhez_model::{CtBatch, EncryptedModel};
use fhez_nn::{PackingChoice, PlanRequest};
use serde_json::{Value, json};

use super::graph::tutorial_graph;
use super::peer_port::Model;
use super::report::{cpu_s, ms, summary_ms};
use super::{SIDE, argmax};

/// Runs the first `n` test images one at a time (one thread), returning accuracy,
/// agreement with the plaintext forward, the per-image latency split, key switches and key
/// and message sizes.
///
/// # Errors
/// Planning, key generation, encryption, evaluation and decryption errors.
pub fn single(
    model: &Model,
    imgs_te: &[&[f64]],
    yte: &[u8],
    pred_plain: &[usize],
    logits_te: &[Vec<f64>],
    n: usize,
) -> Result<Value> {
    let request = PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 1,
        precision_bits: 12,
        magnitude_bits: 5,
        standard: fhez_nn::SecurityStandard::default(),
    };
    let t_plan = Instant::now();
    let enc_model =
        EncryptedModel::with_packing(tutorial_graph(model)?, &request, PackingChoice::SingleInput)?;
    let plan_ms = ms(t_plan);
    let params = CkksParams::new(&enc_model.spec())?;
    let t_keys = Instant::now();
    let client = enc_model.keygen(&params)?;
    let keygen_ms = ms(t_keys);
    let keys = client.server_keys();
    let gk_bytes = fhez_ckks::wire::galois_keys_to_bytes(keys.galois_keys())?.len();
    let rk_bytes = fhez_ckks::wire::relin_key_to_bytes(keys.relin_key())?.len();
    let server = CkksServer::new(keys);
    let (mut t_enc, mut t_eval, mut t_dec) = (Vec::new(), Vec::new(), Vec::new());
    let (mut correct, mut agree, mut max_diff) = (0usize, 0usize, 0.0f64);
    let (mut key_switches, mut request_bytes) = (0, 0);
    let n = n.min(imgs_te.len());
    let cpu0 = cpu_s();
    for i in 0..n {
        let img = imgs_te.get(i).context("test image")?;
        let t = Instant::now();
        let x = PlainArray::new(vec![1, SIDE, SIDE], img.to_vec())?;
        let bytes = enc_model.encrypt_seeded_bytes(&client, &[("x", x)])?;
        t_enc.push(ms(t));
        request_bytes = bytes.len();
        let t = Instant::now();
        let before = server.stats();
        let sent = CtBatch::from_bytes(&server, &bytes, usize::MAX)?;
        let back = enc_model.evaluate_owned(&server, sent)?;
        key_switches = (server.stats() - before).key_switches;
        t_eval.push(ms(t));
        let t = Instant::now();
        let out = enc_model.decrypt(&client, &back)?;
        t_dec.push(ms(t));
        let logits = out
            .first()
            .context("no decrypted output")?
            .1
            .data()
            .to_vec();
        let pred = argmax(&logits);
        correct += usize::from(yte.get(i).is_some_and(|&y| usize::from(y) == pred));
        agree += usize::from(pred_plain.get(i) == Some(&pred));
        if let Some(want) = logits_te.get(i) {
            for (a, b) in logits.iter().zip(want) {
                max_diff = max_diff.max((a - b).abs());
            }
        }
    }
    let cpu_ms = (cpu_s() - cpu0) * 1e3 / n.max(1) as f64;
    let plan = enc_model.plan();
    Ok(json!({
        "engine": "fhez_model::EncryptedModel (single-input) on the graph x -> 4 x CC(7x7, stride 3) -> Enqueue -> Square -> Dense(256->64) -> Square -> Dense(64->10) -> Decrypt",
        "n_test": n,
        "threads": 1,
        "encrypted_accuracy": correct as f64 / n.max(1) as f64,
        "agreement_with_plain": agree as f64 / n.max(1) as f64,
        "max_abs_logit_diff": max_diff,
        "per_image_ms": {"client_encrypt": summary_ms(&t_enc), "server_eval": summary_ms(&t_eval),
                         "client_decrypt": summary_ms(&t_dec)},
        "cpu_ms_per_image_mean": cpu_ms,
        "server_key_switches": key_switches,
        "plan": {"log_n": plan.log_n, "log_q": plan.log_q, "log_p": plan.log_p,
                 "log_scale": plan.log_scale, "depth": plan.depth,
                 "rotation_steps": plan.rotation_steps.len(),
                 "input_gathered": plan.layouts.iter().any(|l| l.gather.is_some()),
                 "plan_ms": plan_ms, "keygen_ms": keygen_ms},
        "sizes_bytes": {"relin_key": rk_bytes, "galois_keys": gk_bytes, "request": request_bytes},
    }))
}
