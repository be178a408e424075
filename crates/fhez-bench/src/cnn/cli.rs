//! The command line: `fhez-cnn-bench [--data DIR] [--n-test N] [--threads T] [--out FILE]
//! [--mode latency|single|single-release|batch|batch-private|both] [--max-keys K] [--key-budget K] [--private-precision B,…] …` prints a JSON document with the field
//! names of `mnist_cnn.py` where they correspond.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::data::load_weights;
use super::peer_port::train;
use super::{SIDE, argmax, batch, im2col, latency, single};

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
    private_precision: Vec<u32>,
    /// `--mode single|single-release`: the plan's Galois-key budget (none: one key per step).
    key_budget: Option<usize>,
}

const USAGE: &str = "usage: fhez-cnn-bench [--data DIR] [--n-test N] [--threads T] \
[--mode latency|single|single-release|batch|batch-private|both] [--out FILE] [--epochs E] [--seed S] \
[--batch-reps R] [--weights FILE] [--max-keys K] [--key-budget K] [--private-precision BITS[,BITS…]]";

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
        // `--mode single-release`: the private-only plans run beside the shared one.
        private_precision: vec![single::SHARED_PRECISION_BITS],
        key_budget: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let mut val = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--data" => a.data = PathBuf::from(val()?),
            "--n-test" => {
                a.n_test = val()?
                    .parse()
                    .with_context(|| format!("{k} needs a number"))?
            }
            "--threads" => {
                a.threads = val()?
                    .parse()
                    .with_context(|| format!("{k} needs a number"))?
            }
            "--out" => a.out = Some(PathBuf::from(val()?)),
            "--key-budget" => {
                a.key_budget = Some(
                    val()?
                        .parse()
                        .with_context(|| format!("{k} needs a number"))?,
                );
            }
            "--mode" => {
                a.mode = val()?.clone();
                if ![
                    "latency",
                    "single",
                    "single-release",
                    "batch",
                    "batch-private",
                    "both",
                ]
                .contains(&a.mode.as_str())
                {
                    bail!(
                        "--mode must be latency, single, single-release, batch, batch-private or both, not {}",
                        a.mode
                    );
                }
            }
            "--epochs" => {
                a.epochs = val()?
                    .parse()
                    .with_context(|| format!("{k} needs a number"))?
            }
            "--seed" => {
                a.seed = val()?
                    .parse()
                    .with_context(|| format!("{k} needs a number"))?
            }
            "--batch-reps" => {
                a.batch_reps = val()?
                    .parse()
                    .with_context(|| format!("{k} needs a number"))?
            }
            "--weights" => a.weights = Some(PathBuf::from(val()?)),
            "--max-keys" => {
                a.max_keys = val()?
                    .parse()
                    .with_context(|| format!("{k} needs a number"))?
            }
            "--private-precision" => {
                a.private_precision = val()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("{k} needs numbers separated by commas"))?
            }
            other => bail!("unknown argument {other}; {USAGE}"),
        }
    }
    Ok(a)
}

/// The binary's entry point. Errors print as one line (`fhez-cnn-bench: …`, causes
/// joined) with exit status 2, never as a debug dump or backtrace.
pub fn main() {
    if let Err(e) = run() {
        eprintln!("fhez-cnn-bench: {e:#}");
        std::process::exit(2);
    }
}

fn run() -> Result<()> {
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
        result["latency"] = latency::latency(
            &model,
            &imgs,
            yte,
            &logits_te,
            &pred_plain,
            n,
            args.max_keys,
        )?;
    }
    if args.mode == "single" {
        let imgs: Vec<&[f64]> = ds.test.inputs.chunks_exact(SIDE * SIDE).collect();
        let seen = (&yte[..], pred_plain.as_slice(), logits_te.as_slice());
        result["single"] = single::single(&model, &imgs, seen, n, args.key_budget)?;
    }
    if args.mode == "single-release" {
        let imgs: Vec<&[f64]> = ds.test.inputs.chunks_exact(SIDE * SIDE).collect();
        let seen = (&yte[..], pred_plain.as_slice(), logits_te.as_slice());
        result["single_release"] = single::single_release(
            &model,
            &imgs,
            seen,
            n,
            &args.private_precision,
            args.key_budget,
        )?;
    }
    if args.mode == "batch" || args.mode == "both" {
        let imgs: Vec<&[f64]> = ds.test.inputs.chunks_exact(SIDE * SIDE).collect();
        result["batch"] =
            batch::batch(&model, &imgs, yte, &pred_plain, &logits_te, args.batch_reps)?;
    }
    if args.mode == "batch-private" {
        let imgs: Vec<&[f64]> = ds.test.inputs.chunks_exact(SIDE * SIDE).collect();
        result["batch_private"] =
            batch::batch_private(&model, &imgs, yte, &pred_plain, &logits_te, args.batch_reps)?;
    }
    result["wall_seconds"] = json!(started.elapsed().as_secs_f64());
    let txt = serde_json::to_string_pretty(&result)?;
    if let Some(p) = &args.out {
        std::fs::write(p, format!("{txt}\n")).with_context(|| format!("write {}", p.display()))?;
    }
    println!("{txt}");
    Ok(())
}
