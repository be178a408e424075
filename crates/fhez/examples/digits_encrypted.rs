//! Train a small CNN on the scikit-learn digits (8×8) on Plain, plan CKKS parameters on
//! Sim, and classify the whole test split (360 images) encrypted, batch-in-slots, on the
//! secure planned parameters. Prints a table and writes `target/results-digits.json`.
//!
//! ```sh
//! scripts/fetch-datasets.sh sklearn
//! cargo run --release -p fhez --example digits_encrypted [-- --precision 30 --epochs 30]
//! ```

mod common;

use common::{accuracy, argmax, images, ms, plain_logits};

use std::time::Instant;

use anyhow::{Context, Result, bail};
use fhez::ckks::{CkksParams, CkksServer, wire};
use fhez::data::{data_dir, digits};
use fhez::nn::{Adam, Graph, Optimizer, Tensor, TrainConfig, Trainer, stack, unstack};
use fhez::{CnnConfig, EncryptedModel};
use serde_json::json;

const SEED: u64 = 42;

struct Args {
    precision: u32,
    epochs: usize,
}

fn args() -> Result<Args> {
    let mut out = Args {
        precision: 30,
        epochs: 30,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        match pair {
            [k, v] if k == "--precision" => out.precision = v.parse()?,
            [k, v] if k == "--epochs" => out.epochs = v.parse()?,
            _ => bail!("usage: digits_encrypted [--precision BITS] [--epochs N]"),
        }
    }
    Ok(out)
}

fn train(cfg: &CnnConfig, x: &[Tensor], labels: &[u8], epochs: usize) -> Result<Graph> {
    let mut graph = cfg.build(SEED)?;
    let data: Vec<Vec<Tensor>> = x
        .iter()
        .zip(labels)
        .map(|(x, &y)| vec![x.clone(), Tensor::scalar(f64::from(y))])
        .collect();
    let mut trainer = Trainer::new(
        &graph,
        TrainConfig {
            batch_size: 32,
            seed: SEED,
            shuffle: true,
            optimizer: Optimizer::Adam(Adam {
                alpha: 0.01,
                ..Adam::default()
            }),
        },
    );
    for epoch in 0..epochs {
        let loss = trainer.epoch(&mut graph, &data)?;
        if epoch % 5 == 4 || epoch + 1 == epochs {
            println!("  epoch {:>3}: loss {loss:.4}", epoch + 1);
        }
    }
    Ok(graph)
}

fn main() -> Result<()> {
    let args = args()?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let data = digits(&data_dir(), 8, 0).context("run `scripts/fetch-datasets.sh sklearn`")?;
    let (x_train, x_test) = (images(&data.train)?, images(&data.test)?);
    println!(
        "digits: {} train / {} test (stratified 80/20, seed 0), {threads} threads",
        x_train.len(),
        x_test.len()
    );

    let cfg = CnnConfig {
        input: [8, 8],
        kernel: [3, 3],
        stride: [1, 1],
        filters: 4,
        classes: 10,
        relu_q: 4.0,
    };
    let t = Instant::now();
    let graph = train(&cfg, &x_train, &data.train.labels, args.epochs)?;
    let train_time = t.elapsed();
    let want = plain_logits(&graph, &x_test)?;
    let plain_pred: Vec<usize> = want.iter().map(|l| argmax(l)).collect();
    let plain_acc = accuracy(&plain_pred, &data.test.labels);
    println!(
        "trained in {:.1} s; plain test accuracy {:.2} %",
        train_time.as_secs_f64(),
        plain_acc * 100.0
    );

    // Plan on Sim for the whole test split in one batch.
    let batch = x_test.len();
    let model = EncryptedModel::new(graph, batch, args.precision)?;
    let plan = model.plan().clone();
    let spec = model.spec();
    println!(
        "plan: logN={} log_q={:?} log_p={:?} log_scale={} depth={} log_qp={} rotations={:?} ({:?})",
        plan.log_n,
        plan.log_q,
        plan.log_p,
        plan.log_scale,
        plan.depth,
        plan.log_qp,
        plan.rotation_steps,
        spec.security
    );
    let params = CkksParams::new(&spec)?;

    // Client: keys.
    let t = Instant::now();
    let client = model.keygen(&params)?;
    let keygen = t.elapsed();
    let keys = client.server_keys();
    let pk_bytes = wire::public_key_to_bytes(keys.public_key())?.len();
    let rk_bytes = wire::relin_key_to_bytes(keys.relin_key())?.len();
    let gk_bytes = wire::galois_keys_to_bytes(keys.galois_keys())?.len();

    // Client: encrypt the batch.
    let t = Instant::now();
    let request = model.encrypt(&client, &[("x", stack(&x_test)?)])?;
    let encrypt = t.elapsed();

    // Server: public and evaluation keys only.
    let server = CkksServer::new(keys);
    let t = Instant::now();
    let (reply, timings) = model.evaluate_timed(&server, &request)?;
    let server_total = t.elapsed();

    // Client: decrypt and finish (softmax, argmax).
    let t = Instant::now();
    let decrypted = model.decrypt(&client, &reply)?;
    let outputs = model.graph().finish(&decrypted, &[])?;
    let finish = t.elapsed();

    let (_, logits) = decrypted.first().context("one decrypt boundary")?;
    let got = unstack(logits)?;
    let enc_pred = outputs
        .iter()
        .map(|o| {
            o.get("y_hat")
                .map(|t| t.item().round() as usize)
                .context("y_hat")
        })
        .collect::<Result<Vec<_>>>()?;
    let enc_acc = accuracy(&enc_pred, &data.test.labels);
    let agree = enc_pred
        .iter()
        .zip(&plain_pred)
        .filter(|(a, b)| a == b)
        .count();
    let max_diff = got
        .iter()
        .zip(&want)
        .flat_map(|(g, w)| g.data().iter().zip(w).map(|(a, b)| (a - b).abs()))
        .fold(0f64, f64::max);

    let total = keygen + encrypt + server_total + finish;
    let per = |d: std::time::Duration| ms(d) / batch as f64;
    println!("\n== results ({batch} test images, one batch) ==");
    println!("plaintext accuracy   {:>8.2} %", plain_acc * 100.0);
    println!("encrypted accuracy   {:>8.2} %", enc_acc * 100.0);
    println!("agreement (argmax)   {agree:>5} / {batch}");
    println!(
        "max |logit diff|     {max_diff:>10.3e} (log2 {:.1})",
        max_diff.log2()
    );
    println!("\n{:<28} {:>12} {:>14}", "step", "total ms", "per image ms");
    let row = |name: &str, d: std::time::Duration| {
        println!("{name:<28} {:>12.1} {:>14.3}", ms(d), per(d));
    };
    row("client keygen", keygen);
    row("client encrypt", encrypt);
    for n in &timings {
        row(
            &format!(
                "server {} ({}, L{}→{})",
                n.name, n.kind, n.levels.input, n.levels.output
            ),
            n.elapsed,
        );
    }
    row("server total", server_total);
    row("client decrypt+finish", finish);
    row("total", total);
    let (req_bytes, rep_bytes) = (request.wire_bytes()?, reply.wire_bytes()?);
    println!("\nkeys: public {pk_bytes} B, relin {rk_bytes} B, galois {gk_bytes} B");
    println!(
        "ciphertexts: request {} ({:.1} MB), reply {} ({:.2} MB)",
        request.num_cts(),
        req_bytes as f64 / 1e6,
        reply.num_cts(),
        rep_bytes as f64 / 1e6
    );

    let result = json!({
        "dataset": "sklearn digits 8x8, stratified 80/20 split (seed 0)",
        "model": format!("{} x CC 3x3/1 -> poly ReLU -> Dense({} -> 10)", cfg.filters, cfg.filters * cfg.windows()),
        "epochs": args.epochs, "threads": threads, "train_seconds": train_time.as_secs_f64(),
        "plan": plan, "security": format!("{:?}", spec.security),
        "batch": batch,
        "plain_accuracy": plain_acc, "encrypted_accuracy": enc_acc,
        "agreement": agree, "max_abs_logit_diff": max_diff,
        "ms": {
            "client_keygen": ms(keygen), "client_encrypt": ms(encrypt),
            "server_nodes": timings.iter().map(|n| json!({
                "name": n.name, "kind": n.kind, "ms": ms(n.elapsed),
                "level_in": n.levels.input, "level_out": n.levels.output, "cts_out": n.cts_out,
            })).collect::<Vec<_>>(),
            "server_total": ms(server_total), "client_decrypt_finish": ms(finish),
            "total": ms(total), "per_image_total": per(total),
            "per_image_server": per(server_total),
        },
        "bytes": {
            "public_key": pk_bytes, "relin_key": rk_bytes, "galois_keys": gk_bytes,
            "request_cts": request.num_cts(), "request_bytes": req_bytes,
            "reply_cts": reply.num_cts(), "reply_bytes": rep_bytes,
        },
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results-digits.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result)?)?;
    println!("\nwrote {}", path.display());
    Ok(())
}
