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

/// The accounting of one output of a linear combination (see
/// [`Backend::linear_combination`](crate::Backend::linear_combination)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CombinationOutput {
    /// Level of the result.
    pub level: u32,
    /// Terms with a non-zero weight (0: the result is `0 · cts_0`).
    pub kept: usize,
    /// Whether some kept weight is not a [free scalar](is_free_scalar), so the result was
    /// rescaled once.
    pub rescaled: bool,
}

/// Checks the shape of a multi-output combination: at least one input, at least one row,
/// and every row as long as the inputs.
///
/// # Errors
/// [`Error::LengthMismatch`] naming `op`.
pub fn check_rows(op: &'static str, inputs: usize, rows: &[Vec<f64>]) -> Result<()> {
    if inputs == 0 || rows.is_empty() {
        return Err(Error::LengthMismatch {
            op,
            expected: 1,
            found: 0,
        });
    }
    match rows.iter().find(|r| r.len() != inputs) {
        Some(row) => Err(Error::LengthMismatch {
            op,
            expected: inputs,
            found: row.len(),
        }),
        None => Ok(()),
    }
}

/// The level rule of one linear combination of operands at `levels` with `weights` (equal
/// lengths, at least one): the result level is `min_i(levels_i − c_i)` over the non-zero
/// weights, `c_i` = [`scalar_cost`]; with every weight 0 it is `levels_0`. Checks and errors
/// come in the order of the default implementation (`mul_scalar` per kept term), so every
/// backend fails identically.
///
/// # Errors
/// [`Error::NonFinite`], [`Error::LevelExhausted`] (as `mul_scalar`), [`Error::LengthMismatch`]
/// for empty or unequal slices.
pub fn combination_output(levels: &[u32], weights: &[f64]) -> Result<CombinationOutput> {
    if levels.len() != weights.len() || levels.is_empty() {
        return Err(Error::LengthMismatch {
            op: "linear_combination",
            expected: weights.len().max(1),
            found: levels.len(),
        });
    }
    let mut out = CombinationOutput {
        level: u32::MAX,
        kept: 0,
        rescaled: false,
    };
    for (&level, &w) in levels.iter().zip(weights) {
        if w == 0.0 {
            continue;
        }
        check_finite(&[w])?;
        let cost = scalar_cost(w);
        out.level = out.level.min(consume("mul_scalar", level, cost)?);
        out.kept += 1;
        out.rescaled |= cost == 1;
    }
    if out.kept == 0 {
        out.level = levels.first().copied().unwrap_or(0);
    }
    Ok(out)
}

/// Levels of the products `a_i ⊙ b_i` of
/// [`Backend::product_combinations`](crate::Backend::product_combinations): each is
/// `min(level(a_i), level(b_i)) − 1`, checked in order.
///
/// # Errors
/// [`Error::LevelExhausted`] (as `mul`) for a pair whose aligned level is 0.
pub fn product_levels(pairs: &[(u32, u32)]) -> Result<Vec<u32>> {
    pairs
        .iter()
        .map(|&(a, b)| consume("mul", a.min(b), 1))
        .collect()
}

/// Checks the level of a plaintext to encode for ciphertexts at `level` on a backend whose
/// fresh level is `max_level` (see [`Backend::encode_plain`](crate::Backend::encode_plain)).
///
/// # Errors
/// [`Error::LevelExhausted`] for level 0; [`Error::LevelMismatch`] above `max_level`.
pub fn check_plain_level(level: u32, max_level: u32) -> Result<()> {
    if level > max_level {
        return Err(Error::LevelMismatch {
            op: "encode_plain",
            expected: max_level,
            found: level,
        });
    }
    consume("encode_plain", level, 1).map(|_| ())
}

/// The result level of [`Backend::mul_plain_sum`](crate::Backend::mul_plain_sum) over terms
/// with `(ciphertext level, plaintext level)` pairs: every level equals the first
/// ciphertext's `l`, and the result is `l − 1`.
///
/// # Errors
/// [`Error::LengthMismatch`] for no terms; [`Error::LevelMismatch`] for the first level that
/// differs; [`Error::LevelExhausted`] at level 0.
pub fn plain_sum_level(levels: &[(u32, u32)]) -> Result<u32> {
    const OP: &str = "mul_plain_sum";
    let Some(&(level, _)) = levels.first() else {
        return Err(Error::LengthMismatch {
            op: OP,
            expected: 1,
            found: 0,
        });
    };
    for &(ct, pt) in levels {
        for found in [ct, pt] {
            if found != level {
                return Err(Error::LevelMismatch {
                    op: OP,
                    expected: level,
                    found,
                });
            }
        }
    }
    consume(OP, level, 1)
}

/// Bytes of a CKKS plaintext for ciphertexts at `level` on `slots` slots: `level + 1` limbs
/// of `2·slots` residues of 8 bytes (saturating).
#[must_use]
pub fn ckks_plain_bytes(slots: usize, level: u32) -> usize {
    let limbs = usize::try_from(level)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    limbs.saturating_mul(slots).saturating_mul(16)
}
