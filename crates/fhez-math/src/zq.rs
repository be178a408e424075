//! Arithmetic modulo a word-size integer `q < 2^62`.
//!
//! [`Modulus`] carries the precomputed constants for two reduction methods:
//!
//! - **Barrett** reduction of 128-bit values with the ratio `floor(2^128 / q)` (two words), used
//!   for general products [`Modulus::mul`].
//! - **Shoup** multiplication by a fixed operand `w` with its companion `w' = floor(w·2^64 / q)`
//!   ([`Modulus::shoup`], [`Modulus::mul_shoup`]): one high and two low multiplications, used
//!   for NTT twiddles and other constants (V. Shoup, NTL; D. Harvey, "Faster arithmetic for
//!   number-theoretic transforms", 2014).
//!
//! The bound `q < 2^62` leaves two bits of headroom so lazy values in `[0, 4q)` fit in a `u64`.
//!
//! The slice kernels at the bottom of this module (`*_slices_assign`) work on whole limbs with
//! branch-free conditional subtractions over zipped iterators; their inputs must already lie in
//! `[0, q)` and their outputs do too.

use crate::{Error, Result};

/// The largest modulus bit size supported (`q < 2^62`).
pub const MAX_MODULUS_BITS: u32 = 62;

/// A modulus `2 <= q < 2^62` with precomputed reduction constants.
///
/// All arithmetic methods take operands already reduced to `[0, q)` unless stated otherwise,
/// and return values in `[0, q)`.
///
/// # Examples
///
/// ```
/// use fhez_math::Modulus;
/// let q = Modulus::new(65537)?;
/// assert_eq!(q.mul(65536, 65536), 1);
/// assert_eq!(q.mul(q.inv(3)?, 3), 1);
/// # Ok::<(), fhez_math::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Modulus {
    q: u64,
    bits: u32,
    /// `floor(2^128 / q)`, high word.
    ratio_hi: u64,
    /// `floor(2^128 / q)`, low word.
    ratio_lo: u64,
    /// `floor(2^(2·bits) / q)`, the Barrett constant for products of reduced operands.
    mu: u64,
}

#[inline(always)]
const fn mul_wide(a: u64, b: u64) -> u128 {
    (a as u128) * (b as u128)
}

#[inline(always)]
const fn hi(x: u128) -> u64 {
    (x >> 64) as u64
}

#[inline(always)]
const fn lo(x: u128) -> u64 {
    x as u64
}

/// Branch-free `if x >= q { x - q } else { x }` for `0 < q` (compiles to a conditional move).
#[inline(always)]
const fn csub(x: u64, q: u64) -> u64 {
    // If x < q the subtraction wraps to a value above x, so the minimum picks x.
    let t = x.wrapping_sub(q);
    if t < x { t } else { x }
}

impl Modulus {
    /// Creates a modulus with its Barrett constant.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidModulus`] unless `2 <= q < 2^62`.
    pub fn new(q: u64) -> Result<Self> {
        if !(2..(1u64 << MAX_MODULUS_BITS)).contains(&q) {
            return Err(Error::InvalidModulus { q });
        }
        // floor((2^128 - 1) / q) equals floor(2^128 / q) because q does not divide 2^128
        // unless q is a power of two, in which case we correct by one.
        let mut ratio = u128::MAX / u128::from(q);
        if q.is_power_of_two() {
            ratio += 1;
        }
        let bits = 64 - q.leading_zeros();
        // 2^(2k)/q < 2^(k+1) ≤ 2^63 for a k-bit q, so it fits in a word.
        let mu = ((1u128 << (2 * bits)) / u128::from(q)) as u64;
        Ok(Self {
            q,
            bits,
            ratio_hi: hi(ratio),
            ratio_lo: lo(ratio),
            mu,
        })
    }

    /// The modulus `q`.
    #[inline]
    #[must_use]
    pub const fn value(&self) -> u64 {
        self.q
    }

    /// The bit length of `q` (`ceil(log2(q + 1))`).
    #[inline]
    #[must_use]
    pub const fn bits(&self) -> u32 {
        self.bits
    }

    /// `floor(2^128 / q)` as `(high word, low word)`.
    #[inline]
    #[must_use]
    pub const fn barrett_ratio(&self) -> (u64, u64) {
        (self.ratio_hi, self.ratio_lo)
    }

    /// `a + b mod q` for `a, b < q`.
    #[inline(always)]
    #[must_use]
    pub const fn add(&self, a: u64, b: u64) -> u64 {
        csub(a + b, self.q)
    }

    /// `a - b mod q` for `a, b < q`.
    #[inline(always)]
    #[must_use]
    pub const fn sub(&self, a: u64, b: u64) -> u64 {
        csub(a + self.q - b, self.q)
    }

    /// `-a mod q` for `a < q`.
    #[inline(always)]
    #[must_use]
    pub const fn neg(&self, a: u64) -> u64 {
        csub(self.q - a, self.q)
    }

    /// Reduces any 128-bit value modulo `q` (Barrett, one conditional subtraction).
    #[inline(always)]
    #[must_use]
    pub const fn reduce_u128(&self, a: u128) -> u64 {
        let (x1, x0) = (hi(a), lo(a));
        // Top 128 bits of the 256-bit product a * ratio, computed exactly; its low word is
        // the quotient estimate floor(a / q) or one less (q < 2^62 keeps the error below one).
        let carry = hi(mul_wide(x0, self.ratio_lo));
        let t2 = mul_wide(x0, self.ratio_hi) + carry as u128;
        let t1 = mul_wide(x1, self.ratio_lo) + lo(t2) as u128;
        let quot = x1
            .wrapping_mul(self.ratio_hi)
            .wrapping_add(hi(t2))
            .wrapping_add(hi(t1));
        let r = x0.wrapping_sub(quot.wrapping_mul(self.q));
        csub(r, self.q)
    }

    /// Reduces any `u64` modulo `q`.
    #[inline(always)]
    #[must_use]
    pub const fn reduce(&self, a: u64) -> u64 {
        let carry = hi(mul_wide(a, self.ratio_lo));
        let quot = hi(mul_wide(a, self.ratio_hi) + carry as u128);
        csub(a.wrapping_sub(quot.wrapping_mul(self.q)), self.q)
    }

    /// Reduces a signed value modulo `q` into `[0, q)`.
    #[inline]
    #[must_use]
    pub const fn reduce_i64(&self, a: i64) -> u64 {
        let r = self.reduce(a.unsigned_abs());
        if a < 0 { self.neg(r) } else { r }
    }

    /// The centered representative of `a < q` in `(-q/2, q/2]`.
    #[inline]
    #[must_use]
    pub const fn center(&self, a: u64) -> i64 {
        // q < 2^62, so both branches fit an i64.
        if a > self.q / 2 {
            a as i64 - self.q as i64
        } else {
            a as i64
        }
    }

    /// `a · b mod q` for `a, b < q`: Barrett reduction specialised to a product of
    /// reduced operands (x < q² < 2^(2k) for a k-bit q; Menezes et al., Handbook of
    /// Applied Cryptography, Alg. 14.42): three multiplications instead of the five of
    /// [`reduce_u128`](Self::reduce_u128). The quotient estimate is at most 2 short.
    #[inline(always)]
    #[must_use]
    pub const fn mul(&self, a: u64, b: u64) -> u64 {
        debug_assert!(a < self.q && b < self.q);
        let x = mul_wide(a, b);
        let k = self.bits;
        let q1 = (x >> (k - 1)) as u64;
        let q2 = ((q1 as u128 * self.mu as u128) >> (k + 1)) as u64;
        let r = lo(x).wrapping_sub(q2.wrapping_mul(self.q));
        csub(csub(r, self.q), self.q)
    }

    /// The Shoup companion `floor(w · 2^64 / q)` of a constant `w < q`.
    #[inline]
    #[must_use]
    pub const fn shoup(&self, w: u64) -> u64 {
        debug_assert!(w < self.q);
        lo(((w as u128) << 64) / self.q as u128)
    }

    /// `a · w mod q` in `[0, 2q)` for **any** `a: u64`, given `w < q` and `w_shoup = shoup(w)`.
    #[inline(always)]
    #[must_use]
    pub const fn mul_shoup_lazy(&self, a: u64, w: u64, w_shoup: u64) -> u64 {
        let quot = hi(mul_wide(a, w_shoup));
        a.wrapping_mul(w).wrapping_sub(quot.wrapping_mul(self.q))
    }

    /// `a · w mod q` in `[0, q)` for **any** `a: u64`, given `w < q` and `w_shoup = shoup(w)`.
    #[inline(always)]
    #[must_use]
    pub const fn mul_shoup(&self, a: u64, w: u64, w_shoup: u64) -> u64 {
        csub(self.mul_shoup_lazy(a, w, w_shoup), self.q)
    }

    /// `a^e mod q` for `a < q` (square and multiply; `0^0 = 1`).
    #[must_use]
    pub const fn pow(&self, a: u64, mut e: u64) -> u64 {
        let mut base = a;
        let mut acc = 1;
        while e > 0 {
            if e & 1 == 1 {
                acc = self.mul(acc, base);
            }
            base = self.mul(base, base);
            e >>= 1;
        }
        acc
    }

    /// The inverse of `a` modulo `q` (extended Euclid; `q` need not be prime).
    ///
    /// # Errors
    ///
    /// [`Error::NotInvertible`] if `gcd(a, q) != 1`.
    pub fn inv(&self, a: u64) -> Result<u64> {
        let a_red = self.reduce(a);
        let (mut r0, mut r1) = (i128::from(self.q), i128::from(a_red));
        let (mut t0, mut t1) = (0i128, 1i128);
        while r1 != 0 {
            let quot = r0 / r1;
            (r0, r1) = (r1, r0 - quot * r1);
            (t0, t1) = (t1, t0 - quot * t1);
        }
        if r0 != 1 {
            return Err(Error::NotInvertible { a, q: self.q });
        }
        let t = t0.rem_euclid(i128::from(self.q));
        u64::try_from(t).map_err(|_| Error::NotInvertible { a, q: self.q })
    }
}

/// `a[i] = a[i] + b[i] mod q` for inputs in `[0, q)`.
#[inline]
pub fn add_slices_assign(q: &Modulus, a: &mut [u64], b: &[u64]) {
    debug_assert_eq!(a.len(), b.len());
    let qv = q.value();
    a.iter_mut()
        .zip(b)
        .for_each(|(x, &y)| *x = csub(*x + y, qv));
}

/// `a[i] = a[i] - b[i] mod q` for inputs in `[0, q)`.
#[inline]
pub fn sub_slices_assign(q: &Modulus, a: &mut [u64], b: &[u64]) {
    debug_assert_eq!(a.len(), b.len());
    let qv = q.value();
    a.iter_mut()
        .zip(b)
        .for_each(|(x, &y)| *x = csub(*x + qv - y, qv));
}

/// `a[i] = b[i] - a[i] mod q` for inputs in `[0, q)` (reverse subtraction).
#[inline]
pub fn sub_from_slices_assign(q: &Modulus, a: &mut [u64], b: &[u64]) {
    debug_assert_eq!(a.len(), b.len());
    let qv = q.value();
    a.iter_mut()
        .zip(b)
        .for_each(|(x, &y)| *x = csub(y + qv - *x, qv));
}

/// `a[i] = -a[i] mod q` for inputs in `[0, q)`.
#[inline]
pub fn neg_slice_assign(q: &Modulus, a: &mut [u64]) {
    let qv = q.value();
    a.iter_mut().for_each(|x| *x = csub(qv - *x, qv));
}

/// `a[i] = a[i] · b[i] mod q` for inputs in `[0, q)`.
///
/// Runs an AVX-512 kernel when the CPU has one for `q` (IFMA52 for `q < 2^50`, 64-bit words
/// otherwise; see the crate documentation); the result equals
/// [`mul_slices_assign_scalar`]'s.
#[inline]
pub fn mul_slices_assign(q: &Modulus, a: &mut [u64], b: &[u64]) {
    debug_assert_eq!(a.len(), b.len());
    let done = crate::simd::mul_slices(q, a, b);
    if let (Some(a), Some(b)) = (a.get_mut(done..), b.get(done..)) {
        mul_slices_assign_scalar(q, a, b);
    }
}

/// The scalar [`mul_slices_assign`] (Barrett; the specification of the vector kernels),
/// whatever the CPU: inputs in `[0, q)`.
#[inline]
pub fn mul_slices_assign_scalar(q: &Modulus, a: &mut [u64], b: &[u64]) {
    debug_assert_eq!(a.len(), b.len());
    a.iter_mut().zip(b).for_each(|(x, &y)| *x = q.mul(*x, y));
}

/// `a[i] = (a[i] − b[i]) · w mod q` for `a[i]` in `[0, q)`, `b[i]` in `[0, 4q)` (a lazy NTT
/// output) and any `w`: the subtract-and-scale step of ModDown and rescale. Outputs in
/// `[0, q)`, equal to [`sub_scale_slices_assign_scalar`]'s (vector kernel when the CPU has
/// one for `q`).
#[inline]
pub fn sub_scale_slices_assign(q: &Modulus, a: &mut [u64], b: &[u64], w: u64) {
    debug_assert_eq!(a.len(), b.len());
    let w = q.reduce(w);
    let done = crate::simd::sub_scale_slices(q, w, a, b);
    if let (Some(a), Some(b)) = (a.get_mut(done..), b.get(done..)) {
        sub_scale_slices_assign_scalar(q, a, b, w);
    }
}

/// The scalar [`sub_scale_slices_assign`] (Shoup), whatever the CPU.
#[inline]
pub fn sub_scale_slices_assign_scalar(q: &Modulus, a: &mut [u64], b: &[u64], w: u64) {
    debug_assert_eq!(a.len(), b.len());
    let w = q.reduce(w);
    let ws = q.shoup(w);
    let two_q = 2 * q.value();
    // b mod 2q < 2q, so a + 2q − (b mod 2q) lies in (0, 3q) and does not wrap (3q < 2^64
    // for q < 2^62, where a + 4q − b could); Shoup takes any u64.
    a.iter_mut()
        .zip(b)
        .for_each(|(x, &y)| *x = q.mul_shoup(*x + two_q - csub(y, two_q), w, ws));
}

/// The operands of [`mul_sum2_slices`] for one limb: the digits' residues `xs`, the key's
/// `b` residues `bs` and its `a` residues `as_`, one slice per digit.
pub type DigitSlices<'a> = (&'a [&'a [u64]], &'a [&'a [u64]], &'a [&'a [u64]]);

/// The two inner products of a key switch over its digits, for one limb:
/// `out0[c] = Σ_j xs[j][c] · bs[j][c] mod q` and `out1[c] = Σ_j xs[j][c] · as_[j][c] mod q`,
/// for `xs[j][c]` in `[0, 4q)` (lazy NTT outputs) and `bs[j][c]`, `as_[j][c]` in `[0, q)`.
/// Digits beyond the shortest of `xs`, `bs`, `as_` are ignored, and so are coefficients
/// beyond the shortest slice. Outputs in `[0, q)`, equal to [`mul_sum2_slices_scalar`]'s
/// (IFMA52 kernel for `q < 2^50` on CPUs that have it).
pub fn mul_sum2_slices(
    q: &Modulus,
    (xs, bs, as_): DigitSlices<'_>,
    out0: &mut [u64],
    out1: &mut [u64],
) {
    let done = crate::simd::mul_sum2_slices(q, (xs, bs, as_), out0, out1);
    if done == 0 {
        mul_sum2_slices_scalar(q, (xs, bs, as_), out0, out1);
        return;
    }
    fn tail<'a>(v: &[&'a [u64]], done: usize) -> Vec<&'a [u64]> {
        v.iter()
            .map(|s| s.get(done..).unwrap_or_default())
            .collect()
    }
    let (xt, bt, at) = (tail(xs, done), tail(bs, done), tail(as_, done));
    if let (Some(o0), Some(o1)) = (out0.get_mut(done..), out1.get_mut(done..)) {
        mul_sum2_slices_scalar(q, (&xt, &bt, &at), o0, o1);
    }
}

/// The scalar [`mul_sum2_slices`] (products accumulated in `u128`, reduced every few digits),
/// whatever the CPU.
pub fn mul_sum2_slices_scalar(
    q: &Modulus,
    (xs, bs, as_): DigitSlices<'_>,
    out0: &mut [u64],
    out1: &mut [u64],
) {
    // Products of x < 4q and b < q are below 4q²; t of them plus a reduced value stay below
    // 2^128 for t = 8 when q < 2^61 (4q² < 2^124) and t = 3 when q < 2^62.
    let terms = if q.bits() <= 61 { 8 } else { 3 };
    let digits = xs.len().min(bs.len()).min(as_.len());
    let len = xs
        .iter()
        .take(digits)
        .chain(bs.iter().take(digits))
        .chain(as_.iter().take(digits))
        .map(|s| s.len())
        .fold(out0.len().min(out1.len()), usize::min);
    // Blocks of coefficients, digit by digit inside a block: contiguous streams and
    // accumulators that stay in the L1 cache, no allocation.
    const BLOCK: usize = 256;
    let (mut acc0, mut acc1) = ([0u128; BLOCK], [0u128; BLOCK]);
    let mut start = 0;
    while start < len {
        let end = len.min(start + BLOCK);
        let (Some(s0), Some(s1)) = (acc0.get_mut(..end - start), acc1.get_mut(..end - start))
        else {
            break;
        };
        s0.fill(0);
        s1.fill(0);
        for (j, ((x, b), a)) in xs.iter().zip(bs).zip(as_).enumerate() {
            if j > 0 && j % terms == 0 {
                for (v0, v1) in s0.iter_mut().zip(s1.iter_mut()) {
                    *v0 = u128::from(q.reduce_u128(*v0));
                    *v1 = u128::from(q.reduce_u128(*v1));
                }
            }
            let (Some(x), Some(b), Some(a)) =
                (x.get(start..end), b.get(start..end), a.get(start..end))
            else {
                continue;
            };
            for (((v0, v1), &xv), (&bv, &av)) in
                s0.iter_mut().zip(s1.iter_mut()).zip(x).zip(b.iter().zip(a))
            {
                *v0 += mul_wide(xv, bv);
                *v1 += mul_wide(xv, av);
            }
        }
        let (Some(o0), Some(o1)) = (out0.get_mut(start..end), out1.get_mut(start..end)) else {
            break;
        };
        for ((o, &v0), (p, &v1)) in o0
            .iter_mut()
            .zip(s0.iter())
            .zip(o1.iter_mut().zip(s1.iter()))
        {
            *o = q.reduce_u128(v0);
            *p = q.reduce_u128(v1);
        }
        start = end;
    }
}

/// `out[c] = Σ_i rows[i][c] · consts[i] mod q` for `rows[i][c] < 2^62` and `consts[i] < q`:
/// the output limbs of the exact basis conversion (rows: the scaled residues and the rounded
/// quotient of each coefficient; constants: `q̂_i mod q` and `−Q mod q`). Rows beyond
/// `consts` and coefficients beyond the shortest row are ignored. The specification of the
/// vector kernel the conversion runs first (products accumulated in `u128`, reduced every
/// 15 terms, whatever the CPU).
pub fn scalar_sums_scalar(q: &Modulus, rows: &[&[u64]], consts: &[u64], out: &mut [u64]) {
    // Products are below 2^124; 15 of them plus a reduced value stay below 2^128.
    const TERMS: usize = 15;
    const BLOCK: usize = 256;
    let len = rows
        .iter()
        .take(consts.len())
        .map(|r| r.len())
        .fold(out.len(), usize::min);
    let mut acc = [0u128; BLOCK];
    let mut start = 0;
    while start < len {
        let end = len.min(start + BLOCK);
        let (Some(s), Some(o)) = (acc.get_mut(..end - start), out.get_mut(start..end)) else {
            break;
        };
        s.fill(0);
        for (t, (row, &w)) in rows.iter().zip(consts).enumerate() {
            if t > 0 && t % TERMS == 0 {
                s.iter_mut()
                    .for_each(|v| *v = u128::from(q.reduce_u128(*v)));
            }
            let Some(x) = row.get(start..end) else {
                continue;
            };
            s.iter_mut().zip(x).for_each(|(v, &x)| *v += mul_wide(x, w));
        }
        o.iter_mut()
            .zip(s.iter())
            .for_each(|(o, &v)| *o = q.reduce_u128(v));
        start = end;
    }
}

/// `acc[i] = acc[i] + a[i] · b[i] mod q` for inputs in `[0, q)`.
///
/// Runs an AVX-512 kernel when the CPU has one for `q` (as [`mul_slices_assign`]); the result
/// equals [`mul_add_slices_assign_scalar`]'s.
#[inline]
pub fn mul_add_slices_assign(q: &Modulus, acc: &mut [u64], a: &[u64], b: &[u64]) {
    debug_assert_eq!(acc.len(), a.len());
    debug_assert_eq!(acc.len(), b.len());
    let done = crate::simd::mul_add_slices(q, acc, a, b);
    if let (Some(z), Some(a), Some(b)) = (acc.get_mut(done..), a.get(done..), b.get(done..)) {
        mul_add_slices_assign_scalar(q, z, a, b);
    }
}

/// The scalar [`mul_add_slices_assign`] (Barrett), whatever the CPU: inputs in `[0, q)`.
#[inline]
pub fn mul_add_slices_assign_scalar(q: &Modulus, acc: &mut [u64], a: &[u64], b: &[u64]) {
    debug_assert_eq!(acc.len(), a.len());
    debug_assert_eq!(acc.len(), b.len());
    let qv = q.value();
    acc.iter_mut()
        .zip(a.iter().zip(b))
        .for_each(|(z, (&x, &y))| {
            // x*y + z < q^2 + q < 2^124: one Barrett reduction of the sum.
            *z = q.reduce_u128(mul_wide(x, y) + u128::from(*z));
            debug_assert!(*z < qv);
        });
}

/// `a[i] = a[i] · scalar mod q` (Shoup) for `scalar < q` and any `a[i]`; outputs in `[0, q)`.
#[inline]
pub fn mul_scalar_slice_assign(q: &Modulus, a: &mut [u64], scalar: u64) {
    let w = q.reduce(scalar);
    let ws = q.shoup(w);
    a.iter_mut().for_each(|x| *x = q.mul_shoup(*x, w, ws));
}

/// `acc[i] = acc[i] + a[i] · scalar mod q` (Shoup) for inputs in `[0, q)`.
#[inline]
pub fn mul_scalar_add_slices_assign(q: &Modulus, acc: &mut [u64], a: &[u64], scalar: u64) {
    debug_assert_eq!(acc.len(), a.len());
    let w = q.reduce(scalar);
    let ws = q.shoup(w);
    let qv = q.value();
    acc.iter_mut()
        .zip(a)
        .for_each(|(z, &x)| *z = csub(*z + q.mul_shoup(x, w, ws), qv));
}

/// `a[i] = a[i] mod q` for arbitrary `u64` inputs.
#[inline]
pub fn reduce_slice_assign(q: &Modulus, a: &mut [u64]) {
    a.iter_mut().for_each(|x| *x = q.reduce(*x));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn oracle_mul(a: u64, b: u64, q: u64) -> u64 {
        ((u128::from(a) * u128::from(b)) % u128::from(q)) as u64
    }

    const SAMPLE_MODULI: [u64; 8] = [
        2,
        3,
        65537,
        (1 << 61) - 1,
        (1 << 62) - 57,
        0x3fff_ffff_000c_0001,
        (1 << 40) + 1,
        1 << 40,
    ];

    #[test]
    fn new_rejects_out_of_range() {
        assert_eq!(Modulus::new(0), Err(Error::InvalidModulus { q: 0 }));
        assert_eq!(Modulus::new(1), Err(Error::InvalidModulus { q: 1 }));
        assert_eq!(
            Modulus::new(1 << 62),
            Err(Error::InvalidModulus { q: 1 << 62 })
        );
        assert!(Modulus::new((1 << 62) - 1).is_ok());
    }

    #[test]
    fn barrett_ratio_is_exact() {
        for q in SAMPLE_MODULI {
            let m = Modulus::new(q).unwrap();
            let (h, l) = m.barrett_ratio();
            let ratio = (u128::from(h) << 64) | u128::from(l);
            // ratio = floor(2^128 / q): ratio * q <= 2^128 < (ratio + 1) * q.
            let prod = ratio.checked_mul(u128::from(q));
            match prod {
                Some(p) => assert!(u128::MAX - p < u128::from(q)),
                None => assert!(q.is_power_of_two()),
            }
        }
    }

    #[test]
    fn edge_values() {
        for q in SAMPLE_MODULI {
            let m = Modulus::new(q).unwrap();
            let top = q - 1;
            assert_eq!(m.mul(top, top), oracle_mul(top, top, q));
            assert_eq!(m.reduce(u64::MAX), u64::MAX % q);
            assert_eq!(m.reduce_u128(u128::MAX), (u128::MAX % u128::from(q)) as u64);
            assert_eq!(
                m.add(top, top),
                ((u128::from(top) * 2) % u128::from(q)) as u64
            );
            assert_eq!(m.sub(0, top), 1 % q);
            assert_eq!(m.neg(0), 0);
            assert_eq!(
                m.reduce_i64(i64::MIN),
                (q - ((1u128 << 63) % u128::from(q)) as u64) % q
            );
        }
    }

    #[test]
    fn center_known_values() {
        let m = Modulus::new(7).unwrap();
        let c: Vec<i64> = (0..7).map(|a| m.center(a)).collect();
        assert_eq!(c, [0, 1, 2, 3, -3, -2, -1]);
        let m = Modulus::new(8).unwrap();
        let c: Vec<i64> = (0..8).map(|a| m.center(a)).collect();
        assert_eq!(c, [0, 1, 2, 3, 4, -3, -2, -1]);
    }

    #[test]
    fn inv_and_pow() {
        let m = Modulus::new(1_000_000_007).unwrap();
        assert_eq!(m.pow(2, 1_000_000_006), 1);
        assert_eq!(m.pow(0, 0), 1);
        assert_eq!(m.pow(5, 0), 1);
        assert_eq!(m.mul(m.inv(123_456).unwrap(), 123_456), 1);
        assert_eq!(
            m.inv(0),
            Err(Error::NotInvertible {
                a: 0,
                q: 1_000_000_007
            })
        );
        let m = Modulus::new(12).unwrap();
        assert_eq!(m.inv(5), Ok(5));
        assert_eq!(m.inv(4), Err(Error::NotInvertible { a: 4, q: 12 }));
    }

    fn modulus_strategy() -> impl Strategy<Value = u64> {
        prop_oneof![
            2u64..1 << 20,
            2u64..1 << 62,
            ((1u64 << 62) - 1000)..(1u64 << 62)
        ]
    }

    #[test]
    fn mul_extremes_match_oracle() {
        // Largest operands and moduli just above and below powers of two, where the
        // quotient estimate of the specialised Barrett is furthest off.
        let qs = [
            2u64,
            3,
            5,
            (1 << 31) + 11,
            (1 << 32) - 5,
            (1 << 61) - 1,
            (1 << 62) - 57,
            1 << 40,
            (1 << 40) + 1,
        ];
        for q in qs {
            let m = Modulus::new(q).unwrap();
            for a in [0, 1, q / 2, q - 2, q - 1].into_iter().filter(|&a| a < q) {
                for b in [0, 1, q / 3, q - 2, q - 1].into_iter().filter(|&b| b < q) {
                    assert_eq!(m.mul(a, b), oracle_mul(a, b, q), "q={q} a={a} b={b}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn mul_matches_oracle(q in modulus_strategy(), a in any::<u64>(), b in any::<u64>()) {
            let m = Modulus::new(q).unwrap();
            let (a, b) = (a % q, b % q);
            prop_assert_eq!(m.mul(a, b), oracle_mul(a, b, q));
            prop_assert_eq!(m.add(a, b), ((u128::from(a) + u128::from(b)) % u128::from(q)) as u64);
            prop_assert_eq!(m.sub(a, b), ((u128::from(a) + u128::from(q - b)) % u128::from(q)) as u64);
            prop_assert_eq!(m.add(m.neg(a), a), 0);
            let c = m.center(a);
            prop_assert!(2 * i128::from(c) > -i128::from(q) && 2 * i128::from(c) <= i128::from(q));
            prop_assert_eq!(m.reduce_i64(c), a);
        }

        #[test]
        fn reduce_matches_oracle(q in modulus_strategy(), x in any::<u128>(), y in any::<u64>(), s in any::<i64>()) {
            let m = Modulus::new(q).unwrap();
            prop_assert_eq!(m.reduce_u128(x), (x % u128::from(q)) as u64);
            prop_assert_eq!(m.reduce(y), y % q);
            prop_assert_eq!(m.reduce_i64(s), i128::from(s).rem_euclid(i128::from(q)) as u64);
        }

        #[test]
        fn shoup_matches_oracle(q in modulus_strategy(), a in any::<u64>(), w in any::<u64>()) {
            let m = Modulus::new(q).unwrap();
            let w = w % q;
            let ws = m.shoup(w);
            prop_assert_eq!(u128::from(ws), (u128::from(w) << 64) / u128::from(q));
            let lazy = m.mul_shoup_lazy(a, w, ws);
            prop_assert!(lazy < 2 * q);
            prop_assert_eq!(lazy % q, oracle_mul(a % q, w, q));
            prop_assert_eq!(m.mul_shoup(a, w, ws), oracle_mul(a % q, w, q));
        }

        #[test]
        fn inv_matches_pow(a in 1u64..(1 << 61) - 1) {
            let p = (1u64 << 61) - 1; // Mersenne prime
            let m = Modulus::new(p).unwrap();
            let inv = m.inv(a).unwrap();
            prop_assert_eq!(m.mul(inv, a), 1);
            prop_assert_eq!(inv, m.pow(a, p - 2));
        }

        #[test]
        fn slice_kernels_match_scalar(q in modulus_strategy(), seed in proptest::collection::vec(any::<u64>(), 3 * 37), s in any::<u64>()) {
            let m = Modulus::new(q).unwrap();
            let v: Vec<u64> = seed.iter().map(|x| x % q).collect();
            let (a, rest) = v.split_at(37);
            let (b, c) = rest.split_at(37);
            let mut x = a.to_vec();
            add_slices_assign(&m, &mut x, b);
            prop_assert!(x.iter().zip(a.iter().zip(b)).all(|(&r, (&p, &r2))| r == m.add(p, r2)));
            let mut x = a.to_vec();
            sub_slices_assign(&m, &mut x, b);
            prop_assert!(x.iter().zip(a.iter().zip(b)).all(|(&r, (&p, &r2))| r == m.sub(p, r2)));
            let mut x = a.to_vec();
            sub_from_slices_assign(&m, &mut x, b);
            prop_assert!(x.iter().zip(a.iter().zip(b)).all(|(&r, (&p, &r2))| r == m.sub(r2, p)));
            let mut x = a.to_vec();
            neg_slice_assign(&m, &mut x);
            prop_assert!(x.iter().zip(a).all(|(&r, &p)| r == m.neg(p)));
            let mut x = a.to_vec();
            mul_slices_assign(&m, &mut x, b);
            prop_assert!(x.iter().zip(a.iter().zip(b)).all(|(&r, (&p, &r2))| r == oracle_mul(p, r2, q)));
            let mut x = c.to_vec();
            mul_add_slices_assign(&m, &mut x, a, b);
            prop_assert!(x.iter().zip(c.iter().zip(a.iter().zip(b))).all(|(&r, (&z, (&p, &r2)))| r == m.add(z, oracle_mul(p, r2, q))));
            let mut x = a.to_vec();
            mul_scalar_slice_assign(&m, &mut x, s);
            prop_assert!(x.iter().zip(a).all(|(&r, &p)| r == oracle_mul(p, s % q, q)));
            let mut x = c.to_vec();
            mul_scalar_add_slices_assign(&m, &mut x, a, s);
            prop_assert!(x.iter().zip(c.iter().zip(a)).all(|(&r, (&z, &p))| r == m.add(z, oracle_mul(p, s % q, q))));
            let mut x = seed[..37].to_vec();
            reduce_slice_assign(&m, &mut x);
            prop_assert!(x.iter().zip(&seed).all(|(&r, &p)| r == p % q));
        }
    }
}
