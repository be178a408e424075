//! [`LatencyNet`]: the plaintext description of a network that latency mode can run — a bank
//! of cross-correlation filters followed by dense layers and quadratic activations — with a
//! reference forward pass.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The front end: `filters` n-dimensional cross-correlations ("valid" windows, row-major
/// over the output grid) of one input, each with its own scalar bias. Output index
/// `f · windows + w` (filter-major), as `Enqueue` stacks the filters of a
/// [`CnnConfig`](crate::CnnConfig) graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConvLayer {
    /// Input shape (e.g. `[28, 28]`).
    pub input: Vec<usize>,
    /// Kernel shape (same rank as `input`).
    pub kernel: Vec<usize>,
    /// Stride per dimension.
    pub stride: Vec<usize>,
    /// One kernel per filter, row-major over `kernel`.
    pub weights: Vec<Vec<f64>>,
    /// One bias per filter.
    pub bias: Vec<f64>,
}

impl ConvLayer {
    /// The output grid shape `(D_d − K_d)/S_d + 1` per dimension.
    #[must_use]
    pub fn out_shape(&self) -> Vec<usize> {
        self.input
            .iter()
            .zip(self.kernel.iter().zip(&self.stride))
            .map(|(&d, (&k, &s))| d.saturating_sub(k) / s.max(1) + 1)
            .collect()
    }

    /// Windows per filter.
    #[must_use]
    pub fn windows(&self) -> usize {
        self.out_shape().iter().product()
    }

    /// Values per kernel.
    #[must_use]
    pub fn kernel_len(&self) -> usize {
        self.kernel.iter().product()
    }

    /// Number of filters.
    #[must_use]
    pub fn filters(&self) -> usize {
        self.weights.len()
    }

    /// Row-major index into the input of kernel position `p` of window `w`.
    #[must_use]
    pub fn input_index(&self, w: usize, p: usize) -> usize {
        let out = self.out_shape();
        let (mut w, mut p) = (w, p);
        let mut index = 0;
        let mut stride_in = 1;
        for d in (0..self.input.len()).rev() {
            let (o_d, k_d) = (
                out.get(d).copied().unwrap_or(1),
                self.kernel.get(d).copied().unwrap_or(1),
            );
            let (wo, kp) = (w % o_d.max(1), p % k_d.max(1));
            w /= o_d.max(1);
            p /= k_d.max(1);
            let coord = wo * self.stride.get(d).copied().unwrap_or(1) + kp;
            index += coord * stride_in;
            stride_in *= self.input.get(d).copied().unwrap_or(1);
        }
        index
    }

    fn validate(&self) -> Result<()> {
        let rank = self.input.len();
        let shapes_ok = rank > 0
            && self.kernel.len() == rank
            && self.stride.len() == rank
            && !self.stride.contains(&0)
            && !self.kernel.contains(&0)
            && self.input.iter().zip(&self.kernel).all(|(d, k)| k <= d);
        if !shapes_ok {
            return Err(unsupported(format!(
                "convolution input {:?}, kernel {:?}, stride {:?}",
                self.input, self.kernel, self.stride
            )));
        }
        let k = self.kernel_len();
        if self.weights.is_empty()
            || self.weights.iter().any(|w| w.len() != k)
            || self.bias.len() != self.weights.len()
        {
            return Err(unsupported(format!(
                "{} filters of {k} weights need one kernel and one bias each",
                self.weights.len()
            )));
        }
        Ok(())
    }
}

/// A stage after the convolution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Stage {
    /// Element-wise `c0 + c1·x + c2·x²` (the quadratic ReLU approximation, `x²`, …). It
    /// must follow a linear layer (the convolution or a [`Stage::Dense`]).
    Quadratic {
        /// Constant coefficient.
        c0: f64,
        /// Linear coefficient.
        c1: f64,
        /// Quadratic coefficient.
        c2: f64,
    },
    /// `y = x · W + b` on the flattened input.
    Dense {
        /// Input features.
        d_in: usize,
        /// Output features.
        d_out: usize,
        /// Weights `(d_in, d_out)`, row-major.
        weights: Vec<f64>,
        /// Bias `(d_out)`.
        bias: Vec<f64>,
    },
}

/// A network latency mode runs: [`ConvLayer`] then [`Stage`]s; the last stage's output is
/// what the client decrypts (the logits).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyNet {
    /// The convolution front end.
    pub conv: ConvLayer,
    /// The stages after it, in order.
    pub stages: Vec<Stage>,
}

impl LatencyNet {
    /// Checks shapes and the stage order.
    ///
    /// # Errors
    /// [`Error::Format`] naming what is not supported.
    pub fn validate(&self) -> Result<()> {
        self.conv.validate()?;
        let mut width = self.conv.filters() * self.conv.windows();
        let mut after_linear = true;
        for stage in &self.stages {
            match stage {
                Stage::Quadratic { c0, c1, c2 } => {
                    if !after_linear {
                        return Err(unsupported(
                            "a quadratic activation must follow a linear layer".into(),
                        ));
                    }
                    if ![c0, c1, c2].iter().all(|c| c.is_finite()) {
                        return Err(unsupported("non-finite activation coefficient".into()));
                    }
                    after_linear = false;
                }
                Stage::Dense {
                    d_in,
                    d_out,
                    weights,
                    bias,
                } => {
                    if *d_in != width || weights.len() != d_in * d_out || bias.len() != *d_out {
                        return Err(unsupported(format!(
                            "dense {d_in}→{d_out} after {width} features"
                        )));
                    }
                    width = *d_out;
                    after_linear = true;
                }
            }
        }
        Ok(())
    }

    /// Size of the output (the last stage's width).
    #[must_use]
    pub fn outputs(&self) -> usize {
        self.stages
            .iter()
            .rev()
            .find_map(|s| match s {
                Stage::Dense { d_out, .. } => Some(*d_out),
                Stage::Quadratic { .. } => None,
            })
            .unwrap_or(self.conv.filters() * self.conv.windows())
    }

    /// Slots the im2col layout and the widest layer need (the ring must have at least
    /// this many: `N ≥ 2·slots`).
    #[must_use]
    pub fn slots_needed(&self) -> usize {
        let wp = self.conv.windows().next_power_of_two();
        let fp = self.conv.filters().next_power_of_two();
        let dense = self.stages.iter().map(|s| match s {
            Stage::Dense { d_out, .. } => d_out.next_power_of_two(),
            Stage::Quadratic { .. } => 1,
        });
        dense
            .chain([self.conv.kernel_len() * wp, fp * wp])
            .max()
            .unwrap_or(1)
    }

    /// Multiplicative depth in latency mode: one level per linear layer and per quadratic
    /// activation with `c2 ≠ 0` (an affine one folds into the layer before it).
    #[must_use]
    pub fn depth(&self) -> u32 {
        let stages = self
            .stages
            .iter()
            .filter(|s| match s {
                Stage::Quadratic { c2, .. } => *c2 != 0.0,
                Stage::Dense { .. } => true,
            })
            .count();
        u32::try_from(stages + 1).unwrap_or(u32::MAX)
    }

    /// The plaintext forward pass (reference for the encrypted one).
    ///
    /// # Errors
    /// [`Error::Format`] for an image of the wrong size.
    pub fn forward(&self, image: &[f64]) -> Result<Vec<f64>> {
        let n: usize = self.conv.input.iter().product();
        if image.len() != n {
            return Err(bad_input(image.len(), n));
        }
        let (win, kk) = (self.conv.windows(), self.conv.kernel_len());
        let mut x = Vec::with_capacity(self.conv.filters() * win);
        for (kernel, b) in self.conv.weights.iter().zip(&self.conv.bias) {
            for w in 0..win {
                let s: f64 = (0..kk)
                    .map(|p| {
                        let v = image.get(self.conv.input_index(w, p)).copied();
                        v.unwrap_or(0.0) * kernel.get(p).copied().unwrap_or(0.0)
                    })
                    .sum();
                x.push(s + b);
            }
        }
        for stage in &self.stages {
            x = match stage {
                Stage::Quadratic { c0, c1, c2 } => {
                    x.iter().map(|v| c0 + c1 * v + c2 * v * v).collect()
                }
                Stage::Dense {
                    d_out,
                    weights,
                    bias,
                    ..
                } => {
                    let mut y = bias.clone();
                    for (xi, row) in x.iter().zip(weights.chunks(*d_out)) {
                        for (yj, wij) in y.iter_mut().zip(row) {
                            *yj += xi * wij;
                        }
                    }
                    y
                }
            };
        }
        Ok(x)
    }
}

/// The error for a network latency mode cannot run.
pub(crate) fn unsupported(reason: String) -> Error {
    Error::Format {
        what: "latency model",
        reason,
    }
}

/// The error for an input of the wrong size.
pub(crate) fn bad_input(found: usize, needed: usize) -> Error {
    Error::Format {
        what: "latency input",
        reason: format!("{found} values, the model takes {needed}"),
    }
}
