//! [`Argmax`]: client-side one-hot of the largest element.

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, client_only, first, one};
use crate::{Cost, Result, Tensor};

/// One-hot vector of the (first) largest element. Piecewise constant, so its gradient is 0
/// (the original passed `g` through unchanged; fhez returns the true derivative, which the
/// finite-difference check confirms). Client only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Argmax {}

impl Layer for Argmax {
    const KIND: &'static str = "argmax";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![one(inputs)?.to_vec()])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        let k = x.argmax();
        Ok(Forward {
            outputs: vec![Tensor::from_fn(x.shape(), |i| f64::from(u8::from(i == k)))],
            cache: vec![Tensor::zeros(x.shape())],
        })
    }

    fn backward(&self, _grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        Ok(Backward {
            inputs: vec![first(cache)?.clone()],
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
