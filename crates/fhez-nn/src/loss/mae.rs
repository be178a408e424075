//! Mean absolute error.

use serde::{Deserialize, Serialize};

/// `L = mean|ŷ − y|`; `dL/dŷ = sign(ŷ − y)/n` (0 at equality), `dL/dy = −dL/dŷ`. Usable as a
/// graph node (the original's `MAE` had no signal parameter and could not be).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mae {}

super::loss_layer!(
    Mae,
    "mae",
    |p: &[f64], y: &[f64]| -> f64 {
        #[expect(
            clippy::cast_precision_loss,
            reason = "sample sizes are far below 2^52"
        )]
        let n = p.len().max(1) as f64;
        p.iter().zip(y).map(|(&a, &b)| (a - b).abs()).sum::<f64>() / n
    },
    |p: f64, y: f64, n: f64| -> (f64, f64) {
        let s = if p > y {
            1.0
        } else if p < y {
            -1.0
        } else {
            0.0
        };
        (s / n, -s / n)
    }
);
