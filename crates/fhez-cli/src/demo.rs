//! `fhez demo`: Fashion-MNIST classified under encryption, end to end.
//!
//! Model (embedded, a file, or trained in plaintext) → data (fetched if missing) → plan →
//! client keygen → the public bundle through its wire format → a server built from those
//! bytes alone → per batch: client encrypts (seeded upload bytes), server reads the request
//! and evaluates node by node, client decrypts for release (reply check, noise flooding,
//! rounding) → plaintext vs encrypted accuracy, agreement,
//! logit error, latency split and sizes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use fhez_ckks::CkksServer;
use fhez_erray::PlainArray;
use fhez_model::bundle::{public_bundle_from_bytes, public_bundle_to_bytes};
use fhez_model::{CtBatch, ModelFile, Task};
use serde_json::json;

use crate::flow::{self, BUNDLE_LIMIT, MESSAGE_LIMIT};
use crate::train::{self, TrainArgs};
use crate::{data, util};

/// The trained Fashion-MNIST model shipped with the binary (`models/fashion-mnist.json`).
const EMBEDDED: &str = include_str!("../../../models/fashion-mnist.json");

/// Demo options.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Use this model file instead of the embedded one.
    #[arg(long, conflicts_with = "retrain")]
    model: Option<PathBuf>,
    /// Train the classifier from scratch (plaintext) instead of using the embedded model.
    #[arg(long)]
    retrain: bool,
    /// Epochs for --retrain.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Where --retrain writes the model it trains (default:
    /// target/fhez-demo/fashion-mnist.json in the workspace).
    #[arg(long, requires = "retrain")]
    out: Option<PathBuf>,
    /// Test images to classify encrypted (default: one ciphertext batch, as many as the
    /// plan's batch holds; the cost is per batch, not per image).
    #[arg(long, conflicts_with = "full")]
    images: Option<usize>,
    /// Classify the whole test set (10,000 images, in batches of the plan's size).
    #[arg(long)]
    full: bool,
    /// Packing: batch (one image per slot, a whole batch per ciphertext message) or single
    /// (one image per ciphertext; the default --images is then 1).
    #[arg(long, value_enum, default_value_t = flow::PackingArg::Batch)]
    packing: flow::PackingArg,
    /// Release policy: shared (decryptions flooded, the default) or private (decryptions
    /// never leave the client: no flooding, smaller parameters; `SECURITY.md`).
    #[arg(long, value_enum)]
    release: Option<flow::ReleaseArg>,
    /// Print a machine-readable summary on stdout (progress goes to stderr).
    #[arg(long)]
    json: bool,
}

/// Where `--retrain` writes its model by default.
fn retrain_path() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize()
        .unwrap_or(root)
        .join("target/fhez-demo/fashion-mnist.json")
}

fn train_args(epochs: usize, out: PathBuf) -> TrainArgs {
    TrainArgs {
        model: "cnn-classifier".to_owned(),
        data: "fashion-mnist".to_owned(),
        epochs,
        batch: 32,
        lr: 0.01,
        out,
        limit: 0,
        test_limit: 0,
        seed: 42,
        filters: 4,
        kernel: None,
        stride: None,
        window: 16,
        plan_batch: 4096,
        precision: 14,
        magnitude: 8,
        json: false,
        no_plots: true,
    }
}

/// The model and a sentence saying where it came from.
fn model(args: &DemoArgs, say: &dyn Fn(String)) -> Result<(ModelFile, String)> {
    if let Some(path) = &args.model {
        return Ok((util::load_model(path)?, format!("from {}", path.display())));
    }
    if !args.retrain {
        let file = ModelFile::from_json(EMBEDDED).context("the embedded model")?;
        return Ok((file, "embedded (models/fashion-mnist.json)".to_owned()));
    }
    if args.epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    say(format!(
        "training the classifier in plaintext: {} epoch(s) on 60,000 images",
        args.epochs
    ));
    let out = args.out.clone().unwrap_or_else(retrain_path);
    let t = Instant::now();
    let trained = train::train(&train_args(args.epochs, out.clone()), args.json)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    trained
        .model
        .save(&out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok((
        trained.model,
        format!(
            "trained in {:.1} s (saved as {}: reuse it with --model)",
            t.elapsed().as_secs_f64(),
            out.display()
        ),
    ))
}

#[derive(Default)]
struct Clock {
    encrypt: Duration,
    read: Duration,
    eval: Duration,
    reply: Duration,
    decrypt: Duration,
    nodes: Vec<(String, &'static str, u32, u32, Duration)>,
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<()> {
    let json_mode = args.json;
    let say = move |s: String| {
        if json_mode {
            errln!("{s}");
        } else {
            outln!("{s}");
        }
    };
    let started = Instant::now();
    let (file, source) = model(args, &say)?;
    let dataset = file
        .dataset
        .clone()
        .unwrap_or_else(|| "fashion-mnist".to_owned());
    let Task::Classifier { labels } = &file.task else {
        bail!("the demo needs a classifier model");
    };
    let labels = labels.clone();
    say(format!(
        "fhez demo: {dataset} images classified under CKKS encryption"
    ));
    let [input] = file.inputs.as_slice() else {
        bail!("the demo needs a model with one encrypted input");
    };
    let input = input.clone();
    let recorded: Vec<String> = file
        .metrics
        .iter()
        .filter(|(k, _)| k.contains("accuracy"))
        .map(|(k, v)| format!("{k} {:.2} %", v * 100.0))
        .collect();
    say(format!(
        "model: {} {source}; {} nodes, input {:?}{}",
        file.name,
        file.graph()?.len(),
        input.shape,
        if recorded.is_empty() {
            String::new()
        } else {
            format!("; recorded {}", recorded.join(", "))
        }
    ));

    let t = Instant::now();
    let raw = data::load(&dataset, 1)?;
    let test = data::prepare(&dataset, &raw.test, &input.shape, &file.task)?;
    // Only the prepared test set is used from here on: the raw training set (hundreds of
    // megabytes) is not kept for the encrypted run.
    drop(raw);
    say(format!(
        "data: {dataset}, {} test images ({:.1} s)",
        test.len(),
        t.elapsed().as_secs_f64()
    ));

    let t = Instant::now();
    let mut file = file;
    flow::apply_release(&mut file, args.release);
    let p = flow::planned_with(file, args.packing.into())?;
    let plan_time = t.elapsed();
    if !json_mode {
        flow::print_params(&p);
    }
    let batch = p.model.batch();

    // Client: keys. The server gets the public bundle's bytes, nothing else.
    let t = Instant::now();
    let client = p.model.keygen(&p.params)?;
    let keygen = t.elapsed();
    let bundle = public_bundle_to_bytes(&client.server_keys())?;
    let server_keys = public_bundle_from_bytes(&bundle, BUNDLE_LIMIT)?;
    flow::check_keys(&p, &server_keys)?;
    let server = CkksServer::new(server_keys);
    let sizes = flow::sizes(&p, &client)?;
    say(format!(
        "keys: generated in {:.0} ms; the server is built from the {}-byte public bundle only (no secret key)",
        util::ms(keygen),
        bundle.len()
    ));
    if let Some(r) = client.release().filter(|r| !r.floods()) {
        say(format!(
            "decryption private-only: reply check, outputs rounded to 2^-{}, no noise flooding (never show a decryption to anyone)",
            r.precision_bits()
        ));
    } else if let Some(r) = client.release() {
        say(format!(
            "decryption for release: reply check, noise flooding (statistical security {} bits, noise bound 2^{:.0}), outputs rounded to 2^-{}",
            r.stat_security_bits(),
            r.noise_bound().log2(),
            r.precision_bits()
        ));
    }

    let n = if args.full {
        test.len()
    } else {
        args.images.unwrap_or(batch).min(test.len())
    };
    if n == 0 {
        bail!("--images must be at least 1");
    }
    let t = Instant::now();
    let first: Vec<usize> = (0..n).collect();
    let want = util::plain_outputs(p.model.graph(), &p.file.output, &test, &first)?;
    let plain_time = t.elapsed();

    let size: usize = input.shape.iter().product();
    let batches = n.div_ceil(batch);
    say(format!(
        "classifying {n} test images encrypted: {batches} batch(es) of up to {batch} images, {} ciphertexts in, {} out per batch",
        sizes.request_cts, sizes.reply_cts
    ));
    let mut clock = Clock::default();
    let mut got: Vec<Vec<f64>> = Vec::with_capacity(n);
    let (mut request_bytes, mut reply_bytes) = (0usize, 0usize);
    for (b, start) in (0..n).step_by(batch).enumerate() {
        let end = (start + batch).min(n);
        let mut values = Vec::with_capacity((end - start) * size);
        for i in start..end {
            values.extend_from_slice(test.sample(i).context("test image")?);
        }
        let mut shape = vec![end - start];
        shape.extend_from_slice(&input.shape);
        let x = PlainArray::new(shape, values)?;

        let t = Instant::now();
        let request = p
            .model
            .encrypt_seeded_bytes(&client, &[(input.name.as_str(), x)])?;
        let enc = t.elapsed();

        let t = Instant::now();
        let decoded = CtBatch::decode(&server, &request, MESSAGE_LIMIT)?;
        request_bytes += request.len();
        // The request bytes are freed before the seeds are expanded: the server never
        // holds both the bytes and the expanded ciphertexts.
        drop(request);
        let received = decoded.expand(&server)?;
        let read = t.elapsed();
        let t = Instant::now();
        // The server consumes the request: each input ciphertext is freed after the last
        // node reading it, like every intermediate.
        let (reply, timings) = p.model.evaluate_timed_owned(&server, received)?;
        let eval = t.elapsed();
        let t = Instant::now();
        let reply = reply.to_bytes()?;
        let ser = t.elapsed();
        reply_bytes += reply.len();

        let t = Instant::now();
        let back = CtBatch::from_bytes(&client.server(), &reply, MESSAGE_LIMIT)?;
        let decrypted = p.model.decrypt(&client, &back)?;
        let dec = t.elapsed();
        let (_, logits) = decrypted
            .first()
            .context("no decrypt boundary in the reply")?;
        let per = logits.data().len() / (end - start).max(1);
        got.extend(logits.data().chunks(per.max(1)).map(<[f64]>::to_vec));

        clock.encrypt += enc;
        clock.read += read;
        clock.eval += eval;
        clock.reply += ser;
        clock.decrypt += dec;
        for (k, t) in timings.iter().enumerate() {
            match clock.nodes.get_mut(k) {
                Some(e) => e.4 += t.elapsed,
                None => clock.nodes.push((
                    t.name.clone(),
                    t.kind,
                    t.levels.input,
                    t.levels.output,
                    t.elapsed,
                )),
            }
        }
        say(format!(
            "  batch {}/{batches}: {} images — client encrypt {:.2} s, server read {:.2} s + eval {:.2} s, client decrypt {:.3} s",
            b + 1,
            end - start,
            enc.as_secs_f64(),
            read.as_secs_f64(),
            eval.as_secs_f64(),
            dec.as_secs_f64()
        ));
    }

    let truth = test.labels.get(..n).context("labels")?;
    let plain_pred: Vec<usize> = want.iter().map(|v| util::argmax(v)).collect();
    let enc_pred: Vec<usize> = got.iter().map(|v| util::argmax(v)).collect();
    let acc = |pred: &[usize]| {
        pred.iter()
            .zip(truth)
            .filter(|(p, y)| **p == usize::from(**y))
            .count() as f64
            / n as f64
    };
    let (plain_acc, enc_acc) = (acc(&plain_pred), acc(&enc_pred));
    let agree = plain_pred
        .iter()
        .zip(&enc_pred)
        .filter(|(a, b)| a == b)
        .count();
    let max_diff = got
        .iter()
        .zip(&want)
        .flat_map(|(g, w)| g.iter().zip(w).map(|(a, b)| (a - b).abs()))
        .fold(0.0, f64::max);
    let server_total = clock.read + clock.eval + clock.reply;
    let client_total = clock.encrypt + clock.decrypt;
    let total = started.elapsed();
    let per_img = |d: Duration| util::ms(d) / n as f64;
    let per_batch = |d: Duration| util::ms(d) / batches as f64;

    if json_mode {
        return util::print_json(&json!({
            "dataset": dataset, "model": p.file.name, "model_source": source,
            "packing": flow::packing_name(p.model.packing()),
            "release": p.model.plan().release().map(|r| r.choice().name()),
            "images": n, "batches": batches, "batch": batch,
            "params": {
                "log_n": p.params.log_n(), "slots": p.params.slots(), "log_q": p.model.plan().log_q,
                "log_p": p.model.plan().log_p, "log_scale": p.model.plan().log_scale,
                "depth": p.model.plan().depth, "log_qp": p.params.log_qp(),
                "security": format!("{:?}", p.params.security()), "params_id": p.params.id().to_hex(),
                "rotation_steps": p.model.plan().rotation_steps,
            },
            "plain_accuracy": plain_acc, "encrypted_accuracy": enc_acc,
            "agreement": agree, "agreement_rate": agree as f64 / n as f64,
            "max_abs_logit_diff": max_diff,
            "ms": {
                "plan": util::ms(plan_time), "keygen": util::ms(keygen),
                "plaintext_inference": util::ms(plain_time),
                "client_encrypt": util::ms(clock.encrypt), "server_read_request": util::ms(clock.read),
                "server_eval": util::ms(clock.eval), "server_write_reply": util::ms(clock.reply),
                "client_decrypt": util::ms(clock.decrypt),
                "server_nodes": clock.nodes.iter().map(|(name, kind, li, lo, d)| json!({
                    "name": name, "kind": kind, "level_in": li, "level_out": lo, "ms": util::ms(*d),
                })).collect::<Vec<_>>(),
                "per_image_client": per_img(client_total), "per_image_server": per_img(server_total),
                "per_batch_server": per_batch(server_total), "total_run": util::ms(total),
            },
            "bytes": {
                "sizes": sizes, "request_total": request_bytes, "reply_total": reply_bytes,
                "request_per_batch": request_bytes / batches, "reply_per_batch": reply_bytes / batches,
            },
        }));
    }

    outln!("\n== results: {n} test images, {batches} batch(es) ==");
    outln!("plaintext accuracy   {:>8.2} %", plain_acc * 100.0);
    outln!("encrypted accuracy   {:>8.2} %", enc_acc * 100.0);
    outln!("agreement            {agree:>5} / {n} (encrypted argmax = plaintext argmax)");
    outln!(
        "max |logit diff|     {max_diff:>10.3e} (2^{:.1})",
        max_diff.log2()
    );
    outln!("\nfirst images: true / plaintext / encrypted");
    for i in 0..n.min(5) {
        let name = |c: usize| labels.get(c).map_or("?", String::as_str);
        outln!(
            "  #{i}: {:<12} {:<12} {:<12}",
            name(truth.get(i).map_or(0, |y| usize::from(*y))),
            name(plain_pred.get(i).copied().unwrap_or(0)),
            name(enc_pred.get(i).copied().unwrap_or(0))
        );
    }
    outln!(
        "\n{:<40} {:>12} {:>12} {:>14}",
        "step",
        "total ms",
        "per batch ms",
        "per image ms"
    );
    let row = |name: &str, d: Duration| {
        outln!(
            "{name:<40} {:>12.1} {:>12.1} {:>14.3}",
            util::ms(d),
            per_batch(d),
            per_img(d)
        );
    };
    row("client keygen (once)", keygen);
    row("client encrypt (seeded upload)", clock.encrypt);
    row("server read request (expand seeds)", clock.read);
    for (name, kind, li, lo, d) in &clock.nodes {
        row(&format!("server {name} ({kind}, L{li}→{lo})"), *d);
    }
    row("server write reply", clock.reply);
    row("server total", server_total);
    row("client read + decrypt", clock.decrypt);
    outln!();
    flow::print_sizes(&sizes);
    outln!(
        "sent: requests {} in total, replies {} in total",
        util::bytes(request_bytes),
        util::bytes(reply_bytes)
    );
    outln!(
        "\ndone in {:.1} s (use --full for all {} test images, --json for a machine-readable summary)",
        total.as_secs_f64(),
        test.len()
    );
    Ok(())
}
