//! Single-input packing through the graph walk: a bank of one-filter cross-correlations, the
//! `Enqueue` that stacks them, a polynomial ReLU, average pooling and a dense layer run on
//! one ciphertext per sample, equal the plaintext forward (1e-9 on `Plain`), and `Sim`
//! mirrors the levels and key switches of every node.

#![allow(clippy::indexing_slicing, clippy::unwrap_used, reason = "test code")]

mod common;

use common::{rand_tensor, rng};
use fhez_backend::{Backend, Plain, Sim, SimConfig};
use fhez_erray::{Erray, Packing, PlainArray};
use fhez_nn::nodes::{AvgPool, CrossCorrelationConfig, Decrypt, DenseConfig, Enqueue, Input, Relu};
use fhez_nn::{Graph, GraphBuilder, Tensor};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

const FILTERS: usize = 3;

/// `x (8, 8)` → 3 × CC(3×3, stride 1) → Enqueue → ReLU → AvgPool(1×2×2) → Dense(27 → 4).
fn graph() -> fhez_nn::Result<Graph> {
    let mut r = rng(7);
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[8, 8]))?;
    let stack = g.add("stack", Enqueue { length: FILTERS })?;
    for f in 0..FILTERS {
        let mut cc = CrossCorrelationConfig {
            kernel: vec![3, 3],
            stride: vec![1, 1],
        }
        .init(&mut r);
        cc.bias = Tensor::scalar(0.1 * f as f64 - 0.1);
        let id = g.add(&format!("cc{f}"), cc)?;
        g.chain(&[x, id])?;
        g.connect_ports(id, 0, stack, f)?;
    }
    let relu = g.add("relu", Relu::new(4.0)?)?;
    let pool = g.add(
        "pool",
        AvgPool {
            kernel: vec![1, 2, 2],
            stride: vec![1, 2, 2],
        },
    )?;
    let dense = g.add("dense", DenseConfig { d_in: 27, d_out: 4 }.init(&mut r))?;
    let dec = g.add("dec", Decrypt {})?;
    g.chain(&[stack, relu, pool, dense, dec])?;
    g.build()
}

fn single_input<B: Backend>(b: &B, x: &Tensor) -> fhez_erray::Result<Erray<B>> {
    let data = PlainArray::new(vec![1, 8, 8], x.data().to_vec())?;
    Erray::encrypt(b, &data, Packing::single_input(64))
}

#[test]
fn single_input_graph_equals_the_plain_forward() -> TestResult {
    let g = graph()?;
    let x = rand_tensor(&mut rng(8), &[8, 8], -1.0, 1.0);
    let plain = Plain::new(1024);
    let mut refresh = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    let run = g.forward_enc(&[("x", single_input(&plain, &x)?)], &mut refresh)?;
    let (id, out) = &run.boundary[0];
    assert_eq!(out.packing(), Packing::SingleInput { period: 4 });
    let got = g.finish(&[(*id, out.decrypt()?)], &[])?;
    let want = g.infer(&[("x", x)])?;
    for (k, w) in &want {
        let o = &got[0][k];
        assert_eq!(o.shape(), w.shape(), "{k}");
        for (a, b) in o.data().iter().zip(w.data()) {
            assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{k}: {a} vs {b}");
        }
    }
    // cc 1, stack 1 (mask), relu 2, pool 1, dense 1.
    let consumed = |n: &str| run.levels[g.id(n).unwrap()].unwrap().consumed();
    assert_eq!(
        ["cc0", "stack", "relu", "pool", "dense"].map(consumed),
        [1, 1, 2, 1, 1]
    );
    Ok(())
}

#[test]
fn sim_mirrors_the_single_input_walk() -> TestResult {
    let g = graph()?;
    let x = rand_tensor(&mut rng(9), &[8, 8], -1.0, 1.0);
    let plain = Plain::new(1024).with_max_level(8);
    let sim = Sim::new(SimConfig::planning(1024, 8, 40.0))?;
    let mut rp = |e: &Erray<Plain>| -> fhez_nn::Result<Erray<Plain>> { Ok(e.clone()) };
    let mut rs = |e: &Erray<Sim>| -> fhez_nn::Result<Erray<Sim>> { Ok(e.clone()) };
    let p = g.forward_enc(&[("x", single_input(&plain, &x)?)], &mut rp)?;
    let s = g.forward_enc(&[("x", single_input(&sim, &x)?)], &mut rs)?;
    assert_eq!(p.levels, s.levels);
    assert_eq!(p.boundary[0].1.level(), s.boundary[0].1.level());
    // Every rotation the walk needs is one Galois key the planner lists.
    assert!(!sim.report().rotation_steps.is_empty());
    Ok(())
}
