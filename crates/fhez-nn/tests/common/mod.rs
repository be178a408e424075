//! Shared helpers: seeded random tensors, single-node graphs, central differences.

#![allow(dead_code, reason = "each test binary uses a subset")]

use fhez_nn::nodes::{Decrypt, Input};
use fhez_nn::{Graph, GraphBuilder, Node, Result, Tensor};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// Step of the central differences.
pub const H: f64 = 1e-5;
/// Relative tolerance of gradient checks.
pub const TOL: f64 = 1e-6;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn uniform(rng: &mut ChaCha20Rng, lo: f64, hi: f64) -> f64 {
    let u = (rng.next_u64() >> 11) as f64 / 9_007_199_254_740_992.0;
    lo + (hi - lo) * u
}

pub fn rand_tensor(rng: &mut ChaCha20Rng, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    Tensor::from_fn(shape, |_| uniform(rng, lo, hi))
}

/// `|a − n| ≤ TOL · max(1, |a|, |n|)`.
pub fn close(analytic: f64, numeric: f64) -> bool {
    (analytic - numeric).abs() <= TOL * 1f64.max(analytic.abs()).max(numeric.abs())
}

/// A graph `inputs → node → Decrypt-k` (one decrypt per output port).
pub fn single(node: impl Into<Node>, input_shapes: &[&[usize]]) -> Result<Graph> {
    let node = node.into();
    let outs = node.ports().1;
    let mut g = GraphBuilder::new();
    let ids = input_shapes
        .iter()
        .enumerate()
        .map(|(i, s)| g.add(&format!("in{i}"), Input::new(s)))
        .collect::<Result<Vec<_>>>()?;
    let n = g.add("node", node)?;
    for (port, id) in ids.into_iter().enumerate() {
        g.connect_ports(id, 0, n, port)?;
    }
    for p in 0..outs {
        let d = g.add(&format!("out{p}"), Decrypt {})?;
        g.connect_ports(n, p, d, 0)?;
    }
    g.build()
}

/// `L = Σ_o Σ_k c_o[k]·out_o[k]` for one node.
pub fn node_objective(node: &Node, inputs: &[Tensor], coeffs: &[Tensor]) -> Result<f64> {
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let f = node.forward(&refs)?;
    Ok(f.outputs
        .iter()
        .zip(coeffs)
        .map(|(o, c)| {
            o.data()
                .iter()
                .zip(c.data())
                .map(|(a, b)| a * b)
                .sum::<f64>()
        })
        .sum())
}

/// Checks a node's input and parameter gradients against central differences of a random
/// linear functional of its outputs. Returns the number of entries checked.
pub fn check_node(mut node: Node, inputs: Vec<Tensor>, seed: u64) -> Result<usize> {
    let mut r = rng(seed);
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let f = node.forward(&refs)?;
    let coeffs: Vec<Tensor> = f
        .outputs
        .iter()
        .map(|o| rand_tensor(&mut r, o.shape(), -1.0, 1.0))
        .collect();
    let back = node.backward(&coeffs, &f.cache)?;
    let mut checked = 0;
    let mut xs = inputs;
    for i in 0..xs.len() {
        for k in 0..xs[i].len() {
            let orig = xs[i].data()[k];
            xs[i].data_mut()[k] = orig + H;
            let plus = node_objective(&node, &xs, &coeffs)?;
            xs[i].data_mut()[k] = orig - H;
            let minus = node_objective(&node, &xs, &coeffs)?;
            xs[i].data_mut()[k] = orig;
            let numeric = (plus - minus) / (2.0 * H);
            let analytic = back.inputs[i].data()[k];
            assert!(
                close(analytic, numeric),
                "{} input {i}[{k}]: analytic {analytic} vs numeric {numeric}",
                node.kind()
            );
            checked += 1;
        }
    }
    let counts: Vec<usize> = node.params().iter().map(|(_, t)| t.len()).collect();
    for (p, &count) in counts.iter().enumerate() {
        for k in 0..count {
            let orig = node.params_mut()[p].data()[k];
            node.params_mut()[p].data_mut()[k] = orig + H;
            let plus = node_objective(&node, &xs, &coeffs)?;
            node.params_mut()[p].data_mut()[k] = orig - H;
            let minus = node_objective(&node, &xs, &coeffs)?;
            node.params_mut()[p].data_mut()[k] = orig;
            let numeric = (plus - minus) / (2.0 * H);
            let analytic = back.params[p].data()[k];
            assert!(
                close(analytic, numeric),
                "{} param {p}[{k}]: analytic {analytic} vs numeric {numeric}",
                node.kind()
            );
            checked += 1;
        }
    }
    Ok(checked)
}

/// Total loss of a graph on one sample (inputs in `Graph::inputs` order).
pub fn graph_loss(graph: &Graph, sample: &[Tensor]) -> Result<f64> {
    Ok(graph.loss_and_grads(sample)?.0)
}

/// Checks every parameter and input gradient of a graph with a loss by central
/// differences. Returns the number of entries checked.
pub fn check_graph(graph: &mut Graph, sample: &[Tensor]) -> Result<usize> {
    let (_, grads) = graph.loss_and_grads(sample)?;
    let mut checked = 0;
    for id in 0..graph.len() {
        let count = graph.params_mut(id).len();
        for p in 0..count {
            let len = graph.params_mut(id)[p].len();
            for k in 0..len {
                let orig = graph.params_mut(id)[p].data()[k];
                graph.params_mut(id)[p].data_mut()[k] = orig + H;
                let plus = graph_loss(graph, sample)?;
                graph.params_mut(id)[p].data_mut()[k] = orig - H;
                let minus = graph_loss(graph, sample)?;
                graph.params_mut(id)[p].data_mut()[k] = orig;
                let numeric = (plus - minus) / (2.0 * H);
                let analytic = grads.params[id][p].data()[k];
                assert!(
                    close(analytic, numeric),
                    "node {} param {p}[{k}]: analytic {analytic} vs numeric {numeric}",
                    graph.name(id)
                );
                checked += 1;
            }
        }
    }
    let inputs = graph.inputs();
    let mut xs = sample.to_vec();
    for (i, &id) in inputs.iter().enumerate() {
        let Some(g) = grads.input(id) else { continue };
        for k in 0..xs[i].len() {
            let orig = xs[i].data()[k];
            xs[i].data_mut()[k] = orig + H;
            let plus = graph_loss(graph, &xs)?;
            xs[i].data_mut()[k] = orig - H;
            let minus = graph_loss(graph, &xs)?;
            xs[i].data_mut()[k] = orig;
            let numeric = (plus - minus) / (2.0 * H);
            assert!(
                close(g.data()[k], numeric),
                "input {} [{k}]: analytic {} vs numeric {numeric}",
                graph.name(id),
                g.data()[k]
            );
            checked += 1;
        }
    }
    Ok(checked)
}
