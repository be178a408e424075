//! Train on Plain → plan on Sim → infer on CKKS → compare with Plain (B8 "NN" end-to-end).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::wildcard_enum_match_arm,
    reason = "test code"
)]

use std::sync::Arc;

use fhez::backend::{Backend, Plain, Sim, SimConfig};
use fhez::ckks::{CkksParams, CkksParamsSpec, CkksServer, SecurityLevel};
use fhez::erray::{Erray, Packing, PlainArray};
use fhez::nn::{Adam, Graph, Optimizer, Tape, Tensor, TrainConfig, Trainer, stack};
use fhez::{CnnConfig, EncryptedModel, Error, forward_enc_timed, spec_from_plan};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SIDE: usize = 5;
const CLASSES: usize = 3;
const PRECISION: u32 = 20;

fn config() -> CnnConfig {
    CnnConfig {
        input: [SIDE, SIDE],
        kernel: [3, 3],
        stride: [1, 1],
        filters: 2,
        classes: CLASSES,
        relu_q: 4.0,
    }
}

fn uniform(rng: &mut ChaCha20Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / 9_007_199_254_740_992.0
}

/// Noisy 5×5 images: class 0 a horizontal bar, 1 a vertical bar, 2 the main diagonal.
fn dataset(n: usize, seed: u64) -> Vec<(Tensor, usize)> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let class = i % CLASSES;
            let pos = (rng.next_u32() as usize) % SIDE;
            let mut img = Tensor::from_fn(&[SIDE, SIDE], |_| 0.3 * uniform(&mut rng));
            for t in 0..SIDE {
                let (r, c) = match class {
                    0 => (pos, t),
                    1 => (t, pos),
                    _ => (t, t),
                };
                img.data_mut()[r * SIDE + c] += 1.0;
            }
            (img, class)
        })
        .collect()
}

/// A graph trained for a few epochs on Plain (memoised across tests).
fn trained() -> Result<Graph, String> {
    static GRAPH: std::sync::OnceLock<Result<Graph, String>> = std::sync::OnceLock::new();
    GRAPH
        .get_or_init(|| {
            let mut graph = config().build(3).map_err(|e| e.to_string())?;
            let data: Vec<Vec<Tensor>> = dataset(90, 1)
                .into_iter()
                .map(|(x, y)| vec![x, Tensor::scalar(y as f64)])
                .collect();
            let cfg = TrainConfig {
                batch_size: 10,
                seed: 5,
                shuffle: true,
                optimizer: Optimizer::Adam(Adam {
                    alpha: 0.02,
                    ..Adam::default()
                }),
            };
            let mut trainer = Trainer::new(&graph, cfg);
            for _ in 0..40 {
                trainer
                    .epoch(&mut graph, &data)
                    .map_err(|e| e.to_string())?;
            }
            Ok(graph)
        })
        .clone()
}

/// The values arriving at `Decrypt` (the logits), per sample, on Plain.
fn plain_logits(graph: &Graph, images: &[Tensor]) -> fhez::nn::Result<Vec<Vec<f64>>> {
    let (x, dec) = (graph.id("x")?, graph.id("Decrypt")?);
    let mut tape = Tape::new(graph);
    images
        .iter()
        .map(|img| {
            graph.stimulate(&[(x, img.clone())], &mut tape)?;
            Ok(tape.output(dec, 0).unwrap().data().to_vec())
        })
        .collect()
}

/// The tolerance on the logits: per-operation CKKS noise of standard deviation about `ε`,
/// independent across ciphertexts, propagated through the network's gains (ℓ2 norms of the
/// CC kernels and dense columns, largest ReLU slope): `6·ε·(1 + g_dense·(1 + g_relu·(1 + g_cc)))`
/// (6 standard deviations).
///
/// The plan budgets `ε = 2^−precision_bits` (`log_scale − NOISE_BITS`, `NOISE_BITS = 10`).
/// Public-key encryption noise grows like `N` in the slots (`√N` per coefficient, `√N` from
/// the decoding sum), so at `N = 2^14` it is about `2^(log_n + 2 − log_scale)`, five bits
/// above the planner's budget; the bound takes the larger of the two.
fn tolerance(
    model: &EncryptedModel,
    params: &CkksParams,
    images: &[Tensor],
) -> Result<f64, Box<dyn std::error::Error>> {
    use fhez::nn::Node;
    let graph = model.graph();
    let noise_bits = (params.log_n() + 2).max(fhez::nn::plan::NOISE_BITS);
    let eps = 2f64.powi(noise_bits as i32 - params.log_scale() as i32);
    let (mut g_cc, mut g_relu, mut g_dense) = (0f64, 0f64, 0f64);
    // Largest |ReLU input| over the samples, on Plain.
    let mut tape = Tape::new(graph);
    let mut x_max = 0f64;
    for img in images {
        graph.stimulate(&[(graph.id("x")?, img.clone())], &mut tape)?;
        let out = tape.output(graph.id("CC-stack")?, 0).unwrap();
        x_max = out.data().iter().fold(x_max, |m, v| m.max(v.abs()));
    }
    for node in graph.nodes() {
        match node {
            Node::Cc(cc) => {
                g_cc = g_cc.max(cc.weights.data().iter().map(|w| w * w).sum::<f64>().sqrt())
            }
            Node::Relu(r) => {
                let q = r.q.item().abs();
                g_relu = 0.5 + 8.0 * x_max / (3.0 * std::f64::consts::PI * q);
            }
            Node::Dense(d) => {
                let w = d.weights.data();
                for j in 0..d.d_out {
                    let col: f64 = (0..d.d_in).map(|i| w[i * d.d_out + j].powi(2)).sum();
                    g_dense = g_dense.max(col.sqrt());
                }
            }
            _ => {}
        }
    }
    Ok(6.0 * eps * (1.0 + g_dense * (1.0 + g_relu * (1.0 + g_cc))))
}

fn argmax(v: &[f64]) -> usize {
    Tensor::from_vec(v.to_vec()).argmax()
}

/// Encrypts the test images, evaluates on a server built from the client's public keys,
/// decrypts, and compares logits and predictions with Plain.
fn infer_and_compare(model: &EncryptedModel, params: &Arc<CkksParams>) -> TestResult {
    let test = dataset(model.batch(), 2);
    let images: Vec<Tensor> = test.iter().map(|(x, _)| x.clone()).collect();
    let client = model.keygen(params)?;
    let server = CkksServer::new(client.server_keys());
    assert_eq!(
        server.caps().rotations,
        fhez::backend::RotationSet::Steps(model.plan().rotation_steps.clone()),
        "exactly the planned Galois keys"
    );

    let request = model.encrypt(&client, &[("x", stack(&images)?)])?;
    assert_eq!(request.num_cts(), SIDE * SIDE, "one ciphertext per pixel");
    let (reply, timings) = model.evaluate_timed(&server, &request)?;
    assert_eq!(
        timings.len(),
        config().filters + 3,
        "CC-f…, stack, ReLU, Dense"
    );
    // The engine's precision is measured on the exact decryption (the named opt-in); the
    // release decryption every client path uses is within one step of the promised
    // precision of it (six flooding deviations and the rounding, each at most half a step).
    let decrypted = model.decrypt_exact(&client, &reply)?;
    let released = model.decrypt(&client, &reply)?;
    // The policy is the plan's (made for the secure ring), not re-derived from the toy one.
    let bits = model.plan().release().map_or(0, |r| r.precision_bits());
    let step = f64::from(bits).exp2();
    for (r, e) in released[0].1.data().iter().zip(decrypted[0].1.data()) {
        assert!((r - e).abs() <= 1.0 / step, "release {r} vs exact {e}");
        assert_eq!((r * step).fract(), 0.0, "{r} not rounded");
    }
    let outputs = model.graph().finish(&decrypted, &[])?;

    let want = plain_logits(model.graph(), &images)?;
    let got = fhez::nn::unstack(&decrypted[0].1)?;
    let tol = tolerance(model, params, &images)?;
    let mut max_err = 0f64;
    for (b, (g, w)) in got.iter().zip(&want).enumerate() {
        for (a, e) in g.data().iter().zip(w) {
            max_err = max_err.max((a - e).abs());
        }
        let mut sorted = w.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        if sorted[0] - sorted[1] > 2.0 * tol {
            assert_eq!(argmax(g.data()), argmax(w), "sample {b}");
            assert_eq!(outputs[b]["y_hat"].item() as usize, argmax(w), "sample {b}");
        }
    }
    eprintln!(
        "logN={} depth={} max|Δlogit|={max_err:.3e} (log2 {:.1}), tolerance {tol:.1e} (log2 {:.1})",
        params.log_n(),
        model.plan().depth,
        max_err.log2(),
        tol.log2()
    );
    assert!(max_err <= tol, "max |logit difference| {max_err} > {tol}");
    Ok(())
}

#[test]
fn training_on_plain_learns_the_synthetic_task() -> TestResult {
    let graph = trained()?;
    let test = dataset(60, 2);
    let images: Vec<Tensor> = test.iter().map(|(x, _)| x.clone()).collect();
    let logits = plain_logits(&graph, &images)?;
    let correct = logits
        .iter()
        .zip(&test)
        .filter(|(l, (_, y))| argmax(l) == *y)
        .count();
    assert!(correct >= 50, "plain accuracy {correct}/60");
    Ok(())
}

#[test]
fn encrypted_inference_on_tiny_ckks_matches_plain() -> TestResult {
    let model = EncryptedModel::new(trained()?, 64, PRECISION)?;
    let plan = model.plan();
    assert_eq!((plan.depth, plan.rotation_steps.len()), (4, 0));
    // DISCLAIMER: toy parameters for test speed — the plan's chain on N = 2^10, insecure.
    let spec = CkksParamsSpec {
        log_n: 10,
        ..spec_from_plan(plan)
    }
    .insecure_for_testing();
    infer_and_compare(&model, &CkksParams::new(&spec)?)
}

#[test]
fn encrypted_inference_on_the_secure_planned_parameters_matches_plain() -> TestResult {
    let model = EncryptedModel::new(trained()?, 32, PRECISION)?;
    let spec = model.spec();
    assert_eq!(spec.security, SecurityLevel::Tc128);
    infer_and_compare(&model, &CkksParams::new(&spec)?)
}

#[test]
fn secure_specs_from_plans_validate() -> TestResult {
    let graph = trained()?;
    for (batch, precision) in [(1, 10), (64, 20), (360, 19), (4096, 30), (8192, 30)] {
        let plan = fhez::nn::plan(&graph, batch, precision)?;
        let params = CkksParams::new(&spec_from_plan(&plan))?;
        assert_eq!(params.log_n(), plan.log_n);
        assert_eq!(params.max_level(), plan.depth);
        assert_eq!(params.log_scale(), plan.log_scale);
        assert!(params.slots() >= batch);
        fhez::check_params(&plan, &params, batch)?;
    }
    Ok(())
}

#[test]
fn timed_walk_equals_forward_enc() -> TestResult {
    let graph = trained()?;
    let images: Vec<Tensor> = dataset(6, 9).into_iter().map(|(x, _)| x).collect();
    let batch = stack(&images)?;
    let packing = Packing::BatchInSlots { batch: 6 };
    let plain = Plain::new(8);
    let x = Erray::encrypt(&plain, &batch, packing)?;
    let mut no_refresh = |e: &Erray<Plain>| Ok(e.clone());
    let want = graph.forward_enc(&[("x", x.clone())], &mut no_refresh)?;
    let (got, timings) = forward_enc_timed(&graph, &[("x", x)], &mut no_refresh)?;
    assert_eq!(got.levels, want.levels);
    assert_eq!(got.boundary.len(), want.boundary.len());
    for ((ia, a), (ib, b)) in got.boundary.iter().zip(&want.boundary) {
        assert_eq!(ia, ib);
        assert_eq!(a.decrypt()?, b.decrypt()?);
    }
    let names: Vec<&str> = timings.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["CC-0", "CC-1", "CC-stack", "ReLU", "Dense"]);

    let sim = Sim::new(SimConfig::planning(8, 10, 30.0))?;
    let xs = Erray::encrypt(&sim, &batch, packing)?;
    let mut fresh = |e: &Erray<Sim>| Ok(e.clone());
    let want = graph.forward_enc(&[("x", xs.clone())], &mut fresh)?;
    let (got, _) = forward_enc_timed(&graph, &[("x", xs)], &mut fresh)?;
    assert_eq!(got.levels, want.levels);
    Ok(())
}

#[test]
fn misuse_is_reported() -> TestResult {
    let model = EncryptedModel::new(trained()?, 4, PRECISION)?;
    // Too few levels for the plan.
    let short = CkksParamsSpec::new(10)
        .with_log_q(&[40, 30])
        .with_log_p(&[40])
        .with_log_scale(30)
        .insecure_for_testing();
    let err = model.keygen(&CkksParams::new(&short)?).unwrap_err();
    assert!(matches!(
        err,
        Error::PlanMismatch {
            what: "max level",
            needed: 4,
            found: 1
        }
    ));
    // A batch larger than planned.
    let spec = CkksParamsSpec {
        log_n: 10,
        ..model.spec()
    }
    .insecure_for_testing();
    let client = model.keygen(&CkksParams::new(&spec)?)?;
    let big = PlainArray::full(vec![5, SIDE, SIDE], 0.0)?;
    let err = model.encrypt(&client, &[("x", big)]).unwrap_err();
    assert!(matches!(
        err,
        Error::BatchTooLarge {
            batch: 5,
            planned: 4
        }
    ));
    let err = model
        .encrypt(&client, &[("nope", PlainArray::full(vec![1], 0.0)?)])
        .unwrap_err();
    assert_eq!(err.to_string(), "no node named `nope` in the graph");
    Ok(())
}
