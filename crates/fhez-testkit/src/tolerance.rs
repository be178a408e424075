//! Tolerance functions for [`backend_suite!`](crate::backend_suite), derived from a backend's
//! capabilities.

use fhez_backend::Caps;

/// For exact backends (`Plain`): `1e-12`.
#[must_use]
pub fn exact(_caps: &Caps) -> f64 {
    1e-12
}

/// For CKKS-like backends: `2^-(log_scale − 20)`, i.e. about 20 bits of the scale lost to
/// encoding/encryption noise, key switching and rescaling in the small suite programs
/// (values ≤ 1, depth ≤ 2, sums of up to 64 terms are covered by each case's scale factor).
#[must_use]
pub fn from_log_scale(caps: &Caps) -> f64 {
    if caps.log_scale > 0.0 {
        (-(caps.log_scale - 20.0)).exp2()
    } else {
        exact(caps)
    }
}
