//! [`Input`]: a graph input (the original's `IO`).

use fhez_backend::Backend;
use fhez_erray::Erray;
use serde::{Deserialize, Serialize};

use super::{Backward, Forward, Layer};
use crate::{Cost, Error, Result, Tensor};

/// A graph input with a declared per-sample shape. It has no input ports; traversals seed
/// its output with the sample (or, on ciphertexts, with the client's encrypted batch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Per-sample shape (`[]` for a scalar).
    pub shape: Vec<usize>,
}

impl Input {
    /// An input of this per-sample shape.
    #[must_use]
    pub fn new(shape: &[usize]) -> Self {
        Self {
            shape: shape.to_vec(),
        }
    }
}

impl Layer for Input {
    const KIND: &'static str = "input";

    fn ports(&self) -> (usize, usize) {
        (0, 1)
    }

    fn out_shapes(&self, _inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>> {
        Ok(vec![self.shape.clone()])
    }

    fn forward(&self, _inputs: &[&Tensor]) -> Result<Forward> {
        Err(Error::InputCount {
            expected: 1,
            found: 0,
        })
    }

    fn backward(&self, _grads: &[Tensor], _cache: &[Tensor]) -> Result<Backward> {
        Ok(Backward::default())
    }

    fn cost(&self) -> Cost {
        Cost::FREE
    }

    fn forward_enc<B: Backend>(&self, _inputs: &[&Erray<B>]) -> Result<Vec<Erray<B>>> {
        Err(Error::InputCount {
            expected: 1,
            found: 0,
        })
    }
}
