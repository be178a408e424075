//! The service against hostile clients: registrations decided from the params section
//! alone (insecure or foreign parameter sets, oversized or misplaced sections); slow
//! senders, header tricklers and idle connections alongside correct requests; the
//! connection cap, the receiving budget and JSON errors for paths that do not decode;
//! owner tokens, quotas and key rotation.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    reason = "test code"
)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use fhez_ckks::wire::{ObjectKind, params_to_bytes};
use fhez_ckks::{CkksClient, CkksParams, CkksParamsSpec};
use fhez_model::ModelFile;
use fhez_model::bundle::{PARAMS_SECTION_LIMIT, public_bundle_to_bytes};
use fhez_serve::ServerConfig;
use fhez_serve::api::ErrorBody;

mod common;
use common::{Running, TestResult, bars_file, regressor_file, start_with, temp_dir};

/// A server for the bars model with its key store in a fresh directory for `tag`.
async fn start(tag: &str, tweak: impl FnOnce(&mut ServerConfig)) -> Running {
    start_with(vec![bars_file()], temp_dir(tag).join("keys.redb"), tweak).await
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
    common::assert_json_error(url, got, &bytes, status, code, needle);
}

/// A bundle framed from raw sections (`FZPB` version 1: `magic | 0x01 |` length-prefixed
/// sections, without the common frame header; still read, see `fhez_model::frames`).
fn frame(sections: &[&[u8]]) -> Vec<u8> {
    let mut out = b"FZPB".to_vec();
    out.push(1);
    for s in sections {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s);
    }
    out
}

/// The sections of a bundle made by `public_bundle_to_bytes` (after its 48-byte frame header).
fn sections(bundle: &[u8]) -> Vec<Vec<u8>> {
    let mut at = fhez_backend::frame::HEADER_LEN;
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

/// Reads what the server sends on `stream` until it closes the connection, for at most
/// `bound`; `None` if the connection was still open then.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, bound: Duration) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(bound, read).await.ok()?;
    Some(out)
}

/// The status line's code and the JSON error code of a raw HTTP/1.1 answer.
fn status_and_code(answer: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let code = serde_json::from_str::<ErrorBody>(body)
        .map(|e| e.error.code)
        .unwrap_or_else(|_| format!("not a JSON error: {body:?}"));
    (status, code)
}

const GRACE: Duration = Duration::from_secs(15);
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_senders_and_idle_connections_do_not_hold_the_server() -> TestResult {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    // Keys made before any attacker connects (key generation is the slow part of a
    // client, not of the server).
    let dir = temp_dir("slow-client");
    let params = secure_params(&bars_file());
    let model = bars_file().encrypted_model()?;
    let keys = model.keygen(&params)?;
    fhez_model::bundle::save_client_keys(&dir, &keys)?;

    let server = start("slow", |c| {
        c.max_in_flight = 1;
        c.max_queue = 2;
        c.body_grace = GRACE;
        c.min_body_rate = 1024;
        c.header_read_timeout = HEADER_TIMEOUT;
        c.idle_timeout = IDLE_TIMEOUT;
        c.request_timeout = GRACE * 4;
    })
    .await;
    let addr = server.addr;

    // Four slow senders: each claims a 64 MiB registration, sends 100 bytes and waits.
    // Before bodies were read ahead of admission, these held the one in-flight slot and
    // both queue places until the request deadline.
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(
            b"POST /v1/keys?model=bars HTTP/1.1\r\nhost: x\r\ncontent-length: 67108864\r\n\r\n",
        )
        .await?;
        s.write_all(&[0u8; 100]).await?;
        slow.push(tokio::spawn(async move {
            read_until_closed(&mut s, GRACE * 4).await
        }));
    }
    // Four header tricklers (one byte every 200 ms, never finishing) and twenty idle
    // connections.
    let mut trickle = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr).await?;
        trickle.push(tokio::spawn(async move {
            let line = b"GET /healthz HTTP/1.1\r\nx-padding: ";
            for b in line.iter().chain(std::iter::repeat(&b'a')).take(10_000) {
                if s.write_all(&[*b]).await.is_err() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            false
        }));
    }
    let mut idle = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).await?;
        idle.push(tokio::spawn(async move {
            read_until_closed(&mut s, IDLE_TIMEOUT * 10).await
        }));
    }
    // Let the attackers settle in.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Correct requests: register, then predict, while the slow senders are still held.
    let begun = std::time::Instant::now();
    let client = fhez_serve::Client::new(&server.url())?;
    let session = fhez_serve::Session::open(client, "bars", &dir).await?;
    let images: Vec<Vec<f64>> = fhez_serve::fixture::bars(4, 7)
        .into_iter()
        .map(|(x, _)| x)
        .collect();
    let got = session.predict(&images).await?;
    assert_eq!(got.len(), images.len());
    eprintln!(
        "register + predict (4 samples) with 4 slow senders, 4 header tricklers and 20 idle connections: {:.2} s",
        begun.elapsed().as_secs_f64()
    );
    assert!(
        slow.iter().all(|h| !h.is_finished()),
        "the correct requests must finish while the slow senders are still connected (grace {GRACE:?})"
    );

    // The slow senders get a JSON 408 once the grace has passed; the tricklers and the idle
    // connections are closed by the server.
    for h in slow {
        let answer = h.await?.expect("the server answers a slow sender");
        assert_eq!(
            status_and_code(&answer),
            (408, "body_too_slow".to_owned()),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    for h in trickle {
        assert!(h.await?, "a header trickler is disconnected");
    }
    for h in idle {
        let answer = h.await?.expect("an idle connection is closed");
        assert!(answer.is_empty() || status_and_code(&answer).0 == 408);
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_and_malformed_paths_get_json_errors() -> TestResult {
    use tokio::net::TcpStream;
    let server = start("cap", |c| {
        c.max_connections = 3;
        c.idle_timeout = Duration::from_secs(60);
        c.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(server.addr).await?);
    }
    let mut extra = TcpStream::connect(server.addr).await?;
    let answer = read_until_closed(&mut extra, Duration::from_secs(30))
        .await
        .expect("the server answers and closes");
    assert_eq!(
        status_and_code(&answer),
        (503, "too_many_connections".to_owned()),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(String::from_utf8_lossy(&answer).contains("retry-after: 1"));
    drop(held);

    // Once those close, requests are served again; a path that does not decode and an
    // unknown path are JSON errors too.
    let url = server.url();
    let mut ok = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("{url}/healthz")).await
            && r.status().as_u16() == 200
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "served again after the held connections closed");
    expect_error(
        reqwest::Method::GET,
        &format!("{url}/v1/models/%FF%FE"),
        vec![],
        400,
        "bad_path",
        "decode",
    )
    .await;
    expect_error(
        reqwest::Method::DELETE,
        &format!("{url}/v1/keys/%C3%28"),
        vec![],
        400,
        "bad_path",
        "decode",
    )
    .await;
    expect_error(
        reqwest::Method::GET,
        &format!("{url}/no/such/path"),
        vec![],
        404,
        "not_found",
        "/no/such/path",
    )
    .await;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_quotas_refuse_registrations_with_a_clear_error() -> TestResult {
    let params = secure_params(&bars_file());
    let a = public_bundle_to_bytes(&CkksClient::generate(&params, &[])?.server_keys())?;
    let b = public_bundle_to_bytes(&CkksClient::generate(&params, &[])?.server_keys())?;
    assert_eq!(a.len(), b.len());
    let client = |s: &Running| fhez_serve::Client::new(&s.url());

    // A quota of one key.
    let server = start("quota-count", |c| c.max_keys = 1).await;
    let http = client(&server)?;
    let first = http.register("bars", a.clone().into()).await?;
    let err = http.register("bars", b.clone().into()).await.unwrap_err();
    assert_eq!(err.api_code(), Some("key_store_full"), "{err}");
    assert!(err.to_string().contains("registered keys"), "{err}");
    // Re-registering the stored bundle is not a new key.
    assert!(!http.register("bars", a.clone().into()).await?.created);
    // Deleting frees the place.
    http.delete_key(&first.key_id, first.owner_token.as_deref().unwrap())
        .await?;
    assert!(http.register("bars", b.clone().into()).await?.created);
    server.stop().await;

    // A quota on bytes that holds one bundle but not two.
    let limit = (a.len() * 2 - 1) as u64;
    let server = start("quota-bytes", |c| c.max_key_bytes = limit).await;
    let http = client(&server)?;
    assert!(http.register("bars", a.into()).await?.created);
    let err = http.register("bars", b.into()).await.unwrap_err();
    assert_eq!(err.api_code(), Some("key_store_full"), "{err}");
    assert!(err.to_string().contains(&limit.to_string()), "{err}");
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_keys_registers_new_ones_and_deletes_the_old_id() -> TestResult {
    let dir = temp_dir("rotate");
    let server = start("rotate-db", |_| {}).await;
    let http = fhez_serve::Client::new(&server.url())?;
    let images: Vec<Vec<f64>> = fhez_serve::fixture::bars(2, 3)
        .into_iter()
        .map(|(x, _)| x)
        .collect();

    let mut session = fhez_serve::Session::open(http.clone(), "bars", &dir).await?;
    let before = session.predict(&images).await?;
    let old_id = session.key_id().to_owned();
    let old_secret = std::fs::read(dir.join(fhez_model::bundle::SECRET_KEY_FILE))?;

    let r = session.rotate_keys().await?;
    assert_eq!(r.old_key_id, old_id);
    assert_ne!(r.new_key_id, old_id);
    assert_eq!(session.key_id(), r.new_key_id);
    assert!(
        r.old_deleted,
        "the owner token noted at registration deletes the old id"
    );
    assert_ne!(
        std::fs::read(dir.join(fhez_model::bundle::SECRET_KEY_FILE))?,
        old_secret
    );
    assert!(!dir.join(".rotating").exists());
    let (status, _) = raw(
        reqwest::Method::GET,
        &format!("{}/v1/keys/{old_id}", server.url()),
        vec![],
    )
    .await;
    assert_eq!(status, 404, "the old key id is gone");
    // The new keys predict the same classes; a new session on the directory uses them.
    let after = session.predict(&images).await?;
    assert_eq!(before.len(), after.len());
    for (a, b) in before.iter().zip(&after) {
        let (
            fhez_serve::SamplePrediction::Class { index: i, .. },
            fhez_serve::SamplePrediction::Class { index: j, .. },
        ) = (a, b)
        else {
            panic!("a classifier answers classes");
        };
        assert_eq!(i, j);
    }
    let reopened = fhez_serve::Session::open(http, "bars", &dir).await?;
    assert_eq!(reopened.key_id(), r.new_key_id);

    // The command-line client does the same (its own runtime, so on its own thread).
    let args = fhez_serve::cli::ClientRotateArgs {
        server: server.url(),
        model: "bars".to_owned(),
        keys: dir.clone(),
    };
    std::thread::spawn(move || fhez_serve::cli::run_client_rotate(&args))
        .join()
        .unwrap()
        .map_err(|e| e.to_string())?;
    let (status, _) = raw(
        reqwest::Method::GET,
        &format!("{}/v1/keys/{}", server.url(), r.new_key_id),
        vec![],
    )
    .await;
    assert_eq!(status, 404, "the CLI rotation deleted the previous id");
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_beyond_the_receiving_budget_are_a_503() -> TestResult {
    use tokio::io::AsyncWriteExt;
    const BUDGET: usize = 1 << 20;
    let server = start("budget", |c| {
        c.max_body_bytes = BUDGET;
        c.max_receiving_bytes = BUDGET;
        c.body_grace = Duration::from_secs(60);
        c.request_timeout = Duration::from_secs(120);
    })
    .await;
    // A sender that has delivered 900 KB of a 1 MiB body and stalls holds 900 KB of the
    // budget (its claimed length reserves nothing)…
    let mut s = tokio::net::TcpStream::connect(server.addr).await?;
    s.write_all(
        format!("POST /v1/keys?model=bars HTTP/1.1\r\nhost: x\r\ncontent-length: {BUDGET}\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    s.write_all(&vec![0u8; 900 << 10]).await?;
    // … so a 200 KB body does not fit until it leaves, and a 100 KB one does (it is then
    // refused for what it is, not for the budget).
    let url = format!("{}/v1/keys?model=bars", server.url());
    // The wait is bounded by the sender's grace period (60 s), not by machine speed: on a
    // loaded machine the server may take seconds to read the stalled sender's bytes.
    let mut refused = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(50);
    while std::time::Instant::now() < deadline {
        let (status, body) = raw(reqwest::Method::POST, &url, vec![0u8; 200 << 10]).await;
        if status == 503 {
            let err: ErrorBody = serde_json::from_slice(&body)?;
            assert_eq!(err.error.code, "overloaded");
            assert!(
                err.error.message.contains("request-body bytes"),
                "{}",
                err.error.message
            );
            refused = true;
            break;
        }
        // The stalled sender's bytes may not all have arrived yet.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "a body beyond the budget is refused");
    expect_error(
        reqwest::Method::POST,
        &url,
        vec![0u8; 100 << 10],
        400,
        "bad_bundle",
        "",
    )
    .await;
    drop(s);
    // Once the stalled sender is gone its bytes are free again.
    let mut freed = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(50);
    while std::time::Instant::now() < deadline {
        let (status, _) = raw(reqwest::Method::POST, &url, vec![0u8; 200 << 10]).await;
        if status == 400 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed, "the budget is returned when a request ends");
    server.stop().await;
    Ok(())
}

/// The single-input route (`?packing=single`) is bounded like the others: its own body
/// limit (the `single` section's `max_body_bytes`, far below `max_body_bytes`) before any
/// byte is read, the minimum body rate, and the key lookup after the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_input_predict_is_bounded_like_the_other_modes() -> TestResult {
    use tokio::io::AsyncWriteExt;
    const SLOW_GRACE: Duration = Duration::from_secs(2);
    let server = start("single-limits", |c| {
        c.body_grace = SLOW_GRACE;
        c.min_body_rate = 1024;
        c.request_timeout = SLOW_GRACE * 5;
    })
    .await;
    let client = fhez_serve::Client::new(&server.url())?;
    let single = client
        .model("bars")
        .await?
        .single
        .expect("single-input packing");
    assert!(single.max_body_bytes < fhez_serve::server::DEFAULT_MAX_BODY_BYTES);
    let key = "ab".repeat(32);
    let url = format!(
        "{}/v1/models/bars/predict?packing=single&key_id={key}",
        server.url()
    );
    let limit = single.max_body_bytes.to_string();
    expect_error(
        reqwest::Method::POST,
        &url,
        vec![0u8; single.max_body_bytes + 1],
        413,
        "body_too_large",
        &limit,
    )
    .await;
    expect_error(
        reqwest::Method::POST,
        &url,
        b"FZCB".to_vec(),
        404,
        "unknown_key",
        &key,
    )
    .await;
    // A sender that claims a body within the limit, sends 100 bytes and stalls is answered
    // 408 once the grace has passed.
    let mut s = tokio::net::TcpStream::connect(server.addr).await?;
    s.write_all(
        format!(
            "POST /v1/models/bars/predict?packing=single&key_id={key} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
            single.max_body_bytes
        )
        .as_bytes(),
    )
    .await?;
    s.write_all(&[0u8; 100]).await?;
    let answer = read_until_closed(&mut s, SLOW_GRACE * 10)
        .await
        .expect("the server answers a slow sender");
    assert_eq!(
        status_and_code(&answer),
        (408, "body_too_slow".to_owned()),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    server.stop().await;
    Ok(())
}
