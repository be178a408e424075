//! Encrypted CNN inference benchmark: exactly the network of
//! `shared/bench/peers/mnist_cnn.py` (TenSEAL's "encrypted convolution on MNIST"):
//! conv 1→4 channels 7×7 stride 3 → x² → dense 256→64 → x² → dense 64→10, trained in
//! plaintext on scikit-learn digits upsampled to 28×28 (same stratified 80/20 split),
//! evaluated under CKKS with fhez.
//!
//! Two modes:
//! - **latency** (one image per ciphertext, as TenSEAL): the client im2col-encodes the
//!   image into one ciphertext (slot `p·64 + w` = pixel `p` of window `w`); every layer
//!   is a slot-periodic matrix–vector product evaluated with baby-step/giant-step
//!   diagonals whose giant steps run in Horner form (one rotation key per stride) and
//!   whose periodic tail is a rotate-and-add tree. Only the rotation keys the plan
//!   needs are generated (seeded on the wire).
//! - **batch** (batch-in-slots: slot `i` = image `i`): 784 pixel ciphertexts, every
//!   layer a set of integer linear combinations of ciphertexts, zero rotations.
//!
//! `fhez-cnn-bench [--data DIR] [--n-test N] [--threads T] [--out FILE] [--mode latency|batch|both] [--max-keys K]`
//! prints a JSON document with the field names of `mnist_cnn.py` where they correspond.
#![forbid(unsafe_code)]
#![expect(
    clippy::indexing_slicing,
    reason = "bench binary: every index is bounded by the fixed network shape"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fhez_ckks::wire::{
    ciphertext_to_bytes, galois_keys_to_bytes, relin_key_to_bytes, seeded_ciphertext_to_bytes,
};
use fhez_ckks::{
    Ciphertext, CkksClient, CkksParams, CkksParamsSpec, Encoder, Evaluator, SecretKey, ServerKeys,
};
use fhez_model::latency::{ConvLayer, LatencyModel, LatencyNet, Stage};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rayon::prelude::*;
use serde_json::{Value, json};

// ------------------------------------------------------------------ network shape

const SIDE: usize = 28;
const K: usize = 7;
const STRIDE: usize = 3;
const OUT_SIDE: usize = (SIDE - K) / STRIDE + 1; // 8
const WIN: usize = OUT_SIDE * OUT_SIDE; // 64 windows
const KK: usize = K * K; // 49 kernel positions
const CH: usize = 4;
const NIN: usize = CH * WIN; // 256
const HID: usize = 64;
const NOUT: usize = 10;

/// (B,H,W) → (B, windows, k·k), windows row-major over output positions (mnist_cnn.py's im2col).
fn im2col(img: &[f64]) -> Vec<f64> {
    let mut cols = vec![0.0; WIN * KK];
    for i in 0..OUT_SIDE {
        for j in 0..OUT_SIDE {
            let w = i * OUT_SIDE + j;
            for a in 0..K {
                for b in 0..K {
                    cols[w * KK + a * K + b] = img[(i * STRIDE + a) * SIDE + j * STRIDE + b];
                }
            }
        }
    }
    cols
}

// ------------------------------------------------------------------ plaintext model

/// Parameters in mnist_cnn.py's layout: `wc[c][p]`, `bc[c]`, `w1[i][h]` (i = c·64 + w),
/// `b1[h]`, `w2[h][o]`, `b2[o]`.
#[derive(Clone, Debug)]
struct Model {
    wc: Vec<f64>,
    bc: Vec<f64>,
    w1: Vec<f64>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: Vec<f64>,
}

struct Acts {
    z1: Vec<f64>, // [w][c]
    f: Vec<f64>,  // [c*64 + w]
    z2: Vec<f64>,
    a2: Vec<f64>,
    z3: Vec<f64>,
}

impl Model {
    fn params_mut(&mut self) -> [&mut Vec<f64>; 6] {
        [
            &mut self.wc,
            &mut self.bc,
            &mut self.w1,
            &mut self.b1,
            &mut self.w2,
            &mut self.b2,
        ]
    }

    fn forward(&self, cols: &[f64]) -> Acts {
        let mut z1 = vec![0.0; WIN * CH];
        let mut f = vec![0.0; NIN];
        for w in 0..WIN {
            let x = &cols[w * KK..(w + 1) * KK];
            for c in 0..CH {
                let k = &self.wc[c * KK..(c + 1) * KK];
                let z = x.iter().zip(k).map(|(a, b)| a * b).sum::<f64>() + self.bc[c];
                z1[w * CH + c] = z;
                f[c * WIN + w] = z * z;
            }
        }
        let mut z2 = self.b1.clone();
        for (i, &fi) in f.iter().enumerate() {
            let row = &self.w1[i * HID..(i + 1) * HID];
            for (z, &wv) in z2.iter_mut().zip(row) {
                *z += fi * wv;
            }
        }
        let a2: Vec<f64> = z2.iter().map(|z| z * z).collect();
        let mut z3 = self.b2.clone();
        for (h, &ah) in a2.iter().enumerate() {
            let row = &self.w2[h * NOUT..(h + 1) * NOUT];
            for (z, &wv) in z3.iter_mut().zip(row) {
                *z += ah * wv;
            }
        }
        Acts { z1, f, z2, a2, z3 }
    }
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// mnist_cnn.py's trainer: uniform(±1/√fan_in) init, Adam (lr 1e-3, β 0.9/0.999,
/// ε 1e-8), batch 64, L2 1e-4 on the weight matrices, softmax cross-entropy. Same
/// hyper-parameters and seed number; the random streams are ChaCha20 (not numpy's
/// PCG64), so the weights are a different draw of the same procedure.
fn train(cols: &[Vec<f64>], labels: &[u8], epochs: usize, seed: u64) -> (Model, Vec<f64>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut uni = |bound: f64, n: usize| -> Vec<f64> {
        (0..n)
            .map(|_| {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                (2.0 * u - 1.0) * bound
            })
            .collect()
    };
    let kb = 1.0 / (KK as f64).sqrt();
    let ib = 1.0 / (NIN as f64).sqrt();
    let hb = 1.0 / (HID as f64).sqrt();
    let mut model = Model {
        wc: uni(kb, CH * KK),
        bc: uni(kb, CH),
        w1: uni(ib, NIN * HID),
        b1: uni(ib, HID),
        w2: uni(hb, HID * NOUT),
        b2: uni(hb, NOUT),
    };
    let is_matrix = [true, false, true, false, true, false];
    let sizes: Vec<usize> = model.params_mut().iter().map(|p| p.len()).collect();
    let mut m: Vec<Vec<f64>> = sizes.iter().map(|&s| vec![0.0; s]).collect();
    let mut v: Vec<Vec<f64>> = sizes.iter().map(|&s| vec![0.0; s]).collect();
    let (lr, b1, b2, eps, wd) = (1e-3, 0.9f64, 0.999f64, 1e-8, 1e-4);
    let batch = 64;
    let n = cols.len();
    let mut t = 0i32;
    let mut history = Vec::new();
    let mut perm: Vec<usize> = (0..n).collect();
    let mut prng = ChaCha20Rng::seed_from_u64(seed ^ 0x5eed);
    for _ in 0..epochs {
        for i in (1..n).rev() {
            let j = (prng.next_u64() % (i as u64 + 1)) as usize;
            perm.swap(i, j);
        }
        let mut total = 0.0;
        for idx in perm.chunks(batch) {
            let bsz = idx.len() as f64;
            let mut g: Vec<Vec<f64>> = sizes.iter().map(|&s| vec![0.0; s]).collect();
            for &s in idx {
                let x = &cols[s];
                let a = model.forward(x);
                let mx = a.z3.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = a.z3.iter().map(|z| (z - mx).exp()).collect();
                let sum: f64 = e.iter().sum();
                let y = usize::from(labels[s]);
                total -= (e[y] / sum + 1e-12).ln();
                let dz3: Vec<f64> = e
                    .iter()
                    .enumerate()
                    .map(|(o, ev)| (ev / sum - if o == y { 1.0 } else { 0.0 }) / bsz)
                    .collect();
                // dense 2
                let mut dz2 = vec![0.0; HID];
                for h in 0..HID {
                    let mut acc = 0.0;
                    for o in 0..NOUT {
                        g[4][h * NOUT + o] += a.a2[h] * dz3[o];
                        acc += dz3[o] * model.w2[h * NOUT + o];
                    }
                    dz2[h] = acc * 2.0 * a.z2[h];
                }
                for o in 0..NOUT {
                    g[5][o] += dz3[o];
                }
                // dense 1
                let mut df = vec![0.0; NIN];
                for i in 0..NIN {
                    let row = &model.w1[i * HID..(i + 1) * HID];
                    let grow = &mut g[2][i * HID..(i + 1) * HID];
                    let fi = a.f[i];
                    let mut acc = 0.0;
                    for h in 0..HID {
                        grow[h] += fi * dz2[h];
                        acc += dz2[h] * row[h];
                    }
                    df[i] = acc;
                }
                for h in 0..HID {
                    g[3][h] += dz2[h];
                }
                // conv
                for w in 0..WIN {
                    let xw = &x[w * KK..(w + 1) * KK];
                    for c in 0..CH {
                        let dz1 = df[c * WIN + w] * 2.0 * a.z1[w * CH + c];
                        g[1][c] += dz1;
                        for (gp, &xp) in g[0][c * KK..(c + 1) * KK].iter_mut().zip(xw) {
                            *gp += dz1 * xp;
                        }
                    }
                }
            }
            t += 1;
            let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
            for (j, p) in model.params_mut().into_iter().enumerate() {
                for (k, pv) in p.iter_mut().enumerate() {
                    let mut gv = g[j][k];
                    if is_matrix[j] {
                        gv += wd * *pv;
                    }
                    m[j][k] = b1 * m[j][k] + (1.0 - b1) * gv;
                    v[j][k] = b2 * v[j][k] + (1.0 - b2) * gv * gv;
                    *pv -= lr * (m[j][k] / c1) / ((v[j][k] / c2).sqrt() + eps);
                }
            }
        }
        history.push(total / n as f64);
    }
    (model, history)
}

/// Weights trained by `mnist_cnn.py`'s own numpy trainer (`{"params": [Wc, bc, W1, b1,
/// W2, b2]}`, nested lists in its layout), to evaluate exactly the peer's model.
fn load_weights(path: &std::path::Path) -> Result<Model> {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?,
    )?;
    let flat = |i: usize, len: usize| -> Result<Vec<f64>> {
        fn walk(v: &Value, out: &mut Vec<f64>) {
            match v {
                Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                Value::Number(n) => out.push(n.as_f64().unwrap_or(f64::NAN)),
                Value::Null | Value::Bool(_) | Value::String(_) | Value::Object(_) => {}
            }
        }
        let mut out = Vec::new();
        walk(&v["params"][i], &mut out);
        if out.len() != len {
            bail!(
                "weights: parameter {i} has {} values, expected {len}",
                out.len()
            );
        }
        Ok(out)
    };
    Ok(Model {
        wc: flat(0, CH * KK)?,
        bc: flat(1, CH)?,
        w1: flat(2, NIN * HID)?,
        b1: flat(3, HID)?,
        w2: flat(4, HID * NOUT)?,
        b2: flat(5, NOUT)?,
    })
}

// ------------------------------------------------------------------ statistics

fn summary_ms(xs: &[f64]) -> Value {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return json!({"n": 0});
    }
    let pct = |p: f64| {
        let kk = (n - 1) as f64 * p;
        let f = kk.floor() as usize;
        let c = (f + 1).min(n - 1);
        s[f] + (s[c] - s[f]) * (kk - f as f64)
    };
    let r = |x: f64| (x * 100.0).round() / 100.0;
    let mean = s.iter().sum::<f64>() / n as f64;
    json!({"n": n, "median_ms": r(pct(0.5)), "mean_ms": r(mean), "p10_ms": r(pct(0.1)),
           "p90_ms": r(pct(0.9)), "min_ms": r(s[0])})
}

/// CPU seconds used by this process so far (all threads; user + system, from
/// `/proc/self/stat`, 10 ms ticks): on a shared machine this is what the work costs,
/// independent of how long other tenants kept the cores busy. 0 where unavailable.
fn cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // after the command: state(0) … utime(11) stime(12)
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

// ------------------------------------------------------------------ main

struct Args {
    data: PathBuf,
    n_test: usize,
    threads: usize,
    out: Option<PathBuf>,
    mode: String,
    epochs: usize,
    seed: u32,
    batch_reps: usize,
    weights: Option<PathBuf>,
    max_keys: usize,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        data: PathBuf::from("data"),
        n_test: 0,
        threads: 1,
        out: None,
        mode: "both".into(),
        epochs: 60,
        seed: 0,
        batch_reps: 1,
        weights: None,
        // Five Galois keys keep the evaluation keys under 10 MB (issue target); more keys
        // mean fewer key switches.
        max_keys: 5,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let mut val = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--data" => a.data = PathBuf::from(val()?),
            "--n-test" => a.n_test = val()?.parse()?,
            "--threads" => a.threads = val()?.parse()?,
            "--out" => a.out = Some(PathBuf::from(val()?)),
            "--mode" => a.mode = val()?.clone(),
            "--epochs" => a.epochs = val()?.parse()?,
            "--seed" => a.seed = val()?.parse()?,
            "--batch-reps" => a.batch_reps = val()?.parse()?,
            "--weights" => a.weights = Some(PathBuf::from(val()?)),
            "--max-keys" => a.max_keys = val()?.parse()?,
            other => bail!(
                "unknown argument {other}; usage: fhez-cnn-bench [--data DIR] [--n-test N] \
                 [--threads T] [--mode latency|batch|both] [--out FILE] [--epochs E] [--seed S] \
                 [--max-keys K]"
            ),
        }
    }
    Ok(a)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()
        .context("thread pool")?;
    let started = Instant::now();
    let ds = fhez_data::digits(&args.data, SIDE, args.seed)
        .context("digits (run scripts/fetch-datasets.sh sklearn)")?;
    let cols_tr: Vec<Vec<f64>> = ds
        .train
        .inputs
        .chunks_exact(SIDE * SIDE)
        .map(im2col)
        .collect();
    let cols_te: Vec<Vec<f64>> = ds
        .test
        .inputs
        .chunks_exact(SIDE * SIDE)
        .map(im2col)
        .collect();
    let (ytr, yte) = (&ds.train.labels, &ds.test.labels);

    let t0 = Instant::now();
    let (mut model, hist) = match &args.weights {
        Some(path) => (load_weights(path)?, Vec::new()),
        None => train(&cols_tr, ytr, args.epochs, u64::from(args.seed)),
    };
    let train_s = t0.elapsed().as_secs_f64();
    let max_logit_train = cols_tr
        .iter()
        .flat_map(|c| model.forward(c).z3)
        .fold(0.0f64, |a, b| a.max(b.abs()));
    let out_div = (max_logit_train / 8.0).max(1.0);
    model.w2.iter_mut().for_each(|w| *w /= out_div);
    model.b2.iter_mut().for_each(|w| *w /= out_div);
    let logits_te: Vec<Vec<f64>> = cols_te.iter().map(|c| model.forward(c).z3).collect();
    let pred_plain: Vec<usize> = logits_te.iter().map(|l| argmax(l)).collect();
    let acc_train = cols_tr
        .iter()
        .zip(ytr)
        .filter(|(c, y)| argmax(&model.forward(c).z3) == usize::from(**y))
        .count() as f64
        / cols_tr.len() as f64;
    let n_all = cols_te.len();
    let n = if args.n_test == 0 {
        n_all
    } else {
        args.n_test.min(n_all)
    };
    let acc = |pred: &[usize], k: usize| {
        pred.iter()
            .zip(yte)
            .take(k)
            .filter(|(p, y)| **p == usize::from(**y))
            .count() as f64
            / k as f64
    };
    eprintln!(
        "trained in {train_s:.1} s: loss {:.5} -> {:.5}, train acc {acc_train:.4}, plain test acc {:.4}",
        hist.first().copied().unwrap_or(0.0),
        hist.last().copied().unwrap_or(0.0),
        acc(&pred_plain, n_all)
    );

    let mut result = json!({
        "schema": "mnist_cnn/1",
        "library": format!("fhez {}", env!("CARGO_PKG_VERSION")),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "data": "fhez_data::digits(data, 28, seed): sklearn digits bilinearly upsampled to 28x28, stratified 80/20 split (identical to mnist_cnn.py)",
        "threads": args.threads,
        "architecture": "conv(1->4, 7x7, stride 3) -> x^2 -> FC 256->64 -> x^2 -> FC 64->10",
        "train": {"samples": cols_tr.len(), "epochs": args.epochs, "seconds": (train_s * 10.0).round() / 10.0,
                  "loss_first_last": [hist.first(), hist.last()], "train_acc": acc_train,
                  "out_layer_divisor": out_div, "max_abs_logit_train_before_div": max_logit_train,
                  "weights": args.weights.as_ref().map(|p| p.display().to_string()),
                  "note": "without --weights: mnist_cnn.py's procedure (init, Adam, lr, batch, L2, epochs) in Rust, ChaCha20 instead of numpy's PCG64 streams; with --weights: the peer's own numpy-trained weights"},
    });

    if args.mode == "latency" || args.mode == "both" {
        let imgs: Vec<&[f64]> = ds.test.inputs.chunks_exact(SIDE * SIDE).collect();
        result["latency"] = latency(
            &model,
            &imgs,
            yte,
            &logits_te,
            &pred_plain,
            n,
            args.max_keys,
        )?;
    }
    if args.mode == "batch" || args.mode == "both" {
        let imgs: Vec<&[f64]> = ds.test.inputs.chunks_exact(SIDE * SIDE).collect();
        result["batch"] = batch(&model, &imgs, yte, &pred_plain, &logits_te, args.batch_reps)?;
    }
    result["wall_seconds"] = json!(started.elapsed().as_secs_f64());
    let txt = serde_json::to_string_pretty(&result)?;
    if let Some(p) = &args.out {
        std::fs::write(p, format!("{txt}\n")).with_context(|| format!("write {}", p.display()))?;
    }
    println!("{txt}");
    Ok(())
}

// ------------------------------------------------------------------ latency mode

/// N = 8192; q = [31, 26×5] (five rescales: conv, x², FC1, x², FC2), two special
/// primes [29, 28] (three key-switching digits), scale 2^26: log QP = 218, 128-bit secure.
fn latency_params() -> Result<Arc<CkksParams>> {
    let spec = CkksParamsSpec::new(13)
        .with_log_q(&[31, 26, 26, 26, 26, 26])
        .with_log_p(&[29, 28])
        .with_log_scale(26);
    Ok(CkksParams::new(&spec)?)
}

/// The bench's network as a `fhez_model::latency` network: conv 1→4 (7×7, stride 3), x²,
/// dense 256→64, x², dense 64→10 (`w1[i][h]` with `i = c·64 + w` is already the
/// `(d_in, d_out)` layout of filter-major features).
fn latency_net(model: &Model) -> LatencyNet {
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
#[allow(clippy::too_many_lines, reason = "one linear benchmark script")]
fn latency(
    model: &Model,
    imgs_te: &[&[f64]],
    yte: &[u8],
    logits_te: &[Vec<f64>],
    pred_plain: &[usize],
    n: usize,
    max_keys: usize,
) -> Result<Value> {
    let params = latency_params()?;
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

// ------------------------------------------------------------------ batch mode

/// Batch-in-slots parameters: the same chain (five rescales, scale 2^26).
#[allow(clippy::too_many_lines, reason = "one linear benchmark script")]
fn batch(
    model: &Model,
    imgs_te: &[&[f64]],
    yte: &[u8],
    pred_plain: &[usize],
    logits_te: &[Vec<f64>],
    reps: usize,
) -> Result<Value> {
    let params = latency_params()?;
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
