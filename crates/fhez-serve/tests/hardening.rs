//! The service against hostile clients: registrations decided from the params section
//! alone (insecure or foreign parameter sets, oversized or misplaced sections).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    reason = "test code"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use fhez::bundle::{PARAMS_SECTION_LIMIT, public_bundle_to_bytes};
use fhez::ckks::wire::{ObjectKind, params_to_bytes};
use fhez::ckks::{CkksClient, CkksParams, CkksParamsSpec};
use fhez::{ModelFile, nn::PlanRequest, nn::prefab};
use fhez_serve::api::ErrorBody;
use fhez_serve::fixture::bars_model;
use fhez_serve::{ServeError, Server, ServerConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn bars_file() -> ModelFile {
    static FILE: OnceLock<ModelFile> = OnceLock::new();
    FILE.get_or_init(|| bars_model("bars", 4).unwrap()).clone()
}

/// A model with another (secure) parameter set than the bars model.
fn regressor_file() -> ModelFile {
    static FILE: OnceLock<ModelFile> = OnceLock::new();
    FILE.get_or_init(|| {
        let graph = prefab::cnn_regressor((6, 2), 3, 3, 7).unwrap();
        let request = PlanRequest {
            batch: 2,
            precision_bits: 20,
            magnitude_bits: 20,
        };
        let task = fhez::Task::Regressor {
            scale: 2.0,
            offset: 1.0,
        };
        ModelFile::new("toy-regressor", &graph, &["x"], "Decrypt", task, request).unwrap()
    })
    .clone()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fhez-hard-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), ServeError>>,
}

impl Running {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap();
    }
}

async fn start(tag: &str, tweak: impl FnOnce(&mut ServerConfig)) -> Running {
    let mut config = ServerConfig::new(vec![bars_file()]);
    config.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.db_path = temp_dir(tag).join("keys.redb");
    config.max_in_flight = 2;
    tweak(&mut config);
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    Running { addr, stop, handle }
}

/// A raw request: status and body.
async fn raw(method: reqwest::Method, url: &str, body: Vec<u8>) -> (u16, Bytes) {
    let r = reqwest::Client::new()
        .request(method, url)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap())
}

/// Asserts a JSON error with `status` and `code` whose message contains `needle`.
async fn expect_error(
    method: reqwest::Method,
    url: &str,
    body: Vec<u8>,
    status: u16,
    code: &str,
    needle: &str,
) {
    let (got, bytes) = raw(method, url, body).await;
    let err: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{url}: not a JSON error ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    eprintln!("{got} {}: {}", err.error.code, err.error.message);
    assert_eq!(got, status, "{url}: {}", err.error.message);
    assert_eq!(err.error.code, code, "{url}: {}", err.error.message);
    assert!(
        err.error.message.contains(needle),
        "{url}: message {:?} should mention {needle:?}",
        err.error.message
    );
}

/// A bundle framed from raw sections (`FZPB`, version 1, length-prefixed sections).
fn frame(sections: &[&[u8]]) -> Vec<u8> {
    let mut out = b"FZPB".to_vec();
    out.push(1);
    for s in sections {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s);
    }
    out
}

/// The sections of a bundle made by `public_bundle_to_bytes`.
fn sections(bundle: &[u8]) -> Vec<Vec<u8>> {
    let mut at = 5;
    let mut out = Vec::new();
    while at < bundle.len() {
        let len = u64::from_le_bytes(bundle[at..at + 8].try_into().unwrap()) as usize;
        out.push(bundle[at + 8..at + 8 + len].to_vec());
        at += 8 + len;
    }
    out
}

/// A small parameter set that opts out of the security check.
fn insecure_params() -> Arc<CkksParams> {
    let spec = CkksParamsSpec::new(11)
        .with_log_q(&[50, 40])
        .with_log_p(&[50])
        .with_log_scale(40)
        .insecure_for_testing();
    CkksParams::new(&spec).unwrap()
}

fn secure_params(file: &ModelFile) -> Arc<CkksParams> {
    let model = file.encrypted_model().unwrap();
    CkksParams::new(&model.spec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bundles_are_refused_from_their_params_section() -> TestResult {
    let server = start("hostile", |_| {}).await;
    let url = format!("{}/v1/keys?model=bars", server.url());
    let post = reqwest::Method::POST;

    // Insecure parameters, with real keys and with no keys at all: refused for what they
    // are, whatever follows the params section.
    let insecure = insecure_params();
    let client = CkksClient::generate(&insecure, &[])?;
    let bundle = public_bundle_to_bytes(&client.server_keys())?;
    expect_error(
        post.clone(),
        &url,
        bundle.clone(),
        400,
        "insecure_params",
        "security",
    )
    .await;
    let params_only = frame(&[&params_to_bytes(&insecure)?, &[], &[], &[]]);
    expect_error(
        post.clone(),
        &url,
        params_only,
        400,
        "insecure_params",
        "security",
    )
    .await;

    // A secure parameter set of another model, with no keys: the ids differ, so the keys
    // are never looked at.
    let other = secure_params(&regressor_file());
    let served = secure_params(&bars_file());
    let foreign = frame(&[&params_to_bytes(&other)?, &[], &[], &[]]);
    expect_error(
        post.clone(),
        &url,
        foreign,
        409,
        "params_mismatch",
        &other.id().to_hex(),
    )
    .await;

    // A params section over the cap (padding after a valid object), and a section of
    // another kind where the parameter set belongs.
    let mut big = params_to_bytes(&served)?;
    big.resize(PARAMS_SECTION_LIMIT + 1, b' ');
    expect_error(
        post.clone(),
        &url,
        frame(&[&big, &[], &[], &[]]),
        400,
        "bad_bundle",
        &PARAMS_SECTION_LIMIT.to_string(),
    )
    .await;
    let good = CkksClient::generate(&served, &[])?;
    let good_bundle = public_bundle_to_bytes(&good.server_keys())?;
    let parts = sections(&good_bundle);
    assert_eq!(parts.len(), 4);
    let mut relabelled = parts[0].clone();
    relabelled[6..8].copy_from_slice(&ObjectKind::PublicKey.tag().to_le_bytes());
    expect_error(
        post.clone(),
        &url,
        frame(&[&relabelled, &parts[1], &parts[2], &parts[3]]),
        400,
        "bad_bundle",
        "not a parameter set",
    )
    .await;

    // The server's own parameter set with an envelope whose payload is another spec.
    let mut lying = params_to_bytes(&other)?;
    lying[8..40].copy_from_slice(&served.id().0);
    expect_error(
        post.clone(),
        &url,
        frame(&[&lying, &parts[1], &parts[2], &parts[3]]),
        400,
        "bad_bundle",
        "another parameter set",
    )
    .await;

    // The genuine bundle still registers.
    let (status, body) = raw(post, &url, good_bundle).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    server.stop().await;
    Ok(())
}

/// Resident set size of this process, in bytes (Linux).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Figures for the docs, not a check: time and resident-memory growth of registrations
/// whose params section is a large insecure parameter set. Run with
/// `cargo test --release -p fhez-serve --test hardening -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints figures; run by hand"]
async fn cost_of_a_hostile_registration() -> TestResult {
    let server = start("cost", |_| {}).await;
    let url = format!("{}/v1/keys?model=bars", server.url());
    let spec = CkksParamsSpec::new(17)
        .with_log_q(&[60; 40])
        .with_log_p(&[60; 4])
        .with_log_scale(50)
        .insecure_for_testing();
    let big = CkksParams::new(&spec)?;
    let hostile = frame(&[&params_to_bytes(&big)?, &[], &[], &[]]);
    drop(big);
    // Warm the connection pool and the allocator on a cheap refusal.
    let _ = raw(
        reqwest::Method::GET,
        &format!("{}/healthz", server.url()),
        vec![],
    )
    .await;
    let before = rss_bytes().unwrap_or(0);
    let rounds = 5;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        let (status, _) = raw(reqwest::Method::POST, &url, hostile.clone()).await;
        assert!(status >= 400);
    }
    let per = start.elapsed().as_secs_f64() * 1e3 / f64::from(rounds);
    let after = rss_bytes().unwrap_or(0);
    eprintln!(
        "hostile registration: {} bytes, {per:.2} ms each, RSS growth over {rounds}: {:.2} MB",
        hostile.len(),
        (after.saturating_sub(before)) as f64 / 1e6
    );
    server.stop().await;
    Ok(())
}
