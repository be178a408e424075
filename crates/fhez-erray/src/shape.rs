//! Shape arithmetic: sizes, strides, row-major index maps and numpy broadcasting.

use crate::{Error, Result};

/// Number of elements of `shape` (1 for the 0-d shape), checking for overflow.
///
/// # Errors
/// [`Error::InvalidShape`] on overflow.
pub fn size_of(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::InvalidShape {
            op: "size",
            shape: shape.to_vec(),
            reason: "element count overflows usize",
        })
}

/// Row-major strides of `shape`.
#[must_use]
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut out = vec![1usize; shape.len()];
    let mut acc = 1usize;
    for (s, &d) in out.iter_mut().zip(shape).rev() {
        *s = acc;
        acc = acc.saturating_mul(d);
    }
    out
}

/// Row-major flat position of `index` in `shape`.
///
/// # Errors
/// [`Error::IndexOutOfBounds`] if the rank differs or a coordinate is too large.
pub fn ravel(index: &[usize], shape: &[usize]) -> Result<usize> {
    let oob = || Error::IndexOutOfBounds {
        index: index.to_vec(),
        shape: shape.to_vec(),
    };
    if index.len() != shape.len() {
        return Err(oob());
    }
    let mut flat = 0usize;
    for (&i, &d) in index.iter().zip(shape) {
        if i >= d {
            return Err(oob());
        }
        flat = flat * d + i;
    }
    Ok(flat)
}

/// The multi-index of row-major position `flat` in `shape` (coordinates wrap if `flat` is
/// out of range; callers pass `flat < size`).
#[must_use]
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut out = vec![0usize; shape.len()];
    for (o, &d) in out.iter_mut().zip(shape).rev() {
        if d > 0 {
            *o = flat % d;
            flat /= d;
        }
    }
    out
}

/// numpy broadcasting of two shapes (right-aligned; a dimension of 1 stretches).
///
/// # Errors
/// [`Error::ShapeMismatch`] when two aligned dimensions differ and neither is 1.
pub fn broadcast_shapes(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    let n = lhs.len().max(rhs.len());
    let dim = |s: &[usize], k: usize| -> usize {
        // k counts from the right
        s.len()
            .checked_sub(k + 1)
            .and_then(|i| s.get(i))
            .copied()
            .unwrap_or(1)
    };
    let mut out = vec![0usize; n];
    for (k, o) in out.iter_mut().rev().enumerate() {
        let (a, b) = (dim(lhs, k), dim(rhs, k));
        *o = if a == b || b == 1 {
            a
        } else if a == 1 {
            b
        } else {
            return Err(Error::ShapeMismatch {
                op,
                lhs: lhs.to_vec(),
                rhs: rhs.to_vec(),
            });
        };
    }
    Ok(out)
}

/// For every row-major position of `target`, the row-major position in `source` it reads
/// under numpy broadcasting.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `source` does not broadcast to `target`.
pub fn broadcast_map(op: &'static str, source: &[usize], target: &[usize]) -> Result<Vec<usize>> {
    if broadcast_shapes(op, source, target)? != target {
        return Err(Error::ShapeMismatch {
            op,
            lhs: source.to_vec(),
            rhs: target.to_vec(),
        });
    }
    let offset = target.len() - source.len();
    let src_strides = strides(source);
    // Effective stride per target axis: 0 where broadcast or absent.
    let eff: Vec<usize> = (0..target.len())
        .map(|t| {
            t.checked_sub(offset)
                .and_then(|s| Some((source.get(s)?, src_strides.get(s)?)))
                .map_or(0, |(&d, &st)| if d == 1 { 0 } else { st })
        })
        .collect();
    let total = size_of(target)?;
    Ok((0..total)
        .map(|flat| {
            unravel(flat, target)
                .iter()
                .zip(&eff)
                .map(|(i, s)| i * s)
                .sum()
        })
        .collect())
}
