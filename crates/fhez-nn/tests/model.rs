//! Saving and loading, training, and the planner (with the comparison against the
//! original's heuristic).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::wildcard_enum_match_arm,
    reason = "test code"
)]

mod common;

use common::{rand_tensor, rng, uniform};
use fhez_backend::{Plain, Sim, SimConfig};
use fhez_erray::{Erray, Packing, PlainArray};
use fhez_nn::loss::Mse;
use fhez_nn::nodes::{Input, Linear, RnnConfig};
use fhez_nn::optim::ParamState;
use fhez_nn::plan::{original_groups, original_heuristic, plan_with};
use fhez_nn::{
    Adam, Error, Graph, GraphBuilder, Optimizer, PlanRequest, Tensor, TrainConfig, Trainer, plan,
    prefab,
};
use serde_json::{Value, json};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

// ---- JSON ----

fn classifier_json() -> Result<Value, Box<dyn std::error::Error>> {
    Ok(serde_json::from_str(
        &prefab::cnn_classifier(10, 1)?.to_json()?,
    )?)
}

fn load(v: &Value) -> fhez_nn::Result<Graph> {
    Graph::from_json(&v.to_string())
}

fn node_index(v: &Value, name: &str) -> usize {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|n| n["name"] == name)
        .unwrap()
}

#[test]
fn graphs_round_trip_through_json_with_weights() -> TestResult {
    for g in [
        prefab::cnn_classifier(10, 1)?,
        prefab::cnn_regressor((20, 7), 5, 3, 2)?,
        prefab::basic(3)?,
    ] {
        let back = Graph::from_json(&g.to_json()?)?;
        assert_eq!(back, g);
    }
    let v = classifier_json()?;
    assert_eq!(v["format_version"], 1);
    assert_eq!(
        v["nodes"][0],
        json!({"name": "x", "kind": "input", "shape": [28, 28]})
    );
    assert_eq!(
        v["edges"][0],
        json!({"from": 0, "from_port": 0, "to": 1, "to_port": 0})
    );
    Ok(())
}

#[test]
fn loading_rejects_malformed_files_with_named_errors() -> TestResult {
    let good = classifier_json()?;
    let dense = node_index(&good, "Dense");

    let mut v = good.clone();
    v["format_version"] = json!(2);
    assert!(matches!(
        load(&v),
        Err(Error::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    ));

    let mut v = good.clone();
    v["nodes"][dense]["kind"] = json!("dens");
    let err = load(&v).unwrap_err();
    assert_eq!(err.to_string(), "node `Dense` has unknown kind `dens`");

    let mut v = good.clone();
    v["nodes"][dense]["weights"]["shape"] = json!([35, 10]);
    v["nodes"][dense]["weights"]["data"] = json!(vec![0.0; 350]);
    let err = load(&v).unwrap_err();
    assert_eq!(
        err.to_string(),
        "node `Dense`: parameter `weights` has shape [35, 10], config implies [36, 10]"
    );

    let mut v = good.clone();
    v["nodes"][dense]["weights"]["data"] = json!([1.0, 2.0]);
    assert!(matches!(load(&v), Err(Error::NodeConfig { node, .. }) if node == "Dense"));

    let mut v = good.clone();
    v["nodes"][dense]["dropout"] = json!(0.5);
    assert!(matches!(load(&v), Err(Error::NodeConfig { node, .. }) if node == "Dense"));

    let mut v = good.clone();
    v["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": 99, "from_port": 0, "to": 1, "to_port": 0}));
    assert!(matches!(
        load(&v),
        Err(Error::DanglingEdge { index: 99, .. })
    ));

    let mut v = good.clone();
    let loss = node_index(&good, "Loss-CCE");
    v["edges"]
        .as_array_mut()
        .unwrap()
        .retain(|e| !(e["to"] == loss && e["to_port"] == 1));
    let err = load(&v).unwrap_err();
    assert_eq!(
        err.to_string(),
        "input port 1 of node `Loss-CCE` is not connected"
    );

    let mut v = good.clone();
    v["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": 0, "from_port": 0, "to": loss, "to_port": 1}));
    assert!(matches!(load(&v), Err(Error::PortTaken { node, port: 1 }) if node == "Loss-CCE"));

    let mut v = good.clone();
    v["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": 0, "from_port": 3, "to": 1, "to_port": 0}));
    assert!(matches!(
        load(&v),
        Err(Error::PortOutOfRange {
            direction: "output",
            port: 3,
            ..
        })
    ));

    let cyclic = json!({
        "format_version": 1,
        "nodes": [
            {"name": "x", "kind": "input", "shape": [2]},
            {"name": "q", "kind": "enqueue", "length": 2},
            {"name": "s", "kind": "dequeue", "length": 2}
        ],
        "edges": [
            {"from": 0, "from_port": 0, "to": 1, "to_port": 0},
            {"from": 2, "from_port": 0, "to": 1, "to_port": 1},
            {"from": 1, "from_port": 0, "to": 2, "to_port": 0}
        ]
    });
    let err = load(&cyclic).unwrap_err();
    assert_eq!(err.to_string(), "the graph has a cycle through node `q`");

    assert!(matches!(Graph::from_json("{"), Err(Error::Json(_))));
    Ok(())
}

// ---- Training ----

fn regression_data(n: usize, seed: u64) -> Vec<Vec<Tensor>> {
    let mut r = rng(seed);
    (0..n)
        .map(|_| {
            let x = rand_tensor(&mut r, &[20, 7], 0.0, 1.0);
            let y = 0.2 + 0.3 * x.data().iter().take(7).sum::<f64>() / 7.0;
            vec![x, Tensor::from_vec(vec![y])]
        })
        .collect()
}

fn train_with_threads(threads: usize, seed: u64) -> Result<String, Box<dyn std::error::Error>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let data = regression_data(24, 5);
    pool.install(|| {
        let mut g = prefab::cnn_regressor((20, 7), 5, 3, 1)?;
        let config = TrainConfig {
            batch_size: 6,
            seed,
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(&g, config);
        for _ in 0..2 {
            t.epoch(&mut g, &data)?;
        }
        g.to_json()
    })
    .map_err(Into::into)
}

#[test]
fn batch_parallel_training_is_bit_identical_across_thread_counts() -> TestResult {
    let one = train_with_threads(1, 7)?;
    assert_eq!(one, train_with_threads(3, 7)?);
    assert_eq!(one, train_with_threads(2, 7)?);
    assert_ne!(
        one,
        train_with_threads(1, 8)?,
        "the seed drives the shuffle"
    );
    Ok(())
}

#[test]
fn training_lowers_the_loss() -> TestResult {
    let data = regression_data(30, 6);
    let mut g = prefab::cnn_regressor((20, 7), 5, 3, 2)?;
    let config = TrainConfig {
        batch_size: 3,
        seed: 1,
        optimizer: Optimizer::Adam(Adam {
            alpha: 0.01,
            ..Adam::default()
        }),
        shuffle: true,
    };
    let mut t = Trainer::new(&g, config);
    let first = t.epoch(&mut g, &data)?;
    let mut last = first;
    for _ in 0..15 {
        last = t.epoch(&mut g, &data)?;
    }
    assert!(last < 0.5 * first, "{first} → {last}");
    Ok(())
}

#[test]
fn classifier_training_lowers_cross_entropy() -> TestResult {
    let mut r = rng(30);
    // Two classes told apart by which half of the image is bright.
    let data: Vec<Vec<Tensor>> = (0..20)
        .map(|i| {
            let class = i % 2;
            let x = Tensor::from_fn(&[28, 28], |k| {
                let top = k < 392;
                let bright = if class == 0 { top } else { !top };
                if bright {
                    0.6 + 0.4 * uniform(&mut r, 0.0, 1.0)
                } else {
                    0.1 * uniform(&mut r, 0.0, 1.0)
                }
            });
            vec![x, Tensor::scalar(class as f64)]
        })
        .collect();
    let mut g = prefab::cnn_classifier(2, 3)?;
    let config = TrainConfig {
        batch_size: 5,
        optimizer: Optimizer::Adam(Adam {
            alpha: 0.01,
            ..Adam::default()
        }),
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(&g, config);
    let first = t.epoch(&mut g, &data)?;
    let mut last = first;
    for _ in 0..10 {
        last = t.epoch(&mut g, &data)?;
    }
    assert!(last < 0.5 * first, "{first} → {last}");
    let correct = data
        .iter()
        .filter(|s| {
            let out = g.infer(&[("x", s[0].clone())]).unwrap();
            out["y_hat"].item() == s[1].item()
        })
        .count();
    assert_eq!(correct, data.len());
    Ok(())
}

#[test]
fn adam_matches_the_original_definition() -> TestResult {
    let adam = Optimizer::default();
    let mut p = Tensor::from_vec(vec![1.0, -2.0]);
    let g = Tensor::from_vec(vec![0.5, -0.25]);
    let mut s = ParamState::default();
    adam.step(&mut p, &g, &mut s)?;
    assert_eq!(s.t, 1);
    assert!((s.m[0] - 0.05).abs() < 1e-15 && (s.v[0] - 0.001 * 0.25).abs() < 1e-15);
    // First step: m̂ = g, v̂ = g², so Δp = −α·g/(|g| + ε) ≈ −α·sign(g).
    assert!((p.data()[0] - (1.0 - 0.001)).abs() < 1e-9);
    assert!((p.data()[1] - (-2.0 + 0.001)).abs() < 1e-9);
    // The original's adam_test: a 100-step fit of Linear(m=.4, c=.5) towards
    // (m=.402, c=.5) at x = 2 lowers the MSE; every Linear has its own state.
    let mut b = GraphBuilder::new();
    let x = b.add("x", Input::new(&[1]))?;
    let lin = b.add(
        "lin",
        Linear {
            m: Tensor::scalar(0.4),
            c: Tensor::scalar(0.5),
        },
    )?;
    let y = b.add("y", Input::new(&[1]))?;
    let loss = b.add("mse", Mse {})?;
    b.chain(&[x, lin, loss])?;
    b.connect_ports(y, 0, loss, 1)?;
    let mut g = b.build()?;
    let sample = vec![
        Tensor::from_vec(vec![2.0]),
        Tensor::from_vec(vec![0.402 * 2.0 + 0.5]),
    ];
    let before = g.loss_and_grads(&sample)?.0;
    let mut t = Trainer::new(
        &g,
        TrainConfig {
            batch_size: 1,
            ..TrainConfig::default()
        },
    );
    for _ in 0..100 {
        t.step(&mut g, &[&sample])?;
    }
    assert!(g.loss_and_grads(&sample)?.0 < before);
    Ok(())
}

// ---- Planner ----

#[test]
fn planner_cnn_classifier_and_regressor() -> TestResult {
    // 24 bits of precision at N = 2^14 would need a 24 + 14 + 2 + 24 = 64-bit scale with
    // the decryption's flooding (`flooding_bits(14)` = 11 + 12 + 1): capped at 52 bits
    // (60-bit first prime, 8 bits of headroom), which promises 52 − 40 = 12 bits.
    let p = plan(&prefab::cnn_classifier(10, 1)?, 4096, 24)?;
    assert_eq!(p.depth, 6);
    assert_eq!((p.log_n, p.log_scale), (14, 52));
    assert_eq!(p.log_q, vec![60, 52, 52, 52, 52, 52, 52]);
    assert_eq!(p.log_p, vec![60]);
    assert_eq!(p.log_qp, 432);
    let Some(fhez_nn::ReleasePolicy::Shared(release)) = p.release else {
        return Err("no shared release policy".into());
    };
    assert_eq!(
        (
            release.stat_security_bits,
            release.noise_bound_bits,
            release.precision_bits
        ),
        (12, 11, 12)
    );
    // A request that fits is kept: 10 bits need 10 + 40 = 50.
    let p10 = plan(&prefab::cnn_classifier(10, 1)?, 4096, 10)?;
    assert_eq!(
        (p10.log_scale, p10.release().map(|r| r.precision_bits())),
        (50, Some(10))
    );
    assert_eq!(p.slots, 8192);
    assert!(
        p.rotation_steps.is_empty(),
        "batch-in-slots needs no Galois keys"
    );
    let per: Vec<(&str, u32)> = p
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.consumed))
        .collect();
    assert_eq!(
        per,
        vec![("CC", 1), ("CNN-RELU", 2), ("Dense", 1), ("Dense-RELU", 2)]
    );
    let r = plan(&prefab::cnn_regressor((20, 7), 5, 3, 1)?, 1024, 24)?;
    assert_eq!((r.depth, r.log_n, r.log_qp), (6, 14, 432));
    // A batch that needs more slots forces a larger ring (and two special primes).
    let big = plan(&prefab::cnn_classifier(10, 1)?, 16384, 24)?;
    assert_eq!((big.log_n, big.log_p.clone()), (15, vec![60, 60]));
    // Lower precision (10 bits, values below 2^9): depth 6 fits no ring below 2^14, where
    // the scale is 10 + 14 + 2 + 24 (flooding) = 50 bits: a 60-bit first prime, 420 bits
    // in all.
    let low = plan_with(
        &prefab::cnn_classifier(10, 1)?,
        &PlanRequest {
            release: fhez_nn::ReleaseChoice::Shared,
            batch: 8,
            precision_bits: 10,
            magnitude_bits: 10,
            standard: fhez_nn::SecurityStandard::Standard2018,
            key_budget: None,
        },
    )?;
    assert_eq!(
        (low.log_scale, low.log_q[0], low.log_n, low.log_qp),
        (50, 60, 14, 420)
    );
    Ok(())
}

#[test]
fn planner_reports_levels_and_key_switches_per_node() -> TestResult {
    let g = prefab::cnn_classifier(10, 1)?;
    let p = plan(&g, 4096, 24)?;
    // Levels in the planned chain: a fresh ciphertext is at level depth = 6.
    let levels: Vec<(&str, u32, u32)> = p
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.level_in, n.level_out))
        .collect();
    assert_eq!(
        levels,
        vec![
            ("CC", 6, 5),
            ("CNN-RELU", 5, 3),
            ("Dense", 3, 2),
            ("Dense-RELU", 2, 0)
        ]
    );
    for n in &p.nodes {
        assert_eq!(
            n.key_switches,
            n.rotations + n.relinearizations,
            "{}",
            n.name
        );
        assert_eq!(n.level_in - n.level_out, n.consumed, "{}", n.name);
        let elements: usize = g.shape(g.id(&n.name)?, 0).unwrap_or(&[]).iter().product();
        // Batch-in-slots: one ciphertext per element. The ReLU's degree-2 polynomial
        // squares each one (one relinearization); the linear layers multiply by
        // plaintexts only.
        let relins = if n.kind == "relu" { elements as u64 } else { 0 };
        assert_eq!(n.relinearizations, relins, "{}", n.name);
    }
    Ok(())
}

#[test]
fn planner_basic_counts_the_rotate_refresh_as_a_new_segment() -> TestResult {
    let p = plan(&prefab::basic(1)?, 8, 25)?;
    assert_eq!(p.depth, 2);
    // The flooding-capped 52-bit scale: 60 + 2·52 + 60 = 224 bits, over the 218 of N = 2^13.
    assert_eq!((p.log_q.clone(), p.log_n), (vec![60, 52, 52], 14));
    Ok(())
}

#[test]
fn planner_rejects_impossible_requests() -> TestResult {
    let hi = plan(&prefab::basic(1)?, 8, 61).unwrap_err();
    // More bits than a prime holds.
    assert!(matches!(hi, Error::PrimeTooLarge { bits: 61, max: 60 }));
    // 55 bits do not fit with the flooding: the scale is capped and the plan says how
    // many bits hold after it.
    let capped = plan(&prefab::basic(1)?, 8, 55)?;
    assert_eq!(capped.log_scale, 52);
    assert_eq!(capped.release().map(|r| r.precision_bits()), Some(12));
    let mut b = GraphBuilder::new();
    let x = b.add("x", Input::new(&[40, 2]))?;
    let rnn = b.add(
        "rnn",
        RnnConfig {
            d_in: 2,
            hidden: 2,
            steps: 40,
        }
        .init(&mut rng(1)),
    )?;
    let d = b.add("d", fhez_nn::nodes::Decrypt {})?;
    b.chain(&[x, rnn, d])?;
    let deep = plan(&b.build()?, 8, 30).unwrap_err();
    assert!(matches!(deep, Error::NoSecureParams { .. }), "{deep:?}");
    Ok(())
}

#[test]
fn the_plan_is_exactly_enough() -> TestResult {
    let g = prefab::cnn_classifier(10, 2)?;
    let p = plan(&g, 4, 30)?;
    let x = PlainArray::full(vec![4, 28, 28], 0.3)?;
    let exact = Plain::new(p.slots).with_max_level(p.depth);
    assert_eq!(
        g.infer_encrypted(&exact, &[("x", x.clone())], &[])?.len(),
        4
    );
    let short = Plain::new(p.slots).with_max_level(p.depth - 1);
    assert!(matches!(
        g.infer_encrypted(&short, &[("x", x.clone())], &[]),
        Err(Error::DepthExhausted { .. })
    ));
    // A strict simulator holding only the planned Galois keys runs the server part.
    let sim = Sim::new(SimConfig::strict(
        p.slots,
        p.depth,
        f64::from(p.log_scale),
        p.rotation_steps.clone(),
    ))?;
    let ex = Erray::encrypt(&sim, &x, Packing::BatchInSlots { batch: 4 })?;
    let mut refresh = |e: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(e.clone()) };
    g.forward_enc(&[("x", ex)], &mut refresh)?;
    Ok(())
}

#[test]
fn planner_vs_original_heuristic() -> TestResult {
    // The heuristic's table (`ckks_param_heuristic` of the original).
    let table: Vec<(u32, usize, u32)> = [0, 1, 2, 3, 7, 8, 12]
        .iter()
        .map(|&c| {
            let o = original_heuristic(c);
            (c, o.poly_modulus_degree, o.total_bits())
        })
        .collect();
    assert_eq!(
        table,
        vec![
            (0, 8192, 120),
            (1, 8192, 160),
            (2, 8192, 200),
            (3, 16384, 240),
            (7, 16384, 400),
            (8, 32768, 440),
            (12, 32768, 600)
        ]
    );
    // basic(): autoHE groups {x_0, x_1} and {y_0, r_0}, costs [4, 4].
    let basic = prefab::basic(1)?;
    let ins = [basic.id("x_0")?, basic.id("x_1")?, basic.id("y_0")?];
    assert_eq!(original_groups(&basic, &ins), vec![4, 4]);
    let o = original_heuristic(4);
    assert_eq!(
        (o.poly_modulus_degree, o.coefficient_modulus.clone()),
        (16384, vec![60, 40, 40, 40, 40, 60])
    );
    let ours = plan(&basic, 8, 25)?;
    assert_eq!((1usize << ours.log_n, ours.log_qp), (16384, 224));

    // cnn_classifier(10): the original encrypted only the CC: cost 6 → N = 2^14, 360 bits.
    let o = original_heuristic(6);
    assert_eq!((o.poly_modulus_degree, o.total_bits()), (16384, 360));
    // On fhez's fully encrypted graph its node costs would sum to 6 + 4 + 2 + 4 = 16.
    let cls = prefab::cnn_classifier(10, 1)?;
    assert_eq!(original_groups(&cls, &[cls.id("x")?]), vec![16]);
    let o = original_heuristic(16);
    assert_eq!((o.poly_modulus_degree, o.total_bits()), (32768, 760));
    // fhez measures depth 6 for the whole network and fits it in N = 2^14, 432 bits
    // (with the flooding-capped 52-bit scale).
    let ours = plan(&cls, 4096, 24)?;
    assert_eq!(
        (1usize << ours.log_n, ours.log_qp, ours.depth),
        (16384, 432, 6)
    );

    // cnn_regressor((20,7),5,3): same story, cost 16 vs depth 6.
    let reg = prefab::cnn_regressor((20, 7), 5, 3, 1)?;
    assert_eq!(original_groups(&reg, &[reg.id("x")?]), vec![16]);
    assert_eq!(plan(&reg, 4096, 24)?.log_n, 14);
    Ok(())
}
