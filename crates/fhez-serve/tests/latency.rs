//! Latency mode over loopback: predictions equal the local `LatencyModel` path and the
//! plaintext class; keys of the wrong mode, batch messages, ciphertexts at the wrong level
//! or under the wrong parameters are 4xx errors naming the problem; latency keys survive a
//! restart.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "test code"
)]

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Bytes;
use fhez_ckks::{CkksParams, Encoder, wire};
use fhez_erray::PlainArray;
use fhez_model::bundle::public_bundle_to_bytes;
use fhez_model::latency::{DEFAULT_HEADROOM_BITS, LatencyModel, LatencyNet, latency_spec_for};
use fhez_model::{CtBatch, ModelFile};
use fhez_nn::{Tape, Tensor};
use fhez_serve::fixture::{SIDE, bars};
use fhez_serve::{Client, KeyRecord, LatencySession, Mode, SamplePrediction, Server, ServerConfig};
use tokio::sync::oneshot;

mod common;
use common::{Running, TestResult, bars_file, start_with, temp_dir};

/// A server for the bars model with its key store at `db` (2 latency slots).
async fn start(db: PathBuf) -> Running {
    start_with(vec![bars_file()], db, |c| c.latency_max_in_flight = 2).await
}

fn plain_class(file: &ModelFile, image: &[f64]) -> usize {
    let graph = file.graph().unwrap();
    let (x, dec) = (graph.id("x").unwrap(), graph.id("Decrypt").unwrap());
    let mut tape = Tape::new(&graph);
    let t = Tensor::new(vec![SIDE, SIDE], image.to_vec()).unwrap();
    graph.stimulate(&[(x, t)], &mut tape).unwrap();
    tape.output(dec, 0).unwrap().argmax()
}

async fn post(url: &str, key_id: Option<&str>, body: Vec<u8>) -> (u16, Bytes) {
    let mut req = reqwest::Client::new().post(url).body(body);
    if let Some(k) = key_id {
        req = req.header(fhez_serve::KEY_ID_HEADER, k);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap())
}

async fn expect_error(
    url: &str,
    key_id: Option<&str>,
    body: Vec<u8>,
    status: u16,
    code: &str,
    needle: &str,
) {
    let (got, bytes) = post(url, key_id, body).await;
    common::assert_json_error(url, got, &bytes, status, code, needle);
}

fn logits(p: &SamplePrediction) -> &[f64] {
    match p {
        SamplePrediction::Class { logits, .. } => logits,
        SamplePrediction::Values { values } => values,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_mode_end_to_end_errors_and_restart() -> TestResult {
    let dir = temp_dir("e2e");
    let db = dir.join("keys.redb");
    let server = start(db.clone()).await;
    let client = Client::new(&server.url())?;
    let file = bars_file();

    // The model info has a latency section matching the local latency model.
    let info = client.model("bars").await?;
    let lat = info.latency.clone().expect("bars has a latency mode");
    assert_eq!(lat.input_shape, vec![SIDE, SIDE]);
    let graph = file.graph()?;
    let spec = latency_spec_for(&LatencyNet::from_graph(&graph)?, DEFAULT_HEADROOM_BITS)?;
    assert_eq!(spec, lat.params);
    let params = CkksParams::new(&spec)?;
    assert_eq!(params.id().to_hex(), lat.params_id);
    let local = LatencyModel::from_graph(&graph, &params)?;
    assert_eq!(local.rotation_steps(), lat.rotation_steps);
    assert_eq!(local.input_level(), lat.input_level);

    // Loopback predictions equal the local path and the plaintext class.
    let session = LatencySession::open(client.clone(), "bars", &dir.join("client")).await?;
    assert!(dir.join("client/latency/secret.key").is_file());
    let keys = session.keys().clone();
    let server_keys = keys.server_keys();
    let images: Vec<Vec<f64>> = bars(4, 11).into_iter().map(|(x, _)| x).collect();
    let got = session.predict(&images).await?;
    for (image, pred) in images.iter().zip(&got) {
        let ct = local.encrypt(&keys, image)?;
        let want = local.decrypt(&keys, &local.eval(&server_keys, &ct)?)?;
        let have = logits(pred);
        assert_eq!(have.len(), want.len());
        for (a, b) in have.iter().zip(&want) {
            assert!((a - b).abs() < 1e-3, "logit {a} vs local {b}");
        }
        let SamplePrediction::Class { index, .. } = pred else {
            panic!("a classifier")
        };
        assert_eq!(*index, plain_class(&file, image));
    }

    // A full (not seeded) ciphertext is accepted too.
    let full = wire::ciphertext_to_bytes(&local.encrypt(&keys, &images[0])?)?;
    let reply = session.call(Bytes::from(full)).await?;
    let row = session.decrypt(reply).await?;
    assert!((row[0] - logits(&got[0])[0]).abs() < 1e-3);

    let base = server.url();
    let lat_url = format!("{base}/v1/models/bars/predict?mode=latency");
    let batch_url = format!("{base}/v1/models/bars/predict");
    let lat_id = session.key_id().to_owned();

    // Batch keys: a batch bundle registered for latency mode is refused; registered for
    // batch, its key id is refused by latency predict and vice versa.
    let bmodel = file.encrypted_model()?;
    let bparams = CkksParams::new(&bmodel.spec())?;
    let bkeys = bmodel.keygen(&bparams)?;
    let bbundle = public_bundle_to_bytes(&bkeys.server_keys())?;
    let keys_url = format!("{base}/v1/keys?model=bars");
    expect_error(
        &format!("{keys_url}&mode=latency"),
        None,
        bbundle.clone(),
        409,
        "params_mismatch",
        "latency mode",
    )
    .await;
    let lbundle = public_bundle_to_bytes(&server_keys)?;
    expect_error(
        &keys_url,
        None,
        lbundle,
        409,
        "params_mismatch",
        "batch mode",
    )
    .await;
    expect_error(
        &format!("{keys_url}&mode=fast"),
        None,
        bbundle.clone(),
        400,
        "bad_mode",
        "latency",
    )
    .await;
    let reg = client.register("bars", Bytes::from(bbundle)).await?;
    assert_eq!(reg.mode, Mode::Batch);
    let request = wire::seeded_ciphertext_to_bytes(&local.encrypt_seeded(&keys, &images[0])?)?;
    expect_error(
        &lat_url,
        Some(&reg.key_id),
        request.clone(),
        409,
        "mode_mismatch",
        "batch mode",
    )
    .await;
    let x = PlainArray::new(vec![1, SIDE, SIDE], images[0].clone())?;
    let batch_msg = CtBatch::encrypt_seeded_bytes(&bkeys, &[("x", x)])?;
    expect_error(
        &batch_url,
        Some(&lat_id),
        batch_msg.clone(),
        409,
        "mode_mismatch",
        "latency mode",
    )
    .await;

    // A batch-mode message sent to latency predict.
    expect_error(
        &lat_url,
        Some(&lat_id),
        batch_msg,
        413,
        "body_too_large",
        "the body is a ciphertext batch",
    )
    .await;
    // A latency ciphertext at the wrong level.
    let encoder = Encoder::new(&params);
    let slots = local.encode(&images[0])?;
    let low = lat.input_level - 1;
    let pt = encoder.encode(&slots, params.default_scale(), low)?;
    let ct = keys
        .secret_key()
        .encrypt_seeded(&pt, &mut fhez_ckks::os_rng()?)?;
    let wrong_level = wire::seeded_ciphertext_to_bytes(&ct)?;
    expect_error(
        &lat_url,
        Some(&lat_id),
        wrong_level,
        400,
        "wrong_level",
        &format!("level {low}"),
    )
    .await;
    // A single ciphertext under the batch parameters.
    let other = wire::seeded_ciphertext_to_bytes(&bkeys.encrypt_seeded(&[0.5; 4])?)?;
    expect_error(
        &lat_url,
        Some(&lat_id),
        other,
        409,
        "params_mismatch",
        "parameter set",
    )
    .await;
    // Truncated, garbage, a public bundle.
    expect_error(
        &lat_url,
        Some(&lat_id),
        request[..request.len() / 2].to_vec(),
        400,
        "bad_ciphertext",
        "invalid wire ciphertext",
    )
    .await;
    expect_error(
        &lat_url,
        Some(&lat_id),
        b"hello".to_vec(),
        400,
        "bad_ciphertext",
        "invalid wire ciphertext",
    )
    .await;
    let pb = public_bundle_to_bytes(&server_keys)?;
    expect_error(
        &lat_url,
        Some(&lat_id),
        pb,
        413,
        "body_too_large",
        "public key bundle",
    )
    .await;
    // Still serving.
    let (status, _) = post(&lat_url, Some(&lat_id), request.clone()).await;
    assert_eq!(status, 200);

    // Restart: the latency key is still registered, as latency.
    server.stop().await;
    let server = start(db).await;
    let url = format!("{}/v1/keys/{lat_id}", server.url());
    let record: KeyRecord = serde_json::from_slice(&reqwest::get(&url).await?.bytes().await?)?;
    assert_eq!(record.mode, Mode::Latency);
    let lat_url = format!("{}/v1/models/bars/predict?mode=latency", server.url());
    let (status, reply) = post(&lat_url, Some(&lat_id), request).await;
    assert_eq!(status, 200);
    let out = wire::ciphertext_from_bytes(&params, &reply, 1 << 30)?;
    let row = local.decrypt(&keys, &out)?;
    assert!((row[0] - logits(&got[0])[0]).abs() < 1e-3);

    // The command-line client, mode auto (latency here), reusing the key directory.
    let input = dir.join("x.json");
    std::fs::write(&input, serde_json::to_string(&images[1])?)?;
    let args = fhez_serve::cli::ClientPredictArgs {
        server: server.url(),
        model: "bars".to_owned(),
        keys: dir.join("client"),
        input: Some(input),
        image: None,
        data: None,
        json: true,
        mode: fhez_serve::cli::ModeArg::Auto,
        packing: None,
        full_precision: false,
    };
    std::thread::spawn(move || fhez_serve::cli::run_client_predict(&args))
        .join()
        .unwrap()
        .map_err(|e| e.to_string())?;

    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_without_a_latency_form_says_so() -> TestResult {
    // Three encrypted inputs and no convolution: no latency form.
    let graph = fhez_nn::prefab::basic(1)?;
    let request = fhez_nn::PlanRequest {
        release: fhez_nn::ReleaseChoice::Shared,
        batch: 2,
        precision_bits: 20,
        magnitude_bits: 20,
        standard: fhez_nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let task = fhez_model::Task::Regressor {
        scale: 1.0,
        offset: 0.0,
    };
    let file = ModelFile::new("reg", &graph, &["x_0", "x_1", "y_0"], "d_0", task, request)?;
    let dir = temp_dir("none");
    let mut config = ServerConfig::new(vec![bars_file(), file]);
    config.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.db_path = dir.join("keys.redb");
    let server = Server::bind(config).await?;
    let base = format!("http://{}", server.local_addr());
    let (stop, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    let client = Client::new(&base)?;
    let models = client.models().await?;
    let reg = models.iter().find(|m| m.name == "reg").expect("served");
    let bars_info = models.iter().find(|m| m.name == "bars").expect("served");
    assert!(bars_info.latency.is_some());
    assert!(reg.latency.is_none());
    let raw: serde_json::Value = serde_json::from_slice(
        &reqwest::get(format!("{base}/v1/models/reg"))
            .await?
            .bytes()
            .await?,
    )?;
    assert!(raw["latency"].is_null());
    let key = "0".repeat(64);
    let url = format!("{base}/v1/models/reg/predict?mode=latency");
    expect_error(
        &url,
        Some(&key),
        vec![1, 2, 3],
        400,
        "mode_unsupported",
        "no latency mode",
    )
    .await;
    let url = format!("{base}/v1/keys?model=reg&mode=latency");
    expect_error(
        &url,
        None,
        vec![1, 2, 3],
        400,
        "mode_unsupported",
        "no latency mode",
    )
    .await;
    let err = LatencySession::open(client, "reg", &dir.join("k"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no latency mode"), "{err}");
    let _ = stop.send(());
    handle.await??;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
