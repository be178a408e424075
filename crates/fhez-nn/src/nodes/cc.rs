//! [`CrossCorrelation`]: the original's `CC` (n-d cross-correlation with stride, "valid"
//! windows in `windex` order), with the window sums done inside the node.

use fhez_backend::Backend;
use fhez_erray::{Erray, PlainArray};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::window::windows;
use super::{
    Backward, Forward, Layer, batch_of, check_param, first, one, sample_shape, with_batch,
};
use crate::graph::SingleLinear;
use crate::{Cost, Error, Result, Tensor, init};

/// Configuration of a [`CrossCorrelation`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossCorrelationConfig {
    /// Kernel shape; its rank equals the per-sample input rank.
    pub kernel: Vec<usize>,
    /// Stride per dimension (the original's default is all ones).
    pub stride: Vec<usize>,
}

impl CrossCorrelationConfig {
    /// Weights uniform on `±sqrt(3/K)` (variance `1/K`, `K` = kernel size), zero bias. The
    /// original used `U[0, 1/K)`.
    pub fn init(self, rng: &mut impl RngCore) -> CrossCorrelation {
        let k: usize = self.kernel.iter().product();
        #[expect(clippy::cast_precision_loss, reason = "kernel sizes are small")]
        let limit = (3.0 / k.max(1) as f64).sqrt();
        CrossCorrelation {
            weights: init::uniform(rng, &self.kernel, limit),
            kernel: self.kernel,
            stride: self.stride,
            bias: Tensor::scalar(0.0),
        }
    }
}

/// `s[o] = Σ_k w[k] · x[o·stride + k] + b` over every valid window `o` (row-major over the
/// output grid `(o_1, …, o_k)`, `o_d = (D_d − F_d)/s_d + 1`).
///
/// **Fixed from the original**: the original produced masked products and left
/// the per-window sums to `Dequeue → Sum → Enqueue`, which added the bias to every element
/// (`N·b` per window), fed the CC the *sum* of per-window gradients (mixing windows in
/// `dfdw`), and computed `dfdb = W·Σg`. Here the bias is added once per window and
/// `dfdw[k] = Σ_o g[o]·x[o·s + k]`, `dfdb = Σ_o g[o]`, `dfdx` scatters `g[o]·w` back.
///
/// Encrypted (batch-in-slots): `windows` (free) then one linear combination per window —
/// no rotation, one level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossCorrelation {
    /// Kernel shape.
    pub kernel: Vec<usize>,
    /// Stride per dimension.
    pub stride: Vec<usize>,
    /// Kernel weights (shape `kernel`).
    pub weights: Tensor,
    /// Scalar bias (shape `[]`).
    pub bias: Tensor,
}

impl CrossCorrelation {
    /// The single-input lowering, every coefficient and bias multiplied by `scale`: input shape `(1, d…)` read as `(C = 1, d…)`, one filter,
    /// one diagonal transform; `None` when `x` is not single-input.
    ///
    /// # Errors
    /// As [`Erray::plan_conv`](fhez_erray::Erray::plan_conv).
    pub fn single_linear<B: Backend>(
        &self,
        x: &Erray<B>,
        scale: f64,
    ) -> Result<Option<SingleLinear>> {
        if !super::is_single_input(x) {
            return Ok(None);
        }
        let mut wshape = vec![1, 1];
        wshape.extend(&self.kernel);
        let w = self.weights.reshape(&wshape)?.to_plain()?;
        let bias = PlainArray::from_vec(vec![self.bias.item()]);
        let padding = vec![0; self.kernel.len()];
        let (transform, shape) = x.plan_conv(&w, Some(&bias), &self.stride, &padding, scale)?;
        Ok(Some(SingleLinear {
            transform,
            input_shape: x.shape().to_vec(),
            output_shape: shape.clone(),
            node_shape: shape,
        }))
    }
}

impl Layer for CrossCorrelation {
    const KIND: &'static str = "cc";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![
            windows(one(inputs)?, &self.kernel, &self.stride)?.out_shape,
        ])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        let win = windows(x.shape(), &self.kernel, &self.stride)?;
        let mut out = Tensor::zeros(&win.out_shape);
        let b = self.bias.item();
        for v in out.data_mut() {
            *v = b;
        }
        let (xd, wd) = (x.data(), self.weights.data());
        for (o, k, i) in win.entries() {
            let term = xd.get(i).copied().unwrap_or(0.0) * wd.get(k).copied().unwrap_or(0.0);
            if let Some(v) = out.data_mut().get_mut(o) {
                *v += term;
            }
        }
        Ok(Forward {
            outputs: vec![out],
            cache: vec![x.clone()],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?, first(cache)?);
        let win = windows(x.shape(), &self.kernel, &self.stride)?;
        g.expect_shape("cc gradient", &win.out_shape)?;
        let mut dx = Tensor::zeros(x.shape());
        let mut dw = Tensor::zeros(&self.kernel);
        let (xd, wd, gd) = (x.data(), self.weights.data(), g.data());
        for (o, k, i) in win.entries() {
            let go = gd.get(o).copied().unwrap_or(0.0);
            if let Some(v) = dx.data_mut().get_mut(i) {
                *v += go * wd.get(k).copied().unwrap_or(0.0);
            }
            if let Some(v) = dw.data_mut().get_mut(k) {
                *v += go * xd.get(i).copied().unwrap_or(0.0);
            }
        }
        Ok(Backward {
            inputs: vec![dx],
            params: vec![dw, Tensor::scalar(g.sum())],
        })
    }

    fn params(&self) -> Vec<(&'static str, &Tensor)> {
        vec![("weights", &self.weights), ("bias", &self.bias)]
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.weights, &mut self.bias]
    }

    fn cost(&self) -> Cost {
        Cost::levels(1)
    }

    fn validate(&self, node: &str) -> Result<()> {
        if self.stride.len() != self.kernel.len()
            || self.kernel.contains(&0)
            || self.stride.contains(&0)
        {
            return Err(Error::InvalidConfig {
                field: "cc stride",
                value: 0.0,
                reason: "stride needs one positive entry per kernel dimension",
            });
        }
        check_param(node, "weights", &self.weights, &self.kernel)?;
        check_param(node, "bias", &self.bias, &[])
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        let x = one(inputs)?;
        if let Some(l) = self.single_linear(x, 1.0)? {
            return Ok(vec![l.apply(x, &fhez_erray::RotationTable::exact())?]);
        }
        let win = windows(sample_shape(x), &self.kernel, &self.stride)?;
        let batch = batch_of(x);
        let patches = x.windows(&self.kernel, &self.stride)?.reshape(&[
            batch,
            win.count(),
            win.kernel_len,
        ])?;
        let w = self.weights.reshape(&[win.kernel_len, 1])?.to_plain()?;
        let sums = patches
            .matmul(&w)?
            .reshape(&with_batch(batch, &win.out_shape))?;
        Ok(vec![sums.add_scalar(self.bias.item())?])
    }
}
