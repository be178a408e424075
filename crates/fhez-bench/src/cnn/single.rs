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
use fhez_nn::{PackingChoice, PlanRequest, ReleaseChoice};
use serde_json::{Value, json};

use super::graph::tutorial_graph;
use super::peer_port::Model;
use super::report::{cpu_s, ms, summary_ms};
use super::{SIDE, argmax};

/// Runs the first `n` test images one at a time (one thread), returning accuracy,
/// agreement with the plaintext forward, the per-image latency split, key switches and key
/// and message sizes; the plan is for shared decryptions (flooding). `seen` holds the
/// labels, the plaintext predictions and logits; `key_budget` is the plan's Galois-key
/// budget (`None`: one key per rotation step).
///
/// # Errors
/// Planning, key generation, encryption, evaluation and decryption errors.
pub fn single(
    model: &Model,
    imgs_te: &[&[f64]],
    seen: (&[u8], &[usize], &[Vec<f64>]),
    n: usize,
    key_budget: Option<usize>,
) -> Result<Value> {
    let mut reports = run_plans(model, imgs_te, seen, n, &[], key_budget)?;
    Ok(reports.swap_remove(0))
}

/// The precision the single-input plan requests (shared: all of it is promised after
/// flooding at N = 2^14).
pub const SHARED_PRECISION_BITS: u32 = 12;

/// [`single`] for several release policies at once, images interleaved (every image goes
/// through every plan in turn, so they share the machine's load): shared at
/// [`SHARED_PRECISION_BITS`], then private-only at each of `private_bits`, all under
/// `key_budget`.
///
/// # Errors
/// As [`single`].
pub fn single_release(
    model: &Model,
    imgs_te: &[&[f64]],
    seen: (&[u8], &[usize], &[Vec<f64>]),
    n: usize,
    private_bits: &[u32],
    key_budget: Option<usize>,
) -> Result<Value> {
    run_plans(model, imgs_te, seen, n, private_bits, key_budget).map(Value::from)
}

/// The shared plan and one private-only plan per entry of `private_bits`, images
/// interleaved: their reports, the shared one first.
fn run_plans(
    model: &Model,
    imgs_te: &[&[f64]],
    seen: (&[u8], &[usize], &[Vec<f64>]),
    n: usize,
    private_bits: &[u32],
    key_budget: Option<usize>,
) -> Result<Vec<Value>> {
    let (yte, pred_plain, logits_te) = seen;
    let mut runs = vec![Run::new(
        model,
        ReleaseChoice::Shared,
        SHARED_PRECISION_BITS,
        key_budget,
    )?];
    for &bits in private_bits {
        runs.push(Run::new(
            model,
            ReleaseChoice::PrivateOnly,
            bits,
            key_budget,
        )?);
    }
    interleave(&mut runs, imgs_te, n)?;
    runs.iter()
        .map(|r| r.report(yte, pred_plain, logits_te))
        .collect()
}

fn interleave(runs: &mut [Run], imgs_te: &[&[f64]], n: usize) -> Result<()> {
    for img in imgs_te.iter().take(n) {
        for r in runs.iter_mut() {
            r.step(img)?;
        }
    }
    Ok(())
}

/// One planned model with its keys and the measurements of the images run so far.
struct Run {
    enc_model: EncryptedModel,
    client: fhez_ckks::CkksClient,
    server: CkksServer,
    request: PlanRequest,
    plan_ms: f64,
    keygen_ms: f64,
    gk_bytes: usize,
    rk_bytes: usize,
    t_enc: Vec<f64>,
    t_eval: Vec<f64>,
    t_dec: Vec<f64>,
    cpu_s: f64,
    key_switches: u64,
    request_bytes: usize,
    logits: Vec<Vec<f64>>,
}

impl Run {
    fn new(
        model: &Model,
        release: ReleaseChoice,
        precision_bits: u32,
        key_budget: Option<usize>,
    ) -> Result<Self> {
        let request = PlanRequest {
            release,
            batch: 1,
            precision_bits,
            magnitude_bits: 5,
            standard: fhez_nn::SecurityStandard::default(),
            key_budget,
        };
        let t_plan = Instant::now();
        let enc_model = EncryptedModel::with_packing(
            tutorial_graph(model)?,
            &request,
            PackingChoice::SingleInput,
        )?;
        let plan_ms = ms(t_plan);
        let params = CkksParams::new(&enc_model.spec())?;
        let t_keys = Instant::now();
        let client = enc_model.keygen(&params)?;
        let keygen_ms = ms(t_keys);
        let keys = client.server_keys();
        let gk_bytes = fhez_ckks::wire::galois_keys_to_bytes(keys.galois_keys())?.len();
        let rk_bytes = fhez_ckks::wire::relin_key_to_bytes(keys.relin_key())?.len();
        Ok(Self {
            enc_model,
            client,
            server: CkksServer::new(keys),
            request,
            plan_ms,
            keygen_ms,
            gk_bytes,
            rk_bytes,
            t_enc: Vec::new(),
            t_eval: Vec::new(),
            t_dec: Vec::new(),
            cpu_s: 0.0,
            key_switches: 0,
            request_bytes: 0,
            logits: Vec::new(),
        })
    }

    fn step(&mut self, img: &[f64]) -> Result<()> {
        let cpu0 = cpu_s();
        let t = Instant::now();
        let x = PlainArray::new(vec![1, SIDE, SIDE], img.to_vec())?;
        let bytes = self
            .enc_model
            .encrypt_seeded_bytes(&self.client, &[("x", x)])?;
        self.t_enc.push(ms(t));
        self.request_bytes = bytes.len();
        let t = Instant::now();
        let before = self.server.stats();
        let sent = CtBatch::from_bytes(&self.server, &bytes, usize::MAX)?;
        let back = self.enc_model.evaluate_owned(&self.server, sent)?;
        self.key_switches = (self.server.stats() - before).key_switches;
        self.t_eval.push(ms(t));
        let t = Instant::now();
        let out = self.enc_model.decrypt(&self.client, &back)?;
        self.t_dec.push(ms(t));
        let logits = out
            .first()
            .context("no decrypted output")?
            .1
            .data()
            .to_vec();
        self.logits.push(logits);
        self.cpu_s += cpu_s() - cpu0;
        Ok(())
    }

    fn report(&self, yte: &[u8], pred_plain: &[usize], logits_te: &[Vec<f64>]) -> Result<Value> {
        let (mut correct, mut agree, mut max_diff) = (0usize, 0usize, 0.0f64);
        for (i, logits) in self.logits.iter().enumerate() {
            let pred = argmax(logits);
            correct += usize::from(yte.get(i).is_some_and(|&y| usize::from(y) == pred));
            agree += usize::from(pred_plain.get(i) == Some(&pred));
            if let Some(want) = logits_te.get(i) {
                for (a, b) in logits.iter().zip(want) {
                    max_diff = max_diff.max((a - b).abs());
                }
            }
        }
        let n = self.logits.len();
        let plan = self.enc_model.plan();
        Ok(json!({
            "engine": "fhez_model::EncryptedModel (single-input) on the graph x -> 4 x CC(7x7, stride 3) -> Enqueue -> Square -> Dense(256->64) -> Square -> Dense(64->10) -> Decrypt",
            "n_test": n,
            "threads": 1,
            "request": self.request,
            "release": plan.release(),
            "encrypted_accuracy": correct as f64 / n.max(1) as f64,
            "agreement_with_plain": agree as f64 / n.max(1) as f64,
            "max_abs_logit_diff": max_diff,
            "per_image_ms": {"client_encrypt": summary_ms(&self.t_enc), "server_eval": summary_ms(&self.t_eval),
                             "client_decrypt": summary_ms(&self.t_dec)},
            "cpu_ms_per_image_mean": self.cpu_s * 1e3 / n.max(1) as f64,
            "server_key_switches": self.key_switches,
            "plan": {"log_n": plan.log_n, "log_q": plan.log_q, "log_p": plan.log_p,
                     "log_scale": plan.log_scale, "depth": plan.depth,
                     "rotation_steps": plan.rotation_steps.len(),
                     "key_budget": plan.key_budget, "composed_steps": plan.rotation_compose.len(),
                     "planned_rotations": plan.nodes.iter().map(|n| n.rotations).sum::<u64>(),
                     "input_gathered": plan.layouts.iter().any(|l| l.gather.is_some()),
                     "plan_ms": self.plan_ms, "keygen_ms": self.keygen_ms},
            "sizes_bytes": {"relin_key": self.rk_bytes, "galois_keys": self.gk_bytes, "request": self.request_bytes},
        }))
    }
}
