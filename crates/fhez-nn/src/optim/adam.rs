//! Adam (Kingma & Ba) exactly as the original specifies it.

use serde::{Deserialize, Serialize};

use super::ParamState;
use crate::Tensor;

/// Adam with the original's defaults `α = 0.001, β1 = 0.9, β2 = 0.999, ε = 1e−8`:
/// `m_t = β1·m + (1−β1)·g`, `v_t = β2·v + (1−β2)·g²`, `m̂ = m_t/(1−β1^t)`,
/// `v̂ = v_t/(1−β2^t)`, `p ← p − α·m̂/(√v̂ + ε)`, with `t` counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adam {
    /// Learning rate α.
    pub alpha: f64,
    /// First-moment decay β1.
    pub beta_1: f64,
    /// Second-moment decay β2.
    pub beta_2: f64,
    /// ε.
    pub epsilon: f64,
}

impl Default for Adam {
    fn default() -> Self {
        Self {
            alpha: 0.001,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        }
    }
}

impl Adam {
    /// One step (shapes checked by the caller).
    pub fn step(&self, param: &mut Tensor, grad: &Tensor, state: &mut ParamState) {
        let n = param.len();
        if state.m.len() != n || state.v.len() != n {
            state.m = vec![0.0; n];
            state.v = vec![0.0; n];
            state.t = 0;
        }
        state.t += 1;
        let t = i32::try_from(state.t).unwrap_or(i32::MAX);
        let (c1, c2) = (1.0 - self.beta_1.powi(t), 1.0 - self.beta_2.powi(t));
        let moments = state.m.iter_mut().zip(state.v.iter_mut());
        for ((p, &g), (m, v)) in param.data_mut().iter_mut().zip(grad.data()).zip(moments) {
            *m = self.beta_1 * *m + (1.0 - self.beta_1) * g;
            *v = self.beta_2 * *v + (1.0 - self.beta_2) * g * g;
            let (m_hat, v_hat) = (*m / c1, *v / c2);
            *p -= self.alpha * m_hat / (v_hat.sqrt() + self.epsilon);
        }
    }
}
