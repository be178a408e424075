//! A small image classifier that runs fully encrypted in batch-in-slots packing: several
//! cross-correlation filters side by side, one polynomial ReLU, one dense layer.

use fhez_nn::loss::CategoricalCrossEntropy;
use fhez_nn::nodes::{
    Argmax, CrossCorrelationConfig, Decrypt, DenseConfig, Enqueue, Input, OneHotDecode,
    OneHotEncode, Relu, Softmax,
};
use fhez_nn::{Graph, GraphBuilder, Result};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Configuration of [`CnnConfig::build`].
#[derive(Clone, Debug, PartialEq)]
pub struct CnnConfig {
    /// Image shape `(rows, cols)`.
    pub input: [usize; 2],
    /// Kernel shape of every filter.
    pub kernel: [usize; 2],
    /// Stride of every filter.
    pub stride: [usize; 2],
    /// Number of filters (each a `CrossCorrelation` node, stacked by an `Enqueue`).
    pub filters: usize,
    /// Number of classes.
    pub classes: usize,
    /// Initial range `q` of the quadratic ReLU approximation (learnt in training).
    pub relu_q: f64,
}

impl CnnConfig {
    /// Windows per filter.
    #[must_use]
    pub fn windows(&self) -> usize {
        let out = |(i, (k, s)): (&usize, (&usize, &usize))| i.saturating_sub(*k) / (*s).max(1) + 1;
        self.input
            .iter()
            .zip(self.kernel.iter().zip(&self.stride))
            .map(out)
            .product()
    }

    /// Builds `x → {CC-f}_f → Enqueue → ReLU → Dense → Decrypt`, then on the client
    /// `Softmax → Loss-CCE ← One-hot ← y` and `Argmax → y_hat`. Encrypted depth 4
    /// (CC 1, ReLU 2, Dense 1), no rotations. Inputs in order: `x` (image), `y` (class).
    ///
    /// # Errors
    /// Graph validation errors (e.g. a kernel larger than the image).
    pub fn build(&self, seed: u64) -> Result<Graph> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut g = GraphBuilder::new();
        let x = g.add("x", Input::new(&self.input))?;
        let stack = g.add(
            "CC-stack",
            Enqueue {
                length: self.filters,
            },
        )?;
        for f in 0..self.filters {
            let cc = g.add(
                &format!("CC-{f}"),
                CrossCorrelationConfig {
                    kernel: self.kernel.to_vec(),
                    stride: self.stride.to_vec(),
                }
                .init(&mut rng),
            )?;
            g.connect(x, cc)?;
            g.connect_ports(cc, 0, stack, f)?;
        }
        let relu = g.add("ReLU", Relu::new(self.relu_q)?)?;
        let dense = g.add(
            "Dense",
            DenseConfig {
                d_in: self.filters * self.windows(),
                d_out: self.classes,
            }
            .init(&mut rng),
        )?;
        let dec = g.add("Decrypt", Decrypt {})?;
        let soft = g.add("Softmax", Softmax {})?;
        let loss = g.add("Loss-CCE", CategoricalCrossEntropy {})?;
        let y = g.add("y", Input::new(&[]))?;
        let hot = g.add(
            "One-hot",
            OneHotEncode {
                length: self.classes,
            },
        )?;
        let am = g.add("Argmax", Argmax {})?;
        let y_hat = g.add("y_hat", OneHotDecode {})?;
        g.chain(&[stack, relu, dense, dec, soft])?;
        g.connect_ports(soft, 0, loss, 0)?;
        g.chain(&[y, hot])?;
        g.connect_ports(hot, 0, loss, 1)?;
        g.chain(&[dec, am, y_hat])?;
        g.build()
    }
}
