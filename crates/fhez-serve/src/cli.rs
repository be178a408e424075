//! Command-line front ends for the `fhez` binary: `fhez serve` ([`ServeArgs`],
//! [`run_serve`]) and `fhez client predict` ([`ClientPredictArgs`],
//! [`run_client_predict`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use fhez_model::ModelFile;

use crate::api::Mode;
use crate::client::{Client, LatencySession, SamplePrediction, Session};

/// A session in any mode (`Batch`: batch-in-slots or single-input).
enum Either {
    Batch(Box<Session>),
    Latency(Box<LatencySession>),
}
use crate::server::{ServerConfig, serve, shutdown_signal};

/// `fhez serve`: serve models on ciphertexts (public evaluation keys only).
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// A model file to serve (repeatable; names must differ).
    #[arg(
        long = "model",
        value_name = "FILE",
        required = true,
        env = "FHEZ_MODELS",
        value_delimiter = ','
    )]
    pub models: Vec<PathBuf>,
    /// Address to listen on (loopback by default; there is no TLS, put a proxy in front
    /// for anything else).
    #[arg(long, default_value = crate::server::DEFAULT_ADDR, env = "FHEZ_ADDR")]
    pub addr: SocketAddr,
    /// The key database (created if missing; registered keys survive restarts).
    #[arg(long, default_value = crate::server::DEFAULT_DB, env = "FHEZ_DB")]
    pub db: PathBuf,
    /// Largest request body, in MiB.
    #[arg(long, default_value_t = 64, env = "FHEZ_MAX_BODY_MB")]
    pub max_body_mb: usize,
    /// Most requests evaluated at once (default: the number of cores); beyond it the
    /// server answers 503 with Retry-After.
    #[arg(long, env = "FHEZ_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Most requests waiting for an in-flight slot (default: four times the in-flight limit);
    /// beyond it the server answers 503 with Retry-After.
    #[arg(long, env = "FHEZ_MAX_QUEUE")]
    pub max_queue: Option<usize>,
    /// Request deadline in seconds.
    #[arg(long, default_value_t = 60, env = "FHEZ_TIMEOUT_S")]
    pub timeout_s: u64,
    /// Most latency-mode requests evaluated at once (default: the number of cores; a pool
    /// separate from `--max-in-flight`).
    #[arg(long, env = "FHEZ_LATENCY_MAX_IN_FLIGHT")]
    pub latency_max_in_flight: Option<usize>,
    /// Most latency-mode requests waiting for a slot (default: 64 per core; each waits
    /// with its body of a few hundred KB read, counted in `--max-receiving-mb`).
    #[arg(long, env = "FHEZ_LATENCY_MAX_QUEUE")]
    pub latency_max_queue: Option<usize>,
    /// Memory for decoded key sets, in MiB (least recently used ones are dropped first; a
    /// key set counts as its bundle's size).
    #[arg(long, default_value_t = 1024, env = "FHEZ_KEY_CACHE_MB")]
    pub key_cache_mb: usize,
    /// Most open connections; beyond it a new connection is answered 503 and closed.
    #[arg(long, default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS, env = "FHEZ_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers.
    #[arg(long, default_value_t = 10, env = "FHEZ_HEADER_TIMEOUT_S")]
    pub header_timeout_s: u64,
    /// Seconds a connection may stay open with no request and no traffic.
    #[arg(long, default_value_t = 30, env = "FHEZ_IDLE_TIMEOUT_S")]
    pub idle_timeout_s: u64,
    /// Budget on request-body bytes held (being received, queued or evaluated), in MiB
    /// (at least `--max-body-mb`).
    #[arg(long, default_value_t = 256, env = "FHEZ_MAX_RECEIVING_MB")]
    pub max_receiving_mb: usize,
    /// Minimum request-body rate in KiB/s, enforced after `--body-grace-s` (0: none).
    #[arg(long, default_value_t = 16, env = "FHEZ_MIN_BODY_RATE_KIB")]
    pub min_body_rate_kib: u64,
    /// Seconds a body may take to start arriving before the minimum rate applies.
    #[arg(long, default_value_t = 5, env = "FHEZ_BODY_GRACE_S")]
    pub body_grace_s: u64,
    /// Most registered keys (beyond it registrations are answered 507).
    #[arg(long, default_value_t = crate::server::DEFAULT_MAX_KEYS, env = "FHEZ_MAX_KEYS")]
    pub max_keys: u64,
    /// Most MiB of registered bundles (beyond it registrations are answered 507).
    #[arg(long, default_value_t = 4096, env = "FHEZ_MAX_KEY_STORE_MB")]
    pub max_key_store_mb: u64,
    /// A PostgreSQL key store shared by several workers, e.g.
    /// `postgresql://fhez@127.0.0.1:5432/fhez` (instead of `--db`; the table is created
    /// if missing).
    #[arg(long, env = "FHEZ_STORE_URL")]
    pub store_url: Option<String>,
    /// Most connections to the PostgreSQL key store.
    #[arg(long, env = "FHEZ_STORE_POOL", default_value_t = 8)]
    pub store_pool: usize,
    /// Seconds to keep serving after SIGTERM while `/readyz` answers 503 (so that the load
    /// balancer stops sending requests), before in-flight requests are finished and the
    /// worker exits.
    #[arg(long, env = "FHEZ_DRAIN_S", default_value_t = 0)]
    pub drain_s: u64,
    /// Log format on stderr: `text` or `json` (one JSON object per line).
    #[arg(long, env = "FHEZ_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// Which data set `--image` reads.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSet {
    /// Fashion-MNIST test images, pixels / 255.
    FashionMnist,
    /// MNIST test images, pixels / 255.
    Mnist,
    /// scikit-learn digits test split (seed 0), pixels / 16, resized to the model's input.
    Digits,
}

/// Which evaluation mode `fhez client predict` uses.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ModeArg {
    /// Latency mode when the server offers it for the model, else batch.
    #[default]
    Auto,
    /// One sample per ciphertext (keys in `KEYS/latency/`).
    Latency,
    /// Batch-in-slots (keys in `KEYS/`).
    Batch,
    /// Single-input packing of the one model API: one sample per ciphertext, laid out with
    /// the plan the server publishes (keys in `KEYS/single/`).
    Single,
}

/// `fhez client predict`: encrypt locally, evaluate on the server, decrypt locally.
#[derive(clap::Args, Clone, Debug)]
pub struct ClientPredictArgs {
    /// The server's base URL (http only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The model's name on the server.
    #[arg(long)]
    pub model: String,
    /// Key directory: reused if it holds keys, else keys are generated into it. The
    /// secret key never leaves it.
    #[arg(long)]
    pub keys: PathBuf,
    /// A JSON file: one sample (an array of numbers, nested or flat) or an array of
    /// samples.
    #[arg(long, conflicts_with = "image", required_unless_present = "image")]
    pub input: Option<PathBuf>,
    /// Index of a test image of `--data`.
    #[arg(long)]
    pub image: Option<usize>,
    /// Data set of `--image` (default: the model's recorded data set).
    #[arg(long, value_enum)]
    pub data: Option<DataSet>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Evaluation mode: `auto` picks latency when the model's info has a latency section.
    /// `--packing batch|single` is the same choice in the CLI's spelling.
    #[arg(long, value_enum, default_value_t = ModeArg::Auto, conflicts_with = "packing")]
    pub mode: ModeArg,
    /// Packing of the one model API: batch (as `--mode batch`) or single (as
    /// `--mode single`).
    #[arg(long, value_parser = ["batch", "single"])]
    pub packing: Option<String>,
    /// Skip the display rounding of the logits or values. They are decrypted for release
    /// either way (reply check, noise flooding, rounding to the precision the plan promises
    /// after flooding: `fhez_model::promised_precision_bits`), so no exact value is shown.
    #[arg(long)]
    pub full_precision: bool,
}

/// `fhez client rotate-keys`: new batch-mode keys for a model, registered, the old key id
/// deleted with its owner token.
#[derive(clap::Args, Clone, Debug)]
pub struct ClientRotateArgs {
    /// The server's base URL (http only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The model's name on the server.
    #[arg(long)]
    pub model: String,
    /// Key directory (its keys are replaced).
    #[arg(long)]
    pub keys: PathBuf,
}

/// `fhez client …` subcommands.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum ClientCommand {
    /// Encrypt locally, evaluate on the server, decrypt locally, print the prediction.
    Predict(ClientPredictArgs),
    /// Replace the batch-mode keys of a key directory: new keys, registered; the old key
    /// id deleted on the server.
    RotateKeys(ClientRotateArgs),
}

/// Runs a `fhez client` subcommand.
///
/// # Errors
/// As [`run_client_predict`] and [`run_client_rotate`].
pub fn run_client(command: &ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Predict(args) => run_client_predict(args),
        ClientCommand::RotateKeys(args) => run_client_rotate(args),
    }
}

/// Runs `fhez client rotate-keys`: prints the old and new key ids and whether the old one
/// was deleted.
///
/// # Errors
/// An unreachable server, a model it does not serve, key generation, registration or
/// file errors.
pub fn run_client_rotate(args: &ClientRotateArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let client = Client::new(&args.server)?;
        let mut session = Session::open(client, &args.model, &args.keys)
            .await
            .with_context(|| format!("opening a session for `{}`", args.model))?;
        let r = session.rotate_keys().await.context("rotating the keys")?;
        println!("old key id: {}", r.old_key_id);
        println!("new key id: {}", r.new_key_id);
        if r.old_deleted {
            println!("old key deleted on the server");
        } else {
            println!(
                "old key NOT deleted on the server (no owner token noted for it, or the server refused)"
            );
        }
        Ok(())
    })
}

/// Installs a `tracing` subscriber writing to stderr (filter from `RUST_LOG`, default
/// `info`), unless one is installed already.
pub fn init_logging() {
    init_logging_as(false);
}

/// [`init_logging`], as one JSON object per line when `json`.
pub fn init_logging_as(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs `fhez serve` until Ctrl-C / SIGTERM, then finishes in-flight requests.
///
/// # Errors
/// Model files that do not load, a database that does not open, an address in use.
pub fn run_serve(args: &ServeArgs) -> anyhow::Result<()> {
    init_logging_as(args.log_format == "json");
    let models = args
        .models
        .iter()
        .map(|p| ModelFile::load(p).with_context(|| format!("loading {}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut config = ServerConfig::new(models);
    config.addr = args.addr;
    config.db_path.clone_from(&args.db);
    config.max_body_bytes = args.max_body_mb.saturating_mul(1 << 20);
    if let Some(n) = args.max_in_flight {
        config.max_in_flight = n.max(1);
        config.max_queue = 4 * config.max_in_flight;
    }
    if let Some(n) = args.max_queue {
        config.max_queue = n;
    }
    config.request_timeout = Duration::from_secs(args.timeout_s.max(1));
    if let Some(n) = args.latency_max_in_flight {
        config.latency_max_in_flight = n.max(1);
    }
    if let Some(n) = args.latency_max_queue {
        config.latency_max_queue = n;
    }
    config.key_cache_bytes = args.key_cache_mb.saturating_mul(1 << 20);
    config.max_connections = args.max_connections.max(1);
    config.header_read_timeout = Duration::from_secs(args.header_timeout_s.max(1));
    config.idle_timeout = Duration::from_secs(args.idle_timeout_s.max(1));
    config.max_receiving_bytes = args.max_receiving_mb.saturating_mul(1 << 20);
    config.min_body_rate = args.min_body_rate_kib.saturating_mul(1 << 10);
    config.body_grace = Duration::from_secs(args.body_grace_s);
    config.max_keys = args.max_keys;
    config.max_key_bytes = args.max_key_store_mb.saturating_mul(1 << 20);
    config.drain_grace = Duration::from_secs(args.drain_s);
    if let Some(url) = &args.store_url {
        let mut pg = crate::store::PgConfig::new(url);
        pg.pool_size = args.store_pool.max(1);
        config.postgres = Some(pg);
    }
    if !args.addr.ip().is_loopback() {
        tracing::warn!(addr = %args.addr, "listening beyond loopback without TLS; put a TLS proxy in front");
    }
    runtime()?.block_on(serve(config, shutdown_signal()))?;
    Ok(())
}

/// Flattens nested JSON arrays of numbers.
fn flatten(v: &serde_json::Value, out: &mut Vec<f64>) -> anyhow::Result<()> {
    match v {
        serde_json::Value::Number(n) => {
            out.push(n.as_f64().context("a number out of range")?);
            Ok(())
        }
        serde_json::Value::Array(items) => items.iter().try_for_each(|i| flatten(i, out)),
        serde_json::Value::Null
        | serde_json::Value::Bool(_)
        | serde_json::Value::String(_)
        | serde_json::Value::Object(_) => bail!("inputs are arrays of numbers, found {v}"),
    }
}

/// Samples from a JSON document: one sample if it flattens to `size` values, else one
/// sample per top-level element.
fn samples_from_json(text: &str, size: usize) -> anyhow::Result<Vec<Vec<f64>>> {
    let v: serde_json::Value = serde_json::from_str(text).context("parsing the input JSON")?;
    let mut all = Vec::new();
    flatten(&v, &mut all)?;
    if all.len() == size {
        return Ok(vec![all]);
    }
    let serde_json::Value::Array(items) = &v else {
        bail!("expected an array of {size} numbers or an array of samples");
    };
    items
        .iter()
        .map(|item| {
            let mut s = Vec::new();
            flatten(item, &mut s)?;
            Ok(s)
        })
        .collect()
}

/// A test image of a data set, scaled as the models were trained, with its label.
fn test_image(
    data: DataSet,
    index: usize,
    shape: &[usize],
) -> anyhow::Result<(Vec<f64>, Option<u8>)> {
    let dir = fhez_data::data_dir();
    let split = match data {
        DataSet::FashionMnist | DataSet::Mnist => {
            let ds = if data == DataSet::Mnist {
                fhez_data::mnist(&dir)?
            } else {
                fhez_data::fashion_mnist(&dir)?
            };
            let mut test = ds.test;
            test.scale(1.0 / 255.0);
            test
        }
        DataSet::Digits => {
            let side = shape.first().copied().unwrap_or(8);
            fhez_data::digits(&dir, side, 0)?.test
        }
    };
    let sample = split
        .sample(index)
        .with_context(|| format!("image {index} is past the {} test images", split.len()))?
        .to_vec();
    let size: usize = shape.iter().product();
    if sample.len() != size {
        bail!(
            "the data set's images have {} values, the model's input {shape:?} takes {size}",
            sample.len()
        );
    }
    Ok((sample, split.labels.get(index).copied()))
}

fn data_of(name: Option<&str>) -> Option<DataSet> {
    match name? {
        "fashion-mnist" | "fashion_mnist" => Some(DataSet::FashionMnist),
        "mnist" => Some(DataSet::Mnist),
        "digits" => Some(DataSet::Digits),
        _ => None,
    }
}

/// Runs `fhez client predict` and prints the prediction(s).
///
/// # Errors
/// Connection, server, key and input errors.
pub fn run_client_predict(args: &ClientPredictArgs) -> anyhow::Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = Client::new(&args.server)?;
        let info = client
            .model(&args.model)
            .await
            .with_context(|| format!("reading model `{}`", args.model))?;
        let mode = match (args.packing.as_deref(), args.mode) {
            (Some("single"), _) | (None, ModeArg::Single) => Mode::Single,
            (Some(_), _) | (None, ModeArg::Batch) => Mode::Batch,
            (None, ModeArg::Auto) if info.latency.is_some() => Mode::Latency,
            (None, ModeArg::Auto) => Mode::Batch,
            (None, ModeArg::Latency) => Mode::Latency,
        };
        let context = || format!("opening a {mode}-mode session for model `{}`", args.model);
        let session = match mode {
            Mode::Latency => Either::Latency(Box::new(
                LatencySession::open(client, &args.model, &args.keys)
                    .await
                    .with_context(context)?,
            )),
            Mode::Batch | Mode::Single => Either::Batch(Box::new(
                Session::open_mode(client, &args.model, &args.keys, mode)
                    .await
                    .with_context(context)?,
            )),
        };
        let shape = info
            .inputs
            .first()
            .map(|i| i.shape.clone())
            .unwrap_or_default();
        let size: usize = shape.iter().product();
        let (samples, truth) = match (&args.input, args.image) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                (samples_from_json(&text, size)?, None)
            }
            (None, Some(index)) => {
                let data = args
                    .data
                    .or_else(|| data_of(info.dataset.as_deref()))
                    .context("name the data set with --data")?;
                let (image, label) = test_image(data, index, &shape)?;
                (vec![image], label)
            }
            (None, None) => bail!("give --input FILE or --image N"),
        };
        let (predictions, key_id, base, keys) = match &session {
            Either::Batch(s) => (
                s.predict(&samples).await?,
                s.key_id(),
                s.client().base_url(),
                s.keys(),
            ),
            Either::Latency(s) => (
                s.predict(&samples).await?,
                s.key_id(),
                s.client().base_url(),
                s.keys(),
            ),
        };
        let precision =
            (!args.full_precision).then(|| fhez_model::promised_precision_bits(keys.params()));
        let predictions: Vec<SamplePrediction> = match precision {
            Some(bits) => predictions.into_iter().map(|p| p.rounded(bits)).collect(),
            None => predictions,
        };
        if args.json {
            let out = serde_json::json!({
                "server": base,
                "model": info.name,
                "mode": mode,
                "key_id": key_id,
                "predictions": predictions,
                "precision_bits": precision,
                "truth": truth,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            for (i, p) in predictions.iter().enumerate() {
                match p {
                    SamplePrediction::Class {
                        index,
                        label,
                        logits,
                    } => {
                        let logits: Vec<String> =
                            logits.iter().map(|v| format!("{v:.4}")).collect();
                        println!(
                            "sample {i}: class {index} ({label}); logits [{}]",
                            logits.join(", ")
                        );
                    }
                    SamplePrediction::Values { values } => {
                        println!("sample {i}: {values:?}");
                    }
                }
            }
            if let Some(t) = truth {
                println!("true label: {t}");
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::samples_from_json;

    #[test]
    fn json_inputs_are_one_sample_or_many() {
        assert_eq!(
            samples_from_json("[1, 2, 3, 4]", 4).unwrap(),
            vec![vec![1.0, 2.0, 3.0, 4.0]]
        );
        assert_eq!(
            samples_from_json("[[1, 2], [3, 4]]", 4).unwrap(),
            vec![vec![1.0, 2.0, 3.0, 4.0]]
        );
        assert_eq!(
            samples_from_json("[[1, 2], [3, 4]]", 2).unwrap(),
            vec![vec![1.0, 2.0], vec![3.0, 4.0]]
        );
        assert!(samples_from_json("[\"a\"]", 1).is_err());
        assert!(samples_from_json("{", 1).is_err());
    }
}
