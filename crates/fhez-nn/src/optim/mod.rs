//! Optimizers with the functional per-parameter contract
//! `step(&self, param, grad, state)`: the optimizer holds hyperparameters only; the state
//! (one [`ParamState`] per parameter tensor) belongs to the caller, so no two nodes can share
//! moment estimates (the original's shared default `Adam()` in `Linear`).

mod adam;
mod gd;

pub use adam::Adam;
pub use gd::GradientDescent;

use serde::{Deserialize, Serialize};

use crate::{Result, Tensor};

/// Per-parameter optimizer state (Adam moments and step count; unused by plain descent).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamState {
    /// First moment `m`.
    pub m: Vec<f64>,
    /// Second moment `v`.
    pub v: Vec<f64>,
    /// Steps taken (`t`, counted from 1 after the first step).
    pub t: u64,
}

/// The optimizers fhez ships. Serialisable (hyperparameters only).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Optimizer {
    /// See [`Adam`].
    Adam(Adam),
    /// See [`GradientDescent`].
    Gd(GradientDescent),
}

impl Default for Optimizer {
    /// `Adam` with the original's defaults (its `DefaultOptimiser`).
    fn default() -> Self {
        Self::Adam(Adam::default())
    }
}

impl Optimizer {
    /// Applies one (already averaged) gradient to `param`, updating `state`.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] when `grad` and `param` differ in shape.
    pub fn step(&self, param: &mut Tensor, grad: &Tensor, state: &mut ParamState) -> Result<()> {
        grad.expect_shape("gradient vs parameter", param.shape())?;
        match self {
            Self::Adam(a) => a.step(param, grad, state),
            Self::Gd(g) => g.step(param, grad),
        }
        Ok(())
    }
}
