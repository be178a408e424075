//! Latency mode (`fhez::latency`): one image per ciphertext gives the plaintext graph's
//! logits, on odd shapes and deeper networks, with keys for exactly the reported steps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

use std::collections::BTreeSet;
use std::sync::Arc;

use fhez::ckks::{CkksParams, CkksParamsSpec};
use fhez::latency::{DEFAULT_HEADROOM_BITS, LatencyModel, LatencyNet, Stage, latency_spec};
use fhez::nn::nodes::{
    CrossCorrelationConfig, Decrypt, DenseConfig, Enqueue, Input, Relu, Softmax,
};
use fhez::nn::{Graph, GraphBuilder, Tape, Tensor};
use fhez::{CnnConfig, Error};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

fn uniform(rng: &mut ChaCha20Rng, lo: f64, hi: f64) -> f64 {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    lo + (hi - lo) * u
}

/// Random non-zero biases (the initialisers leave them at zero).
fn randomize_biases(graph: &mut Graph, rng: &mut ChaCha20Rng) {
    for id in 0..graph.len() {
        let kind = graph.node(id).map(|n| n.kind()).unwrap_or("");
        if kind == "cc" || kind == "dense" {
            let params = graph.params_mut(id);
            let bias = params.into_iter().last().unwrap();
            for b in bias.data_mut() {
                *b = uniform(rng, -0.3, 0.3);
            }
        }
    }
}

/// Logits (values at `Decrypt`) of the plaintext graph.
fn plain_logits(graph: &Graph, image: &Tensor) -> Vec<f64> {
    let (x, dec) = (graph.id("x").unwrap(), graph.id("Decrypt").unwrap());
    let mut tape = Tape::new(graph);
    graph.stimulate(&[(x, image.clone())], &mut tape).unwrap();
    tape.output(dec, 0).unwrap().data().to_vec()
}

fn image(shape: &[usize], rng: &mut ChaCha20Rng) -> Tensor {
    Tensor::from_fn(shape, |_| uniform(rng, 0.0, 1.0))
}

fn secure_params(net: &LatencyNet) -> Arc<CkksParams> {
    CkksParams::new(&latency_spec(net.depth(), DEFAULT_HEADROOM_BITS).unwrap()).unwrap()
}

/// Encrypted logits against the graph's for `n` random images; returns the largest error
/// and the bound it was checked against.
fn check(graph: &Graph, params: &Arc<CkksParams>, n: usize, seed: u64) -> (f64, f64) {
    let model = LatencyModel::from_graph(graph, params).unwrap();
    let client = model
        .keygen_with_rng(&mut ChaCha20Rng::seed_from_u64(seed))
        .unwrap();
    let keys = client.server_keys();
    // Keygen made exactly the reported steps.
    let want: BTreeSet<i64> = model.rotation_steps().into_iter().collect();
    assert_eq!(keys.rotation_steps(), want);
    let shape = model.net().conv.input.clone();
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 1);
    let mut worst = 0.0f64;
    let mut bound = 0.0f64;
    for _ in 0..n {
        let img = image(&shape, &mut rng);
        let want = plain_logits(graph, &img);
        let reference = model.net().forward(img.data()).unwrap();
        for (a, b) in reference.iter().zip(&want) {
            assert!((a - b).abs() < 1e-9, "LatencyNet::forward {a} vs graph {b}");
        }
        let ct = model.encrypt(&client, img.data()).unwrap();
        let (out, timings) = model.eval_timed(&keys, &ct).unwrap();
        assert_eq!(out.level(), 0);
        assert_eq!(timings.last().unwrap().level_out, 0);
        let got = model.decrypt(&client, &out).unwrap();
        assert_eq!(got.len(), want.len());
        // CKKS error: each rotation's key switch adds about 2^19 units of 2^-log_scale
        // (measured), a few dozen rotations, amplified by the weights and the squares:
        // 2^(21 − log_scale) relative to the logits' magnitude.
        let mag = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let tol = mag * 2f64.powi(21 - params.log_scale() as i32);
        bound = bound.max(tol);
        for (a, b) in got.iter().zip(&want) {
            worst = worst.max((a - b).abs());
            assert!(
                (a - b).abs() < tol,
                "encrypted {a} vs plain {b} (tol {tol:e})"
            );
        }
    }
    (worst, bound)
}

#[test]
fn cnn_config_odd_shapes_match_plaintext() {
    let cfg = CnnConfig {
        input: [9, 7],
        kernel: [3, 2],
        stride: [2, 1],
        filters: 3,
        classes: 5,
        relu_q: 2.5,
    };
    let mut graph = cfg.build(7).unwrap();
    randomize_biases(&mut graph, &mut ChaCha20Rng::seed_from_u64(3));
    let net = LatencyNet::from_graph(&graph).unwrap();
    assert_eq!(net.depth(), 3);
    assert_eq!(net.conv.windows(), cfg.windows());
    assert_eq!(net.outputs(), 5);
    let params = secure_params(&net);
    assert_eq!(params.log_n(), 13);
    let (worst, bound) = check(&graph, &params, 4, 11);
    eprintln!("odd CnnConfig: max |err| {worst:e} (bound {bound:e})");
}

#[test]
fn single_filter_without_enqueue_and_prime_sizes() {
    // One 5×5 filter of stride 3 on 13×11: 3×3 = 9 windows, 25 kernel positions.
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[13, 11])).unwrap();
    let cc = g
        .add(
            "CC",
            CrossCorrelationConfig {
                kernel: vec![5, 5],
                stride: vec![3, 3],
            }
            .init(&mut rng),
        )
        .unwrap();
    let relu = g.add("ReLU", Relu::new(3.0).unwrap()).unwrap();
    let dense = g
        .add("Dense", DenseConfig { d_in: 9, d_out: 3 }.init(&mut rng))
        .unwrap();
    let dec = g.add("Decrypt", Decrypt {}).unwrap();
    g.chain(&[x, cc, relu, dense, dec]).unwrap();
    let mut graph = g.build().unwrap();
    randomize_biases(&mut graph, &mut rng);
    let net = LatencyNet::from_graph(&graph).unwrap();
    let params = secure_params(&net);
    check(&graph, &params, 3, 21);
}

/// `x → CC ×F → Enqueue → ReLU → Dense → ReLU → Dense → Decrypt → Softmax` (depth 5).
fn deep_graph(seed: u64) -> Graph {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[10, 10])).unwrap();
    let filters = 5;
    let stack = g.add("stack", Enqueue { length: filters }).unwrap();
    for f in 0..filters {
        let cfg = CrossCorrelationConfig {
            kernel: vec![3, 4],
            stride: vec![2, 3],
        };
        let cc = g.add(&format!("CC-{f}"), cfg.init(&mut rng)).unwrap();
        g.connect(x, cc).unwrap();
        g.connect_ports(cc, 0, stack, f).unwrap();
    }
    // windows: (10−3)/2+1 = 4 rows × (10−4)/3+1 = 3 cols = 12
    let r1 = g.add("ReLU-1", Relu::new(4.0).unwrap()).unwrap();
    let d1 = g
        .add("Dense-1", DenseConfig { d_in: 60, d_out: 7 }.init(&mut rng))
        .unwrap();
    let r2 = g.add("ReLU-2", Relu::new(2.0).unwrap()).unwrap();
    let d2 = g
        .add("Dense-2", DenseConfig { d_in: 7, d_out: 3 }.init(&mut rng))
        .unwrap();
    let dec = g.add("Decrypt", Decrypt {}).unwrap();
    let soft = g.add("Softmax", Softmax {}).unwrap();
    g.chain(&[stack, r1, d1, r2, d2, dec, soft]).unwrap();
    let mut graph = g.build().unwrap();
    randomize_biases(&mut graph, &mut rng);
    graph
}

#[test]
fn deeper_network_matches_plaintext() {
    let graph = deep_graph(9);
    let net = LatencyNet::from_graph(&graph).unwrap();
    assert_eq!(net.depth(), 5);
    assert!(matches!(
        net.stages.as_slice(),
        [
            Stage::Quadratic { .. },
            Stage::Dense { .. },
            Stage::Quadratic { .. },
            Stage::Dense { .. }
        ]
    ));
    let params = secure_params(&net);
    let (worst, bound) = check(&graph, &params, 3, 31);
    eprintln!("deep: max |err| {worst:e} (bound {bound:e})");
}

#[test]
fn regressor_prefab_matches_plaintext() {
    // cnn_regressor: 1-d CC over (T, F) → per-window Dequeue/Sum/Enqueue (identity) →
    // ReLU → Dense(W → 1) → ReLU → Decrypt; depth 4, the activation last.
    let mut graph = fhez::nn::prefab::cnn_regressor((13, 2), 4, 3, 5).unwrap();
    randomize_biases(&mut graph, &mut ChaCha20Rng::seed_from_u64(6));
    let net = LatencyNet::from_graph(&graph).unwrap();
    assert_eq!((net.depth(), net.conv.windows(), net.outputs()), (4, 4, 1));
    let params = secure_params(&net);
    check(&graph, &params, 3, 41);
}

#[test]
fn composed_rotations_with_fewer_keys() {
    // Keys for powers of two only: every rotation is composed, the result is the same.
    let graph = deep_graph(4);
    let net = LatencyNet::from_graph(&graph).unwrap();
    let params = secure_params(&net);
    let model = LatencyModel::new(net, &params).unwrap();
    let pow2: Vec<i64> = (0..12).map(|k| 1i64 << k).collect();
    let client = fhez::ckks::CkksClient::generate(&params, &pow2).unwrap();
    let img = image(&[10, 10], &mut ChaCha20Rng::seed_from_u64(2));
    let want = model.net().forward(img.data()).unwrap();
    let ct = model.encrypt(&client, img.data()).unwrap();
    let got = model
        .decrypt(&client, &model.eval(&client.server_keys(), &ct).unwrap())
        .unwrap();
    // More key switches (each composed rotation is several): twice the bound of `check`.
    let tol = 2f64.powi(22 - params.log_scale() as i32);
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < tol * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn negative_and_affine_activations_fold() {
    let graph = deep_graph(1);
    let mut net = LatencyNet::from_graph(&graph).unwrap();
    // c2 < 0 (negated product) and c2 = 0 (folded into the dense layer: one level less).
    net.stages[0] = Stage::Quadratic {
        c0: 0.2,
        c1: -0.7,
        c2: -0.3,
    };
    net.stages[2] = Stage::Quadratic {
        c0: -0.1,
        c1: 1.5,
        c2: 0.0,
    };
    assert_eq!(net.depth(), 4);
    let params = secure_params(&net);
    let model = LatencyModel::new(net, &params).unwrap();
    let client = model.keygen().unwrap();
    let img = image(&[10, 10], &mut ChaCha20Rng::seed_from_u64(8));
    let want = model.net().forward(img.data()).unwrap();
    let ct = model.encrypt(&client, img.data()).unwrap();
    let got = model
        .decrypt(&client, &model.eval(&client.server_keys(), &ct).unwrap())
        .unwrap();
    let tol = 2f64.powi(21 - params.log_scale() as i32);
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < tol * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn rejects_what_it_cannot_run() {
    // Two encrypted inputs and a re-encryption (the `basic` prefab): not a latency shape.
    let graph = fhez::nn::prefab::basic(1).unwrap();
    let err = LatencyNet::from_graph(&graph);
    assert!(matches!(err, Err(Error::Format { .. })), "{err:?}");
    // Too few levels.
    let net = LatencyNet::from_graph(&deep_graph(2)).unwrap();
    let small = CkksParams::new(&latency_spec(3, DEFAULT_HEADROOM_BITS).unwrap()).unwrap();
    assert!(matches!(
        LatencyModel::new(net.clone(), &small),
        Err(Error::PlanMismatch { .. })
    ));
    // Too few slots for the im2col layout (insecure toy ring, 16 slots).
    let tiny = CkksParams::new(
        &CkksParamsSpec::new(5)
            .with_log_q(&[40, 30, 30, 30, 30, 30])
            .with_log_p(&[40])
            .with_log_scale(30)
            .insecure_for_testing(),
    );
    if let Ok(tiny) = tiny {
        assert!(matches!(
            LatencyModel::new(net.clone(), &tiny),
            Err(Error::PlanMismatch { .. })
        ));
    }
    // Wrong image size.
    let params = secure_params(&net);
    let model = LatencyModel::new(net, &params).unwrap();
    assert!(matches!(model.encode(&[0.0; 7]), Err(Error::Format { .. })));
}

#[test]
fn spec_is_secure_and_fits_the_depth() {
    for depth in 1..=8 {
        let spec = latency_spec(depth, DEFAULT_HEADROOM_BITS).unwrap();
        assert_eq!(spec.log_q.len(), depth as usize + 1);
        let params = CkksParams::new(&spec).unwrap();
        assert!(params.max_level() >= depth);
        assert!(
            params.log_qp() <= fhez::ckks::params::max_log_qp_128(params.log_n()).unwrap() as f64
        );
    }
}
