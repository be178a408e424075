//! Operations endpoints: `/readyz` (ready, draining after a shutdown signal, failing while
//! the key store is unreachable), Prometheus `/metrics`, and two workers sharing a
//! PostgreSQL key store behind no balancer: keys registered on one are used on the other,
//! a DELETE on one is refused by the other at once, and a store restart is a 503 with
//! `Retry-After` while it lasts, not an error. The PostgreSQL test needs
//! `FHEZ_TEST_POSTGRES=1` (see `common/pg.rs`).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::time::{Duration, Instant};

use fhez_ckks::CkksParams;
use fhez_model::bundle::{public_bundle_to_bytes, save_client_keys};
use fhez_nn::{Tape, Tensor};
use fhez_serve::fixture::{SIDE, bars};
use fhez_serve::store::PgConfig;
use fhez_serve::{Client, Session};

mod common;
use common::{TestResult, bars_file, pg::postgres, start_with, temp_dir};

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::Client::new().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// The value of the sample `name` (with its labels, exactly as written) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_and_metrics_report_and_a_signal_drains_before_stopping() -> TestResult {
    let dir = temp_dir("ready");
    let server = start_with(vec![bars_file()], dir.join("keys.redb"), |c| {
        c.drain_grace = Duration::from_secs(2);
    })
    .await;
    let url = server.url();
    assert_eq!(get(&format!("{url}/healthz")).await.0, 200);
    let (status, body) = get(&format!("{url}/readyz")).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ready"}"#));
    assert_eq!(get(&format!("{url}/v1/keys/nope")).await.0, 400);

    let (status, text) = get(&format!("{url}/metrics")).await;
    assert_eq!(status, 200);
    eprintln!("{text}");
    let count = |route: &str, status: u16| {
        sample(
            &text,
            &format!(
                "fhez_http_requests_total{{route=\"{route}\",method=\"GET\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(count("/healthz", 200), Some(1.0));
    assert_eq!(count("/readyz", 200), Some(1.0));
    assert_eq!(count("/v1/keys/{id}", 400), Some(1.0));
    assert_eq!(sample(&text, "fhez_queue_depth{pool=\"batch\"}"), Some(0.0));
    assert_eq!(sample(&text, "fhez_in_flight{pool=\"latency\"}"), Some(0.0));
    assert_eq!(sample(&text, "fhez_key_cache_hits_total"), Some(0.0));
    assert_eq!(sample(&text, "fhez_key_cache_misses_total"), Some(0.0));
    assert_eq!(sample(&text, "fhez_ready"), Some(1.0));

    // After the signal the worker still answers, but /readyz says it drains.
    let task = server.signal();
    let start = Instant::now();
    let (status, body) = get(&format!("{url}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"draining\""), "{body}");
    assert_eq!(get(&format!("{url}/healthz")).await.0, 200);
    task.await??;
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "stopped before the drain grace: {:?}",
        start.elapsed()
    );
    assert!(reqwest::get(format!("{url}/healthz")).await.is_err());
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

/// The class the plaintext graph gives `image`.
fn plain_class(image: &[f64]) -> usize {
    let model = bars_file().encrypted_model().unwrap();
    let graph = model.graph();
    let (x, dec) = (graph.id("x").unwrap(), graph.id("Decrypt").unwrap());
    let mut tape = Tape::new(graph);
    let t = Tensor::new(vec![SIDE, SIDE], image.to_vec()).unwrap();
    graph.stimulate(&[(x, t)], &mut tape).unwrap();
    argmax(tape.output(dec, 0).unwrap().data())
}

fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_share_keys_deletions_and_survive_its_restart() -> TestResult {
    // The harness's client blocks: off the async threads.
    let Some(pg) = tokio::task::spawn_blocking(|| postgres("workers")).await? else {
        return Ok(());
    };
    let dir = temp_dir("workers");
    let cfg = |c: &mut fhez_serve::ServerConfig| {
        let mut p = PgConfig::new(&pg.url);
        p.acquire_timeout = Duration::from_secs(1);
        p.connect_timeout = Duration::from_secs(1);
        c.postgres = Some(p);
    };
    let w1 = start_with(vec![bars_file()], dir.join("unused1.redb"), cfg).await;
    let w2 = start_with(vec![bars_file()], dir.join("unused2.redb"), cfg).await;
    assert!(
        !dir.join("unused1.redb").exists(),
        "no embedded store opened"
    );
    let (c1, c2) = (Client::new(&w1.url())?, Client::new(&w2.url())?);

    // Keys made locally, registered on worker 1 (owner token), used on worker 2.
    let file = bars_file();
    let model = file.encrypted_model()?;
    let params = CkksParams::new(&model.spec())?;
    let keys = model.keygen(&params)?;
    save_client_keys(&dir.join("client"), &keys)?;
    let bundle = public_bundle_to_bytes(&keys.server_keys())?;
    let reg = c1.register("bars", bundle.into()).await?;
    let token = reg.owner_token.clone().expect("new key");
    let session = Session::open(c1.clone(), "bars", &dir.join("client")).await?;
    assert_eq!(session.key_id(), reg.key_id);

    let images: Vec<Vec<f64>> = bars(4, 11).into_iter().map(|(x, _)| x).collect();
    let request = session.encrypt(&images).await?;
    for _ in 0..2 {
        let reply = c2.predict("bars", &reg.key_id, request.clone()).await?;
        let rows = session.decrypt(reply).await?;
        for (row, image) in rows.iter().zip(&images) {
            assert_eq!(argmax(row), plain_class(image));
        }
    }
    let (_, text) = get(&format!("{}/metrics", w2.url())).await;
    assert_eq!(sample(&text, "fhez_key_cache_misses_total"), Some(1.0));
    assert_eq!(sample(&text, "fhez_key_cache_hits_total"), Some(1.0));
    assert_eq!(
        sample(&text, "fhez_evaluation_seconds_count{mode=\"batch\"}"),
        Some(2.0)
    );

    // The store stops: both workers are unready, and a request is a 503 with
    // Retry-After (retryable), not a 500.
    pg.stop();
    let (status, body) = get(&format!("{}/readyz", w2.url())).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("store_unavailable"), "{body}");
    let r = reqwest::Client::new()
        .post(format!("{}/v1/models/bars/predict", w2.url()))
        .header(fhez_serve::KEY_ID_HEADER, &reg.key_id)
        .body(request.clone())
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().get("retry-after").is_some());
    assert!(r.text().await?.contains("store_unavailable"));

    // It comes back: ready again, and requests succeed with no worker restarted.
    pg.start();
    assert_eq!(get(&format!("{}/readyz", w1.url())).await.0, 200);
    let reply = c2.predict("bars", &reg.key_id, request.clone()).await?;
    assert_eq!(session.decrypt(reply).await?.len(), images.len());

    // Deleted through worker 1: worker 2 refuses the key on the very next request.
    c1.delete_key(&reg.key_id, &token).await?;
    let err = c2
        .predict("bars", &reg.key_id, request.clone())
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some("unknown_key"), "{err}");

    w1.stop().await;
    w2.stop().await;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
