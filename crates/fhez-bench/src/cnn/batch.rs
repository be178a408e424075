//! Batch mode (batch-in-slots: slot `i` = image `i`): 784 pixel ciphertexts, every layer a
//! set of integer linear combinations of ciphertexts, zero rotations.
//!
//! [`batch`] runs the bench network through the public model API
//! (`fhez_model::EncryptedModel` on the graph of [`super::graph`]); [`batch_private`] is the
//! bench-private pipeline on raw `Evaluator` calls it replaces, kept for the side-by-side
//! figures (`--mode batch-private`).
#![expect(
    clippy::indexing_slicing,
    reason = "bench code: every index is bounded by the fixed network shape"
)]

use std::time::Instant;

use anyhow::{Context, Result};
use fhez_backend::Backend;
use fhez_ckks::wire::{ciphertext_to_bytes, relin_key_to_bytes, seeded_ciphertext_to_bytes};
use fhez_ckks::{Ciphertext, CkksServer, Encoder, Evaluator, SecretKey};
use fhez_erray::PlainArray;
use fhez_model::{CtBatch, EncryptedModel};
use fhez_nn::PlanRequest;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rayon::prelude::*;
use serde_json::{Value, json};

use super::graph::{INPUT, LOGITS, tutorial_graph};
use super::peer_port::Model;
use super::report::{cpu_s, ms};
use super::{CH, HID, K, KK, NIN, NOUT, OUT_SIDE, SIDE, STRIDE, WIN, argmax, bench_params};

/// Batch mode on the bench-private pipeline (`Evaluator::dot_integer_many`, lazy
/// relinearization): one full batch of test images (cycled to fill the slots), `reps`
/// times; returns the report's `batch` object.
///
/// # Errors
/// Key generation, encryption, evaluation or decryption fails.
#[allow(clippy::too_many_lines, reason = "one linear benchmark script")]
pub fn batch_private(
    model: &Model,
    imgs_te: &[&[f64]],
    yte: &[u8],
    pred_plain: &[usize],
    logits_te: &[Vec<f64>],
    reps: usize,
) -> Result<Value> {
    let params = bench_params()?;
    let encoder = Encoder::new(&params);
    let eval = Evaluator::new(&params);
    let slots = params.slots();
    let top = params.max_level();
    let delta = params.default_scale();
    let q = |l: u32| params.q()[l as usize] as f64;
    let mut rng = ChaCha20Rng::seed_from_u64(0xba7c4);
    let sk = SecretKey::generate(&params, &mut rng)?;
    let rk = sk.relin_key(&mut rng)?;
    let rk_bytes = relin_key_to_bytes(&rk)?.len();
    let n_te = imgs_te.len();
    // slot s holds test image s mod n_te: a full batch of `slots` images
    let img = |s: usize| s % n_te;

    let mut runs = Vec::new();
    let mut last_pred = Vec::new();
    let mut last_err = 0.0f64;
    for _ in 0..reps.max(1) {
        // client: one ciphertext per im2col entry (window w, position p) is redundant;
        // send the 784 pixels once — each window reads its pixels from them.
        let a = Instant::now();
        let cpu_a = cpu_s();
        let seeded: Vec<fhez_ckks::SeededCiphertext> = (0..SIDE * SIDE)
            .into_par_iter()
            .map(|px| -> Result<fhez_ckks::SeededCiphertext> {
                let mut rng = ChaCha20Rng::seed_from_u64(px as u64 ^ 0x9e37_79b9);
                let vals: Vec<f64> = (0..slots).map(|s| imgs_te[img(s)][px]).collect();
                let pt = encoder.encode(&vals, delta, top)?;
                Ok(sk.encrypt_seeded(&pt, &mut rng)?)
            })
            .collect::<Result<_>>()?;
        let enc_ms = ms(a);
        let enc_cpu_ms = (cpu_s() - cpu_a) * 1e3;
        let in_bytes: usize = seeded
            .iter()
            .map(|c| seeded_ciphertext_to_bytes(c).map(|v| v.len()).unwrap_or(0))
            .sum();
        let b = Instant::now();
        let cpu_b = cpu_s();
        let pix: Vec<Ciphertext> = seeded
            .par_iter()
            .map(|c| -> Result<Ciphertext> { Ok(c.expand(&params)?) })
            .collect::<Result<_>>()?;
        let t_expand = ms(b);
        // conv: 256 outputs, each Σ_p w_cp · pixel(window w, p) at scale Δ·q_top, one rescale
        let qt = q(top);
        // One multi-output kernel call per window: the 4 channels share its 49 pixels.
        let per_window: Vec<Vec<Ciphertext>> = (0..WIN)
            .into_par_iter()
            .map(|w| -> Result<Vec<Ciphertext>> {
                let (i, j) = (w / OUT_SIDE, w % OUT_SIDE);
                let cts: Vec<&Ciphertext> = (0..KK)
                    .map(|p| &pix[(i * STRIDE + p / K) * SIDE + j * STRIDE + p % K])
                    .collect();
                let rows: Vec<Vec<i64>> = (0..CH)
                    .map(|c| {
                        (0..KK)
                            .map(|p| (model.wc[c * KK + p] * qt).round() as i64)
                            .collect()
                    })
                    .collect();
                let zs = eval.dot_integer_many(&cts, &rows, top, delta * qt)?;
                zs.iter()
                    .zip(&model.bc)
                    .map(|(z, &bc)| -> Result<Ciphertext> {
                        let z = eval.rescale(z)?;
                        let z = eval.add_scalar(&z, bc)?;
                        // x² left unrelinearized: FC1 is linear, so it relinearizes once
                        // per hidden unit (64) instead of once per input (256).
                        Ok(eval.rescale(&eval.mul(&z, &z)?)?)
                    })
                    .collect()
            })
            .collect::<Result<_>>()?;
        let conv: Vec<&Ciphertext> = (0..NIN).map(|o| &per_window[o % WIN][o / WIN]).collect();
        let t_conv = ms(b);
        let b1t = Instant::now();
        let s1 = conv[0].scale();
        let l1 = conv[0].level();
        let q1 = q(l1);
        const GROUP: usize = 16;
        let hid: Vec<Ciphertext> = (0..HID / GROUP)
            .into_par_iter()
            .map(|g| -> Result<Vec<Ciphertext>> {
                let rows: Vec<Vec<i64>> = (g * GROUP..(g + 1) * GROUP)
                    .map(|h| {
                        (0..NIN)
                            .map(|i| (model.w1[i * HID + h] * q1).round() as i64)
                            .collect()
                    })
                    .collect();
                let zs = eval.dot_integer_many(&conv, &rows, l1, s1 * q1)?;
                zs.iter()
                    .zip(&model.b1[g * GROUP..(g + 1) * GROUP])
                    .map(|(z, &b1)| -> Result<Ciphertext> {
                        let z = eval.relinearize(&eval.rescale(z)?, &rk)?;
                        let z = eval.add_scalar(&z, b1)?;
                        Ok(eval.rescale(&eval.mul(&z, &z)?)?)
                    })
                    .collect()
            })
            .collect::<Result<Vec<Vec<_>>>>()?
            .into_iter()
            .flatten()
            .collect();
        let t_fc1 = ms(b1t);
        let b2t = Instant::now();
        let s2 = hid[0].scale();
        let l2 = hid[0].level();
        let q2 = q(l2);
        let hid_refs: Vec<&Ciphertext> = hid.iter().collect();
        let rows: Vec<Vec<i64>> = (0..NOUT)
            .map(|o| {
                (0..HID)
                    .map(|h| (model.w2[h * NOUT + o] * q2).round() as i64)
                    .collect()
            })
            .collect();
        let zs = eval.dot_integer_many(&hid_refs, &rows, l2, s2 * q2)?;
        let outs: Vec<Ciphertext> = zs
            .par_iter()
            .zip(&model.b2)
            .map(|(z, &b2)| -> Result<Ciphertext> {
                let z = eval.relinearize(&eval.rescale(z)?, &rk)?;
                Ok(eval.add_scalar(&z, b2)?)
            })
            .collect::<Result<_>>()?;
        let t_fc2 = ms(b2t);
        let eval_ms = ms(b);
        let eval_cpu_ms = (cpu_s() - cpu_b) * 1e3;
        let out_bytes: usize = outs
            .iter()
            .map(|c| ciphertext_to_bytes(c).map(|v| v.len()).unwrap_or(0))
            .sum();
        let c = Instant::now();
        let dec: Vec<Vec<f64>> = outs
            .par_iter()
            .map(|ct| -> Result<Vec<f64>> { Ok(encoder.decode(&sk.decrypt(ct)?)?) })
            .collect::<Result<_>>()?;
        let dec_ms = ms(c);
        let mut pred = Vec::with_capacity(slots);
        let mut err = 0.0f64;
        for s in 0..slots {
            let l: Vec<f64> = (0..NOUT).map(|o| dec[o][s]).collect();
            for (a, b) in l.iter().zip(&logits_te[img(s)]) {
                err = err.max((a - b).abs());
            }
            pred.push(argmax(&l));
        }
        last_pred = pred;
        last_err = err;
        eprintln!(
            "[batch] {slots} images: encrypt {enc_ms:.0} ms, eval {eval_ms:.0} ms (expand {t_expand:.0}, conv+sq {:.0}, fc1+sq {t_fc1:.0}, fc2 {t_fc2:.0}), decrypt {dec_ms:.0} ms",
            t_conv - t_expand
        );
        eprintln!("[batch] cpu: encrypt {enc_cpu_ms:.0} ms, eval {eval_cpu_ms:.0} ms");
        runs.push(
            json!({"client_encode_encrypt_ms": enc_ms, "server_eval_ms": eval_ms,
            "client_encode_encrypt_cpu_ms": enc_cpu_ms, "server_eval_cpu_ms": eval_cpu_ms,
            "server_split_ms": {"expand_seeded_inputs": t_expand, "conv_square": t_conv - t_expand, "fc1_square": t_fc1, "fc2": t_fc2},
            "client_decrypt_decode_ms": dec_ms,
            "input_bytes": in_bytes, "output_bytes": out_bytes}),
        );
    }
    let first: Vec<usize> = last_pred.iter().take(n_te).copied().collect();
    let acc = first
        .iter()
        .zip(yte)
        .filter(|(p, y)| **p == usize::from(**y))
        .count() as f64
        / n_te as f64;
    let agree = first.iter().zip(pred_plain).filter(|(a, b)| a == b).count() as f64 / n_te as f64;
    let med = |key: &str| {
        let mut v: Vec<f64> = runs.iter().filter_map(|r| r[key].as_f64()).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let eval_med = {
        let mut v: Vec<f64> = runs
            .iter()
            .filter_map(|r| r["server_eval_ms"].as_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let enc_med = {
        let mut v: Vec<f64> = runs
            .iter()
            .filter_map(|r| r["client_encode_encrypt_ms"].as_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let dec_med = {
        let mut v: Vec<f64> = runs
            .iter()
            .filter_map(|r| r["client_decrypt_decode_ms"].as_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(json!({
        "images_per_batch": slots,
        "note": "batch-in-slots: slot s = test image s mod 360 (the 360 test images cycled to fill 4096 slots); 784 pixel ciphertexts in, 10 logit ciphertexts out; dense layers as integer linear combinations (Evaluator::dot_integer) over unrelinearized squares (lazy relinearization: 74 key switches per batch instead of 330), no rotations, relinearization key only",
        "test": {"n_images": n_te, "enc_acc": acc, "enc_vs_plain_agreement": agree, "max_abs_logit_err_all_slots": last_err},
        "runs": runs,
        "server_images_per_s": slots as f64 / (eval_med / 1e3),
        "server_images_per_cpu_s": slots as f64 / (med("server_eval_cpu_ms") / 1e3),
        "end_to_end_images_per_cpu_s": slots as f64 / ((med("server_eval_cpu_ms") + med("client_encode_encrypt_cpu_ms") + dec_med) / 1e3),
        "end_to_end_images_per_s": slots as f64 / ((eval_med + enc_med + dec_med) / 1e3),
        "server_ms_per_image_amortized": eval_med / slots as f64,
        "sizes_bytes": {"relin_key": rk_bytes, "galois_keys": 0},
    }))
}

/// Largest batch message the bench's server reads: 784 seeded ciphertexts of N = 8192 at
/// six primes are 308 MB; this bound leaves room for the frame and entry headers.
const MAX_MESSAGE_BYTES: usize = 512 << 20;

/// Batch mode through the public model API: the bench network as a graph
/// ([`tutorial_graph`]), planned for a full batch on `Sim`, keys for the bench's
/// parameters, then per run: client `CtBatch::encrypt_seeded_bytes` → server
/// `CtBatch::from_bytes` + `EncryptedModel::evaluate` (a `CkksServer`, public keys only)
/// → client `EncryptedModel::decrypt`. One full batch of test images (cycled to fill the
/// slots), `reps` times; returns the report's `batch` object with the key switches the
/// server performed per batch.
///
/// # Errors
/// Planning, key generation, encryption, evaluation or decryption fails.
#[allow(clippy::too_many_lines, reason = "one linear benchmark script")]
pub fn batch(
    model: &Model,
    imgs_te: &[&[f64]],
    yte: &[u8],
    pred_plain: &[usize],
    logits_te: &[Vec<f64>],
    reps: usize,
) -> Result<Value> {
    let params = bench_params()?;
    let slots = params.slots();
    let n_te = imgs_te.len();
    anyhow::ensure!(n_te > 0, "batch mode needs at least one test image");
    let img = |s: usize| s % n_te;
    let request = PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: slots,
        precision_bits: 12,
        magnitude_bits: 5,
        standard: fhez_nn::SecurityStandard::default(),
        key_budget: None,
    };
    let t_plan = Instant::now();
    let enc_model = EncryptedModel::with_request(tutorial_graph(model)?, &request)?;
    let plan_ms = ms(t_plan);
    let t_keys = Instant::now();
    let client = enc_model.keygen(&params)?;
    let keygen_ms = ms(t_keys);
    let keys = client.server_keys();
    let rk_bytes = relin_key_to_bytes(keys.relin_key())?.len();
    let gk_bytes = fhez_ckks::wire::galois_keys_to_bytes(keys.galois_keys())?.len();
    let server = CkksServer::new(keys);
    let pixels: Vec<f64> = (0..slots)
        .flat_map(|s| imgs_te[img(s)].iter().copied())
        .collect();
    let x = PlainArray::new(vec![slots, SIDE, SIDE], pixels)?;

    let mut runs = Vec::new();
    let mut last_pred = Vec::new();
    let mut last_err = 0.0f64;
    let mut key_switches = 0u64;
    for _ in 0..reps.max(1) {
        let a = Instant::now();
        let cpu_a = cpu_s();
        let wire_in = CtBatch::encrypt_seeded_bytes(&client, &[(INPUT, x.clone())])?;
        let enc_ms = ms(a);
        let enc_cpu_ms = (cpu_s() - cpu_a) * 1e3;
        let server = server.with_fresh_stats();
        let b = Instant::now();
        let cpu_b = cpu_s();
        let msg = CtBatch::from_bytes(&server, &wire_in, MAX_MESSAGE_BYTES)?;
        let t_expand = ms(b);
        let (reply, timings) = enc_model.evaluate_timed(&server, &msg)?;
        let eval_ms = ms(b);
        let eval_cpu_ms = (cpu_s() - cpu_b) * 1e3;
        key_switches = server.stats().key_switches;
        let wire_out = reply.to_bytes()?;
        let c = Instant::now();
        let dec = enc_model.decrypt(&client, &reply)?;
        let dec_ms = ms(c);
        let logits_id = enc_model.graph().id(LOGITS)?;
        let logits = dec
            .iter()
            .find(|(id, _)| *id == logits_id)
            .map(|(_, x)| x)
            .context("the server returned no logits")?;
        anyhow::ensure!(
            logits.shape() == [slots, NOUT],
            "logits of shape {:?}, expected [{slots}, {NOUT}]",
            logits.shape()
        );
        let mut pred = Vec::with_capacity(slots);
        let mut err = 0.0f64;
        for (s, l) in logits.data().chunks_exact(NOUT).enumerate() {
            for (a, b) in l.iter().zip(&logits_te[img(s)]) {
                err = err.max((a - b).abs());
            }
            pred.push(argmax(l));
        }
        last_pred = pred;
        last_err = err;
        let split: serde_json::Map<String, Value> =
            std::iter::once(("expand_seeded_inputs".to_owned(), json!(t_expand)))
                .chain(
                    timings
                        .iter()
                        .map(|t| (t.name.clone(), json!(t.elapsed.as_secs_f64() * 1e3))),
                )
                .collect();
        eprintln!(
            "[batch] {slots} images: encrypt {enc_ms:.0} ms, server {eval_ms:.0} ms (expand {t_expand:.0}), decrypt {dec_ms:.0} ms, {key_switches} key switches"
        );
        runs.push(
            json!({"client_encode_encrypt_ms": enc_ms, "server_eval_ms": eval_ms,
            "client_encode_encrypt_cpu_ms": enc_cpu_ms, "server_eval_cpu_ms": eval_cpu_ms,
            "server_split_ms": split, "client_decrypt_decode_ms": dec_ms,
            "input_bytes": wire_in.len(), "output_bytes": wire_out.len()}),
        );
    }
    let first: Vec<usize> = last_pred.iter().take(n_te).copied().collect();
    let acc = first
        .iter()
        .zip(yte)
        .filter(|(p, y)| **p == usize::from(**y))
        .count() as f64
        / n_te as f64;
    let agree = first.iter().zip(pred_plain).filter(|(a, b)| a == b).count() as f64 / n_te as f64;
    let med = |key: &str| {
        let mut v: Vec<f64> = runs.iter().filter_map(|r| r[key].as_f64()).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let (eval_med, enc_med, dec_med) = (
        med("server_eval_ms"),
        med("client_encode_encrypt_ms"),
        med("client_decrypt_decode_ms"),
    );
    Ok(json!({
        "images_per_batch": slots,
        "engine": "fhez_model::EncryptedModel (batch-in-slots) on the graph x -> 4 x CC(7x7, stride 3) -> Enqueue -> Square -> Dense(256->64) -> Square -> Dense(64->10) -> Decrypt",
        "note": "batch-in-slots: slot s = test image s mod 360 (the 360 test images cycled to fill 4096 slots); 784 seeded pixel ciphertexts in (CtBatch::encrypt_seeded_bytes), 10 logit ciphertexts out; each Square folded into the following Dense (Backend::product_combinations, lazy relinearization), no rotations, relinearization key only; server time includes reading and expanding the message",
        "key_switches_per_batch": key_switches,
        "plan": {"depth": enc_model.plan().depth, "rotation_steps": enc_model.plan().rotation_steps.len(), "plan_ms": plan_ms, "keygen_ms": keygen_ms},
        "test": {"n_images": n_te, "enc_acc": acc, "enc_vs_plain_agreement": agree, "max_abs_logit_err_all_slots": last_err},
        "runs": runs,
        "server_images_per_s": slots as f64 / (eval_med / 1e3),
        "server_images_per_cpu_s": slots as f64 / (med("server_eval_cpu_ms") / 1e3),
        "end_to_end_images_per_cpu_s": slots as f64 / ((med("server_eval_cpu_ms") + med("client_encode_encrypt_cpu_ms") + dec_med) / 1e3),
        "end_to_end_images_per_s": slots as f64 / ((eval_med + enc_med + dec_med) / 1e3),
        "server_ms_per_image_amortized": eval_med / slots as f64,
        "sizes_bytes": {"relin_key": rk_bytes, "galois_keys": gk_bytes},
    }))
}
