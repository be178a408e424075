//! [`Square`]: the activation `x²` (CryptoNets; the TenSEAL encrypted-MNIST tutorial network).

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer, first, one};
use crate::{Cost, Result, Tensor};

/// `y = x²` elementwise; `dy/dx = 2x`. No parameters.
///
/// Encrypted: one ct×ct product, one level. When its only consumer is a
/// [`Dense`](super::Dense) layer on batch-in-slots ciphertexts, the encrypted traversal
/// ([`Graph::forward_enc`](crate::Graph::forward_enc)) defers the square into the layer
/// (`Erray::mul_matmul`, lazy relinearization): the same levels, and one key switch per
/// output of the layer instead of one per input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Square {}

impl Layer for Square {
    const KIND: &'static str = "square";

    fn ports(&self) -> (usize, usize) {
        (1, 1)
    }

    fn out_shapes(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![one(inputs)?.to_vec()])
    }

    fn forward(&self, inputs: &[&Tensor]) -> Result<Forward> {
        let x = one(inputs)?;
        Ok(Forward {
            outputs: vec![x.map(|v| v * v)],
            cache: vec![x.clone()],
        })
    }

    fn backward(&self, grads: &[Tensor], cache: &[Tensor]) -> Result<Backward> {
        let (g, x) = (first(grads)?, first(cache)?);
        Ok(Backward {
            inputs: vec![x.zip_map(g, |v, gv| 2.0 * v * gv)?],
            params: Vec::new(),
        })
    }

    fn cost(&self) -> Cost {
        Cost::levels(1)
    }

    fn forward_enc<B: Backend>(&self, inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        let x = one(inputs)?;
        Ok(vec![x.mul(x)?])
    }
}
