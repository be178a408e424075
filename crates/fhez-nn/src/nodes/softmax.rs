//! [`Softmax`]: client-side normalised exponential.

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, client_only, first, one};
use crate::{Cost, Result, Tensor};

/// `p = exp(x − max x) / Σ exp(x − max x)` (the original had no max subtraction and
/// overflowed; it added `1e-8` inside the exponent, which cancels). Backward is the full
/// Jacobian-vector product `dx_j = p_j·(g_j − Σ_i p_i g_i)`. Client only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Softmax {}

impl Layer for Softmax {
    const KIND: &'static str = "softmax";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![one(inputs)?.to_vec()])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        let max = x.data().iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e = x.map(|v| (v - max).exp());
        let total = e.sum();
        let p = e.map(|v| v / total);
        Ok(Forward {
            outputs: vec![p.clone()],
            cache: vec![p],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, p) = (first(grads)?, first(cache)?);
        let dot: f64 = p.data().iter().zip(g.data()).map(|(a, b)| a * b).sum();
        Ok(Backward {
            inputs: vec![p.zip_map(g, |pj, gj| pj * (gj - dot))?],
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        Cost::CLIENT
    }

    fn forward_enc<B: Backend>(&self, _inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        Err(client_only(Self::KIND))
    }
}
