//! Mini-batch training on plaintext, parallel over the batch and deterministic under a seed.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Grads, Graph};
use crate::optim::{Optimizer, ParamState};
use crate::{Error, Result, Tensor};

/// Optimizer state of every parameter of a graph: `params[node][param]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Per node, per parameter.
    pub params: Vec<Vec<ParamState>>,
}

impl OptimizerState {
    /// Sizes the state for `graph` (keeps existing entries).
    pub fn ensure(&mut self, graph: &Graph) {
        self.params.resize(graph.len(), Vec::new());
        for (id, p) in self.params.iter_mut().enumerate() {
            let count = graph.node(id).map_or(0, |n| n.params().len());
            p.resize(count, ParamState::default());
        }
    }
}

/// Training hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Samples per update (gradients are averaged over the batch, like the original's
    /// `updates()`; the original's first "batch" had one sample, fhez's has `batch_size`).
    pub batch_size: usize,
    /// Seed of the ChaCha20 generator that shuffles the data each epoch.
    pub seed: u64,
    /// Whether to shuffle each epoch.
    pub shuffle: bool,
    /// The optimizer (default: Adam with the original's defaults).
    pub optimizer: Optimizer,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 5,
            seed: 0,
            shuffle: true,
            optimizer: Optimizer::default(),
        }
    }
}

/// Runs mini-batch training of a [`Graph`] on plaintext.
///
/// Per-sample gradients are computed in parallel (with the `parallel` feature) and reduced
/// sequentially in sample order, so results are bit-identical whatever the thread count.
#[derive(Clone, Debug)]
pub struct Trainer {
    config: TrainConfig,
    state: OptimizerState,
    rng: ChaCha20Rng,
}

impl Trainer {
    /// A trainer for `graph`.
    #[must_use]
    pub fn new(graph: &Graph, config: TrainConfig) -> Self {
        let mut state = OptimizerState::default();
        state.ensure(graph);
        Self {
            config,
            state,
            rng: ChaCha20Rng::seed_from_u64(config.seed),
        }
    }

    /// The optimizer state.
    #[must_use]
    pub fn state(&self) -> &OptimizerState {
        &self.state
    }

    /// Mean loss and mean gradients over `batch` (samples in [`Graph::inputs`] order).
    ///
    /// # Errors
    /// [`Error::InputCount`] for an empty batch, plus [`Graph::loss_and_grads`] errors.
    pub fn batch_grads(graph: &Graph, batch: &[&[Tensor]]) -> Result<(f64, Grads)> {
        let per = map_samples(batch, |s| graph.loss_and_grads(s))?;
        let mut it = per.into_iter();
        let (mut loss, mut grads) = it.next().ok_or(Error::InputCount {
            expected: 1,
            found: 0,
        })?;
        for (l, g) in it {
            loss += l;
            grads.add_assign(&g)?;
        }
        #[expect(clippy::cast_precision_loss, reason = "batch sizes are small")]
        let n = batch.len() as f64;
        grads.scale(1.0 / n);
        Ok((loss / n, grads))
    }

    /// One update on one mini-batch; returns its mean loss.
    ///
    /// # Errors
    /// As [`Trainer::batch_grads`].
    pub fn step(&mut self, graph: &mut Graph, batch: &[&[Tensor]]) -> Result<f64> {
        let (loss, grads) = Self::batch_grads(graph, batch)?;
        graph.adaptation(&grads, &self.config.optimizer, &mut self.state)?;
        Ok(loss)
    }

    /// One epoch over `data` (shuffled with the seeded generator when enabled); returns the
    /// mean of the batch losses.
    ///
    /// # Errors
    /// As [`Trainer::step`].
    pub fn epoch(&mut self, graph: &mut Graph, data: &[Vec<Tensor>]) -> Result<f64> {
        let mut order: Vec<usize> = (0..data.len()).collect();
        if self.config.shuffle {
            shuffle(&mut order, &mut self.rng);
        }
        let mut total = 0.0;
        let mut batches = 0usize;
        for chunk in order.chunks(self.config.batch_size.max(1)) {
            let batch: Vec<&[Tensor]> = chunk
                .iter()
                .filter_map(|&i| data.get(i).map(Vec::as_slice))
                .collect();
            total += self.step(graph, &batch)?;
            batches += 1;
        }
        #[expect(clippy::cast_precision_loss, reason = "batch counts are small")]
        let b = batches.max(1) as f64;
        Ok(total / b)
    }
}

/// Fisher–Yates with the given generator.
fn shuffle(v: &mut [usize], rng: &mut impl RngCore) {
    for i in (1..v.len()).rev() {
        let bound = u64::try_from(i + 1).unwrap_or(u64::MAX);
        let j = usize::try_from(rng.next_u64() % bound).unwrap_or(0);
        v.swap(i, j);
    }
}

fn map_samples<R: Send>(
    batch: &[&[Tensor]],
    f: impl Fn(&[Tensor]) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        batch.par_iter().map(|s| f(s)).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        batch.iter().map(|s| f(s)).collect()
    }
}
