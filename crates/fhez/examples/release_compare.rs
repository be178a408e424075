//! Fashion-MNIST, one image per ciphertext, three paths side by side in one run, images
//! interleaved (each image goes through every path in turn, so all share the machine's
//! load): the model API's single-input packing planned for **shared** decryptions (noise
//! flooding paid for in the scale), the same planned **private-only** (no flooding: the
//! decryptions never leave the client), and the old latency engine
//! ([`fhez::latency::LatencyModel`], which does not flood).
//!
//! ```sh
//! scripts/fetch-datasets.sh fashion-mnist
//! RAYON_NUM_THREADS=1 cargo run --release -p fhez --example release_compare -- --images 1000
//! ```
//!
//! Flags: `--model PATH` (default `models/fashion-mnist.json`), `--images N` (the first N
//! test images, default 1 000), `--private-precision BITS` (the precision the private plan
//! requests, default 12: what the shared plan promises after flooding), `--out PATH`
//! (default `target/results-release-compare.json`). CPU time per image is the whole
//! process's (every thread's `/proc/self/task/*/schedstat`, nanoseconds); the 10 ms-tick
//! total of `/proc/self/stat` is reported beside it as a check.

mod common;

use common::{accuracy, argmax, images, ms, plain_logits};

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fhez::ckks::{CkksParams, CkksServer, wire};
use fhez::data::{data_dir, fashion_mnist};
use fhez::erray::PlainArray;
use fhez::latency::{DEFAULT_HEADROOM_BITS, LatencyModel, LatencyNet, latency_spec_for};
use fhez::nn::{Graph, PackingChoice, PlanRequest, ReleaseChoice, Tensor};
use fhez::{EncryptedModel, ModelFile};
use serde_json::{Value, json};

struct Args {
    model: PathBuf,
    images: usize,
    private_precision: u32,
    out: PathBuf,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn args() -> Result<Args> {
    let mut a = Args {
        model: workspace().join("models/fashion-mnist.json"),
        images: 1000,
        private_precision: 12,
        out: workspace().join("target/results-release-compare.json"),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--model" => a.model = PathBuf::from(v),
            "--images" => a.images = v.parse()?,
            "--private-precision" => a.private_precision = v.parse()?,
            "--out" => a.out = PathBuf::from(v),
            other => bail!("unknown flag {other} (see the example's docs)"),
        }
    }
    Ok(a)
}

/// CPU nanoseconds of every thread of this process so far (the first field of each
/// `/proc/self/task/*/schedstat`; a pool thread's work counts too).
fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU seconds of the whole process so far (`/proc/self/stat`, 10 ms ticks).
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
}

/// The client → server → client round trip of one image, through the wire format.
type Step = Box<dyn FnMut(&Tensor) -> Result<Vec<f64>>>;

/// One path: its round trip, its fixed figures and its per-image measurements.
struct Path1 {
    name: &'static str,
    step: Step,
    info: Value,
    cpu_ms: Vec<f64>,
    wall_ms: Vec<f64>,
    process_cpu_s: f64,
    logits: Vec<Vec<f64>>,
}

impl Path1 {
    fn new(name: &'static str, step: Step, info: Value) -> Self {
        Self {
            name,
            step,
            info,
            cpu_ms: Vec::new(),
            wall_ms: Vec::new(),
            process_cpu_s: 0.0,
            logits: Vec::new(),
        }
    }

    fn run(&mut self, img: &Tensor) -> Result<()> {
        let (cpu, process, wall) = (process_cpu_ns(), process_cpu_s(), Instant::now());
        let logits = (self.step)(img)?;
        self.wall_ms.push(ms(wall.elapsed()));
        self.cpu_ms
            .push(process_cpu_ns().saturating_sub(cpu) as f64 / 1e6);
        self.process_cpu_s += process_cpu_s() - process;
        self.logits.push(logits);
        Ok(())
    }
}

/// The model API's single-input packing under `release`.
fn model_path(
    name: &'static str,
    graph: &Graph,
    request: &PlanRequest,
    release: ReleaseChoice,
) -> Result<Path1> {
    let request = PlanRequest {
        release,
        ..*request
    };
    let model = EncryptedModel::with_packing(graph.clone(), &request, PackingChoice::SingleInput)?;
    let params = CkksParams::new(&model.spec())?;
    let t = Instant::now();
    let client = model.keygen(&params)?;
    let keygen_ms = ms(t.elapsed());
    let keys = client.server_keys();
    let bundle = fhez::bundle::public_bundle_to_bytes(&keys)?.len();
    let galois = wire::galois_keys_to_bytes(keys.galois_keys())?.len();
    let server = CkksServer::new(keys);
    let plan = model.plan().clone();
    let key_switches: u64 = plan.nodes.iter().map(|n| n.key_switches).sum();
    let info = json!({
        "log_n": plan.log_n, "log_q": plan.log_q, "log_p": plan.log_p,
        "log_scale": plan.log_scale, "release": plan.release(),
        "planned_key_switches": key_switches, "rotation_keys": plan.rotation_steps.len(),
        "public_bundle_bytes": bundle, "galois_key_bytes": galois, "keygen_ms": keygen_ms,
    });
    let step: Step = Box::new(move |img: &Tensor| {
        let x = PlainArray::new(vec![1, 28, 28], img.data().to_vec())?;
        let sent = model.encrypt_seeded_bytes(&client, &[("x", x)])?;
        let request = fhez::CtBatch::from_bytes(&server, &sent, u64::MAX as usize)?;
        let reply = model.evaluate_owned(&server, request)?.to_bytes()?;
        let back = fhez::CtBatch::from_bytes(&client.server(), &reply, u64::MAX as usize)?;
        let out = model.decrypt(&client, &back)?;
        Ok(out.first().context("one output")?.1.data().to_vec())
    });
    Ok(Path1::new(name, step, info))
}

/// The old latency engine (no flooding), as `examples/fashion_mnist.rs --mode latency`.
fn latency_path(graph: &Graph, want: &[Vec<f64>]) -> Result<Path1> {
    let net = LatencyNet::from_graph(graph)?;
    let max_logit = want.iter().flatten().fold(1.0f64, |m, v| m.max(v.abs()));
    let headroom = ((4.0 * max_logit).log2().ceil() as u32 + 1).max(DEFAULT_HEADROOM_BITS);
    let spec = latency_spec_for(&net, headroom)?;
    let params = CkksParams::new(&spec)?;
    let model = LatencyModel::new(net, &params)?;
    let t = Instant::now();
    let client = model.keygen()?;
    let keygen_ms = ms(t.elapsed());
    let keys = client.server_keys();
    let bundle = fhez::bundle::public_bundle_to_bytes(&keys)?.len();
    let galois = wire::galois_keys_to_bytes(keys.galois_keys())?.len();
    let info = json!({
        "log_n": params.log_n(), "log_q": spec.log_q, "log_p": spec.log_p,
        "log_scale": spec.log_scale, "release": "exact decryption (no flooding, no rounding)",
        "rotation_keys": model.rotation_steps().len(),
        "public_bundle_bytes": bundle, "galois_key_bytes": galois, "keygen_ms": keygen_ms,
    });
    let step: Step = Box::new(move |img: &Tensor| {
        let request =
            wire::seeded_ciphertext_to_bytes(&model.encrypt_seeded(&client, img.data())?)?;
        let ct =
            wire::seeded_ciphertext_from_bytes(&params, &request, u64::MAX)?.expand(&params)?;
        let reply = wire::ciphertext_to_bytes(&model.eval(&keys, &ct)?)?;
        let out = wire::ciphertext_from_bytes(&params, &reply, u64::MAX)?;
        Ok(model.decrypt(&client, &out)?)
    });
    Ok(Path1::new("old engine (latency)", step, info))
}

fn report(p: &Path1, labels: &[u8], plain: &[usize], want: &[Vec<f64>]) -> Value {
    let pred: Vec<usize> = p.logits.iter().map(|l| argmax(l)).collect();
    let agree = pred.iter().zip(plain).filter(|(a, b)| a == b).count() as f64;
    let max_err = p
        .logits
        .iter()
        .zip(want)
        .flat_map(|(g, w)| g.iter().zip(w).map(|(a, b)| (a - b).abs()))
        .fold(0.0, f64::max);
    let n = p.cpu_ms.len().max(1) as f64;
    let mut info = p.info.clone();
    if let Some(o) = info.as_object_mut() {
        o.insert("images".into(), json!(p.cpu_ms.len()));
        o.insert("accuracy".into(), json!(accuracy(&pred, labels)));
        o.insert("agreement".into(), json!(agree / n));
        o.insert("max_abs_logit_error".into(), json!(max_err));
        o.insert("cpu_ms_median".into(), json!(common::median(&p.cpu_ms)));
        o.insert(
            "cpu_ms_mean".into(),
            json!(p.cpu_ms.iter().sum::<f64>() / n),
        );
        o.insert(
            "process_cpu_ms_mean".into(),
            json!(p.process_cpu_s * 1e3 / n),
        );
        o.insert("wall_ms_median".into(), json!(common::median(&p.wall_ms)));
    }
    info
}

fn main() -> Result<()> {
    let args = args()?;
    let mut data =
        fashion_mnist(&data_dir()).context("run `scripts/fetch-datasets.sh fashion-mnist`")?;
    data.test.scale(1.0 / 255.0);
    let x_test = images(&data.test)?;
    let n = args.images.min(x_test.len());
    let (x, labels) = (
        x_test.get(..n).context("images")?,
        data.test.labels.get(..n).context("labels")?,
    );
    let file = ModelFile::load(&args.model)?;
    let graph = file.graph()?;
    let want = plain_logits(&graph, x)?;
    let plain: Vec<usize> = want.iter().map(|l| argmax(l)).collect();
    let private_request = PlanRequest {
        precision_bits: args.private_precision,
        ..file.plan
    };
    let mut paths = vec![
        model_path(
            "shared (flooding)",
            &graph,
            &file.plan,
            ReleaseChoice::Shared,
        )?,
        model_path(
            "private-only",
            &graph,
            &private_request,
            ReleaseChoice::PrivateOnly,
        )?,
        latency_path(&graph, &want)?,
    ];
    for (i, img) in x.iter().enumerate() {
        for p in &mut paths {
            p.run(img)?;
        }
        if (i + 1) % 100 == 0 {
            println!("  {}/{n} images", i + 1);
        }
    }
    let results: Vec<Value> = paths
        .iter()
        .map(|p| json!({"path": p.name, "figures": report(p, labels, &plain, &want)}))
        .collect();
    for r in &results {
        println!("{}", serde_json::to_string(r)?);
    }
    let out = json!({
        "what": "Fashion-MNIST single-input, shared vs private-only vs the old engine, images interleaved",
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "plain_accuracy": accuracy(&plain, labels),
        "threads_rayon": std::env::var("RAYON_NUM_THREADS").ok(),
        "paths": results,
    });
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&out)?)?;
    println!("wrote {}", args.out.display());
    Ok(())
}
