//! [`Poly`]: an elementwise polynomial activation with fixed coefficients of any degree (the
//! form an imported non-polynomial activation is replaced by).

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, first, one};
use crate::cost::poly_depth;
use crate::{Cost, Error, Result, Tensor};

/// Highest degree a [`Poly`] accepts (depth `⌈log2 32⌉ = 5`, already deeper than most
/// parameter sets leave for one activation).
pub const MAX_POLY_DEGREE: usize = 31;

/// `y = Σ_i coeffs[i] · x^i` elementwise (ascending coefficients); `dy/dx = Σ_i i·coeffs[i]·x^(i−1)`.
/// No trainable parameters.
///
/// Encrypted: `Erray::polyval`, depth `⌈log2(d + 1)⌉` for degree `d`. A degree-2 `Poly`
/// right after a single-input linear map is folded into it like a quadratic [`Relu`](super::Relu).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Poly {
    /// Ascending coefficients `c_0, c_1, …` (at least one, at most `MAX_POLY_DEGREE + 1`).
    pub coeffs: Vec<f64>,
}

impl Poly {
    /// The degree (index of the last non-zero coefficient; 0 for a constant).
    #[must_use]
    pub fn degree(&self) -> usize {
        self.coeffs.iter().rposition(|&c| c != 0.0).unwrap_or(0)
    }

    /// The value at `x` (Horner).
    #[must_use]
    pub fn eval(&self, x: f64) -> f64 {
        self.coeffs.iter().rev().fold(0.0, |acc, &c| acc * x + c)
    }

    /// The derivative at `x`.
    #[must_use]
    pub fn derivative(&self, x: f64) -> f64 {
        let mut acc = 0.0;
        for (i, &c) in self.coeffs.iter().enumerate().skip(1).rev() {
            #[expect(clippy::cast_precision_loss, reason = "degrees are at most 31")]
            let i = i as f64;
            acc = acc * x + i * c;
        }
        acc
    }
}

impl Layer for Poly {
    const KIND: &'static str = "poly";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![one(inputs)?.to_vec()])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        Ok(Forward {
            outputs: vec![x.map(|v| self.eval(v))],
            cache: vec![x.clone()],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?, first(cache)?);
        Ok(Backward {
            inputs: vec![x.zip_map(g, |v, gv| gv * self.derivative(v))?],
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        let d = u32::try_from(self.degree()).unwrap_or(u32::MAX);
        Cost::levels(poly_depth(d))
    }

    fn validate(&self, node: &str) -> Result<()> {
        let _ = node;
        crate::limits::check("poly coefficients", self.coeffs.len(), MAX_POLY_DEGREE + 1)?;
        if self.coeffs.is_empty() {
            return Err(Error::InvalidConfig {
                field: "poly coeffs",
                value: 0.0,
                reason: "needs at least one coefficient",
            });
        }
        match self.coeffs.iter().find(|c| !c.is_finite()) {
            Some(&c) => Err(Error::InvalidConfig {
                field: "poly coeffs",
                value: c,
                reason: "coefficients must be finite",
            }),
            None => Ok(()),
        }
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        Ok(vec![one(inputs)?.polyval(&self.coeffs)?])
    }
}
