//! Bounded load test of the service over loopback.
//!
//! By default it starts a server **in a child process** (the bars fixture model, or the
//! model file given with `--model FILE`; secure parameters, a temporary key database) so
//! that the server's peak memory is measured apart from the client's; `--server URL
//! --model NAME` targets a running server instead. `--mode latency` sends one sample per
//! request in latency mode (one ciphertext) instead of a batch-in-slots request. Inputs:
//! Fashion-MNIST / MNIST test images (pixels / 255, from `fhez_data::data_dir()`) when
//! the model file records that data set, else synthetic 5×5 bars.
//! It sends `--requests` encrypted requests with `--concurrency` clients, stops by itself
//! at the count or the `--time-limit-s`, decrypts every reply and compares it with the
//! reference answer, and prints one JSON report: count, ok, wrong, lost, throughput,
//! latency percentiles, peak RSS.
//!
//! Behind a load balancer (`--server URL`, `scripts/scale-out-test.sh`): `--model-file`
//! gives the plaintext model the answers are checked against, `--keys DIR` keeps the
//! client keys between runs, and a request whose worker died under it (a gateway error
//! 502/504, or a reset connection) is retried until the time limit, like a 503; such
//! retries are counted in `retried_gateway`. `--write-model FILE` writes the bars fixture
//! model file (for `fhez serve --model FILE`) and exits.

#![forbid(unsafe_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use clap::Parser;
use fhez_model::ModelFile;
use fhez_nn::{Tape, Tensor};
use fhez_serve::client::{SamplePrediction, interpret};
use fhez_serve::fixture::{bars, bars_model};
use fhez_serve::{
    Client, ClientError, LatencySession, ModelInfo, Retry, Server, ServerConfig, Session,
};

/// Bounded load test of fhez-serve over loopback.
#[derive(Parser, Debug)]
#[command(name = "fhez-serve-load")]
struct Args {
    /// Target a running server instead of starting one.
    #[arg(long, requires = "model")]
    server: Option<String>,
    /// With `--server`: the model's name there. Otherwise: a model file for the spawned
    /// server to serve (default: the bars fixture).
    #[arg(long)]
    model: Option<String>,
    /// Evaluation mode of the requests.
    #[arg(long, value_enum, default_value_t = LoadMode::Batch)]
    mode: LoadMode,
    /// Request deadline of the spawned server, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
    /// Body limit of the spawned server, in MiB.
    #[arg(long, default_value_t = 64)]
    max_body_mb: usize,
    /// Requests to send.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Stop starting requests after this many seconds.
    #[arg(long, default_value_t = 600)]
    time_limit_s: u64,
    /// Samples per request (at most the model's batch).
    #[arg(long, default_value_t = 1)]
    samples: usize,
    /// Distinct pre-encrypted requests cycled through.
    #[arg(long, default_value_t = 8)]
    pool: usize,
    /// In-flight limit of the spawned server, for the mode under test (default: its number
    /// of cores).
    #[arg(long)]
    max_in_flight: Option<usize>,
    /// Queue length of the spawned server, for the mode under test (default: four times
    /// the in-flight limit in batch mode, 64 times the cores in latency mode).
    #[arg(long)]
    max_queue: Option<usize>,
    /// With `--server`: the model file the server serves, for the plaintext reference.
    #[arg(long, requires = "server")]
    model_file: Option<PathBuf>,
    /// Client key directory (kept; default: a temporary one).
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Write the bars fixture model file (name `bars`, batch 4) to this path and exit.
    #[arg(long)]
    write_model: Option<PathBuf>,
    /// Internal: run as the spawned server, writing `ADDR` then serving until stdin closes.
    #[arg(long, hide = true)]
    serve_child: Option<PathBuf>,
}

/// `--mode`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LoadMode {
    /// Batch-in-slots requests (`--samples` per request).
    Batch,
    /// Latency mode: one sample, one ciphertext per request.
    Latency,
}

/// A session in the mode under test.
enum Sess {
    Batch(Box<Session>),
    Latency(Box<LatencySession>),
}

impl Sess {
    fn info(&self) -> &ModelInfo {
        match self {
            Self::Batch(s) => s.info(),
            Self::Latency(s) => s.info(),
        }
    }

    fn params(&self) -> &fhez_ckks::CkksParams {
        match self {
            Self::Batch(s) => s.keys().params(),
            Self::Latency(s) => s.keys().params(),
        }
    }

    fn max_samples(&self) -> usize {
        match self {
            Self::Batch(s) => s.info().max_batch.max(1),
            Self::Latency(_) => 1,
        }
    }

    async fn encrypt(&self, chunk: &[Vec<f64>]) -> Result<Bytes, ClientError> {
        match self {
            Self::Batch(s) => s.encrypt(chunk).await,
            Self::Latency(s) => {
                s.encrypt(chunk.first().map_or(&[][..], Vec::as_slice))
                    .await
            }
        }
    }

    async fn call(&self, request: Bytes) -> Result<Bytes, ClientError> {
        match self {
            Self::Batch(s) => s.call(request).await,
            Self::Latency(s) => s.call(request).await,
        }
    }

    async fn decrypt(&self, reply: Bytes) -> Result<Vec<Vec<f64>>, ClientError> {
        match self {
            Self::Batch(s) => s.decrypt(reply).await,
            Self::Latency(s) => Ok(vec![s.decrypt(reply).await?]),
        }
    }
}

/// Test images for `file` (Fashion-MNIST / MNIST test images scaled to [0, 1] when the
/// model records that data set, else synthetic bars).
fn load_images(file: Option<&ModelFile>, n: usize) -> anyhow::Result<Vec<Vec<f64>>> {
    let dataset = file.and_then(|f| f.dataset.clone()).unwrap_or_default();
    let dir = fhez_data::data_dir();
    let mut split = match dataset.as_str() {
        "fashion-mnist" | "fashion_mnist" => fhez_data::fashion_mnist(&dir)?.test,
        "mnist" => fhez_data::mnist(&dir)?.test,
        _ => return Ok(bars(n, 11).into_iter().map(|(x, _)| x).collect()),
    };
    split.scale(1.0 / 255.0);
    (0..n.min(split.len()))
        .map(|i| Ok(split.sample(i).context("test image")?.to_vec()))
        .collect()
}

fn vm_hwm_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Child mode: serve the fixture model until stdin reaches EOF.
fn serve_child(dir: &Path, args: &Args) -> anyhow::Result<()> {
    fhez_serve::cli::init_logging();
    let file = ModelFile::load(&dir.join("model.json"))?;
    let mut config = ServerConfig::new(vec![file]);
    config.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.db_path = dir.join("keys.redb");
    config.request_timeout = Duration::from_secs(args.timeout_s.max(1));
    config.max_body_bytes = args.max_body_mb.saturating_mul(1 << 20);
    match args.mode {
        LoadMode::Batch => {
            if let Some(n) = args.max_in_flight {
                config.max_in_flight = n.max(1);
                config.max_queue = 4 * config.max_in_flight;
            }
            if let Some(n) = args.max_queue {
                config.max_queue = n;
            }
        }
        LoadMode::Latency => {
            if let Some(n) = args.max_in_flight {
                config.latency_max_in_flight = n.max(1);
            }
            if let Some(n) = args.max_queue {
                config.latency_max_queue = n;
            }
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = Server::bind(config).await?;
        std::fs::write(dir.join("addr"), server.local_addr().to_string())?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            let _ = tx.send(());
        });
        server
            .run(async {
                let _ = rx.await;
            })
            .await?;
        anyhow::Ok(())
    })
}

/// Plaintext logits of the bars model for one image.
fn plain_logits(file: &ModelFile, image: &[f64]) -> anyhow::Result<Vec<f64>> {
    let graph = file.graph()?;
    let (x, dec) = (graph.id("x")?, graph.id(&file.output)?);
    let mut tape = Tape::new(&graph);
    let shape = file
        .inputs
        .first()
        .map(|i| i.shape.clone())
        .unwrap_or_default();
    graph.stimulate(&[(x, Tensor::new(shape, image.to_vec())?)], &mut tape)?;
    Ok(tape.output(dec, 0).context("no output")?.data().to_vec())
}

fn class_of(p: &SamplePrediction) -> Option<usize> {
    match p {
        SamplePrediction::Class { index, .. } => Some(*index),
        SamplePrediction::Values { .. } => None,
    }
}

fn rows_match(a: &[Vec<f64>], b: &[Vec<f64>], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(u, v)| (u - v).abs() <= tol))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "index of a percentile"
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    wrong: AtomicUsize,
    lost: AtomicUsize,
    refused: AtomicUsize,
    retried: AtomicUsize,
}

#[expect(clippy::too_many_lines, reason = "one linear script")]
fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.serve_child {
        return serve_child(dir, &args);
    }
    if let Some(path) = &args.write_model {
        bars_model("bars", 4)?.save(path)?;
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("fhez-serve-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    // The server: a child process, or the one given.
    let mut child = None;
    let mut model_file = None;
    let (url, model) = if let Some(url) = &args.server {
        if let Some(path) = &args.model_file {
            model_file = Some(
                ModelFile::load(path)
                    .with_context(|| format!("loading the model file {}", path.display()))?,
            );
        }
        (url.clone(), args.model.clone().context("--model")?)
    } else {
        let file = match &args.model {
            Some(path) => ModelFile::load(Path::new(path))
                .with_context(|| format!("loading the model file {path}"))?,
            None => bars_model("bars", 4)?,
        };
        file.save(&dir.join("model.json"))?;
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.arg("--serve-child").arg(&dir).stdin(Stdio::piped());
        cmd.arg("--mode").arg(match args.mode {
            LoadMode::Batch => "batch",
            LoadMode::Latency => "latency",
        });
        cmd.arg("--timeout-s").arg(args.timeout_s.to_string());
        cmd.arg("--max-body-mb").arg(args.max_body_mb.to_string());
        if let Some(n) = args.max_in_flight {
            cmd.arg("--max-in-flight").arg(n.to_string());
        }
        if let Some(n) = args.max_queue {
            cmd.arg("--max-queue").arg(n.to_string());
        }
        cmd.env("RUST_LOG", "warn");
        child = Some(cmd.spawn().context("spawning the server")?);
        let addr_file = dir.join("addr");
        let start = Instant::now();
        let addr = loop {
            if let Ok(a) = std::fs::read_to_string(&addr_file)
                && !a.is_empty()
            {
                break a;
            }
            if start.elapsed() > Duration::from_secs(600) {
                bail!("the server did not start");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let name = file.name.clone();
        model_file = Some(file);
        (format!("http://{addr}"), name)
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        // Retry 503s for as long as the test may run: a refused request is retried, not
        // lost.
        let client = Client::new(&url)?.with_retry(Retry {
            attempts: u32::MAX,
            max_wait: Duration::from_secs(5),
            max_total: Duration::from_secs(args.time_limit_s),
        });
        let keys = args.keys.clone().unwrap_or_else(|| dir.join("client-keys"));
        let session = Arc::new(match args.mode {
            LoadMode::Batch => Sess::Batch(Box::new(Session::open(client, &model, &keys).await?)),
            LoadMode::Latency => {
                Sess::Latency(Box::new(LatencySession::open(client, &model, &keys).await?))
            }
        });
        let info = session.info().clone();
        // Replies are decrypted for release (flooded, rounded to the promised bits): two
        // decryptions of equal answers agree within two promised steps.
        let bits = fhez_model::promised_precision_bits(session.params());
        let tol = if bits == 0 {
            1e-6
        } else {
            2.0 * (-f64::from(bits)).exp2()
        };
        let size: usize = info.inputs.first().map_or(0, |i| i.shape.iter().product());
        let samples = args.samples.clamp(1, session.max_samples());

        // A pool of requests with their reference answers (one sequential call each; for
        // the spawned server also compared with the plaintext model's class).
        let images = load_images(model_file.as_ref(), args.pool.max(1) * samples)?;
        let mut pool = Vec::new();
        let mut plain_disagreements = 0usize;
        for chunk in images.chunks(samples) {
            if chunk.iter().any(|s| s.len() != size) {
                bail!("the load test's images do not fit model `{model}`");
            }
            let request = session.encrypt(chunk).await?;
            let reference = session
                .decrypt(session.call(request.clone()).await?)
                .await?;
            if let Some(file) = &model_file {
                for (row, image) in reference.iter().zip(chunk) {
                    let want = plain_logits(file, image)?;
                    let got = class_of(&interpret(&info.task, row.clone()));
                    let best = Tensor::from_vec(want).argmax();
                    if got != Some(best) {
                        eprintln!("an encrypted answer disagrees with the plaintext class");
                        plain_disagreements += 1;
                    }
                }
            }
            let plain = match &model_file {
                Some(file) => Some(
                    chunk
                        .iter()
                        .map(|image| Ok(Tensor::from_vec(plain_logits(file, image)?).argmax()))
                        .collect::<anyhow::Result<Vec<usize>>>()?,
                ),
                None => None,
            };
            pool.push((request, reference, plain));
        }
        let pool = Arc::new(pool);

        let tally = Arc::new(Tally::default());
        let next = Arc::new(AtomicUsize::new(0));
        let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(args.requests)));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(args.time_limit_s);
        let mut workers = Vec::new();
        for _ in 0..args.concurrency.max(1) {
            let (session, pool, tally, next, latencies) = (
                Arc::clone(&session),
                Arc::clone(&pool),
                Arc::clone(&tally),
                Arc::clone(&next),
                Arc::clone(&latencies),
            );
            let total = args.requests;
            let task = info.task.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total || Instant::now() >= deadline {
                        break;
                    }
                    let Some((request, reference, plain)) = pool.get(i % pool.len()) else {
                        break;
                    };
                    let t0 = Instant::now();
                    // A worker killed under a request: the balancer answers 502/504 or the
                    // connection resets. Evaluation has no side effect, so retry it.
                    let reply = loop {
                        let r = session.call(request.clone()).await;
                        let gateway = match &r {
                            Err(ClientError::Http { .. }) => true,
                            Err(ClientError::Api { status, .. }) => {
                                *status == 502 || *status == 504
                            }
                            _ => false,
                        };
                        if gateway && Instant::now() < deadline {
                            tally.retried.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue;
                        }
                        break r;
                    };
                    let elapsed = t0.elapsed().as_secs_f64();
                    match reply {
                        Ok(bytes) => {
                            let decoded = session.decrypt(bytes).await;
                            let good = matches!(&decoded, Ok(rows)
                            if rows_match(rows, reference, tol)
                                && plain.as_ref().is_none_or(|p| {
                                    rows.iter().zip(p).all(|(row, &want)| {
                                        class_of(&interpret(&task, row.clone()))
                                            .is_none_or(|got| got == want)
                                    })
                                }));
                            if good {
                                tally.ok.fetch_add(1, Ordering::Relaxed);
                            } else {
                                tally.wrong.fetch_add(1, Ordering::Relaxed);
                            }
                            if let Ok(mut l) = latencies.lock() {
                                l.push(elapsed);
                            }
                        }
                        Err(e) => {
                            if e.api_code() == Some("overloaded") {
                                tally.refused.fetch_add(1, Ordering::Relaxed);
                            }
                            eprintln!("request {i}: {e}");
                            tally.lost.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for w in workers {
            w.await?;
        }
        let wall = start.elapsed().as_secs_f64();
        let params = match (args.mode, &info.latency) {
            (LoadMode::Latency, Some(l)) => serde_json::json!({"log_n": l.params.log_n,
                "log_q": l.params.log_q, "log_p": l.params.log_p,
                "rotation_keys": l.rotation_steps.len()}),
            _ => serde_json::json!({"log_n": info.params.log_n, "log_q": info.params.log_q,
                "log_p": info.params.log_p}),
        };
        let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
        lat.sort_by(f64::total_cmp);
        let ok = tally.ok.load(Ordering::Relaxed);
        let wrong = tally.wrong.load(Ordering::Relaxed);
        let lost = tally.lost.load(Ordering::Relaxed);
        let sent = ok + wrong + lost;
        #[expect(clippy::cast_precision_loss, reason = "counts to rates")]
        let throughput = ok as f64 / wall;
        Ok(serde_json::json!({
            "server": url,
            "model": model,
            "mode": format!("{:?}", args.mode).to_lowercase(),
            "params": params,
            "reference_vs_plaintext_class_disagreements": plain_disagreements,
            "request_bytes": pool.first().map(|(r, _, _)| r.len()),
            "samples_per_request": samples,
            "concurrency": args.concurrency,
            "requested": args.requests,
            "count": sent,
            "ok": ok,
            "wrong": wrong,
            "lost": lost,
            "not_started_time_limit": args.requests.saturating_sub(sent),
            "refused_after_retries": tally.refused.load(Ordering::Relaxed),
            "retried_gateway": tally.retried.load(Ordering::Relaxed),
            "tolerance": tol,
            "wall_s": wall,
            "throughput_req_per_s": throughput,
            "latency_s": {
                "p50": percentile(&lat, 0.50),
                "p90": percentile(&lat, 0.90),
                "p99": percentile(&lat, 0.99),
                "max": lat.last().copied(),
            },
        }))
    });

    // Stop the child gracefully (closing its stdin) and read its peak memory first.
    let mut server_hwm = None;
    if let Some(mut c) = child {
        server_hwm = vm_hwm_kib(&c.id().to_string());
        drop(c.stdin.take());
        let _ = c.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut report = report?;
    if let Some(obj) = report.as_object_mut() {
        obj.insert(
            "server_peak_rss_mib".to_owned(),
            serde_json::json!(server_hwm.map(|k| k / 1024)),
        );
        obj.insert(
            "client_peak_rss_mib".to_owned(),
            serde_json::json!(vm_hwm_kib("self").map(|k| k / 1024)),
        );
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
