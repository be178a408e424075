//! Basis extension between RNS bases (the ModUp/ModDown kernel of key switching): fast
//! (approximate) and exact.

use core::fmt;

use super::{CrtScratch, RnsBasis, scale_transposed, words};
use crate::{Error, Modulus, Result};

/// Basis extension from one RNS basis to another.
///
/// For `x` given modulo `Q = Π q_i` (basis `from`, `k` limbs), with `y_i = [x_i·q̂_i^-1]_{q_i}`:
///
/// - [`convert_approx`](Self::convert_approx) computes `Σ_i y_i·(q̂_i mod p_j) mod p_j` for every
///   modulus `p_j` of `to`, which is `x + u·Q mod p_j` for one integer `0 <= u < k` per
///   coefficient (the same `u` for every `p_j`);
/// - [`convert_exact`](Self::convert_exact) also subtracts `r·Q` with `r = round(Σ_i y_i/q_i)`
///   (Halevi–Polyakov–Shoup 2019, section 2.2), which yields the centered representative of `x`
///   in `(-Q/2, Q/2)` exactly: `r` is estimated in `f64` and recomputed with exact multi-word
///   arithmetic whenever the estimate's fractional part is within its error bound of ½.
#[derive(Clone)]
pub struct BasisConverter {
    n: usize,
    from: RnsBasis,
    to_moduli: Vec<Modulus>,
    /// Row `j` (length `k`): `q̂_i mod p_j` for each `i`.
    q_hat_mod_p: Vec<u64>,
    /// `Q mod p_j` for each `j`.
    q_mod_p: Vec<u64>,
    /// Row `j` (length `k + 1`): `q̂_i mod p_j` for each `i`, then `−Q mod p_j` (the
    /// multiplier of the rounded quotient).
    exact_consts: Vec<u64>,
    /// Distance from ½ below which the `f64` estimate of `Σ y_i/q_i` cannot decide the rounding.
    margin: f64,
}

impl fmt::Debug for BasisConverter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = |m: &[Modulus]| m.iter().map(Modulus::value).collect::<Vec<_>>();
        f.debug_struct("BasisConverter")
            .field("n", &self.n)
            .field("from", &v(self.from.moduli()))
            .field("to", &v(&self.to_moduli))
            .finish_non_exhaustive()
    }
}

/// Number of 124-bit products a `u128` accumulator can absorb without overflow.
const LAZY_TERMS: usize = 16;

/// Columns per block of the general exact conversion: its limb-major scratch (`k + 1` rows)
/// stays in the L1 cache for the digit sizes of the presets.
const EXACT_BLOCK: usize = 256;

/// Scratch of one block of [`BasisConverter::convert_exact_columns`].
struct ExactBlock {
    /// `y_i = [x_i·q̂_i^-1]_{q_i}`, `k` rows of [`EXACT_BLOCK`].
    ys: Vec<u64>,
    /// The `f64` estimate of `Σ_i y_i/q_i` per column.
    estimate: Vec<f64>,
    /// The rounded quotient per column.
    quotients: Vec<u64>,
    /// One column's `y_i` (exact fallback).
    column: Vec<u64>,
    crt: CrtScratch,
}

impl ExactBlock {
    fn new(k: usize, words: usize) -> Self {
        Self {
            ys: vec![0; k * EXACT_BLOCK],
            estimate: vec![0.0; EXACT_BLOCK],
            quotients: vec![0; EXACT_BLOCK],
            column: vec![0; k],
            crt: CrtScratch::new(words),
        }
    }
}

impl BasisConverter {
    /// Precomputes the conversion constants from `from` to `to`.
    ///
    /// # Errors
    ///
    /// [`Error::DegreeMismatch`] if the bases have different degrees.
    pub fn new(from: &RnsBasis, to: &RnsBasis) -> Result<Self> {
        if from.n() != to.n() {
            return Err(Error::DegreeMismatch {
                expected: from.n(),
                found: to.n(),
            });
        }
        let mut q_hat_mod_p = Vec::with_capacity(from.len() * to.len());
        for p in to.moduli() {
            for i in 0..from.len() {
                let hat = from.moduli().iter().enumerate().filter(|&(j, _)| j != i);
                q_hat_mod_p
                    .push(hat.fold(1 % p.value(), |acc, (_, q)| p.mul(acc, p.reduce(q.value()))));
            }
        }
        let q_mod_p: Vec<u64> = to.moduli().iter().map(|p| from.product_mod(p)).collect();
        let exact_consts = q_hat_mod_p
            .chunks_exact(from.len())
            .zip(to.moduli().iter().zip(&q_mod_p))
            .flat_map(|(row, (p, &qp))| row.iter().copied().chain([p.neg(qp)]))
            .collect();
        // Each term y_i/q_i < 1 is formed with three roundings (y_i to f64, 1/q_i, the
        // product), each of relative error <= 2^-53; each of the k - 1 additions of partial
        // sums below k adds at most k·2^-53. The total is below k·(k + 3)·2^-53; the margin
        // is twice that, with EPSILON = 2^-52.
        let k = from.len() as f64;
        let margin = k * (k + 3.0) * f64::EPSILON;
        Ok(Self {
            n: from.n(),
            from: from.clone(),
            to_moduli: to.moduli().to_vec(),
            q_hat_mod_p,
            q_mod_p,
            exact_consts,
            margin,
        })
    }

    /// The number of input limbs.
    #[inline]
    #[must_use]
    pub fn from_len(&self) -> usize {
        self.from.len()
    }

    /// The number of output limbs.
    #[inline]
    #[must_use]
    pub fn to_len(&self) -> usize {
        self.to_moduli.len()
    }

    /// Converts `input` (`from.len()·n` residues in `[0, q_i)`, limb-major, coefficient form)
    /// into `out` (`to.len()·n` residues in `[0, p_j)`), each output coefficient congruent to
    /// `x + u·Q_from` with `0 <= u < from.len()`.
    ///
    /// Lengths must match (debug-asserted). Products are accumulated lazily in `u128` and
    /// reduced once per output (every 16 input limbs for larger bases).
    pub fn convert_approx(&self, input: &[u64], out: &mut [u64]) {
        let (n, k) = (self.n, self.from.len());
        debug_assert_eq!(input.len(), k * n);
        debug_assert_eq!(out.len(), self.to_moduli.len() * n);
        if k == 1 {
            // One input prime: q̂ = 1, so the conversion is a plain reduction (the
            // key-switching case with one special prime per digit).
            for (out_limb, p) in out.chunks_exact_mut(n).zip(&self.to_moduli) {
                for (o, &x) in out_limb.iter_mut().zip(input) {
                    *o = p.reduce(x);
                }
            }
            return;
        }
        let ys = self.scaled(input);
        self.inner_products(&ys, out);
    }

    /// Converts `input` (`from.len()·n` residues in `[0, q_i)`, limb-major, coefficient form)
    /// into `out` (`to.len()·n` residues in `[0, p_j)`): output coefficient `c` is the centered
    /// representative of input coefficient `c` (the integer in `(-Q/2, Q/2)` congruent to it
    /// modulo the odd `Q = Q_from`) reduced modulo each `p_j`. Exact for every input.
    ///
    /// Lengths must match (debug-asserted). Cost: that of
    /// [`convert_approx`](Self::convert_approx) plus `k` floating-point multiply-adds per
    /// coefficient and one modular multiply-subtract per output residue; a multi-word
    /// correction runs only for coefficients within about `k²·2^-52·Q` of `±Q/2`.
    pub fn convert_exact(&self, input: &[u64], out: &mut [u64]) {
        let (n, k) = (self.n, self.from.len());
        debug_assert_eq!(input.len(), k * n);
        debug_assert_eq!(out.len(), self.to_moduli.len() * n);
        let mut outs: Vec<&mut [u64]> = out.chunks_exact_mut(n.max(1)).collect();
        self.convert_exact_columns(input, 0, &mut outs);
    }

    /// [`convert_exact`](Self::convert_exact) of the coefficients `start..start + len` only:
    /// `input` is the whole limb-major input (`from.len()·n` residues) and `outs[j]` receives
    /// output limb `j`'s coefficients `start..start + len`, where `len` is the shortest
    /// `outs[j]`. Coefficients are independent, so disjoint column ranges can be converted on
    /// different threads; the results are those of one call over all columns.
    ///
    /// Outputs beyond `to.len()` limbs, and columns beyond `n`, are left untouched.
    pub fn convert_exact_columns(&self, input: &[u64], start: usize, outs: &mut [&mut [u64]]) {
        let n = self.n;
        let len = outs
            .iter()
            .map(|o| o.len())
            .min()
            .unwrap_or(0)
            .min(n.saturating_sub(start));
        if let [q] = self.from.moduli() {
            let Some(x) = input.get(start..start + len) else {
                return;
            };
            for ((o, p), &qp) in outs.iter_mut().zip(&self.to_moduli).zip(&self.q_mod_p) {
                if let Some(o) = o.get_mut(..len) {
                    convert_one(q, p, qp, x, o);
                }
            }
            return;
        }
        let row_bits = self.row_bits();
        if !crate::simd::scalar_sums_available(row_bits) {
            self.convert_columns_scalar(input, start, len, outs);
            return;
        }
        let mut block = ExactBlock::new(self.from.len(), self.from.crt.words);
        let mut done = 0;
        while done < len {
            let width = (len - done).min(EXACT_BLOCK);
            self.exact_block(input, start + done, width, &mut block);
            let rows: Vec<&[u64]> = block
                .ys
                .chunks_exact(EXACT_BLOCK)
                .chain([block.quotients.as_slice()])
                .map(|r| r.get(..width).unwrap_or_default())
                .collect();
            for (j, o) in outs.iter_mut().enumerate() {
                if let Some(o) = o.get_mut(done..done + width) {
                    self.block_products(j, &rows, o);
                }
            }
            done += width;
        }
    }

    /// Fills `block` for the columns `start..start + width` (`width <= EXACT_BLOCK`): the
    /// scaled residues `y_i` limb-major, and each column's rounded quotient `r`.
    fn exact_block(&self, input: &[u64], start: usize, width: usize, block: &mut ExactBlock) {
        let n = self.n;
        block.estimate.fill(0.0);
        let moduli = self.from.moduli();
        let consts = self.from.q_hat_inv.iter().zip(&self.from.q_hat_inv_shoup);
        for (i, ((m, (&w, &ws)), &iq)) in moduli
            .iter()
            .zip(consts)
            .zip(&self.from.inv_q_f64)
            .enumerate()
        {
            let (Some(x), Some(y)) = (
                input.get(i * n + start..i * n + start + width),
                block.ys.get_mut(i * EXACT_BLOCK..i * EXACT_BLOCK + width),
            ) else {
                continue;
            };
            for ((y, &x), f) in y.iter_mut().zip(x).zip(&mut block.estimate) {
                *y = m.mul_shoup(x, w, ws);
                // y < 2^62, so the signed conversion (one instruction) is exact.
                *f += (*y as i64) as f64 * iq;
            }
        }
        let (ys, column, crt) = (&block.ys, &mut block.column, &mut block.crt);
        let columns = block.quotients.iter_mut().zip(&block.estimate).take(width);
        for (c, (r, &f)) in columns.enumerate() {
            let floor = f.floor();
            *r = if (f - floor - 0.5).abs() > self.margin {
                // Non-negative and at most k: the cast is exact.
                (f + 0.5) as i64 as u64
            } else {
                // Too close to ½ for the estimate: `floor` is the integer part (the fraction
                // is far from an integer) and the exact remainder against Q/2 decides.
                for (v, y) in column.iter_mut().zip(ys.chunks_exact(EXACT_BLOCK)) {
                    *v = y.get(c).copied().unwrap_or(0);
                }
                self.from.crt_words_into(column, &mut crt.acc);
                let upper = words::cmp(&crt.acc, &self.from.crt.half).is_gt();
                floor as i64 as u64 + u64::from(upper)
            };
        }
    }

    /// Output limb `j` of one block: `out[c] = Σ_i y_i[c]·(q̂_i mod p_j) + r[c]·(−Q mod p_j)`
    /// (`rows`: the block's `y_i` and then `r`, each `out.len()` long).
    fn block_products(&self, j: usize, rows: &[&[u64]], out: &mut [u64]) {
        let terms = self.from.len() + 1;
        let (Some(p), Some(consts)) = (
            self.to_moduli.get(j),
            self.exact_consts.get(j * terms..(j + 1) * terms),
        ) else {
            return;
        };
        let done = crate::simd::scalar_sums(p, self.row_bits(), rows, consts, out);
        if done < out.len() {
            let tails: Vec<&[u64]> = rows
                .iter()
                .map(|r| r.get(done..).unwrap_or_default())
                .collect();
            if let Some(o) = out.get_mut(done..) {
                crate::zq::scalar_sums_scalar(p, &tails, consts, o);
            }
        }
    }

    /// `round(Σ_i y_i/q_i)` for one coefficient's `y_i`, exactly.
    ///
    /// `Σ_i y_i/q_i = v + x/Q` with `x` in `[0, Q)` and `v = floor(Σ_i y_i/q_i)`, so the rounded
    /// value is `v` if `x < Q/2` and `v + 1` otherwise (`Q` is odd: no ties). The `f64` sum
    /// decides unless its fractional part lies within `margin` of ½; there `floor` of the
    /// estimate is `v` (the fraction is far from an integer) and the exact `x` decides.
    #[inline]
    fn rounded_quotient(&self, yv: &[u64], scratch: &mut CrtScratch) -> u64 {
        let f: f64 = yv
            .iter()
            .zip(&self.from.inv_q_f64)
            // y < 2^62, so the signed conversion (one instruction) is exact.
            .map(|(&y, &iq)| (y as i64) as f64 * iq)
            .sum();
        let floor = f.floor();
        if (f - floor - 0.5).abs() > self.margin {
            // Non-negative and at most k: the cast is exact.
            return (f + 0.5) as i64 as u64;
        }
        self.from.crt_words_into(yv, &mut scratch.acc);
        let upper = words::cmp(&scratch.acc, &self.from.crt.half).is_gt();
        floor as i64 as u64 + u64::from(upper)
    }

    /// A bound (in bits) on the rows of the block path: residues modulo the input primes
    /// and quotients `r <= k`.
    fn row_bits(&self) -> u32 {
        self.from
            .moduli()
            .iter()
            .map(Modulus::bits)
            .chain([usize::BITS - self.from.len().leading_zeros()])
            .max()
            .unwrap_or(0)
    }

    /// The conversion of columns `start..start + len` without a vector kernel (input primes
    /// above 52 bits, or no IFMA52): coefficient-major `y_i`, the quotient of each column,
    /// and unrolled `u128` inner products per output limb (faster than the block path's
    /// scalar fallback when there is no vector kernel to feed).
    fn convert_columns_scalar(
        &self,
        input: &[u64],
        start: usize,
        len: usize,
        outs: &mut [&mut [u64]],
    ) {
        let (n, k) = (self.n, self.from.len());
        let mut ys = vec![0u64; k * len];
        let consts = self.from.q_hat_inv.iter().zip(&self.from.q_hat_inv_shoup);
        for (i, (m, (&w, &ws))) in self.from.moduli().iter().zip(consts).enumerate() {
            let Some(x) = input.get(i * n + start..i * n + start + len) else {
                continue;
            };
            for (y, &x) in ys.iter_mut().skip(i).step_by(k).zip(x) {
                *y = m.mul_shoup(x, w, ws);
            }
        }
        let mut scratch = CrtScratch::new(self.from.crt.words);
        let quotients: Vec<u64> = ys
            .chunks_exact(k)
            .map(|yv| self.rounded_quotient(yv, &mut scratch))
            .collect();
        let rows = self.q_hat_mod_p.chunks_exact(k);
        for (((o, p), row), &qp) in outs
            .iter_mut()
            .zip(&self.to_moduli)
            .zip(rows)
            .zip(&self.q_mod_p)
        {
            // r·(−Q mod p_j) joins each inner product as one more term.
            let neg_q = u128::from(p.neg(qp));
            let extra = quotients.iter().map(move |&r| u128::from(r) * neg_q);
            if let Some(o) = o.get_mut(..len) {
                limb_products(p, k, row, &ys, extra, o);
            }
        }
    }

    /// `y_i = [x_i q̂_i^-1]_{q_i}`, transposed to coefficient-major order so that each output
    /// is an inner product of two contiguous length-k vectors.
    fn scaled(&self, input: &[u64]) -> Vec<u64> {
        scale_transposed(
            input,
            self.n,
            self.from.moduli(),
            &self.from.q_hat_inv,
            &self.from.q_hat_inv_shoup,
        )
    }

    /// `out[j·n + c] = Σ_i ys[c·k + i]·(q̂_i mod p_j) mod p_j` (the fast conversion).
    fn inner_products(&self, ys: &[u64], out: &mut [u64]) {
        let (n, k) = (self.n, self.from.len());
        let rows = self.q_hat_mod_p.chunks_exact(k);
        for ((out_limb, p), row) in out.chunks_exact_mut(n).zip(&self.to_moduli).zip(rows) {
            limb_products(p, k, row, ys, core::iter::repeat(0), out_limb);
        }
    }
}

/// Exact conversion from one prime: `out[c]` is the centered representative of `input[c]`
/// modulo `q` (the integer in `(-q/2, q/2)` congruent to it, for `input[c] < q`) reduced
/// modulo `p`. The conversion of [`BasisConverter::convert_exact`] from a one-prime basis,
/// without its tables: ModUp of a one-prime digit, ModDown from one special prime, and the
/// rescale's correction term. Coefficients beyond the shorter slice are left untouched.
///
/// Runs an AVX-512 kernel when the CPU has one; the result does not depend on it.
pub fn convert_centered(q: &Modulus, p: &Modulus, input: &[u64], out: &mut [u64]) {
    convert_one(q, p, p.reduce(q.value()), input, out);
}

/// [`convert_centered`] with `qp = q mod p` given: the vector kernel on the leading whole
/// vectors, the scalar one on the rest.
fn convert_one(q: &Modulus, p: &Modulus, qp: u64, input: &[u64], out: &mut [u64]) {
    let (k, word) = crate::simd::one_prime_consts(q, p);
    let done = crate::simd::convert_one_prime(p, &k, word, input, out);
    if let (Some(o), Some(x)) = (out.get_mut(done..), input.get(done..)) {
        convert_one_scalar(q, p, qp, x, o);
    }
}

/// The exact conversion from one prime `q` to `p` (`qp = q mod p`): the centered value of
/// `x < q` is `x` or `x − q`. The specification of the vector kernel.
pub(crate) fn convert_one_scalar(
    q: &Modulus,
    p: &Modulus,
    qp: u64,
    input: &[u64],
    out: &mut [u64],
) {
    let half = q.value() >> 1;
    if q.value() < p.value() {
        // x < q < p needs no reduction, and x − q + p lies in (0, p).
        let shift = p.value() - q.value();
        for (o, &x) in out.iter_mut().zip(input) {
            *o = if x > half { x + shift } else { x };
        }
    } else {
        // x mod p as the Shoup product x·1 (one high and two low multiplies, against
        // Barrett's two wide ones).
        let one_shoup = p.shoup(1);
        for (o, &x) in out.iter_mut().zip(input) {
            let r = p.mul_shoup(x, 1, one_shoup);
            *o = if x > half { p.sub(r, qp) } else { r };
        }
    }
}

/// One output limb of [`BasisConverter::inner_products`]: `out[c] = Σ_i ys[c·k + i]·row[i] +
/// extra[c] mod p`, where `extra[c]` is a quotient `r <= k` times a residue.
fn limb_products(
    p: &Modulus,
    k: usize,
    row: &[u64],
    ys: &[u64],
    extra: impl Iterator<Item = u128>,
    out: &mut [u64],
) {
    match k {
        1 => inner_products::<1>(p, row, ys, extra, out),
        2 => inner_products::<2>(p, row, ys, extra, out),
        3 => inner_products::<3>(p, row, ys, extra, out),
        4 => inner_products::<4>(p, row, ys, extra, out),
        5 => inner_products::<5>(p, row, ys, extra, out),
        6 => inner_products::<6>(p, row, ys, extra, out),
        _ => {
            for ((o, yv), e) in out.iter_mut().zip(ys.chunks_exact(k)).zip(extra) {
                let mut acc = 0u128;
                for (ys16, hs16) in yv.chunks(LAZY_TERMS).zip(row.chunks(LAZY_TERMS)) {
                    // acc < p after the reduction, so 16 more products still fit.
                    acc = ys16
                        .iter()
                        .zip(hs16)
                        .fold(u128::from(p.reduce_u128(acc)), |acc, (&y, &h)| {
                            acc + u128::from(y) * u128::from(h)
                        });
                }
                // Up to 16 products (< 2^128) plus e could overflow: reduce first.
                *o = p.reduce_u128(u128::from(p.reduce_u128(acc)) + e);
            }
        }
    }
}

/// `out[c] = Σ_i ys[c·K + i] · row[i] + extra[c] mod p` with a compile-time `K <= 6` (fully
/// unrolled): six products below 2^124 plus an extra term below 2^70 fit a `u128`.
#[inline]
fn inner_products<const K: usize>(
    p: &Modulus,
    row: &[u64],
    ys: &[u64],
    extra: impl Iterator<Item = u128>,
    out: &mut [u64],
) {
    let Ok(row) = <&[u64; K]>::try_from(row) else {
        return;
    };
    for ((o, yv), e) in out.iter_mut().zip(ys.chunks_exact(K)).zip(extra) {
        if let Ok(yv) = <&[u64; K]>::try_from(yv) {
            let acc = yv
                .iter()
                .zip(row)
                .fold(e, |acc, (&y, &h)| acc + u128::from(y) * u128::from(h));
            *o = p.reduce_u128(acc);
        }
    }
}
