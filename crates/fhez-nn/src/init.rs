//! Seeded weight initialisation.

use rand_core::RngCore;

use crate::Tensor;

/// A uniform draw from `[0, 1)` with 53 random bits.
pub fn unit(rng: &mut impl RngCore) -> f64 {
    // 53-bit mantissa: exact conversion.
    let bits = rng.next_u64() >> 11;
    #[expect(clippy::cast_precision_loss, reason = "53-bit value, exact in f64")]
    let v = bits as f64;
    v * (1.0 / 9_007_199_254_740_992.0)
}

/// A tensor of `shape` uniform on `[−limit, limit)`.
pub fn uniform(rng: &mut impl RngCore, shape: &[usize], limit: f64) -> Tensor {
    Tensor::from_fn(shape, |_| (2.0 * unit(rng) - 1.0) * limit)
}

/// Glorot/Xavier uniform limit `sqrt(6 / (fan_in + fan_out))`.
#[must_use]
pub fn glorot(fan_in: usize, fan_out: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "layer sizes are far below 2^52")]
    let fans = (fan_in + fan_out).max(1) as f64;
    (6.0 / fans).sqrt()
}
