//! The level-cost rules of [`Backend`](crate::Backend), as functions every implementation
//! (Plain, Sim and the CKKS engine) calls so they cannot drift apart.

use crate::{Error, Result};

/// Largest magnitude of a free integer scalar: `2^20`.
pub const FREE_SCALAR_BOUND: f64 = 1_048_576.0;

/// Whether `mul_scalar(_, s)` is free (consumes no level): `s` is an integer with
/// `|s| ≤ 2^20`. CKKS multiplies such constants into the RNS residues without scaling;
/// every other scalar is encoded at the scale and costs one rescale.
#[must_use]
pub fn is_free_scalar(s: f64) -> bool {
    s.is_finite() && s.fract() == 0.0 && s.abs() <= FREE_SCALAR_BOUND
}

/// Level after an operation that consumes `needed` levels from an operand at `level`.
///
/// # Errors
/// [`Error::LevelExhausted`] when `level < needed`.
pub fn consume(op: &'static str, level: u32, needed: u32) -> Result<u32> {
    level.checked_sub(needed).ok_or(Error::LevelExhausted {
        op,
        needed,
        available: level,
    })
}

/// Levels consumed by `mul_scalar(_, s)`: 0 for a free scalar, 1 otherwise.
#[must_use]
pub fn scalar_cost(s: f64) -> u32 {
    u32::from(!is_free_scalar(s))
}

/// Checks a plaintext vector: at most `slots` values, all finite.
///
/// # Errors
/// [`Error::TooManyValues`], [`Error::NonFinite`].
pub fn check_values(values: &[f64], slots: usize) -> Result<()> {
    if values.len() > slots {
        return Err(Error::TooManyValues {
            len: values.len(),
            slots,
        });
    }
    check_finite(values)
}

/// Checks that every value is finite.
///
/// # Errors
/// [`Error::NonFinite`] with the first offending index.
pub fn check_finite(values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { index }),
        None => Ok(()),
    }
}
