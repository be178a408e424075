//! Latency mode (one image per ciphertext) on the `fhez_model::latency` engine.
#![expect(
    clippy::indexing_slicing,
    reason = "bench code: every index is bounded by the fixed network shape"
)]

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use fhez_ckks::wire::{
    ciphertext_to_bytes, galois_keys_to_bytes, relin_key_to_bytes, seeded_ciphertext_to_bytes,
};
use fhez_ckks::{CkksClient, SecretKey, ServerKeys};
use fhez_model::latency::{ConvLayer, LatencyModel, LatencyNet, Stage};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rayon::prelude::*;
use serde_json::{Value, json};

use super::peer_port::Model;
use super::report::{cpu_s, ms, summary_ms};
use super::{HID, K, KK, NIN, NOUT, SIDE, STRIDE, argmax, bench_params};

/// The bench's network as a `fhez_model::latency` network: conv 1→4 (7×7, stride 3), x²,
/// dense 256→64, x², dense 64→10 (`w1[i][h]` with `i = c·64 + w` is already the
/// `(d_in, d_out)` layout of filter-major features).
pub fn latency_net(model: &Model) -> LatencyNet {
    let square = Stage::Quadratic {
        c0: 0.0,
        c1: 0.0,
        c2: 1.0,
    };
    LatencyNet {
        conv: ConvLayer {
            input: vec![SIDE, SIDE],
            kernel: vec![K, K],
            stride: vec![STRIDE, STRIDE],
            weights: model.wc.chunks(KK).map(<[f64]>::to_vec).collect(),
            bias: model.bc.clone(),
        },
        stages: vec![
            square.clone(),
            Stage::Dense {
                d_in: NIN,
                d_out: HID,
                weights: model.w1.clone(),
                bias: model.b1.clone(),
            },
            square,
            Stage::Dense {
                d_in: HID,
                d_out: NOUT,
                weights: model.w2.clone(),
                bias: model.b2.clone(),
            },
        ],
    }
}

/// Latency mode on `fhez_model::latency::LatencyModel` (im2col client encoding, diagonal
/// baby-step/giant-step layers, Galois keys for exactly the plan's steps).
/// `n` test images, Galois keys for at most `max_keys` steps; returns the report's
/// `latency` object.
///
/// # Errors
/// Key generation, encryption, evaluation or the wire codec fails.
#[allow(clippy::too_many_lines, reason = "one linear benchmark script")]
pub fn latency(
    model: &Model,
    imgs_te: &[&[f64]],
    yte: &[u8],
    logits_te: &[Vec<f64>],
    pred_plain: &[usize],
    n: usize,
    max_keys: usize,
) -> Result<Value> {
    let params = bench_params()?;
    let slots = params.slots();

    // --- server model: plaintext diagonals (done once, not per image)
    let t_model = Instant::now();
    let lat = LatencyModel::new(latency_net(model), &params)?;
    let model_ms = ms(t_model);

    // --- keys: secret-key side; Galois keys for at most `max_keys` steps from which the
    // rotator composes every step of the plan (all of them when `max_keys` allows)
    let plan_steps = lat.rotation_steps();
    let key_steps = lat.compact_rotation_steps(max_keys);
    let mut rng = ChaCha20Rng::seed_from_u64(0xc0ffee);
    let t_k = Instant::now();
    let sk = SecretKey::generate(&params, &mut rng)?;
    let rk = sk.relin_key(&mut rng)?;
    let pk = sk.public_key(&mut rng)?;
    let t_k1 = Instant::now();
    let gk = sk.galois_keys(&key_steps, false, &mut rng)?;
    let galois_ms = ms(t_k1);
    let sk_rk_ms = (t_k1 - t_k).as_secs_f64() * 1e3;
    let gk_bytes = galois_keys_to_bytes(&gk)?.len();
    let rk_bytes = relin_key_to_bytes(&rk)?.len();
    let keys = ServerKeys::new(Arc::clone(&params), pk, rk, gk)?;
    let sk = Arc::new(sk);
    let client = CkksClient::from_parts(Arc::clone(&sk), Arc::new(keys.clone()))?;

    let mut t_enc = Vec::new();
    let mut t_eval = Vec::new();
    let mut t_dec = Vec::new();
    let mut split: [Vec<f64>; 5] = Default::default();
    let mut pred_enc = Vec::new();
    let mut max_err = Vec::new();
    let mut in_bytes = 0;
    let mut out_bytes = 0;
    let mut ks_count = 0u64;
    let cpu_loop = cpu_s();
    for i in 0..n {
        // client: im2col layout, encode, seeded secret-key encryption
        let a = Instant::now();
        let wire_in = seeded_ciphertext_to_bytes(&lat.encrypt_seeded(&client, imgs_te[i])?)?;
        let enc_ms = ms(a);
        // server: evaluation keys only
        let b = Instant::now();
        let x = fhez_ckks::wire::seeded_ciphertext_from_bytes(&params, &wire_in, u64::MAX)?
            .expand(&params)?;
        let (y, layers) = lat.eval_timed(&keys, &x)?;
        let wire_out = ciphertext_to_bytes(&y)?;
        let eval_ms = ms(b);
        for (k, l) in layers.iter().enumerate().take(split.len()) {
            split[k].push(l.elapsed.as_secs_f64() * 1e3);
        }
        // client decrypt
        let c = Instant::now();
        let out = fhez_ckks::wire::ciphertext_from_bytes(&params, &wire_out, u64::MAX)?;
        let logits = lat.decrypt(&client, &out)?;
        let dec_ms = ms(c);
        pred_enc.push(argmax(&logits));
        max_err.push(
            logits
                .iter()
                .zip(&logits_te[i])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max),
        );
        t_enc.push(enc_ms);
        t_eval.push(eval_ms);
        t_dec.push(dec_ms);
        in_bytes = wire_in.len();
        out_bytes = wire_out.len();
        ks_count = layers.iter().map(|l| l.key_switches).sum();
        if (i + 1) % 50 == 0 {
            eprintln!("[latency] {}/{n} eval {eval_ms:.1} ms", i + 1);
        }
    }
    let latency_cpu_ms = (cpu_s() - cpu_loop) * 1e3 / n as f64;
    // Throughput: independent images evaluated concurrently on the thread pool
    // (client encrypt + server eval + decrypt per image), images per wall second.
    let n_tp = n.min(40);
    let t_tp = Instant::now();
    let cpu_tp = cpu_s();
    let tp_ok = (0..n_tp)
        .into_par_iter()
        .map(|i| -> Result<bool> {
            let x = lat.encrypt(&client, imgs_te[i])?;
            let y = lat.eval(&keys, &x)?;
            Ok(argmax(&lat.decrypt(&client, &y)?) == pred_enc[i])
        })
        .collect::<Result<Vec<bool>>>()?;
    let tp_s = t_tp.elapsed().as_secs_f64();
    let tp_cpu = cpu_s() - cpu_tp;
    let tp_consistent = tp_ok.iter().all(|&b| b);
    let acc = |pred: &[usize]| {
        pred.iter()
            .zip(yte)
            .take(n)
            .filter(|(p, y)| **p == usize::from(**y))
            .count() as f64
            / n as f64
    };
    let agree = pred_enc
        .iter()
        .zip(pred_plain)
        .filter(|(a, b)| a == b)
        .count() as f64
        / n as f64;
    let mut errs = max_err.clone();
    errs.sort_by(f64::total_cmp);
    let totals: Vec<f64> = (0..n).map(|i| t_enc[i] + t_eval[i] + t_dec[i]).collect();
    // LatencyModel layers: conv, act0 (x²), dense1, act1 (x²), dense2
    let names = [
        "conv_4ch",
        "square1",
        "fc1_mm_bias",
        "square2",
        "fc2_mm_bias",
    ];
    let split_json: serde_json::Map<String, Value> = names
        .iter()
        .zip(&split)
        .map(|(k, v)| ((*k).to_string(), summary_ms(v)))
        .collect();
    let max_plain = logits_te
        .iter()
        .flatten()
        .fold(0.0f64, |a, b| a.max(b.abs()));
    Ok(json!({
        "ckks": {"N": params.n(), "coeff_bits": [31, 26, 26, 26, 26, 26], "special_bits": [29, 28],
                 "scale": "2^26", "depth": 5, "slots": slots, "log_qp": params.log_qp(),
                 "rotation_key_steps": key_steps, "plan_rotation_steps": plan_steps,
                 "engine": "fhez_model::latency::LatencyModel",
                 "key_switches_per_image": ks_count},
        "test": {
            "n_images": n,
            "plain_acc": acc(pred_plain),
            "plain_acc_full_test_split": pred_plain.iter().zip(yte).filter(|(p, y)| **p == usize::from(**y)).count() as f64 / pred_plain.len() as f64,
            "enc_acc": acc(&pred_enc),
            "enc_vs_plain_agreement": agree,
            "max_abs_logit_err": errs.last(),
            "median_abs_logit_err": errs.get(errs.len() / 2),
            "max_abs_logit_plain": max_plain,
        },
        "latency_per_image": {
            "client_im2col_encode_encrypt": summary_ms(&t_enc),
            "server_encrypted_eval": summary_ms(&t_eval),
            "client_decrypt_decode": summary_ms(&t_dec),
            "total": summary_ms(&totals),
            "server_eval_split": split_json,
        },
        "throughput_images_concurrent": {"n_images": n_tp, "threads": rayon::current_num_threads(),
            "wall_s": tp_s, "cpu_s": tp_cpu, "images_per_s": n_tp as f64 / tp_s,
            "same_predictions_as_sequential_pass": tp_consistent},
        "latency_cpu_ms_per_image_sequential_pass": latency_cpu_ms,
        "keygen": {"sk_relin_ms": sk_rk_ms, "galois_keys_ms": galois_ms, "model_encode_ms": model_ms},
        "sizes_bytes": {"input_ciphertext": in_bytes, "output_ciphertext": out_bytes,
                        "galois_keys": gk_bytes, "relin_key": rk_bytes,
                        "eval_keys_total": gk_bytes + rk_bytes,
                        "note": "fhez wire format, uncompressed u64 residues; input = seeded secret-key ciphertext; keys seeded (b halves + 32-byte seed); no public key is needed by the server"},
    }))
}
