//! [`Sigmoid`]: the original's cubic sigmoid approximation (Chen et al., eprint 2018/462).

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, first, one};
use crate::cost::poly_depth;
use crate::{Cost, Result, Tensor};

/// Ascending coefficients of `σ_a(x) = 0.5 + 0.197x − 0.004x³`.
pub const SIGMOID_COEFFS: [f64; 4] = [0.5, 0.197, 0.0, -0.004];

/// `σ_a(x) = 0.5 + 0.197x − 0.004x³`, golden range −4…4; `dσ_a/dx = 0.197 − 0.012x²`. No
/// parameters.
///
/// Encrypted: `Erray::polyval` of degree 3, depth `⌈log2 4⌉ = 2` (the original declared 5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sigmoid {}

/// The polynomial (shared with the RNN cell).
pub(crate) fn sigmoid_approx(x: f64) -> f64 {
    0.5 + 0.197 * x - 0.004 * x * x * x
}

/// Its derivative.
pub(crate) fn sigmoid_approx_grad(x: f64) -> f64 {
    0.197 - 0.012 * x * x
}

impl Layer for Sigmoid {
    const KIND: &'static str = "sigmoid";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![one(inputs)?.to_vec()])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        Ok(Forward {
            outputs: vec![x.map(sigmoid_approx)],
            cache: vec![x.clone()],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?, first(cache)?);
        Ok(Backward {
            inputs: vec![x.zip_map(g, |v, gv| gv * sigmoid_approx_grad(v))?],
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        Cost::levels(poly_depth(3))
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        Ok(vec![one(inputs)?.polyval(&SIGMOID_COEFFS)?])
    }
}
