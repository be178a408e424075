//! Residue number system: CRT bases, exact reconstruction and fast basis conversion.
//!
//! An [`RnsBasis`] is an ordered list of distinct NTT-friendly primes `q_0, …, q_{k-1}` (one
//! [`NttTable`] each, all of the same degree `n`) representing integers modulo
//! `Q = q_0·…·q_{k-1}`. A polynomial over the basis is stored limb-major: `k` blocks of `n`
//! residues.
//!
//! With `q̂_i = Q / q_i`, the CRT gives `x = Σ_i [x_i·q̂_i^-1]_{q_i}·q̂_i − v·Q` for an integer
//! `0 <= v < k`. [`RnsBasis::reconstruct`] and [`RnsBasis::to_centered_f64`] determine `v`
//! exactly (an `f64` estimate of `Σ y_i/q_i`, then one multi-word correction);
//! [`BasisConverter::convert_approx`] skips it (Bajard–Eynard–Hasan–Zucca 2016, Halevi–Polyakov–
//! Shoup 2019 "fast base conversion"), leaving an overflow `u·Q` with `0 <= u < k`;
//! [`BasisConverter::convert_exact`] determines it (the rounded `v` of the centered value, by the
//! same `f64` estimate with an exact fallback) and so extends the centered representative.

mod convert;
mod words;

#[cfg(test)]
pub(crate) use convert::convert_one_scalar;
pub use convert::{BasisConverter, convert_centered};

use core::fmt;
use std::sync::Arc;

use crate::{Error, Modulus, NttTable, Result};

/// Shared words of `Q`, `floor(Q/2)` and each `q̂_i`.
#[derive(Clone)]
struct CrtWords {
    /// Word length of `Q`.
    words: usize,
    /// `Q`, `words` words.
    product: Vec<u64>,
    /// `floor(Q / 2)`, `words` words.
    half: Vec<u64>,
    /// `q̂_i = Q / q_i`, `words` words each, concatenated.
    q_hat: Vec<u64>,
}

/// An ordered RNS basis of distinct NTT-friendly primes sharing the ring degree `n`.
///
/// Precomputes the CRT constants `q̂_i = Q/q_i` and `q̂_i^-1 mod q_i` (with Shoup companions)
/// used by [`reconstruct`](Self::reconstruct) and [`to_centered_f64`](Self::to_centered_f64).
#[derive(Clone)]
pub struct RnsBasis {
    tables: Vec<Arc<NttTable>>,
    moduli: Vec<Modulus>,
    n: usize,
    product_bits: f64,
    q_hat_inv: Vec<u64>,
    q_hat_inv_shoup: Vec<u64>,
    inv_q_f64: Vec<f64>,
    crt: CrtWords,
    /// `q̂_i mod 2^128`.
    q_hat_low: Vec<u128>,
    /// `Q mod 2^128`.
    product_low: u128,
    /// Whether `Q < 2^126`, so that every centered value fits an `i128` with room to spare.
    small: bool,
}

impl fmt::Debug for RnsBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q: Vec<u64> = self.moduli.iter().map(Modulus::value).collect();
        f.debug_struct("RnsBasis")
            .field("n", &self.n)
            .field("moduli", &q)
            .finish_non_exhaustive()
    }
}

impl RnsBasis {
    /// Builds a basis from NTT tables.
    ///
    /// # Errors
    ///
    /// - [`Error::EmptyBasis`] if `tables` is empty;
    /// - [`Error::DegreeMismatch`] if the tables do not share `n`;
    /// - [`Error::DuplicateModulus`] if a modulus repeats.
    pub fn new(tables: Vec<Arc<NttTable>>) -> Result<Self> {
        let first = tables.first().ok_or(Error::EmptyBasis)?;
        let n = first.n();
        let moduli: Vec<Modulus> = tables.iter().map(|t| *t.modulus()).collect();
        for (i, t) in tables.iter().enumerate() {
            if t.n() != n {
                return Err(Error::DegreeMismatch {
                    expected: n,
                    found: t.n(),
                });
            }
            let q = t.modulus().value();
            if moduli.iter().take(i).any(|m| m.value() == q) {
                return Err(Error::DuplicateModulus { q });
            }
        }
        let k = moduli.len();
        let bits: u32 = moduli.iter().map(Modulus::bits).sum();
        let words = bits.div_ceil(64) as usize;
        let mul_all = |skip: Option<usize>| {
            let mut acc = vec![0u64; words];
            if let Some(w) = acc.first_mut() {
                *w = 1;
            }
            for (j, m) in moduli.iter().enumerate() {
                if Some(j) != skip {
                    let prev = acc.clone();
                    acc.iter_mut().for_each(|w| *w = 0);
                    words::add_mul_word(&mut acc, &prev, m.value());
                }
            }
            acc
        };
        let product = mul_all(None);
        let mut half = product.clone();
        let mut carry = 0;
        for w in half.iter_mut().rev() {
            let next = *w & 1;
            *w = (*w >> 1) | (carry << 63);
            carry = next;
        }
        let mut q_hat = Vec::with_capacity(k * words);
        let mut q_hat_inv = Vec::with_capacity(k);
        for (i, m) in moduli.iter().enumerate() {
            let hat = mul_all(Some(i));
            // q̂_i mod q_i by Horner over the words (2^64 mod q_i, then word by word).
            let two64 = m.reduce_u128(1u128 << 64);
            let hat_mod = hat
                .iter()
                .rev()
                .fold(0, |acc, &w| m.add(m.mul(acc, two64), m.reduce(w)));
            q_hat_inv.push(m.inv(hat_mod)?);
            q_hat.extend_from_slice(&hat);
        }
        let low = |w: &[u64]| {
            w.iter()
                .take(2)
                .rev()
                .fold(0u128, |acc, &x| (acc << 64) | u128::from(x))
        };
        let product_low = low(&product);
        let q_hat_low = q_hat.chunks_exact(words).map(low).collect();
        let small = product.len() <= 2 && product_low < 1 << 126;
        Ok(Self {
            q_hat_inv_shoup: moduli
                .iter()
                .zip(&q_hat_inv)
                .map(|(m, &w)| m.shoup(w))
                .collect(),
            q_hat_inv,
            inv_q_f64: moduli.iter().map(|m| 1.0 / m.value() as f64).collect(),
            product_bits: moduli.iter().map(|m| (m.value() as f64).log2()).sum(),
            crt: CrtWords {
                words,
                product,
                half,
                q_hat,
            },
            q_hat_low,
            product_low,
            small,
            tables,
            moduli,
            n,
        })
    }

    /// The number of moduli `k`.
    #[inline]
    #[must_use]
    pub fn len(&self) -> usize {
        self.moduli.len()
    }

    /// Always `false`: a basis has at least one modulus.
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.moduli.is_empty()
    }

    /// The ring degree `n`.
    #[inline]
    #[must_use]
    pub fn n(&self) -> usize {
        self.n
    }

    /// The moduli, in order.
    #[inline]
    #[must_use]
    pub fn moduli(&self) -> &[Modulus] {
        &self.moduli
    }

    /// The NTT tables, in order.
    #[inline]
    #[must_use]
    pub fn tables(&self) -> &[Arc<NttTable>] {
        &self.tables
    }

    /// The basis of the first `k` moduli (tables are shared, CRT constants recomputed).
    ///
    /// # Errors
    ///
    /// [`Error::LimbMismatch`] unless `1 <= k <= len()`.
    pub fn prefix(&self, k: usize) -> Result<Self> {
        match self.tables.get(..k) {
            Some(t) if k > 0 => Self::new(t.to_vec()),
            _ => Err(Error::LimbMismatch {
                expected: self.len(),
                found: k,
            }),
        }
    }

    /// `log2(Q)`.
    #[inline]
    #[must_use]
    pub fn product_bits(&self) -> f64 {
        self.product_bits
    }

    /// `Q` as little-endian 64-bit words (exactly `ceil(Σ bits(q_i) / 64)` words).
    #[inline]
    #[must_use]
    pub fn product_words(&self) -> &[u64] {
        &self.crt.product
    }

    /// `Q mod m` for any modulus `m` (e.g. `P mod q_i` for ModDown, `q_l mod q_i` for rescale).
    #[must_use]
    pub fn product_mod(&self, m: &Modulus) -> u64 {
        self.moduli
            .iter()
            .fold(1 % m.value(), |acc, q| m.mul(acc, m.reduce(q.value())))
    }

    /// `q̂_i^-1 = (Q / q_i)^-1 mod q_i`, or `None` if `i >= len()`.
    #[inline]
    #[must_use]
    pub fn q_hat_inv(&self, i: usize) -> Option<u64> {
        self.q_hat_inv.get(i).copied()
    }

    /// The exact CRT reconstruction of one value from its residues (`residues[i]` modulo
    /// `q_i`, each `< q_i`): the integer in `[0, Q)` as little-endian words, as many as
    /// [`product_words`](Self::product_words). `residues.len()` must equal `len()`
    /// (debug-asserted; missing residues count as zero).
    #[must_use]
    pub fn reconstruct(&self, residues: &[u64]) -> Vec<u64> {
        debug_assert_eq!(residues.len(), self.len());
        let ys: Vec<u64> = self.scaled_residues(residues).collect();
        let mut acc = vec![0u64; self.crt.words + 1];
        self.crt_words_into(&ys, &mut acc);
        acc.truncate(self.crt.words);
        acc
    }

    /// `y_i = [x_i · q̂_i^-1]_{q_i}` for one coefficient.
    fn scaled_residues<'a>(&'a self, residues: &'a [u64]) -> impl Iterator<Item = u64> + 'a {
        residues
            .iter()
            .zip(
                self.moduli
                    .iter()
                    .zip(self.q_hat_inv.iter().zip(&self.q_hat_inv_shoup)),
            )
            .map(|(&x, (m, (&w, &ws)))| m.mul_shoup(x, w, ws))
    }

    /// `v = floor(Σ y_i / q_i)` from an `f64` estimate `frac_sum` of that sum: returns a
    /// value in `{v - 1, v}` (never negative).
    #[inline]
    fn overflow_estimate(frac_sum: f64) -> u64 {
        // The f64 sum is accurate to ~k·2^-52, far below the 2^-20 safety margin. The
        // saturating cast truncates, which is the floor for non-negative values and 0 below.
        (frac_sum - 1.0 / 1_048_576.0).max(0.0) as i64 as u64
    }

    /// Writes `Σ y_i q̂_i mod Q` into `acc` (`words + 1` words, overwritten).
    fn crt_words_into(&self, ys: &[u64], acc: &mut [u64]) {
        acc.iter_mut().for_each(|w| *w = 0);
        let mut frac_sum = 0.0;
        for ((&y, hat), inv_q) in ys
            .iter()
            .zip(self.crt.q_hat.chunks_exact(self.crt.words))
            .zip(&self.inv_q_f64)
        {
            words::add_mul_word(acc, hat, y);
            frac_sum += (y as i64) as f64 * inv_q;
        }
        let v = Self::overflow_estimate(frac_sum);
        words::sub_mul_word(acc, &self.crt.product, v);
        if words::cmp(acc, &self.crt.product).is_ge() {
            words::sub_assign(acc, &self.crt.product);
        }
    }

    /// The centered values of a polynomial in coefficient form, as `f64`.
    ///
    /// `coeff_limbs` holds `len()·n` residues, limb-major (limb `i` is
    /// `coeff_limbs[i·n..(i+1)·n]`, values `< q_i`). `out[j]` receives the representative of
    /// coefficient `j` in `(-Q/2, Q/2]`, rounded to the nearest `f64` (exact integer CRT, then
    /// one correctly rounded conversion; infinite only if `|x| >= 2^1024`).
    ///
    /// Cost: `O(n·k)` for `k·Q < 2^126` (single-word path, up to two 62-bit or three 40-bit
    /// primes), `O(n·k²)` word operations otherwise, with one scratch allocation per call.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `coeff_limbs.len() == len()·n` and `out.len() == n`.
    pub fn to_centered_f64(&self, coeff_limbs: &[u64], out: &mut [f64]) -> Result<()> {
        let (n, k) = (self.n, self.len());
        if coeff_limbs.len() != k * n {
            return Err(Error::LengthMismatch {
                expected: k * n,
                found: coeff_limbs.len(),
            });
        }
        if out.len() != n {
            return Err(Error::LengthMismatch {
                expected: n,
                found: out.len(),
            });
        }
        if let [m] = self.moduli.as_slice() {
            out.iter_mut()
                .zip(coeff_limbs)
                .for_each(|(o, &x)| *o = m.center(x) as f64);
            return Ok(());
        }
        // y_i = [x_i q̂_i^-1]_{q_i}, transposed to coefficient-major order.
        let ys = scale_transposed(
            coeff_limbs,
            n,
            &self.moduli,
            &self.q_hat_inv,
            &self.q_hat_inv_shoup,
        );
        let mut scratch = CrtScratch::new(self.crt.words);
        for (j, (o, yv)) in out.iter_mut().zip(ys.chunks_exact(k)).enumerate() {
            *o = self.centered_f64_one(yv, || coeff_limbs.iter().skip(j).step_by(n), &mut scratch);
        }
        Ok(())
    }

    /// The centered value of one coefficient from its `y_i` (see [`Self::to_centered_f64`]).
    ///
    /// Fast path: with `v = round(Σ y_i/q_i)`, `c = Σ y_i·q̂_i − v·Q mod 2^128` equals the
    /// centered value whenever that fits comfortably in an `i128`. For `Q < 2^126` this always
    /// holds (after a ±Q correction for a misrounded `v`); for larger `Q`, `c` is accepted only
    /// if `|c| < 2^125` and `c ≡ x_i (mod q_i)` for every `i`, which proves it is the centered
    /// value. Otherwise the exact multi-word path decides.
    #[inline]
    fn centered_f64_one<'a, I: Iterator<Item = &'a u64>>(
        &self,
        yv: &[u64],
        residues: impl Fn() -> I,
        scratch: &mut CrtScratch,
    ) -> f64 {
        let mut s = 0u128;
        let mut f = 0.0f64;
        for ((&y, &h), &iq) in yv.iter().zip(&self.q_hat_low).zip(&self.inv_q_f64) {
            s = s.wrapping_add(u128::from(y).wrapping_mul(h));
            // y < 2^62, so the signed conversion (one instruction) is exact.
            f += (y as i64) as f64 * iq;
        }
        // Round to nearest (the cast truncates a non-negative value; 0 <= f < k + 1).
        let v = (f + 0.5) as i64 as u64;
        let c = s.wrapping_sub(u128::from(v).wrapping_mul(self.product_low)) as i128;
        if self.small {
            // Q < 2^126 is odd: the centered range is [-(Q-1)/2, (Q-1)/2], and c is the
            // centered value or off by ±Q.
            let q = self.product_low as i128;
            let half = q / 2;
            let c = if c > half {
                c - q
            } else if c < -half {
                c + q
            } else {
                c
            };
            return i128_to_f64(c);
        }
        const LIMIT: u128 = 1 << 125;
        if c.unsigned_abs() < LIMIT {
            let consistent = residues().zip(&self.moduli).all(|(&x, m)| {
                let r = m.reduce_u128(c.unsigned_abs());
                (if c < 0 { m.neg(r) } else { r }) == x
            });
            if consistent {
                return i128_to_f64(c);
            }
        }
        self.centered_f64_exact(yv, scratch)
    }

    /// The exact multi-word path of [`Self::centered_f64_one`].
    fn centered_f64_exact(&self, yv: &[u64], scratch: &mut CrtScratch) -> f64 {
        let CrtScratch { acc, neg } = scratch;
        self.crt_words_into(yv, acc);
        if words::cmp(acc, &self.crt.half).is_gt() {
            words::sub_into(neg, &self.crt.product, acc);
            -words::to_f64(neg)
        } else {
            words::to_f64(acc)
        }
    }
}

/// Scratch buffers for the multi-word CRT path (allocated once per call, not per coefficient).
struct CrtScratch {
    acc: Vec<u64>,
    neg: Vec<u64>,
}

impl CrtScratch {
    fn new(words: usize) -> Self {
        Self {
            acc: vec![0; words + 1],
            neg: vec![0; words + 1],
        }
    }
}

/// `y[c·k + i] = x[i·n + c] · w_i mod q_i` (Shoup) for `k = moduli.len()` limbs of `n`
/// residues: the CRT scaling step, transposed to coefficient-major order.
#[expect(
    clippy::indexing_slicing,
    reason = "i < k and c < n, with input.len() == k·n checked by callers"
)]
fn scale_transposed(
    input: &[u64],
    n: usize,
    moduli: &[Modulus],
    w: &[u64],
    w_shoup: &[u64],
) -> Vec<u64> {
    let k = moduli.len();
    debug_assert_eq!(input.len(), k * n);
    let mut ys = vec![0u64; k * n];
    if input.len() != k * n {
        return ys;
    }
    let consts: Vec<(Modulus, u64, u64)> = moduli
        .iter()
        .zip(w.iter().zip(w_shoup))
        .map(|(m, (&a, &b))| (*m, a, b))
        .collect();
    for (c, yv) in ys.chunks_exact_mut(k).enumerate() {
        for (i, (y, (m, wi, wsi))) in yv.iter_mut().zip(&consts).enumerate() {
            *y = m.mul_shoup(input[i * n + c], *wi, *wsi);
        }
    }
    ys
}

/// Correctly rounded `i128 -> f64`, with a hardware fast path for values that fit an `i64`.
///
/// The wide case goes through [`words::to_f64`] rather than `c as f64`: LLVM would otherwise
/// merge both branches into one `i128` conversion, a slow library call.
#[inline]
fn i128_to_f64(c: i128) -> f64 {
    if let Ok(small) = i64::try_from(c) {
        return small as f64;
    }
    let m = c.unsigned_abs();
    // Splitting into the two words is lossless.
    let v = words::to_f64(&[m as u64, (m >> 64) as u64]);
    if c < 0 { -v } else { v }
}

#[cfg(test)]
mod tests;
