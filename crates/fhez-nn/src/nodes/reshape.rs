//! [`Reshape`]: a new per-sample shape for the same row-major data (an ONNX `Reshape` /
//! `Flatten` between layers that read the shape).

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, batch_of, first, one, with_batch};
use crate::{Cost, Error, Result, Tensor, limits};

/// `y = x` viewed with per-sample shape `shape` (same element count, row-major order kept).
/// Gradient: `g` viewed with the input's shape.
///
/// Encrypted: free in both packings (`Erray::reshape` keeps the batch axis and the
/// single-input period).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reshape {
    /// The per-sample output shape.
    pub shape: Vec<usize>,
}

impl Reshape {
    fn check(&self, input: &[usize]) -> Result<()> {
        let (a, b) = (
            input.iter().fold(1usize, |p, &d| p.saturating_mul(d)),
            self.shape.iter().fold(1usize, |p, &d| p.saturating_mul(d)),
        );
        if a == b {
            Ok(())
        } else {
            Err(Error::ShapeMismatch {
                what: "reshape (element counts must agree)",
                expected: self.shape.clone(),
                found: input.to_vec(),
            })
        }
    }
}

impl Layer for Reshape {
    const KIND: &'static str = "reshape";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        self.check(one(inputs)?)?;
        Ok(vec![self.shape.clone()])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        self.check(x.shape())?;
        Ok(Forward {
            outputs: vec![x.reshape(&self.shape)?],
            cache: vec![Tensor::zeros(x.shape())],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?, first(cache)?);
        Ok(Backward {
            inputs: vec![g.reshape(x.shape())?],
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        Cost::FREE
    }

    fn validate(&self, node: &str) -> Result<()> {
        let _ = node;
        limits::check_shape(&self.shape)
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        let x = one(inputs)?;
        Ok(vec![x.reshape(&with_batch(batch_of(x), &self.shape))?])
    }
}
