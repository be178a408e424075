//! [`AvgPool`]: average pooling over valid windows (new in fhez; the original had none).

use fhez_backend::Backend;
use fhez_erray::{Erray, PlainArray};
use serde::{Deserialize, Serialize};

use super::window::windows;
use super::{Backward, Forward, Layer, batch_of, first, one, sample_shape, with_batch};
use crate::graph::SingleLinear;
use crate::{Cost, Result, Tensor};

/// `y[o] = mean_k x[o·stride + k]` over every valid window (same window semantics as
/// [`CrossCorrelation`](super::CrossCorrelation)).
///
/// Encrypted: `windows` then a linear combination with weights `1/K` — no rotation, one level
/// (none when `K = 1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvgPool {
    /// Window shape (rank = per-sample input rank).
    pub kernel: Vec<usize>,
    /// Stride per dimension.
    pub stride: Vec<usize>,
}

impl AvgPool {
    fn inv_k(&self) -> f64 {
        let k: usize = self.kernel.iter().product();
        #[expect(clippy::cast_precision_loss, reason = "kernel sizes are small")]
        let k = k.max(1) as f64;
        1.0 / k
    }
}

impl AvgPool {
    /// The single-input lowering, every coefficient and bias multiplied by `scale`: input shape `(1, d…)` read as `(C = 1, d…)`, one diagonal
    /// transform; `None` when `x` is not single-input.
    ///
    /// # Errors
    /// As [`Erray::plan_avg_pool`](fhez_erray::Erray::plan_avg_pool).
    pub fn single_linear<B: Backend>(
        &self,
        x: &Erray<B>,
        scale: f64,
    ) -> Result<Option<SingleLinear>> {
        if !super::is_single_input(x) {
            return Ok(None);
        }
        let (transform, shape) = x.plan_avg_pool(&self.kernel, &self.stride, scale)?;
        Ok(Some(SingleLinear {
            transform,
            input_shape: x.shape().to_vec(),
            output_shape: shape.clone(),
            node_shape: shape,
        }))
    }
}

impl Layer for AvgPool {
    const KIND: &'static str = "avg_pool";

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
        let s = self.inv_k();
        for (o, _, i) in win.entries() {
            if let Some(v) = out.data_mut().get_mut(o) {
                *v += s * x.data().get(i).copied().unwrap_or(0.0);
            }
        }
        Ok(Forward {
            outputs: vec![out],
            cache: vec![Tensor::zeros(x.shape())],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?, first(cache)?);
        let win = windows(x.shape(), &self.kernel, &self.stride)?;
        g.expect_shape("avg_pool gradient", &win.out_shape)?;
        let mut dx = Tensor::zeros(x.shape());
        let s = self.inv_k();
        for (o, _, i) in win.entries() {
            if let Some(v) = dx.data_mut().get_mut(i) {
                *v += s * g.data().get(o).copied().unwrap_or(0.0);
            }
        }
        Ok(Backward {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        Cost::levels(u32::from(self.kernel.iter().product::<usize>() > 1))
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
        let w = PlainArray::full(vec![win.kernel_len, 1], self.inv_k())?;
        let mean = patches.matmul(&w)?;
        Ok(vec![mean.reshape(&with_batch(batch, &win.out_shape))?])
    }
}
