//! [`Linear`]: the original's affine activation `m·x + c` with scalar, learnable `m` and `c`.

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, check_param, first, one};
use crate::{Cost, Result, Tensor};

/// `y = m·x + c` elementwise; `dfdx = m·g`, `dfdm = Σ x·g`, `dfdc = Σ g`. Defaults `m = 1`,
/// `c = 0`. Each instance has its own optimizer state (the original's default `Adam()`
/// argument was shared by every `Linear`).
///
/// Encrypted: one scalar multiplication (free if `m` is a small integer) and one addition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linear {
    /// Slope (shape `[]`).
    pub m: Tensor,
    /// Intercept (shape `[]`).
    pub c: Tensor,
}

impl Default for Linear {
    fn default() -> Self {
        Self {
            m: Tensor::scalar(1.0),
            c: Tensor::scalar(0.0),
        }
    }
}

impl Layer for Linear {
    const KIND: &'static str = "linear";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![one(inputs)?.to_vec()])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        let (m, c) = (self.m.item(), self.c.item());
        Ok(Forward {
            outputs: vec![x.map(|v| m * v + c)],
            cache: vec![x.clone()],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?, first(cache)?);
        let m = self.m.item();
        let dm: f64 = x.data().iter().zip(g.data()).map(|(a, b)| a * b).sum();
        Ok(Backward {
            inputs: vec![g.map(|v| m * v)],
            params: vec![Tensor::scalar(dm), Tensor::scalar(g.sum())],
        })
    }

    fn params(&self) -> Vec<(&'static str, &Tensor)> {
        vec![("m", &self.m), ("c", &self.c)]
    }

    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.m, &mut self.c]
    }

    fn cost(&self) -> Cost {
        Cost::levels(u32::from(!fhez_backend::is_free_scalar(self.m.item())))
    }

    fn validate(&self, node: &str) -> Result<()> {
        check_param(node, "m", &self.m, &[])?;
        check_param(node, "c", &self.c, &[])
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        let y = one(inputs)?.mul_scalar(self.m.item())?;
        Ok(vec![y.add_scalar(self.c.item())?])
    }
}
