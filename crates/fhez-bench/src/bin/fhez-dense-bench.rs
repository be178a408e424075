//! The dense half of the CNN bench network in batch-in-slots packing, through public API
//! only: `x² → dense 256→64 → x² → dense 64→10` on the CNN bench's parameters (N = 8192,
//! q = [31, 26×5], P = [29, 28], Δ = 2^26), 4096 samples per ciphertext, evaluated twice in
//! one process:
//!
//! - **eager**: `Erray::mul` (one relinearization per product) then `Erray::matmul`;
//! - **lazy**: `Erray::mul_matmul` (`Backend::product_combinations`: one relinearization per
//!   output).
//!
//! Prints one JSON object: server milliseconds, samples per second, key switches and the
//! largest error against the plaintext computation, per path.
//!
//! `fhez-dense-bench [--reps R]` (default 1). Run with `RAYON_NUM_THREADS=1` for one core.
#![forbid(unsafe_code)]

use std::time::Instant;

use anyhow::{Context, Result, bail};
use fhez_backend::{Backend, Decrypt};
use fhez_bench as _; // the benchmark allocator
use fhez_ckks::{CkksClient, CkksParams, CkksParamsSpec};
use fhez_erray::{Erray, Packing, PlainArray};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::json;

const D_IN: usize = 256;
const HID: usize = 64;
const D_OUT: usize = 10;

const USAGE: &str = "usage: fhez-dense-bench [--reps R]";

fn uniform(rng: &mut ChaCha20Rng, n: usize, bound: f64) -> Vec<f64> {
    (0..n)
        .map(|_| ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * bound)
        .collect()
}

/// `x² @ w + b` per sample (row-major `(n, m)` weights).
fn plain_layer(x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = b.to_vec();
    for (i, xi) in x.iter().enumerate() {
        for (j, o) in out.iter_mut().enumerate() {
            *o += xi * xi * w.get(i * b.len() + j).copied().unwrap_or(0.0);
        }
    }
    out
}

fn parse_reps() -> Result<usize> {
    let mut reps = 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--reps" => {
                reps = args
                    .next()
                    .context("--reps needs a value")?
                    .parse()
                    .context("--reps: not a number")?;
            }
            other => bail!("unknown argument {other}; {USAGE}"),
        }
    }
    Ok(reps.max(1))
}

fn run() -> Result<()> {
    let reps = parse_reps()?;
    let spec = CkksParamsSpec::new(13)
        .with_log_q(&[31, 26, 26, 26, 26, 26])
        .with_log_p(&[29, 28])
        .with_log_scale(26);
    let params = CkksParams::new(&spec)?;
    let mut rng = ChaCha20Rng::seed_from_u64(0xde45e);
    let client = CkksClient::generate_with_rng(&params, &[], &mut rng)?;
    let server = client.server();
    let batch = client.slots();
    let x = uniform(&mut rng, batch * D_IN, 1.0);
    let w1 = uniform(&mut rng, D_IN * HID, 1.0 / (D_IN as f64).sqrt());
    let b1 = uniform(&mut rng, HID, 0.1);
    let w2 = uniform(&mut rng, HID * D_OUT, 1.0 / (HID as f64).sqrt());
    let b2 = uniform(&mut rng, D_OUT, 0.1);
    let want: Vec<Vec<f64>> = x
        .chunks_exact(D_IN)
        .map(|s| plain_layer(&plain_layer(s, &w1, &b1), &w2, &b2))
        .collect();
    let (pw1, pb1) = (
        PlainArray::new(vec![D_IN, HID], w1)?,
        PlainArray::from_vec(b1),
    );
    let (pw2, pb2) = (
        PlainArray::new(vec![HID, D_OUT], w2)?,
        PlainArray::from_vec(b2),
    );
    let input = Erray::encrypt(
        &client,
        &PlainArray::new(vec![batch, D_IN], x)?,
        Packing::BatchInSlots { batch },
    )?;
    let mut report = serde_json::Map::new();
    for lazy in [false, true] {
        let mut times = Vec::new();
        let mut out = None;
        let mut key_switches = 0;
        for _ in 0..reps {
            let server = server.with_fresh_stats();
            let x = Erray::from_parts(
                &server,
                input.shape().to_vec(),
                input.packing(),
                input.cts().to_vec(),
            )?;
            let start = Instant::now();
            let y = if lazy {
                let h = x.mul_matmul(&x, &pw1)?.add_plain(&pb1)?;
                h.mul_matmul(&h, &pw2)?.add_plain(&pb2)?
            } else {
                let h = x.mul(&x)?.matmul(&pw1)?.add_plain(&pb1)?;
                h.mul(&h)?.matmul(&pw2)?.add_plain(&pb2)?
            };
            times.push(start.elapsed().as_secs_f64() * 1e3);
            key_switches = server.stats().key_switches;
            out = Some(y);
        }
        let y = out.context("no run")?;
        let mut err = 0.0f64;
        for (o, ct) in y.cts().iter().enumerate() {
            let got = client.decrypt(ct)?;
            for (s, g) in got.iter().enumerate().take(batch) {
                let w = want.get(s).and_then(|v| v.get(o)).copied().unwrap_or(0.0);
                err = err.max((g - w).abs());
            }
        }
        times.sort_by(f64::total_cmp);
        let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
        report.insert(
            (if lazy { "lazy" } else { "eager" }).to_owned(),
            json!({"server_ms_median": median, "samples_per_s": batch as f64 / (median / 1e3),
                   "key_switches": key_switches, "max_abs_err": err, "reps": reps}),
        );
    }
    report.insert(
        "config".to_owned(),
        json!({"N": params.n(), "samples": batch, "threads": rayon::current_num_threads(),
               "network": "x^2 -> dense 256->64 -> x^2 -> dense 64->10"}),
    );
    println!("{}", serde_json::Value::Object(report));
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("fhez-dense-bench: {e:#}");
        std::process::exit(2);
    }
}
