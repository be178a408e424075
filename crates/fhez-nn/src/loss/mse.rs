//! Mean squared error.

use serde::{Deserialize, Serialize};

/// `L = mean((y − ŷ)²)` over all elements; `dL/dŷ = 2(ŷ − y)/n`, `dL/dy = −dL/dŷ`. (The
/// original's backward broadcast one averaged value to every element.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mse {}

super::loss_layer!(
    Mse,
    "mse",
    |p: &[f64], y: &[f64]| -> f64 {
        #[expect(
            clippy::cast_precision_loss,
            reason = "sample sizes are far below 2^52"
        )]
        let n = p.len().max(1) as f64;
        p.iter()
            .zip(y)
            .map(|(&a, &b)| (b - a) * (b - a))
            .sum::<f64>()
            / n
    },
    |p: f64, y: f64, n: f64| -> (f64, f64) {
        let d = 2.0 * (p - y) / n;
        (d, -d)
    }
);
