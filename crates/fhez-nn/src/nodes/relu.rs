//! [`Relu`]: the original's quadratic ReLU approximation with a learnable range `q`.

use std::f64::consts::PI;

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, check_param, first, one};
use crate::cost::poly_depth;
use crate::{Cost, Error, Result, Tensor};

/// `R_a(x) = q/(3π) + x/2 + 4/(3πq)·x²` (Ali et al.), accurate for `−q < x < q`.
///
/// Gradients: `dR/dx = 1/2 + 8x/(3πq)`, `dR/dq = 1/(3π) − 4x²/(3πq²)`. **Fixed from the
/// original**: the `q` gradient is reduced over the elements (`Σ g·dR/dq`), so `q`
/// stays a scalar; the original kept it per element and `q` became a vector after the first
/// update.
///
/// Encrypted: `Erray::polyval` of the degree-2 polynomial, depth `⌈log2 3⌉ = 2` (x² costs one
/// level, its non-integer coefficient a second; the original's ReSeal used the same 2 levels
/// while declaring a cost of 4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relu {
    /// The range `q` (shape `[]`); the prefabs use 10, the class default is 1.
    pub q: Tensor,
}

impl Default for Relu {
    fn default() -> Self {
        Self {
            q: Tensor::scalar(1.0),
        }
    }
}

impl Relu {
    /// A ReLU approximation with range `q`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `q = 0` or non-finite.
    pub fn new(q: f64) -> Result<Self> {
        let r = Self {
            q: Tensor::scalar(q),
        };
        r.validate("relu")?;
        Ok(r)
    }

    /// Ascending coefficients `[q/(3π), 1/2, 4/(3πq)]`.
    #[must_use]
    pub fn coefficients(&self) -> [f64; 3] {
        let q = self.q.item();
        [q / (3.0 * PI), 0.5, 4.0 / (3.0 * PI * q)]
    }

    /// Local `dR/dx` (the original's `local_dfdx`).
    #[must_use]
    pub fn local_dfdx(x: f64, q: f64) -> f64 {
        0.5 + 8.0 * x / (3.0 * PI * q)
    }

    /// Local `dR/dq` (the original's `local_dfdq`).
    #[must_use]
    pub fn local_dfdq(x: f64, q: f64) -> f64 {
        1.0 / (3.0 * PI) - 4.0 * x * x / (3.0 * PI * q * q)
    }
}

impl Layer for Relu {
    const KIND: &'static str = "relu";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![one(inputs)?.to_vec()])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        let [c0, c1, c2] = self.coefficients();
        Ok(Forward {
            outputs: vec![x.map(|v| c0 + c1 * v + c2 * v * v)],
            cache: vec![x.clone()],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?, first(cache)?);
        let q = self.q.item();
        let dx = x.zip_map(g, |v, gv| gv * Self::local_dfdx(v, q))?;
        let dq: f64 = x
            .data()
            .iter()
            .zip(g.data())
            .map(|(&v, &gv)| gv * Self::local_dfdq(v, q))
            .sum();
        Ok(Backward {
            inputs: vec![dx],
            params: vec![Tensor::scalar(dq)],
        })
    }

    fn params(&self) -> Vec<(&'static str, &Tensor)> {
        vec![("q", &self.q)]
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.q]
    }

    fn cost(&self) -> Cost {
        Cost::levels(poly_depth(2))
    }

    fn validate(&self, node: &str) -> Result<()> {
        check_param(node, "q", &self.q, &[])?;
        let q = self.q.item();
        if q == 0.0 || !q.is_finite() {
            return Err(Error::InvalidConfig {
                field: "relu q",
                value: q,
                reason: "q must be finite and non-zero",
            });
        }
        Ok(())
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        Ok(vec![one(inputs)?.polyval(&self.coefficients())?])
    }
}
