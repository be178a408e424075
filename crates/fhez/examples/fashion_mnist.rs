//! Fashion-MNIST, encrypted: the original's classifier (cross-correlation filters, the
//! quadratic ReLU approximation, a 10-neuron dense layer; softmax + CCE, Adam) trained in
//! plaintext, then the test images classified under CKKS in both packings:
//!
//! - **batch-in-slots** ([`fhez::EncryptedModel`]): slot `i` = image `i`, 784 pixel
//!   ciphertexts per batch, no rotations; the best throughput;
//! - **latency mode** ([`fhez::latency::LatencyModel`]): one image per ciphertext
//!   (im2col), diagonal matrix–vector products with rotations; the lowest time per image.
//!   It runs on one thread (neither the latency module nor the CKKS engine spawns threads).
//!
//! Writes `target/results-fashion-mnist.json`.
//!
//! ```sh
//! scripts/fetch-datasets.sh fashion-mnist
//! # the committed model, all 10 000 test images batch-in-slots, the first 1 000 in latency mode
//! cargo run --release -p fhez --example fashion_mnist
//! # retrain (Adam) instead of loading models/fashion-mnist.json; every test image in both modes
//! cargo run --release -p fhez --example fashion_mnist -- --train --epochs 10 --latency-images 10000
//! ```
//!
//! Flags: `--model PATH` (default `models/fashion-mnist.json`), `--train`, `--epochs N`,
//! `--filters F`, `--kernel K`, `--stride S` (architecture when training), `--save PATH`
//! (write the trained model file), `--mode both|batch|latency|single` (`single`: one image
//! per ciphertext through `EncryptedModel::with_packing`, the first `--single-images N`,
//! default 100), `--batch-images N` (first N
//! test images, default all 10 000), `--batch-size B` (images per ciphertext batch, default
//! the model file's planned batch: 8 192, i.e. 2 batches), `--latency-images N` (the first N
//! test images, default 1 000), `--precision BITS` (plan of a model trained here, default
//! 30), `--single-precision BITS` (the precision the single-input plan requests, default the
//! model's), `--key-budget K` (the single-input plan's Galois-key budget, default none:
//! one key per rotation step), `--out PATH`.

mod common;

use common::{accuracy, argmax, images, ms, plain_logits};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fhez::ckks::{CkksParams, CkksServer, wire};
use fhez::data::{data_dir, fashion_mnist};
use fhez::erray::PlainArray;
use fhez::latency::{DEFAULT_HEADROOM_BITS, LatencyModel, LatencyNet, latency_spec_for};
use fhez::nn::{
    Adam, Graph, Optimizer, PackingChoice, PlanRequest, Tensor, TrainConfig, Trainer, stack,
    unstack,
};
use fhez::{CnnConfig, EncryptedModel, ModelFile, Task};
use serde_json::{Value, json};

const SEED: u64 = 42;

struct Args {
    model: PathBuf,
    train: bool,
    epochs: usize,
    filters: usize,
    kernel: usize,
    stride: usize,
    save: Option<PathBuf>,
    mode: String,
    batch_images: usize,
    batch_size: Option<usize>,
    latency_images: usize,
    single_images: usize,
    precision: u32,
    single_precision: Option<u32>,
    key_budget: Option<usize>,
    out: PathBuf,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn args() -> Result<Args> {
    let mut a = Args {
        model: workspace().join("models/fashion-mnist.json"),
        train: false,
        epochs: 10,
        filters: 8,
        kernel: 6,
        stride: 4,
        save: None,
        mode: "both".into(),
        batch_images: 10_000,
        batch_size: None,
        latency_images: 1_000,
        single_images: 100,
        precision: 30,
        single_precision: None,
        key_budget: None,
        out: workspace().join("target/results-fashion-mnist.json"),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        if k == "--train" {
            a.train = true;
            continue;
        }
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--model" => a.model = PathBuf::from(v),
            "--epochs" => a.epochs = v.parse()?,
            "--filters" => a.filters = v.parse()?,
            "--kernel" => a.kernel = v.parse()?,
            "--stride" => a.stride = v.parse()?,
            "--save" => a.save = Some(PathBuf::from(v)),
            "--mode" => a.mode.clone_from(v),
            "--batch-images" => a.batch_images = v.parse()?,
            "--batch-size" => a.batch_size = Some(v.parse()?),
            "--latency-images" => a.latency_images = v.parse()?,
            "--single-images" => a.single_images = v.parse()?,
            "--precision" => a.precision = v.parse()?,
            "--single-precision" => a.single_precision = Some(v.parse()?),
            "--key-budget" => a.key_budget = Some(v.parse()?),
            "--out" => a.out = PathBuf::from(v),
            other => bail!("unknown flag {other} (see the example's docs)"),
        }
    }
    Ok(a)
}

/// The plan request of a model trained here.
fn train_request(args: &Args) -> PlanRequest {
    PlanRequest {
        release: fhez::nn::ReleaseChoice::Shared,
        batch: 8192,
        precision_bits: args.precision,
        magnitude_bits: 20,
        standard: fhez::nn::SecurityStandard::Standard2018,
        key_budget: None,
    }
}

fn train(args: &Args, x: &[Tensor], labels: &[u8]) -> Result<Graph> {
    let cfg = CnnConfig {
        input: [28, 28],
        kernel: [args.kernel; 2],
        stride: [args.stride; 2],
        filters: args.filters,
        classes: 10,
        relu_q: 4.0,
    };
    let mut graph = cfg.build(SEED)?;
    let data: Vec<Vec<Tensor>> = x
        .iter()
        .zip(labels)
        .map(|(x, &y)| vec![x.clone(), Tensor::scalar(f64::from(y))])
        .collect();
    let optimizer = Optimizer::Adam(Adam {
        alpha: 0.002,
        ..Adam::default()
    });
    let config = TrainConfig {
        batch_size: 64,
        seed: SEED,
        shuffle: true,
        optimizer,
    };
    let mut trainer = Trainer::new(&graph, config);
    for epoch in 0..args.epochs {
        let loss = trainer.epoch(&mut graph, &data)?;
        println!("  epoch {:>3}: loss {loss:.4}", epoch + 1);
    }
    if let Some(path) = &args.save {
        let labels = fhez::data::FASHION_MNIST_LABELS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let plan = train_request(args);
        let task = Task::Classifier { labels };
        let mut file = ModelFile::new("fashion-mnist", &graph, &["x"], "Decrypt", task, plan)?;
        file.dataset = Some("fashion-mnist".into());
        file.save(path)?;
        println!("saved {}", path.display());
    }
    Ok(graph)
}

fn agreement(a: &[usize], b: &[usize]) -> f64 {
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / a.len().max(1) as f64
}

fn max_diff(got: &[Vec<f64>], want: &[Vec<f64>]) -> f64 {
    got.iter()
        .zip(want)
        .flat_map(|(g, w)| g.iter().zip(w).map(|(a, b)| (a - b).abs()))
        .fold(0.0, f64::max)
}

/// `{median, p90, mean, min, max}` in ms.
fn summary(xs: &[f64]) -> Value {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let i = ((s.len().saturating_sub(1)) as f64 * p).round() as usize;
        s.get(i).copied().unwrap_or(f64::NAN)
    };
    let mean = s.iter().sum::<f64>() / s.len().max(1) as f64;
    json!({"n": s.len(), "median_ms": pct(0.5), "p90_ms": pct(0.9), "mean_ms": mean,
           "min_ms": pct(0.0), "max_ms": pct(1.0)})
}

/// CPU seconds used by this process so far (user + system, `/proc/self/stat`, 10 ms
/// ticks; 0 where unavailable): on a shared machine, what the work costs regardless of
/// other tenants.
fn cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

fn median(xs: &[f64]) -> f64 {
    summary(xs)
        .get("median_ms")
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN)
}

/// Batch-in-slots over `x` in batches of `batch_size`: one plan, one key set.
fn batch_mode(
    graph: &Graph,
    request: &PlanRequest,
    x: &[Tensor],
    labels: &[u8],
    want: &[Vec<f64>],
) -> Result<Value> {
    let batch_size = request.batch.min(x.len()).max(1);
    let request = PlanRequest {
        batch: batch_size,
        ..*request
    };
    let model = EncryptedModel::with_request(graph.clone(), &request)?;
    let spec = model.spec();
    let params = CkksParams::new(&spec)?;
    let t = Instant::now();
    let client = model.keygen(&params)?;
    let keygen = t.elapsed();
    let keys = client.server_keys();
    let pk = wire::public_key_to_bytes(keys.public_key())?.len();
    let rk = wire::relin_key_to_bytes(keys.relin_key())?.len();
    let gk = wire::galois_keys_to_bytes(keys.galois_keys())?.len();
    let server = CkksServer::new(keys);
    let (mut enc, mut eval, mut dec) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut nodes: Vec<(String, String, f64, u32, u32)> = Vec::new();
    let (mut req_bytes, mut rep_bytes, mut req_cts, mut rep_cts) = (0, 0, 0, 0);
    let mut got: Vec<Vec<f64>> = Vec::with_capacity(x.len());
    let mut batches = Vec::new();
    for (b, chunk) in x.chunks(batch_size).enumerate() {
        let t = Instant::now();
        let request = model.encrypt(&client, &[("x", stack(chunk)?)])?;
        let t_enc = t.elapsed();
        let t = Instant::now();
        let (reply, timings) = model.evaluate_timed(&server, &request)?;
        let t_eval = t.elapsed();
        let t = Instant::now();
        let decrypted = model.decrypt(&client, &reply)?;
        let (_, logits) = decrypted.first().context("one decrypt boundary")?;
        let t_dec = t.elapsed();
        got.extend(unstack(logits)?.iter().map(|l| l.data().to_vec()));
        for n in &timings {
            match nodes.iter_mut().find(|e| e.0 == n.name) {
                Some(e) => e.2 += ms(n.elapsed),
                None => nodes.push((
                    n.name.clone(),
                    n.kind.to_owned(),
                    ms(n.elapsed),
                    n.levels.input,
                    n.levels.output,
                )),
            }
        }
        (req_bytes, rep_bytes) = (request.wire_bytes()?, reply.wire_bytes()?);
        (req_cts, rep_cts) = (request.num_cts(), reply.num_cts());
        println!(
            "  batch {b}: {} images, encrypt {:.1} s, server {:.1} s, decrypt {:.2} s",
            chunk.len(),
            t_enc.as_secs_f64(),
            t_eval.as_secs_f64(),
            t_dec.as_secs_f64()
        );
        batches.push(
            json!({"images": chunk.len(), "client_encrypt_ms": ms(t_enc),
            "server_eval_ms": ms(t_eval), "client_decrypt_ms": ms(t_dec),
            "request_bytes": req_bytes, "reply_bytes": rep_bytes}),
        );
        (enc, eval, dec) = (enc + t_enc, eval + t_eval, dec + t_dec);
    }
    let pred: Vec<usize> = got.iter().map(|l| argmax(l)).collect();
    let plain: Vec<usize> = want.iter().map(|l| argmax(l)).collect();
    let n = x.len() as f64;
    let (acc, agree) = (accuracy(&pred, labels), agreement(&pred, &plain));
    println!(
        "batch-in-slots: {} images, encrypted accuracy {acc:.4}, agreement {agree:.4}, server {:.1} img/s, end to end {:.1} img/s",
        x.len(),
        n / eval.as_secs_f64(),
        n / (enc + eval + dec).as_secs_f64()
    );
    Ok(json!({
        "images": x.len(), "batch_size": batch_size, "batches": batches,
        "plan": model.plan(), "params": {"log_n": params.log_n(), "log_q": spec.log_q,
            "log_p": spec.log_p, "log_scale": spec.log_scale, "log_qp": params.log_qp(),
            "security": format!("{:?}", params.security())},
        "plain_accuracy": accuracy(&plain, labels), "encrypted_accuracy": acc,
        "agreement": agree, "max_abs_logit_diff": max_diff(&got, want),
        "ms": {"client_keygen": ms(keygen), "client_encrypt": ms(enc), "server_eval": ms(eval),
               "client_decrypt": ms(dec),
               "server_nodes": nodes.iter().map(|(name, kind, t, li, lo)| json!({
                   "name": name, "kind": kind, "ms": t, "level_in": li, "level_out": lo}))
                   .collect::<Vec<_>>()},
        "amortised": {"server_ms_per_image": ms(eval) / n,
            "end_to_end_ms_per_image": ms(enc + eval + dec) / n,
            "server_images_per_s": n / eval.as_secs_f64(),
            "end_to_end_images_per_s": n / (enc + eval + dec).as_secs_f64()},
        "bytes": {"public_key": pk, "relin_key": rk, "galois_keys": gk,
            "request_per_batch": req_bytes, "request_cts": req_cts,
            "reply_per_batch": rep_bytes, "reply_cts": rep_cts},
    }))
}

/// Latency mode over `x`, one image at a time, through the wire format.
fn latency_mode(graph: &Graph, x: &[Tensor], labels: &[u8], want: &[Vec<f64>]) -> Result<Value> {
    let net = LatencyNet::from_graph(graph)?;
    // Headroom for the largest plaintext logit (×4 margin), at least the default.
    let max_logit = want.iter().flatten().fold(1.0f64, |m, v| m.max(v.abs()));
    let headroom = ((4.0 * max_logit).log2().ceil() as u32 + 1).max(DEFAULT_HEADROOM_BITS);
    let spec = latency_spec_for(&net, headroom)?;
    let params = CkksParams::new(&spec)?;
    let t = Instant::now();
    let model = LatencyModel::new(net, &params)?;
    let model_ms = ms(t.elapsed());
    let t = Instant::now();
    let client = model.keygen()?;
    let keygen = t.elapsed();
    let keys = client.server_keys();
    let pk = wire::public_key_to_bytes(keys.public_key())?.len();
    let rk = wire::relin_key_to_bytes(keys.relin_key())?.len();
    let gk = wire::galois_keys_to_bytes(keys.galois_keys())?.len();
    let (mut t_enc, mut t_eval, mut t_dec) = (Vec::new(), Vec::new(), Vec::new());
    let mut layers: Vec<(String, Vec<f64>, u64)> = Vec::new();
    let (mut req_bytes, mut rep_bytes) = (0, 0);
    let mut got = Vec::with_capacity(x.len());
    let limit = u64::MAX;
    let cpu0 = cpu_s();
    for (i, img) in x.iter().enumerate() {
        // client: im2col, encode, encrypt (seeded), serialise
        let t = Instant::now();
        let request =
            wire::seeded_ciphertext_to_bytes(&model.encrypt_seeded(&client, img.data())?)?;
        t_enc.push(ms(t.elapsed()));
        // server: parse, expand, evaluate, serialise
        let t = Instant::now();
        let ct = wire::seeded_ciphertext_from_bytes(&params, &request, limit)?.expand(&params)?;
        let (out, timings) = model.eval_timed(&keys, &ct)?;
        let reply = wire::ciphertext_to_bytes(&out)?;
        t_eval.push(ms(t.elapsed()));
        // client: parse, decrypt, decode
        let t = Instant::now();
        let out = wire::ciphertext_from_bytes(&params, &reply, limit)?;
        got.push(model.decrypt(&client, &out)?);
        t_dec.push(ms(t.elapsed()));
        for l in timings {
            match layers.iter_mut().find(|e| e.0 == l.name) {
                Some(e) => e.1.push(ms(l.elapsed)),
                None => layers.push((l.name, vec![ms(l.elapsed)], l.key_switches)),
            }
        }
        (req_bytes, rep_bytes) = (request.len(), reply.len());
        if (i + 1) % 200 == 0 {
            println!("  latency: {}/{} images", i + 1, x.len());
        }
    }
    let cpu_ms_per_image = (cpu_s() - cpu0) * 1e3 / x.len().max(1) as f64;
    let pred: Vec<usize> = got.iter().map(|l| argmax(l)).collect();
    let plain: Vec<usize> = want.iter().map(|l| argmax(l)).collect();
    let (acc, agree) = (accuracy(&pred, labels), agreement(&pred, &plain));
    let total: Vec<f64> = (0..t_enc.len())
        .map(|i| {
            t_enc.get(i).unwrap_or(&0.0)
                + t_eval.get(i).unwrap_or(&0.0)
                + t_dec.get(i).unwrap_or(&0.0)
        })
        .collect();
    println!(
        "latency mode: {} images, encrypted accuracy {acc:.4}, agreement {agree:.4}, median per image: encrypt {:.1} ms, server {:.1} ms, decrypt {:.1} ms; {cpu_ms_per_image:.1} CPU ms per image",
        x.len(),
        median(&t_enc),
        median(&t_eval),
        median(&t_dec)
    );
    Ok(json!({
        "images": x.len(), "subset": "the first N images of the official test split (fixed, in file order)",
        "threads": 1,
        "params": {"log_n": params.log_n(), "log_q": spec.log_q, "log_p": spec.log_p,
            "log_scale": spec.log_scale, "log_qp": params.log_qp(),
            "security": format!("{:?}", params.security()), "headroom_bits": headroom},
        "depth": model.net().depth(), "rotation_steps": model.rotation_steps(),
        "plain_accuracy": accuracy(&plain, labels), "encrypted_accuracy": acc,
        "agreement": agree, "max_abs_logit_diff": max_diff(&got, want),
        "per_image": {"client_encrypt": summary(&t_enc), "server_eval": summary(&t_eval),
            "client_decrypt": summary(&t_dec), "total": summary(&total)},
        "server_layers": layers.iter().map(|(name, ts, ks)| json!({"name": name,
            "median_ms": median(ts), "key_switches": ks})).collect::<Vec<_>>(),
        "throughput_images_per_s_one_thread": 1e3 / median(&total),
        "cpu_ms_per_image_mean": cpu_ms_per_image,
        "ms": {"client_keygen": ms(keygen), "server_model_encode": model_ms},
        "bytes": {"public_key": pk, "relin_key": rk, "galois_keys": gk,
            "request": req_bytes, "reply": rep_bytes,
            "note": "fhez wire format; request = seeded secret-key ciphertext at the input level; keys as serialised by fhez_ckks::wire"},
    }))
}

/// Single-input packing through the one model API ([`EncryptedModel::with_packing`]): the
/// same plan → keygen → encrypt → evaluate (server keys only) → decrypt calls as
/// batch-in-slots, one image per ciphertext, on one thread.
fn single_mode(
    graph: &Graph,
    request: &PlanRequest,
    x: &[Tensor],
    labels: &[u8],
    want: &[Vec<f64>],
) -> Result<Value> {
    let t = Instant::now();
    let model = EncryptedModel::with_packing(graph.clone(), request, PackingChoice::SingleInput)?;
    let plan_ms = ms(t.elapsed());
    let params = CkksParams::new(&model.spec())?;
    let t = Instant::now();
    let client = model.keygen(&params)?;
    let keygen = t.elapsed();
    let keys = client.server_keys();
    let gk = wire::galois_keys_to_bytes(keys.galois_keys())?.len();
    let server = CkksServer::new(keys);
    let (mut t_enc, mut t_eval, mut t_dec) = (Vec::new(), Vec::new(), Vec::new());
    let mut got = Vec::with_capacity(x.len());
    let mut key_switches = 0;
    let cpu0 = cpu_s();
    for (i, img) in x.iter().enumerate() {
        let t = Instant::now();
        let input = PlainArray::new(vec![1, 28, 28], img.data().to_vec())?;
        let sent = model.encrypt(&client, &[("x", input)])?;
        t_enc.push(ms(t.elapsed()));
        let before = fhez::backend::Backend::stats(&server);
        let t = Instant::now();
        let back = model.evaluate(&server, &sent)?;
        t_eval.push(ms(t.elapsed()));
        key_switches = (fhez::backend::Backend::stats(&server) - before).key_switches;
        let t = Instant::now();
        let out = model.decrypt(&client, &back)?;
        t_dec.push(ms(t.elapsed()));
        let logits = out
            .first()
            .map(|(_, a)| a.data().to_vec())
            .context("no decrypted output")?;
        got.push(logits);
        if (i + 1) % 20 == 0 {
            println!("  single-input: {}/{} images", i + 1, x.len());
        }
    }
    let cpu_ms_per_image = (cpu_s() - cpu0) * 1e3 / x.len().max(1) as f64;
    let pred: Vec<usize> = got.iter().map(|l| argmax(l)).collect();
    let plain: Vec<usize> = want.iter().map(|l| argmax(l)).collect();
    let (acc, agree) = (accuracy(&pred, labels), agreement(&pred, &plain));
    println!(
        "single-input (model API): {} images, encrypted accuracy {acc:.4}, agreement {agree:.4}, median per image: encrypt {:.1} ms, server {:.1} ms, decrypt {:.1} ms; {key_switches} key switches; {cpu_ms_per_image:.1} CPU ms per image",
        x.len(),
        median(&t_enc),
        median(&t_eval),
        median(&t_dec)
    );
    let plan = model.plan();
    Ok(json!({
        "images": x.len(), "threads": 1,
        "params": {"log_n": plan.log_n, "log_q": plan.log_q, "log_p": plan.log_p,
            "log_scale": plan.log_scale, "depth": plan.depth},
        "rotation_steps": plan.rotation_steps.len(),
        "key_budget": plan.key_budget, "composed_steps": plan.rotation_compose.len(),
        "planned_rotations": plan.nodes.iter().map(|n| n.rotations).sum::<u64>(),
        "plain_accuracy": accuracy(&plain, labels), "encrypted_accuracy": acc,
        "agreement": agree, "max_abs_logit_diff": max_diff(&got, want),
        "per_image": {"client_encrypt": summary(&t_enc), "server_eval": summary(&t_eval),
            "client_decrypt": summary(&t_dec)},
        "server_key_switches": key_switches,
        "cpu_ms_per_image_mean": cpu_ms_per_image,
        "ms": {"plan": plan_ms, "client_keygen": ms(keygen)},
        "bytes": {"galois_keys": gk},
    }))
}

fn main() -> Result<()> {
    let args = args()?;
    let mut data =
        fashion_mnist(&data_dir()).context("run `scripts/fetch-datasets.sh fashion-mnist`")?;
    data.train.scale(1.0 / 255.0);
    data.test.scale(1.0 / 255.0);
    let x_test = images(&data.test)?;
    let t = Instant::now();
    let (graph, source, mut request) = if args.train {
        let x_train = images(&data.train)?;
        let graph = train(&args, &x_train, &data.train.labels)?;
        let source = format!("trained here, {} epochs", args.epochs);
        (graph, source, train_request(&args))
    } else {
        let file = ModelFile::load(&args.model)
            .with_context(|| format!("{} (or pass --train)", args.model.display()))?;
        (file.graph()?, args.model.display().to_string(), file.plan)
    };
    if let Some(b) = args.batch_size {
        request.batch = b;
    }
    let train_s = t.elapsed().as_secs_f64();
    let want = plain_logits(&graph, &x_test)?;
    let plain_pred: Vec<usize> = want.iter().map(|l| argmax(l)).collect();
    let plain_acc = accuracy(&plain_pred, &data.test.labels);
    println!("model: {source}; plaintext test accuracy {plain_acc:.4} (10 000 images)");
    let mut result = json!({
        "dataset": "Fashion-MNIST, official 60 000 / 10 000 split, pixels / 255",
        "model": source, "train_seconds": train_s, "plain_accuracy_full_test": plain_acc,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "threads_available": std::thread::available_parallelism().map_or(1, usize::from),
    });
    if args.mode == "both" || args.mode == "batch" {
        let n = args.batch_images.min(x_test.len());
        let (x, y, w) = (
            x_test.get(..n).context("batch images")?,
            data.test.labels.get(..n).context("labels")?,
            want.get(..n).context("logits")?,
        );
        let batch = batch_mode(&graph, &request, x, y, w)?;
        if let Some(obj) = result.as_object_mut() {
            obj.insert("batch_in_slots".into(), batch);
        }
    }
    if args.mode == "both" || args.mode == "latency" {
        let n = args.latency_images.min(x_test.len());
        let (x, y, w) = (
            x_test.get(..n).context("latency images")?,
            data.test.labels.get(..n).context("labels")?,
            want.get(..n).context("logits")?,
        );
        let latency = latency_mode(&graph, x, y, w)?;
        if let Some(obj) = result.as_object_mut() {
            obj.insert("latency".into(), latency);
        }
    }
    if args.mode == "single" {
        let n = args.single_images.min(x_test.len());
        let (x, y, w) = (
            x_test.get(..n).context("single-input images")?,
            data.test.labels.get(..n).context("labels")?,
            want.get(..n).context("logits")?,
        );
        let single_request = PlanRequest {
            precision_bits: args.single_precision.unwrap_or(request.precision_bits),
            key_budget: args.key_budget.or(request.key_budget),
            ..request
        };
        let single = single_mode(&graph, &single_request, x, y, w)?;
        if let Some(obj) = result.as_object_mut() {
            obj.insert("single_input".into(), single);
        }
    }
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&result)?)?;
    println!("wrote {}", args.out.display());
    Ok(())
}
