//! The bench network as a fhez [`Graph`] with the peer port's weights, for the public model
//! API (`fhez_model::EncryptedModel`): input `x` (28×28) → four cross-correlation filters
//! (7×7, stride 3, one per channel) → `Enqueue` (channel-major: feature `c·64 + w`) →
//! `Square` → `Dense(256→64)` → `Square` → `Dense(64→10)` → `Decrypt` named [`LOGITS`].
//! Each `Square` feeds only a `Dense`, so the encrypted traversal folds it into the layer
//! with lazy relinearization (one key switch per layer output).

use anyhow::Result;
use fhez_nn::nodes::{CrossCorrelation, Decrypt, Dense, Enqueue, Input, Square};
use fhez_nn::{Graph, GraphBuilder, Tensor};

use super::peer_port::Model;
use super::{CH, HID, K, KK, NIN, NOUT, SIDE, STRIDE};

/// Name of the input node (one 28×28 image per sample).
pub const INPUT: &str = "x";
/// Name of the `Decrypt` node whose values are the logits.
pub const LOGITS: &str = "logits";

/// The bench network with `model`'s weights (see the module documentation).
///
/// # Errors
/// A parameter of `model` has the wrong length (graph validation).
pub fn tutorial_graph(model: &Model) -> Result<Graph> {
    let mut g = GraphBuilder::new();
    let x = g.add(INPUT, Input::new(&[SIDE, SIDE]))?;
    let stack = g.add("conv-channels", Enqueue { length: CH })?;
    for c in 0..CH {
        let weights = model
            .wc
            .get(c * KK..(c + 1) * KK)
            .map(<[f64]>::to_vec)
            .unwrap_or_default();
        let bias = model.bc.get(c).copied().unwrap_or(f64::NAN);
        let cc = g.add(
            &format!("conv-{c}"),
            CrossCorrelation {
                kernel: vec![K, K],
                stride: vec![STRIDE, STRIDE],
                weights: Tensor::new(vec![K, K], weights)?,
                bias: Tensor::scalar(bias),
            },
        )?;
        g.connect_ports(x, 0, cc, 0)?;
        g.connect_ports(cc, 0, stack, c)?;
    }
    let sq1 = g.add("square-1", Square {})?;
    let fc1 = g.add(
        "fc1",
        Dense {
            d_in: NIN,
            d_out: HID,
            weights: Tensor::new(vec![NIN, HID], model.w1.clone())?,
            bias: Tensor::new(vec![HID], model.b1.clone())?,
        },
    )?;
    let sq2 = g.add("square-2", Square {})?;
    let fc2 = g.add(
        "fc2",
        Dense {
            d_in: HID,
            d_out: NOUT,
            weights: Tensor::new(vec![HID, NOUT], model.w2.clone())?,
            bias: Tensor::new(vec![NOUT], model.b2.clone())?,
        },
    )?;
    let dec = g.add(LOGITS, Decrypt {})?;
    g.chain(&[stack, sq1, fc1, sq2, fc2, dec])?;
    Ok(g.build()?)
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};

    use super::*;
    use crate::cnn::im2col;

    fn uniform(rng: &mut ChaCha20Rng, n: usize, bound: f64) -> Vec<f64> {
        (0..n)
            .map(|_| ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * bound)
            .collect()
    }

    /// The graph's plaintext forward is the peer port's forward (same weights, same feature
    /// order), to rounding: a transposed filter or a window-major `Enqueue` would move
    /// the logits by O(1).
    #[test]
    fn graph_forward_is_the_peer_forward() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let model = Model {
            wc: uniform(&mut rng, CH * KK, 0.3),
            bc: uniform(&mut rng, CH, 0.1),
            w1: uniform(&mut rng, NIN * HID, 0.1),
            b1: uniform(&mut rng, HID, 0.1),
            w2: uniform(&mut rng, HID * NOUT, 0.1),
            b2: uniform(&mut rng, NOUT, 0.1),
        };
        let graph = tutorial_graph(&model).unwrap();
        for _ in 0..3 {
            let img = uniform(&mut rng, SIDE * SIDE, 1.0);
            let want = model.forward(&im2col(&img)).z3;
            let got = graph
                .infer(&[(INPUT, Tensor::new(vec![SIDE, SIDE], img).unwrap())])
                .unwrap();
            let got = got[LOGITS].data().to_vec();
            assert_eq!(got.len(), NOUT);
            let scale = want.iter().fold(1.0f64, |a, b| a.max(b.abs()));
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-9 * scale, "{g} vs {w}");
            }
        }
    }
}
