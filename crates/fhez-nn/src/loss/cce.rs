//! Categorical cross-entropy.

use serde::{Deserialize, Serialize};

/// Clipping bound of `ŷ` (the original's `1e-7`).
pub const CCE_EPSILON: f64 = 1e-7;

/// `L = −Σ y·ln(clip(ŷ, ε, 1−ε))`; `dL/dŷ = −y/ŷ` inside the clip range and 0 where clipped
/// (the clip is flat there; the original used `−y/clip(ŷ)` everywhere), `dL/dy = −ln clip(ŷ)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoricalCrossEntropy {}

fn clip(p: f64) -> f64 {
    p.clamp(CCE_EPSILON, 1.0 - CCE_EPSILON)
}

super::loss_layer!(
    CategoricalCrossEntropy,
    "cce",
    |p: &[f64], y: &[f64]| -> f64 {
        -p.iter()
            .zip(y)
            .map(|(&a, &b)| b * clip(a).ln())
            .sum::<f64>()
    },
    |p: f64, y: f64, _n: f64| -> (f64, f64) {
        let c = clip(p);
        let dp = if c == p { -y / p } else { 0.0 };
        (dp, -c.ln())
    }
);
