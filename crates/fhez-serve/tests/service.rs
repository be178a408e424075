//! The service over loopback with secure (planned) parameters: predictions equal the local
//! encrypted path and the plaintext graph; keys survive a restart; bad input is a 4xx with
//! a JSON error naming the problem; overload is a 503 with Retry-After that the client's
//! retry absorbs.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    reason = "test code"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use fhez_ckks::{CkksClient, CkksParams, CkksServer};
use fhez_erray::PlainArray;
use fhez_model::bundle::{public_bundle_to_bytes, save_client_keys};
use fhez_model::{CtBatch, EncryptedModel, ModelFile};
use fhez_nn::{Tape, Tensor};
use fhez_serve::client::decrypt_reply;
use fhez_serve::fixture::{SIDE, bars};
use fhez_serve::{Client, Retry, SamplePrediction, ServerConfig, Session};

mod common;
use common::{BATCH, Running, TestResult, bars_file, regressor_file, start_with, temp_dir};

/// A server for both models with its key store at `db`.
async fn start(db: PathBuf, tweak: impl FnOnce(&mut ServerConfig)) -> Running {
    start_with(vec![bars_file(), regressor_file()], db, tweak).await
}

/// Local keys for `file`'s secure parameters, saved in `dir` so that a `Session` reuses
/// them.
fn local_keys(file: &ModelFile, dir: &std::path::Path) -> (EncryptedModel, CkksClient) {
    let model = file.encrypted_model().unwrap();
    let params = CkksParams::new(&model.spec()).unwrap();
    let keys = model.keygen(&params).unwrap();
    save_client_keys(dir, &keys).unwrap();
    (model, keys)
}

fn test_images(n: usize) -> Vec<Vec<f64>> {
    bars(n, 7).into_iter().map(|(x, _)| x).collect()
}

fn stacked(images: &[Vec<f64>]) -> PlainArray {
    PlainArray::new(
        vec![images.len(), SIDE, SIDE],
        images.iter().flatten().copied().collect(),
    )
    .unwrap()
}

/// The logits at `Decrypt` on the plaintext graph.
fn plain_logits(model: &EncryptedModel, image: &[f64]) -> Vec<f64> {
    let graph = model.graph();
    let (x, dec) = (graph.id("x").unwrap(), graph.id("Decrypt").unwrap());
    let mut tape = Tape::new(graph);
    let t = Tensor::new(vec![SIDE, SIDE], image.to_vec()).unwrap();
    graph.stimulate(&[(x, t)], &mut tape).unwrap();
    tape.output(dec, 0).unwrap().data().to_vec()
}

fn logits(p: &SamplePrediction) -> &[f64] {
    match p {
        SamplePrediction::Class { logits, .. } => logits,
        SamplePrediction::Values { values } => values,
    }
}

/// A raw request: status, `Retry-After`, body.
async fn raw(
    method: reqwest::Method,
    url: &str,
    key_id: Option<&str>,
    body: Vec<u8>,
) -> (u16, Option<String>, Bytes) {
    let http = reqwest::Client::new();
    let mut req = http.request(method, url).body(body);
    if let Some(k) = key_id {
        req = req.header(fhez_serve::KEY_ID_HEADER, k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, r.bytes().await.unwrap())
}

/// Asserts a JSON error with `status` and `code` whose message contains `needle`.
async fn expect_error(
    method: reqwest::Method,
    url: &str,
    key_id: Option<&str>,
    body: Vec<u8>,
    status: u16,
    code: &str,
    needle: &str,
) {
    let (got, _, bytes) = raw(method, url, key_id, body).await;
    common::assert_json_error(url, got, &bytes, status, code, needle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_over_loopback_equal_the_local_encrypted_path() -> TestResult {
    let dir = temp_dir("e2e");
    let server = start(dir.join("keys.redb"), |_| {}).await;
    let client = Client::new(&server.url())?;

    let models = client.models().await?;
    assert_eq!(models.len(), 2);
    let info = client.model("bars").await?;
    assert_eq!(info.inputs[0].shape, vec![SIDE, SIDE]);
    assert_eq!(info.max_batch, BATCH);
    assert!(
        info.params.log_n >= 13,
        "secure parameters: {:?}",
        info.params
    );
    assert!(info.rotation_steps.is_empty());

    // Session: keys generated into the directory, bundle registered, predict.
    let session = Session::open(client.clone(), "bars", &dir.join("client")).await?;
    assert_eq!(session.info().params_id, info.params_id);
    let images = test_images(6); // two requests: 4 + 2
    let remote = session.predict(&images).await?;
    assert_eq!(remote.len(), images.len());

    // The local encrypted path with the same keys.
    let file = bars_file();
    let model = file.encrypted_model()?;
    let keys = session.keys();
    let local_server = CkksServer::new(keys.server_keys());
    for (chunk, got) in images.chunks(BATCH).zip(remote.chunks(BATCH)) {
        let sent = model.encrypt(keys, &[("x", stacked(chunk))])?;
        let back = model.evaluate(&local_server, &sent)?;
        let local = model.decrypt(keys, &back)?;
        let local = local[0].1.data();
        for (s, (image, p)) in chunk.iter().zip(got).enumerate() {
            let l = logits(p);
            let want = plain_logits(&model, image);
            for (k, v) in l.iter().enumerate() {
                let loc = local[s * l.len() + k];
                assert!(
                    (v - loc).abs() < 1e-3,
                    "sample {s} logit {k}: {v} vs local {loc}"
                );
                assert!(
                    (v - want[k]).abs() < 1e-2,
                    "sample {s} logit {k}: {v} vs plain {}",
                    want[k]
                );
            }
            let SamplePrediction::Class { index, .. } = p else {
                panic!("a classifier answers classes")
            };
            let plain_best = Tensor::from_vec(want.clone()).argmax();
            assert_eq!(*index, plain_best, "sample {s}");
        }
    }

    // The same directory is reused: no new keys, no new registration.
    let again = Session::open(client.clone(), "bars", &dir.join("client")).await?;
    assert_eq!(again.key_id(), session.key_id());

    // The command-line client (its own runtime, so on its own thread) with a JSON input
    // file, reusing the key directory.
    let input = dir.join("x.json");
    std::fs::write(&input, serde_json::to_string(&images[..2])?)?;
    let args = fhez_serve::cli::ClientPredictArgs {
        server: server.url(),
        model: "bars".to_owned(),
        keys: dir.join("client"),
        input: Some(input),
        image: None,
        data: None,
        json: true,
        mode: fhez_serve::cli::ModeArg::Batch,
        packing: None,
        full_precision: false,
    };
    std::thread::spawn(move || fhez_serve::cli::run_client_predict(&args))
        .join()
        .unwrap()
        .map_err(|e| e.to_string())?;

    // The regressor: values scaled back by the task.
    let reg = Session::open(client.clone(), "toy-regressor", &dir.join("client-reg")).await?;
    let xs = vec![(0..12).map(|k| k as f64 / 20.0).collect::<Vec<_>>()];
    let got = reg.predict(&xs).await?;
    let rmodel = regressor_file().encrypted_model()?;
    let sample = Tensor::new(vec![6, 2], xs[0].clone())?;
    let want = rmodel.graph().infer(&[("x", sample)])?;
    let v = logits(&got[0])[0];
    let w = want["y_hat"].item() * 2.0 + 1.0;
    assert!((v - w).abs() < 1e-2, "regressor {v} vs plain {w}");

    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_keys_survive_a_restart_and_can_be_deleted() -> TestResult {
    let dir = temp_dir("restart");
    let db = dir.join("keys.redb");
    let (model, keys) = local_keys(&bars_file(), &dir.join("client"));
    let bundle = Bytes::from(public_bundle_to_bytes(&keys.server_keys())?);
    let images = test_images(2);
    let request = Bytes::from(CtBatch::encrypt_seeded_bytes(
        &keys,
        &[("x", stacked(&images))],
    )?);
    let check = |reply: &Bytes| {
        let rows = decrypt_reply(&keys, reply, "Decrypt", "bars").unwrap();
        for (row, image) in rows.iter().zip(&images) {
            let want = plain_logits(&model, image);
            for (a, b) in row.iter().zip(&want) {
                assert!((a - b).abs() < 1e-2, "{a} vs {b}");
            }
        }
    };

    let first = start(db.clone(), |_| {}).await;
    let client = Client::new(&first.url())?;
    let reg = client.register("bars", bundle.clone()).await?;
    assert!(reg.created);
    assert_eq!(reg.key_id, fhez_serve::key_id_of(&bundle));
    let token = reg
        .owner_token
        .clone()
        .expect("a new key comes with its owner token");
    assert_eq!(token.len(), 64);
    let again = client.register("bars", bundle.clone()).await?;
    assert!(!again.created, "registering the same bundle is idempotent");
    assert_eq!(again.owner_token, None, "the owner token is returned once");
    assert_eq!(again.key_id, reg.key_id);
    check(&client.predict("bars", &reg.key_id, request.clone()).await?);
    first.stop().await;

    // A new process on the same database: the key id works without registering again.
    let second = start(db.clone(), |_| {}).await;
    let client = Client::new(&second.url())?;
    check(&client.predict("bars", &reg.key_id, request.clone()).await?);
    let (status, _, body) = raw(
        reqwest::Method::GET,
        &format!("{}/v1/keys/{}", second.url(), reg.key_id),
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // Delete needs the owner token: without it 401, with another 403, and the key stays.
    let (status, _, body) = raw(
        reqwest::Method::DELETE,
        &format!("{}/v1/keys/{}", second.url(), reg.key_id),
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("missing_owner_token"));
    let wrong = "0".repeat(64);
    let err = client.delete_key(&reg.key_id, &wrong).await.unwrap_err();
    assert_eq!(err.api_code(), Some("not_owner"), "{err}");
    check(&client.predict("bars", &reg.key_id, request.clone()).await?);

    // With the token: gone for predict, a second delete is a 404.
    client.delete_key(&reg.key_id, &token).await?;
    let err = client
        .predict("bars", &reg.key_id, request.clone())
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some("unknown_key"), "{err}");
    let err = client.delete_key(&reg.key_id, &token).await.unwrap_err();
    assert_eq!(err.api_code(), Some("unknown_key"), "{err}");
    second.stop().await;

    // Still gone after another restart; a session re-registers by itself.
    let third = start(db, |_| {}).await;
    let client = Client::new(&third.url())?;
    let err = client
        .predict("bars", &reg.key_id, request.clone())
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some("unknown_key"));
    let session = Session::open(client.clone(), "bars", &dir.join("client")).await?;
    assert_eq!(
        session.key_id(),
        reg.key_id,
        "the session reused the saved keys"
    );
    check(&session.call(request).await?);
    third.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_and_the_server_keeps_serving() -> TestResult {
    use reqwest::Method;
    let dir = temp_dir("bad");
    let (model, keys) = local_keys(&bars_file(), &dir.join("client"));
    let (_, other_keys) = local_keys(&regressor_file(), &dir.join("other"));
    let bundle = public_bundle_to_bytes(&keys.server_keys())?;
    let other_bundle = public_bundle_to_bytes(&other_keys.server_keys())?;
    let images = test_images(1);
    let good = CtBatch::encrypt_seeded_bytes(&keys, &[("x", stacked(&images))])?;
    let limit = good.len().max(bundle.len()).max(other_bundle.len()) + (64 << 10);
    eprintln!(
        "request {} bytes, bundle {} bytes, limit {limit}",
        good.len(),
        bundle.len()
    );
    let server = start(dir.join("keys.redb"), |c| c.max_body_bytes = limit).await;
    let base = server.url();
    let client = Client::new(&base)?;
    let key_id = client
        .register("bars", Bytes::from(bundle.clone()))
        .await?
        .key_id;
    let other_id = client
        .register("toy-regressor", Bytes::from(other_bundle.clone()))
        .await?
        .key_id;
    let predict = format!("{base}/v1/models/bars/predict");
    let k = Some(key_id.as_str());

    // Truncated request.
    let truncated = good[..good.len() / 2].to_vec();
    expect_error(
        Method::POST,
        &predict,
        k,
        truncated,
        400,
        "bad_ciphertext",
        "ciphertext batch",
    )
    .await;
    // Corrupted: a coefficient pushed out of range inside the last ciphertext.
    let mut corrupt = good.clone();
    let at = corrupt.len() - 16;
    corrupt[at..at + 8].fill(0xff);
    expect_error(
        Method::POST,
        &predict,
        k,
        corrupt,
        400,
        "bad_ciphertext",
        "coefficient",
    )
    .await;
    // Flipped bytes in the message and entry headers (magic, version, counts, name,
    // packing, shape, the first ciphertext's envelope): each one a 4xx, never a 5xx. (A
    // flip *inside* a coefficient that stays below its modulus is undetectable: ciphertexts
    // carry no MAC, it only corrupts the answer the client decrypts.)
    for at in (0..48).chain([60, 70, 80]) {
        let mut flipped = good.clone();
        flipped[at] ^= 0x5a;
        let (status, _, body) = raw(Method::POST, &predict, k, flipped).await;
        assert!(
            (400..500).contains(&status),
            "flipped byte {at}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    // Oversized.
    expect_error(
        Method::POST,
        &predict,
        k,
        vec![0u8; limit + 1],
        413,
        "body_too_large",
        "limit",
    )
    .await;
    // Wrong parameters: ciphertexts of the other model's keys, with this model's key id.
    let foreign = CtBatch::encrypt_seeded_bytes(
        &other_keys,
        &[("x", PlainArray::full(vec![1, 6, 2], 0.1)?)],
    )?;
    expect_error(
        Method::POST,
        &predict,
        k,
        foreign,
        409,
        "params_mismatch",
        "parameter set",
    )
    .await;
    // A key made for the other model's parameters.
    expect_error(
        Method::POST,
        &predict,
        Some(&other_id),
        good.clone(),
        409,
        "params_mismatch",
        "parameter set",
    )
    .await;
    // Registering a bundle for the wrong model.
    expect_error(
        Method::POST,
        &format!("{base}/v1/keys?model=bars"),
        None,
        other_bundle.clone(),
        409,
        "params_mismatch",
        "parameter set",
    )
    .await;
    // Wrong kinds.
    expect_error(
        Method::POST,
        &predict,
        k,
        bundle.clone(),
        400,
        "wrong_kind",
        "public key bundle",
    )
    .await;
    expect_error(
        Method::POST,
        &format!("{base}/v1/keys?model=bars"),
        None,
        good.clone(),
        400,
        "wrong_kind",
        "ciphertext batch",
    )
    .await;
    expect_error(
        Method::POST,
        &format!("{base}/v1/keys?model=bars"),
        None,
        b"not a bundle".to_vec(),
        400,
        "bad_bundle",
        "public key bundle",
    )
    .await;
    let mut bad_bundle = bundle.clone();
    bad_bundle.truncate(bundle.len() - 100);
    expect_error(
        Method::POST,
        &format!("{base}/v1/keys?model=bars"),
        None,
        bad_bundle,
        400,
        "bad_bundle",
        "public key bundle",
    )
    .await;
    expect_error(
        Method::POST,
        &format!("{base}/v1/keys"),
        None,
        bundle.clone(),
        400,
        "missing_model",
        "model",
    )
    .await;
    // Inputs that do not fit the model.
    let flat = CtBatch::encrypt_seeded_bytes(&keys, &[("x", PlainArray::full(vec![1, 25], 0.1)?)])?;
    expect_error(
        Method::POST,
        &predict,
        k,
        flat,
        400,
        "input_mismatch",
        "shape",
    )
    .await;
    let renamed = CtBatch::encrypt_seeded_bytes(&keys, &[("z", stacked(&images))])?;
    expect_error(
        Method::POST,
        &predict,
        k,
        renamed,
        400,
        "input_mismatch",
        "`z`",
    )
    .await;
    let too_many =
        CtBatch::encrypt_seeded_bytes(&keys, &[("x", stacked(&test_images(BATCH + 1)))])?;
    expect_error(
        Method::POST,
        &predict,
        k,
        too_many,
        400,
        "input_mismatch",
        "samples",
    )
    .await;
    // Unknown key id, malformed or missing key id, unknown model, unknown route.
    let unknown = "0".repeat(64);
    expect_error(
        Method::POST,
        &predict,
        Some(&unknown),
        good.clone(),
        404,
        "unknown_key",
        &unknown,
    )
    .await;
    expect_error(
        Method::POST,
        &predict,
        Some("xyz"),
        good.clone(),
        400,
        "bad_key_id",
        "64",
    )
    .await;
    expect_error(
        Method::POST,
        &predict,
        None,
        good.clone(),
        400,
        "missing_key_id",
        "x-fhez-key-id",
    )
    .await;
    expect_error(
        Method::POST,
        &format!("{base}/v1/models/nope/predict"),
        k,
        good.clone(),
        404,
        "unknown_model",
        "nope",
    )
    .await;
    expect_error(
        Method::GET,
        &format!("{base}/v1/models/nope"),
        None,
        Vec::new(),
        404,
        "unknown_model",
        "nope",
    )
    .await;
    expect_error(
        Method::DELETE,
        &format!("{base}/v1/keys/{unknown}"),
        None,
        Vec::new(),
        404,
        "unknown_key",
        &unknown,
    )
    .await;
    expect_error(
        Method::GET,
        &format!("{base}/v2/else"),
        None,
        Vec::new(),
        404,
        "not_found",
        "/v2/else",
    )
    .await;

    // The server still serves, and answers correctly.
    let (status, _, reply) = raw(
        Method::POST,
        &format!("{predict}?key_id={key_id}"),
        None,
        good,
    )
    .await;
    assert_eq!(status, 200);
    let rows = decrypt_reply(&keys, &reply, "Decrypt", "bars")?;
    let want = plain_logits(&model, &images[0]);
    for (a, b) in rows[0].iter().zip(&want) {
        assert!((a - b).abs() < 1e-2, "{a} vs {b}");
    }
    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_a_503_with_retry_after_and_the_client_retries() -> TestResult {
    let dir = temp_dir("overload");
    let (model, keys) = local_keys(&bars_file(), &dir.join("client"));
    let keys = Arc::new(keys);
    let server = start(dir.join("keys.redb"), |c| {
        c.max_in_flight = 1;
        c.max_queue = 0;
    })
    .await;
    let base = server.url();
    let client = Client::new(&base)?;
    let key_id = client
        .register(
            "bars",
            Bytes::from(public_bundle_to_bytes(&keys.server_keys())?),
        )
        .await?
        .key_id;
    let images = test_images(BATCH);
    let request = Bytes::from(CtBatch::encrypt_seeded_bytes(
        &keys,
        &[("x", stacked(&images))],
    )?);

    // Without retries: several at once, one permit — some are turned away with 503.
    let no_retry = client.clone().with_retry(Retry {
        attempts: 1,
        max_wait: Duration::from_secs(1),
        max_total: Duration::from_secs(1),
    });
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (c, r, k) = (no_retry.clone(), request.clone(), key_id.clone());
        tasks.push(tokio::spawn(async move { c.predict("bars", &k, r).await }));
    }
    let mut busy = 0;
    for t in tasks {
        match t.await? {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.api_code(), Some("overloaded"), "{e}");
                busy += 1;
            }
        }
    }
    assert!(
        busy >= 1,
        "4 concurrent requests on 1 permit: none was refused"
    );
    let (status, retry, _) = {
        // Hold the permit with one request while probing with another.
        let (c, r, k) = (no_retry.clone(), request.clone(), key_id.clone());
        let holder = tokio::spawn(async move { c.predict("bars", &k, r).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let probe = raw(
            reqwest::Method::POST,
            &format!("{base}/v1/models/bars/predict"),
            Some(&key_id),
            request.to_vec(),
        )
        .await;
        holder.await??;
        probe
    };
    if status == 503 {
        assert_eq!(retry.as_deref(), Some("1"), "503 carries Retry-After");
    }

    // With the default retry policy every request succeeds, with the right answer.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (c, r, k) = (client.clone(), request.clone(), key_id.clone());
        tasks.push(tokio::spawn(async move { c.predict("bars", &k, r).await }));
    }
    for t in tasks {
        let reply = t.await??;
        let rows = decrypt_reply(&keys, &reply, "Decrypt", "bars")?;
        for (row, image) in rows.iter().zip(&images) {
            let want = plain_logits(&model, image);
            for (a, b) in row.iter().zip(&want) {
                assert!((a - b).abs() < 1e-2, "{a} vs {b}");
            }
        }
    }
    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_queue_absorbs_bursts_and_shutdown_finishes_in_flight_requests() -> TestResult {
    let dir = temp_dir("queue");
    let (model, keys) = local_keys(&bars_file(), &dir.join("client"));
    let keys = Arc::new(keys);
    // One slot, a queue of 8: a burst of 4 is served without any 503.
    let server = start(dir.join("keys.redb"), |c| {
        c.max_in_flight = 1;
        c.max_queue = 8;
    })
    .await;
    let base = server.url();
    let no_retry = Client::new(&base)?.with_retry(Retry {
        attempts: 1,
        max_wait: Duration::from_secs(1),
        max_total: Duration::from_secs(1),
    });
    let key_id = no_retry
        .register(
            "bars",
            Bytes::from(public_bundle_to_bytes(&keys.server_keys())?),
        )
        .await?
        .key_id;
    let images = test_images(2);
    let request = Bytes::from(CtBatch::encrypt_seeded_bytes(
        &keys,
        &[("x", stacked(&images))],
    )?);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (c, r, k) = (no_retry.clone(), request.clone(), key_id.clone());
        tasks.push(tokio::spawn(async move { c.predict("bars", &k, r).await }));
    }
    for t in tasks {
        t.await??;
    }

    // Shutdown while a request is being evaluated: it still gets its answer.
    let (c, r, k) = (no_retry.clone(), request.clone(), key_id.clone());
    let in_flight = tokio::spawn(async move { c.predict("bars", &k, r).await });
    let health = format!("{base}/healthz");
    let started = std::time::Instant::now();
    loop {
        let (_, _, body) = raw(reqwest::Method::GET, &health, None, Vec::new()).await;
        let h: serde_json::Value = serde_json::from_slice(&body)?;
        if h["free_permits"] == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "request never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.stop().await;
    let reply = in_flight.await??;
    let rows = decrypt_reply(&keys, &reply, "Decrypt", "bars")?;
    let want = plain_logits(&model, &images[0]);
    for (a, b) in rows[0].iter().zip(&want) {
        assert!((a - b).abs() < 1e-2, "{a} vs {b}");
    }
    // And the server is gone.
    assert!(reqwest::get(&health).await.is_err());
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Single-input packing through the one model API: the server publishes the plan of both
/// packings (JSON, no weights); a session encrypts and decrypts from the published plan
/// alone and its predictions equal the plaintext graph in both packings; hostile bodies,
/// packing mismatches and keys of the other packing are 4xx JSON errors naming the
/// problem; the owner token guards the single-input key as any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_input_packing_round_trip_from_the_published_plan() -> TestResult {
    use fhez_erray::Packing;
    use fhez_serve::api::Mode;

    let dir = temp_dir("single");
    let server = start(dir.join("keys.redb"), |_| {}).await;
    let client = Client::new(&server.url())?;
    let info = client.model("bars").await?;
    let single = info
        .single
        .clone()
        .expect("bars plans with single-input packing");

    // The published plans: packing and layouts, never a weight.
    for (packing, kind) in [("single", "single-input"), ("batch", "batch-in-slots")] {
        let url = format!("{}/v1/models/bars/plan?packing={packing}", server.url());
        let (status, _, body) = raw(reqwest::Method::GET, &url, None, Vec::new()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let text = String::from_utf8(body.to_vec())?;
        assert!(!text.contains("weights"), "the plan holds weights: {text}");
        let plan: fhez_nn::Plan = serde_json::from_str(&text)?;
        let v: serde_json::Value = serde_json::from_str(&text)?;
        assert_eq!(v["packing"], kind);
        let x = plan.layout("x", fhez_nn::LayoutRole::Input).unwrap();
        assert_eq!(serde_json::to_value(x.packing)?["kind"], kind, "{text}");
    }
    let model = bars_file().encrypted_model()?;
    let plan = client.plan("bars", Mode::Single).await?;
    assert_eq!(
        plan.rotation_steps.iter().copied().collect::<Vec<_>>(),
        single.rotation_steps
    );
    let url = format!("{}/v1/models/bars/plan?packing=both", server.url());
    expect_error(
        reqwest::Method::GET,
        &url,
        None,
        vec![],
        400,
        "bad_mode",
        "packing",
    )
    .await;
    let url = format!("{}/v1/models/bars/plan?mode=latency", server.url());
    expect_error(
        reqwest::Method::GET,
        &url,
        None,
        vec![],
        400,
        "mode_unsupported",
        "latency",
    )
    .await;

    // Round trips in both packings, against the plaintext graph.
    let images = test_images(3);
    let s1 = Session::open_mode(client.clone(), "bars", &dir.join("client"), Mode::Single).await?;
    assert!(
        dir.join("client")
            .join("single")
            .join("secret.key")
            .is_file()
    );
    assert_eq!(s1.max_samples(), 1);
    let sb = Session::open_mode(client.clone(), "bars", &dir.join("client"), Mode::Batch).await?;
    assert_ne!(s1.key_id(), sb.key_id());
    for session in [&s1, &sb] {
        let preds = session.predict(&images).await?;
        assert_eq!(preds.len(), images.len());
        for (p, image) in preds.iter().zip(&images) {
            let want = plain_logits(&model, image);
            for (a, b) in logits(p).iter().zip(&want) {
                assert!((a - b).abs() < 1e-2, "{:?}: {a} vs {b}", session.mode());
            }
        }
    }
    // One sample per ciphertext: a single-input request is one ciphertext, far below the
    // batch request of the same image (one ciphertext per pixel).
    let one = s1.encrypt(&images[..1]).await?;
    let many = sb.encrypt(&images[..1]).await?;
    assert!(
        one.len() * 10 < many.len(),
        "{} vs {}",
        one.len(),
        many.len()
    );
    assert!(one.len() <= single.max_body_bytes);

    // Hostile bodies and mismatches on the single-input route.
    let url = format!("{}/v1/models/bars/predict?packing=single", server.url());
    let key = Some(s1.key_id());
    let post = reqwest::Method::POST;
    expect_error(
        post.clone(),
        &url,
        key,
        b"not a message".to_vec(),
        400,
        "bad_ciphertext",
        "",
    )
    .await;
    let mut cut = one.to_vec();
    cut.truncate(cut.len() / 2);
    expect_error(post.clone(), &url, key, cut, 400, "bad_ciphertext", "").await;
    let big = vec![0u8; single.max_body_bytes + 1];
    expect_error(post.clone(), &url, key, big, 413, "body_too_large", "").await;
    // the batch request (of this packing's keys' other directory) is over the body limit
    expect_error(
        post.clone(),
        &url,
        key,
        many.to_vec(),
        413,
        "body_too_large",
        "",
    )
    .await;
    let keys = s1.keys();
    let x1 = stacked(&images[..1]);
    let layout = plan
        .layout("x", fhez_nn::LayoutRole::Input)
        .unwrap()
        .packing;
    let fhez_nn::PackingSpec::SingleInput { period } = layout else {
        panic!("single-input plan with input layout {layout:?}");
    };
    let other_period = CtBatch::encrypt_seeded_bytes_packed(
        keys,
        &[("x", &x1, Packing::SingleInput { period: 2 * period })],
    )?;
    expect_error(
        post.clone(),
        &url,
        key,
        other_period,
        400,
        "packing_mismatch",
        &format!("single-input (period {period})"),
    )
    .await;
    let two = stacked(&images[..2]);
    let two_samples = CtBatch::encrypt_seeded_bytes_packed(
        keys,
        &[("x", &two, Packing::SingleInput { period: 2 * period })],
    )?;
    expect_error(
        post.clone(),
        &url,
        key,
        two_samples,
        400,
        "input_mismatch",
        "one sample",
    )
    .await;
    // keys of one packing on the other's route
    let batch_url = format!("{}/v1/models/bars/predict", server.url());
    expect_error(
        post.clone(),
        &batch_url,
        key,
        one.to_vec(),
        409,
        "mode_mismatch",
        "single",
    )
    .await;
    expect_error(
        post.clone(),
        &url,
        Some(sb.key_id()),
        one.to_vec(),
        409,
        "mode_mismatch",
        "",
    )
    .await;
    let both = format!(
        "{}/v1/models/bars/predict?mode=latency&packing=single",
        server.url()
    );
    expect_error(
        post.clone(),
        &both,
        key,
        one.to_vec(),
        400,
        "bad_mode",
        "disagree",
    )
    .await;

    // The owner token guards the single-input key.
    let err = client
        .delete_key(s1.key_id(), &"0".repeat(64))
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some("not_owner"), "{err}");
    server.stop().await;
    Ok(())
}
