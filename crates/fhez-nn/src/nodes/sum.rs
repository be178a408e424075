//! [`Sum`]: the sum of every element of a sample.

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, batch_of, first, one, sample_shape};
use crate::{Cost, Result, Tensor};

/// `Σ x` over all elements (shape `[]`); backward broadcasts `g` to the input shape.
///
/// Encrypted (batch-in-slots): adds ciphertexts — no rotation, no level (the original's `Sum`
/// could not sum a `ReArray` at all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sum {}

impl Layer for Sum {
    const KIND: &'static str = "sum";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, _inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![Vec::new()])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        Ok(Forward {
            outputs: vec![Tensor::scalar(x.sum())],
            cache: vec![Tensor::zeros(x.shape())],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?.item(), first(cache)?);
        Ok(Backward {
            inputs: vec![x.map(|_| g)],
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        Cost::FREE
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        let x = one(inputs)?;
        let n: usize = sample_shape(x).iter().product();
        let flat = x.reshape(&[batch_of(x), n])?;
        Ok(vec![flat.sum_axis(1)?])
    }
}
