//! Losses: graph nodes with two input ports — port 0 the prediction `ŷ`, port 1 the target
//! `y` (explicit, where the original depended on edge-insertion order) — and a scalar
//! output. They run on the client, after decryption. Training seeds each loss output's
//! gradient with 1 (the original seeded it with the loss value, scaling every gradient by
//! `L`).

mod cce;
mod mae;
mod mse;

pub use cce::CategoricalCrossEntropy;
pub use mae::Mae;
pub use mse::Mse;

use crate::nodes::{Backward, Forward};
use crate::{Result, Tensor};

/// Shared plumbing: checks shapes, applies `value` and `grad` (w.r.t. `ŷ`; the gradient
/// w.r.t. `y` is supplied by `grad_y`), scales by the upstream scalar gradient.
pub(crate) fn loss_forward(
    inputs: &[&Tensor],
    value: impl Fn(&[f64], &[f64]) -> f64,
) -> Result<Forward> {
    let (y_hat, y) = crate::nodes::two(inputs)?;
    y.expect_shape("loss target (same shape as prediction)", y_hat.shape())?;
    Ok(Forward {
        outputs: vec![Tensor::scalar(value(y_hat.data(), y.data()))],
        cache: vec![y_hat.clone(), y.clone()],
    })
}

/// Backward of a loss given per-element `(d/dŷ, d/dy)`.
pub(crate) fn loss_backward(
    grads: &[Tensor],
    cache: &[Tensor],
    local: impl Fn(f64, f64, f64) -> (f64, f64),
) -> Result<Backward> {
    let g = crate::nodes::first(grads)?.item();
    let [y_hat, y] = cache else {
        return Err(crate::Error::InputCount {
            expected: 2,
            found: cache.len(),
        });
    };
    #[expect(
        clippy::cast_precision_loss,
        reason = "sample sizes are far below 2^52"
    )]
    let n = y_hat.len().max(1) as f64;
    let pairs: Vec<(f64, f64)> = y_hat
        .data()
        .iter()
        .zip(y.data())
        .map(|(&p, &t)| local(p, t, n))
        .collect();
    let d_hat = Tensor::new(
        y_hat.shape().to_vec(),
        pairs.iter().map(|p| g * p.0).collect(),
    )?;
    let d_y = Tensor::new(y.shape().to_vec(), pairs.iter().map(|p| g * p.1).collect())?;
    Ok(Backward {
        inputs: vec![d_hat, d_y],
        params: Vec::new(),
    })
}

/// `[ŷ shape]` twice → `[]`.
pub(crate) fn loss_shapes(inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
    let (a, b) = crate::nodes::two(inputs)?;
    if a != b {
        return Err(crate::Error::ShapeMismatch {
            what: "loss target (same shape as prediction)",
            expected: a.to_vec(),
            found: b.to_vec(),
        });
    }
    Ok(vec![Vec::new()])
}

macro_rules! loss_layer {
    ($ty:ty, $kind:literal, $value:expr, $local:expr) => {
        impl crate::nodes::Layer for $ty {
            const KIND: &'static str = $kind;

            fn ports(&self) -> (usize, usize) {
                (2, 1)
            }

            fn out_shapes(&self, inputs: &[&[usize]]) -> crate::Result<Vec<Vec<usize>>> {
                crate::loss::loss_shapes(inputs)
            }

            fn forward(&self, inputs: &[&crate::Tensor]) -> crate::Result<crate::nodes::Forward> {
                crate::loss::loss_forward(inputs, $value)
            }

            fn backward(
                &self,
                grads: &[crate::Tensor],
                cache: &[crate::Tensor],
            ) -> crate::Result<crate::nodes::Backward> {
                crate::loss::loss_backward(grads, cache, $local)
            }

            fn cost(&self) -> crate::Cost {
                crate::Cost::CLIENT
            }

            fn forward_enc<B: fhez_backend::Backend>(
                &self,
                _inputs: &[&fhez_erray::Erray<B>],
            ) -> crate::Result<Vec<fhez_erray::Erray<B>>> {
                Err(crate::nodes::client_only($kind))
            }
        }
    };
}
pub(crate) use loss_layer;
