//! Minimal little-endian multi-word unsigned arithmetic for CRT reconstruction.
//!
//! Only what [`RnsBasis`](super::RnsBasis) needs: fixed-width buffers, no allocation.

use core::cmp::Ordering;

/// `acc += a · w`, carrying into the high words of `acc`; returns the carry out of `acc`.
#[inline]
pub(super) fn add_mul_word(acc: &mut [u64], a: &[u64], w: u64) -> u64 {
    let (low, high) = acc.split_at_mut(a.len().min(acc.len()));
    let mut carry = 0u64;
    for (z, &x) in low.iter_mut().zip(a) {
        let t = u128::from(x) * u128::from(w) + u128::from(*z) + u128::from(carry);
        *z = t as u64;
        carry = (t >> 64) as u64;
    }
    for z in high {
        if carry == 0 {
            break;
        }
        let (s, c) = z.overflowing_add(carry);
        *z = s;
        carry = u64::from(c);
    }
    carry
}

/// `acc -= a · w`, borrowing from the high words of `acc`; returns the borrow out of `acc`.
#[inline]
pub(super) fn sub_mul_word(acc: &mut [u64], a: &[u64], w: u64) -> u64 {
    let (low, high) = acc.split_at_mut(a.len().min(acc.len()));
    let mut borrow = 0u64;
    for (z, &x) in low.iter_mut().zip(a) {
        let t = u128::from(x) * u128::from(w) + u128::from(borrow);
        let (s, b) = z.overflowing_sub(t as u64);
        *z = s;
        borrow = (t >> 64) as u64 + u64::from(b);
    }
    for z in high {
        if borrow == 0 {
            break;
        }
        let (s, b) = z.overflowing_sub(borrow);
        *z = s;
        borrow = u64::from(b);
    }
    borrow
}

/// `a -= b` (with `b` no longer than `a`); returns the borrow out.
#[inline]
pub(super) fn sub_assign(a: &mut [u64], b: &[u64]) -> u64 {
    let (low, high) = a.split_at_mut(b.len().min(a.len()));
    let mut borrow = false;
    for (z, &y) in low.iter_mut().zip(b) {
        let (s1, b1) = z.overflowing_sub(y);
        let (s2, b2) = s1.overflowing_sub(u64::from(borrow));
        *z = s2;
        borrow = b1 || b2;
    }
    for z in high {
        if !borrow {
            break;
        }
        let (s, b) = z.overflowing_sub(1);
        *z = s;
        borrow = b;
    }
    u64::from(borrow)
}

/// `out = a - b` for `a >= b`, both of `out.len()` words (shorter inputs are zero-extended).
#[inline]
pub(super) fn sub_into(out: &mut [u64], a: &[u64], b: &[u64]) {
    out.iter_mut()
        .zip(a.iter().chain(core::iter::repeat(&0)))
        .for_each(|(o, &x)| *o = x);
    sub_assign(out, b);
}

/// Compares two numbers of possibly different word lengths.
#[inline]
pub(super) fn cmp(a: &[u64], b: &[u64]) -> Ordering {
    let len = a.len().max(b.len());
    let word = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    (0..len)
        .rev()
        .map(|i| word(a, i).cmp(&word(b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The nearest `f64` to the number (round to nearest even, via a sticky bit).
#[inline]
pub(super) fn to_f64(a: &[u64]) -> f64 {
    let Some(top) = a.iter().rposition(|&w| w != 0) else {
        return 0.0;
    };
    let hi_word = a.get(top).copied().unwrap_or(0);
    if top == 0 {
        return hi_word as f64;
    }
    let lz = hi_word.leading_zeros();
    let next = a.get(top - 1).copied().unwrap_or(0);
    // The 64 most significant bits, normalised so that bit 63 is set.
    let (mantissa, dropped_from_next) = if lz == 0 {
        (hi_word, next != 0)
    } else {
        ((hi_word << lz) | (next >> (64 - lz)), (next << lz) != 0)
    };
    let sticky = dropped_from_next || a.iter().take(top - 1).any(|&w| w != 0);
    // Bit 0 of the 64-bit mantissa is far below f64's 53 bits, so or-ing the sticky bit
    // into it makes the u64 -> f64 rounding decide ties correctly.
    // Rounded mantissa scaled to [1, 2] (exact: division by a power of two).
    let m = (mantissa | u64::from(sticky)) as f64 / 9_223_372_036_854_775_808.0;
    // The value is m · 2^(64·top - lz + 63); top < 2^26 words keeps this in range.
    let exponent = i64::try_from(top).unwrap_or(i64::MAX / 2) * 64 - i64::from(lz) + 63;
    m * pow2(exponent)
}

/// `2^e` as an `f64` for `e >= 0` (infinity beyond the exponent range).
#[inline]
fn pow2(e: i64) -> f64 {
    match u64::try_from(e) {
        Ok(e) if e <= 1023 => f64::from_bits((e + 1023) << 52),
        Ok(_) => f64::INFINITY,
        Err(_) => 1.0,
    }
}
