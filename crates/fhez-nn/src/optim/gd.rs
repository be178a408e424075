//! Plain gradient descent.

use serde::{Deserialize, Serialize};

use crate::Tensor;

/// `p ← p − lr·g`. The original's `GD` was an empty placeholder; the default learning rate
/// is the original's Adam `α = 0.001`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradientDescent {
    /// Learning rate.
    pub lr: f64,
}

impl Default for GradientDescent {
    fn default() -> Self {
        Self { lr: 0.001 }
    }
}

impl GradientDescent {
    /// One step (shapes checked by the caller).
    pub fn step(&self, param: &mut Tensor, grad: &Tensor) {
        for (p, &g) in param.data_mut().iter_mut().zip(grad.data()) {
            *p -= self.lr * g;
        }
    }
}
