//! Time-series regression, encrypted: the original's sliding-window CNN regressor
//! (`fhez::nn::prefab::cnn_regressor`: a 1-d cross-correlation over the window, the
//! quadratic ReLU, a dense layer, the quadratic ReLU) on a real series shipped with
//! statsmodels, trained on Plain, the test windows evaluated encrypted batch-in-slots (all
//! at once, [`fhez::EncryptedModel`]) and in latency mode (one window per ciphertext,
//! [`fhez::latency::LatencyModel`], single-threaded).
//!
//! Each window is expressed relative to its last observation and divided by the training
//! deltas' standard deviation (the network predicts the scaled change); predictions are
//! mapped back to the series' units, where MSE/MAE are reported, next to the naive
//! "same as the last value" forecast. Writes `target/results-timeseries.json`.
//!
//! ```sh
//! scripts/fetch-datasets.sh statsmodels
//! cargo run --release -p fhez --example timeseries [-- --series co2|sunspots|elec_equip \
//!     --window 16 --filter 4 --stride 2 --epochs 40 --precision 30]
//! ```

mod common;

use common::{median, ms};

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fhez::EncryptedModel;
use fhez::ckks::{CkksParams, CkksServer, wire};
use fhez::data::{Series, Split, co2, data_dir, elec_equip, sunspots};
use fhez::latency::{DEFAULT_HEADROOM_BITS, LatencyModel, latency_spec_for};
use fhez::nn::{
    Adam, Graph, Optimizer, Tape, Tensor, TrainConfig, Trainer, prefab, stack, unstack,
};
use serde_json::json;

const SEED: u64 = 7;

struct Args {
    series: String,
    window: usize,
    filter: usize,
    stride: usize,
    epochs: usize,
    precision: u32,
}

fn args() -> Result<Args> {
    let mut a = Args {
        series: "co2".into(),
        window: 16,
        filter: 4,
        stride: 2,
        epochs: 40,
        precision: 30,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        match pair {
            [k, v] if k == "--series" => a.series.clone_from(v),
            [k, v] if k == "--window" => a.window = v.parse()?,
            [k, v] if k == "--filter" => a.filter = v.parse()?,
            [k, v] if k == "--stride" => a.stride = v.parse()?,
            [k, v] if k == "--epochs" => a.epochs = v.parse()?,
            [k, v] if k == "--precision" => a.precision = v.parse()?,
            _ => bail!(
                "usage: timeseries [--series co2|sunspots|elec_equip] [--window W] [--filter L] [--stride S] [--epochs N] [--precision BITS]"
            ),
        }
    }
    Ok(a)
}

/// Windows relative to their last value, scaled: `(x − last)/scale` and the target
/// `(y − last)/scale`; also returns each window's last value.
fn relative(split: &Split, scale: f64) -> Result<(Vec<Tensor>, Vec<f64>, Vec<f64>)> {
    let (mut xs, mut ys, mut lasts) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..split.len() {
        let w = split.sample(i).context("sample")?;
        let last = *w.last().context("empty window")?;
        let y = *split.targets.get(i).context("target")?;
        let vals: Vec<f64> = w.iter().map(|v| (v - last) / scale).collect();
        xs.push(Tensor::new(vec![w.len(), 1], vals)?);
        ys.push((y - last) / scale);
        lasts.push(last);
    }
    Ok((xs, ys, lasts))
}

fn mse_mae(pred: &[f64], truth: &[f64]) -> (f64, f64) {
    let n = pred.len().max(1) as f64;
    let (mut se, mut ae) = (0.0, 0.0);
    for (p, t) in pred.iter().zip(truth) {
        se += (p - t) * (p - t);
        ae += (p - t).abs();
    }
    (se / n, ae / n)
}

/// Bit sizes of primes.
fn bits(primes: &[u64]) -> Vec<u32> {
    primes.iter().map(|p| 64 - p.leading_zeros()).collect()
}

fn load(name: &str, dir: &Path) -> Result<Series> {
    Ok(match name {
        "co2" => co2(dir)?,
        "sunspots" => sunspots(dir)?,
        "elec_equip" => elec_equip(dir)?,
        other => bail!("unknown series {other}"),
    })
}

fn train(graph: &mut Graph, x: &[Tensor], y: &[f64], epochs: usize) -> Result<()> {
    let data: Vec<Vec<Tensor>> = x
        .iter()
        .zip(y)
        .map(|(x, &y)| vec![x.clone(), Tensor::from_vec(vec![y])])
        .collect();
    let optimizer = Optimizer::Adam(Adam {
        alpha: 0.005,
        ..Adam::default()
    });
    let config = TrainConfig {
        batch_size: 16,
        seed: SEED,
        shuffle: true,
        optimizer,
    };
    let mut trainer = Trainer::new(graph, config);
    for epoch in 0..epochs {
        let loss = trainer.epoch(graph, &data)?;
        if epoch % 10 == 9 || epoch + 1 == epochs {
            println!("  epoch {:>3}: loss {loss:.5}", epoch + 1);
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = args()?;
    let series =
        load(&args.series, &data_dir()).context("run `scripts/fetch-datasets.sh statsmodels`")?;
    let data = series.windowed(args.window, 1, 0.2)?;
    // Scale: standard deviation of the one-step changes in the training part.
    let n_train_vals = data.train.len() + args.window;
    let deltas: Vec<f64> = series
        .values
        .get(..n_train_vals)
        .context("train values")?
        .windows(2)
        .filter_map(|w| Some(w.get(1)? - w.first()?))
        .collect();
    let mean = deltas.iter().sum::<f64>() / deltas.len().max(1) as f64;
    let var =
        deltas.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / deltas.len().max(1) as f64;
    let scale = var.sqrt().max(1e-12) * (args.window as f64).sqrt();
    let (x_tr, y_tr, _) = relative(&data.train, scale)?;
    let (x_te, _, last_te) = relative(&data.test, scale)?;
    let truth: Vec<f64> = data.test.targets.clone();
    println!(
        "{}: {} values, window {}, {} train / {} test windows (chronological 80/20)",
        series.name,
        series.values.len(),
        args.window,
        x_tr.len(),
        x_te.len()
    );

    let mut graph = prefab::cnn_regressor((args.window, 1), args.filter, args.stride, SEED)?;
    let t = Instant::now();
    train(&mut graph, &x_tr, &y_tr, args.epochs)?;
    let train_s = t.elapsed().as_secs_f64();
    let (input, dec) = (graph.id("x")?, graph.id("Decrypt")?);
    let mut tape = Tape::new(&graph);
    let mut plain_scaled = Vec::with_capacity(x_te.len());
    for x in &x_te {
        graph.stimulate(&[(input, x.clone())], &mut tape)?;
        plain_scaled.push(tape.output(dec, 0).context("decrypt fired")?.item());
    }
    let to_units =
        |p: &[f64]| -> Vec<f64> { p.iter().zip(&last_te).map(|(d, l)| l + d * scale).collect() };
    let plain = to_units(&plain_scaled);

    // Encrypted, batch-in-slots: every test window in one batch.
    let batch = x_te.len();
    let model = EncryptedModel::new(graph.clone(), batch, args.precision)?;
    let spec = model.spec();
    let params = CkksParams::new(&spec)?;
    let t = Instant::now();
    let client = model.keygen(&params)?;
    let keygen = t.elapsed();
    let keys = client.server_keys();
    let rk_bytes = wire::relin_key_to_bytes(keys.relin_key())?.len();
    let t = Instant::now();
    let request = model.encrypt(&client, &[("x", stack(&x_te)?)])?;
    let enc = t.elapsed();
    let server = CkksServer::new(keys);
    let t = Instant::now();
    let (reply, timings) = model.evaluate_timed(&server, &request)?;
    let eval = t.elapsed();
    let t = Instant::now();
    let decrypted = model.decrypt(&client, &reply)?;
    let (_, out) = decrypted.first().context("one decrypt boundary")?;
    let enc_scaled: Vec<f64> = unstack(out)?.iter().map(Tensor::item).collect();
    let dec = t.elapsed();
    let encrypted = to_units(&enc_scaled);

    // Latency mode: one window per ciphertext, one at a time.
    let lat = LatencyModel::from_graph(
        &graph,
        &CkksParams::new(&latency_spec_for(
            &fhez::latency::LatencyNet::from_graph(&graph)?,
            DEFAULT_HEADROOM_BITS,
        )?)?,
    )?;
    let lat_client = lat.keygen()?;
    let lat_keys = lat_client.server_keys();
    let (mut lat_scaled, mut t_enc, mut t_eval, mut t_dec) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for x in &x_te {
        let t = Instant::now();
        let ct = lat.encrypt(&lat_client, x.data())?;
        t_enc.push(ms(t.elapsed()));
        let t = Instant::now();
        let out = lat.eval(&lat_keys, &ct)?;
        t_eval.push(ms(t.elapsed()));
        let t = Instant::now();
        lat_scaled.push(
            *lat.decrypt(&lat_client, &out)?
                .first()
                .context("one output")?,
        );
        t_dec.push(ms(t.elapsed()));
    }
    let latency = to_units(&lat_scaled);
    let (l_mse, l_mae) = mse_mae(&latency, &truth);
    let lat_diff = plain
        .iter()
        .zip(&latency)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let lat_gk = wire::galois_keys_to_bytes(lat_keys.galois_keys())?.len();

    let (p_mse, p_mae) = mse_mae(&plain, &truth);
    let (e_mse, e_mae) = mse_mae(&encrypted, &truth);
    let (n_mse, n_mae) = mse_mae(&last_te, &truth);
    let max_diff = plain
        .iter()
        .zip(&encrypted)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("\n== {} test windows, one batch ==", batch);
    println!("plaintext  MSE {p_mse:.5}  MAE {p_mae:.5}");
    println!("encrypted  MSE {e_mse:.5}  MAE {e_mae:.5}  (max |enc − plain| {max_diff:.2e})");
    println!("latency    MSE {l_mse:.5}  MAE {l_mae:.5}  (max |lat − plain| {lat_diff:.2e})");
    println!("naive last MSE {n_mse:.5}  MAE {n_mae:.5}");
    println!(
        "latency mode per window (median): encrypt {:.2} ms, server {:.1} ms, decrypt {:.2} ms",
        median(&t_enc),
        median(&t_eval),
        median(&t_dec)
    );
    println!(
        "keygen {:.0} ms, encrypt {:.0} ms, server {:.0} ms ({:.3} ms/window), decrypt {:.0} ms",
        ms(keygen),
        ms(enc),
        ms(eval),
        ms(eval) / batch as f64,
        ms(dec)
    );
    let result = json!({
        "series": series.name, "values": series.values.len(), "window": args.window,
        "horizon": 1, "split": "chronological, last 20 % of windows for test",
        "model": format!("cnn_regressor(({}, 1), filter {}, stride {}): CC -> ReLU approx -> Dense -> ReLU approx", args.window, args.filter, args.stride),
        "target": "change from the window's last value, divided by std(one-step change)·sqrt(window) on train; metrics in the series' units",
        "epochs": args.epochs, "train_seconds": train_s, "test_windows": batch,
        "plaintext": {"mse": p_mse, "mae": p_mae},
        "encrypted_batch_in_slots": {"mse": e_mse, "mae": e_mae, "max_abs_diff_vs_plain": max_diff},
        "naive_last_value": {"mse": n_mse, "mae": n_mae},
        "latency_mode": {"mse": l_mse, "mae": l_mae, "max_abs_diff_vs_plain": lat_diff,
            "threads": 1, "log_n": lat.params().log_n(), "log_q": bits(lat.params().q()),
            "log_p": bits(lat.params().p()), "log_scale": lat.params().log_scale(),
            "rotation_steps": lat.rotation_steps(), "galois_key_bytes": lat_gk,
            "median_ms_per_window": {"client_encrypt": median(&t_enc), "server_eval": median(&t_eval),
                "client_decrypt": median(&t_dec)}},
        "plan": model.plan(), "log_qp": params.log_qp(), "security": format!("{:?}", params.security()),
        "ms": {"client_keygen": ms(keygen), "client_encrypt": ms(enc), "server_eval": ms(eval),
            "client_decrypt": ms(dec), "server_ms_per_window": ms(eval) / batch as f64,
            "server_nodes": timings.iter().map(|n| json!({"name": n.name, "kind": n.kind,
                "ms": ms(n.elapsed), "level_in": n.levels.input, "level_out": n.levels.output}))
                .collect::<Vec<_>>()},
        "bytes": {"relin_key": rk_bytes, "request": request.wire_bytes()?, "request_cts": request.num_cts(),
            "reply": reply.wire_bytes()?, "reply_cts": reply.num_cts()},
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results-timeseries.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result)?)?;
    println!("wrote {}", path.display());
    Ok(())
}
