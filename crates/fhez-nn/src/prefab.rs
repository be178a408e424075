//! The original's prefab graphs, rebuilt with explicit ports and fhez's node semantics.
//!
//! Differences from the original layouts: the CC sums its windows itself, so the
//! original's `Dequeue → Rotate-i → Sum-i → Enqueue` fan (36 branches) disappears; the ten
//! `ANN` neurons become one `Dense(36 → 10)`; the `Selector(backward=[1,0])` is unnecessary
//! because gradients only flow back from the loss. The whole network up to `Decrypt` runs
//! on ciphertexts (the original decrypted right after the CC's products).

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::loss::{CategoricalCrossEntropy, Mse};
use crate::nodes::{
    Argmax, CrossCorrelationConfig, Decrypt, DenseConfig, Enqueue, Input, Io, OneHotDecode,
    OneHotEncode, Relu, Rotate, Softmax,
};
use crate::{Graph, GraphBuilder, Result};

/// `cnn_classifier(k)` (the original's `sphira()`/`orbweaver()` for `k = 10`): a (28, 28)
/// input `x`, one 6×6 CC with stride 4 (36 windows), `Relu(q=10)`, `Dense(36 → k)`,
/// `Relu(q=10)`, `Decrypt`, then `Softmax → Loss-CCE ← One-hot-encoder ← y` and
/// `Argmax → y_hat` (a one-hot decoder). Inputs in order: `x` (28×28), `y` (class index).
///
/// # Errors
/// Never for valid `classes > 0`; graph validation errors otherwise.
pub fn cnn_classifier(classes: usize, seed: u64) -> Result<Graph> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[28, 28]))?;
    let cc = g.add(
        "CC",
        CrossCorrelationConfig {
            kernel: vec![6, 6],
            stride: vec![4, 4],
        }
        .init(&mut rng),
    )?;
    let r1 = g.add("CNN-RELU", Relu::new(10.0)?)?;
    let dense = g.add(
        "Dense",
        DenseConfig {
            d_in: 36,
            d_out: classes,
        }
        .init(&mut rng),
    )?;
    let r2 = g.add("Dense-RELU", Relu::new(10.0)?)?;
    let dec = g.add("Decrypt", Decrypt {})?;
    let soft = g.add("Softmax", Softmax {})?;
    let loss = g.add("Loss-CCE", CategoricalCrossEntropy {})?;
    let y = g.add("y", Input::new(&[]))?;
    let enc = g.add("One-hot-encoder", OneHotEncode { length: classes })?;
    let am = g.add("Argmax", Argmax {})?;
    let dec_hot = g.add("y_hat", OneHotDecode {})?;
    g.chain(&[x, cc, r1, dense, r2, dec, soft])?;
    g.connect_ports(soft, 0, loss, 0)?;
    g.chain(&[y, enc])?;
    g.connect_ports(enc, 0, loss, 1)?;
    g.chain(&[dec, am, dec_hot])?;
    g.build()
}

/// `cnn_regressor(data_shape=(T, F), filter_length=L, stride=s)`: a 1-d CC over time with
/// kernel `(L, F)` and stride `(s, F)` (`W = (T−L)/s + 1` windows), `Relu(q=1)`,
/// `Dense(W → 1)`, `Relu(q=1)`, `Decrypt`, then `MSE ← y` and `y_hat`. Inputs: `x` (T, F),
/// `y` (1).
///
/// # Errors
/// Invalid shapes (`L > T`, zero sizes).
pub fn cnn_regressor(
    data_shape: (usize, usize),
    filter_length: usize,
    stride: usize,
    seed: u64,
) -> Result<Graph> {
    let (t, f) = data_shape;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let windows = t.saturating_sub(filter_length) / stride.max(1) + 1;
    let mut g = GraphBuilder::new();
    let x = g.add("x", Input::new(&[t, f]))?;
    let cc = g.add(
        "1D-CC",
        CrossCorrelationConfig {
            kernel: vec![filter_length, f],
            stride: vec![stride, f],
        }
        .init(&mut rng),
    )?;
    let flat = g.add("CC-flatten", crate::nodes::Dequeue { length: windows })?;
    let stack = g.add("CC-enqueue", Enqueue { length: windows })?;
    let a1 = g.add("CNN-acti", Relu::new(1.0)?)?;
    let dense = g.add(
        "Dense",
        DenseConfig {
            d_in: windows,
            d_out: 1,
        }
        .init(&mut rng),
    )?;
    let a2 = g.add("Dense-acti", Relu::new(1.0)?)?;
    let dec = g.add("Decrypt", Decrypt {})?;
    let loss = g.add("MSE", Mse {})?;
    let y = g.add("y", Input::new(&[1]))?;
    let y_hat = g.add("y_hat", Io {})?;
    g.chain(&[x, cc, flat])?;
    for w in 0..windows {
        let sum = g.add(&format!("CC-sop-{w}"), crate::nodes::Sum {})?;
        g.connect_ports(flat, w, sum, 0)?;
        g.connect_ports(sum, 0, stack, w)?;
    }
    g.chain(&[stack, a1, dense, a2, dec])?;
    g.connect_ports(dec, 0, loss, 0)?;
    g.connect_ports(y, 0, loss, 1)?;
    g.chain(&[dec, y_hat])?;
    g.build()
}

/// `basic()`: the original's small two-group graph, with its names. `x_0 → c_0`,
/// `[c_0, x_1] → c_1 → r_0` (a `Rotate`: re-encryption), `[r_0, y_0] → c_2 → d_0`,
/// `c_2 → c_3 → d_1`; every `c_i` is a `Dense(n → 1)` (an `ANN` neuron) fed through an
/// `Enqueue` where it has two inputs; `d_*` are decrypts. Inputs: `x_0`, `x_1`, `y_0`
/// (one value each). It has no loss; it exists to exercise fan-in, re-encryption and the planner.
///
/// # Errors
/// Never in practice.
pub fn basic(seed: u64) -> Result<Graph> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut g = GraphBuilder::new();
    let x0 = g.add("x_0", Input::new(&[1]))?;
    let x1 = g.add("x_1", Input::new(&[1]))?;
    let y0 = g.add("y_0", Input::new(&[1]))?;
    let mut neuron = |g: &mut GraphBuilder, name: &str, d_in: usize| {
        g.add(name, DenseConfig { d_in, d_out: 1 }.init(&mut rng))
    };
    let c0 = neuron(&mut g, "c_0", 1)?;
    let q1 = g.add("c_1-inputs", Enqueue { length: 2 })?;
    let c1 = neuron(&mut g, "c_1", 2)?;
    let r0 = g.add("r_0", Rotate {})?;
    let q2 = g.add("c_2-inputs", Enqueue { length: 2 })?;
    let c2 = neuron(&mut g, "c_2", 2)?;
    let c3 = neuron(&mut g, "c_3", 1)?;
    let d0 = g.add("d_0", Decrypt {})?;
    let d1 = g.add("d_1", Decrypt {})?;
    g.chain(&[x0, c0, q1])?;
    g.chain(&[x1, q1, c1, r0, q2])?;
    g.chain(&[y0, q2, c2, d0])?;
    g.chain(&[c2, c3, d1])?;
    g.build()
}
