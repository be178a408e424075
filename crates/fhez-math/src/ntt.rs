//! Negacyclic number-theoretic transform over `Z_q[X]/(X^n + 1)`.
//!
//! # Convention
//!
//! Let `ψ` be the smallest primitive `2n`-th root of unity modulo `q`
//! ([`primitive_root`](crate::primes::primitive_root)`(q, 2n)`, see [`NttTable::psi`]) and
//! `brv(i)` the `log2(n)`-bit reversal of `i`. For a polynomial `a(X) = Σ a_j X^j`,
//! [`NttTable::forward`] writes to index `i` the evaluation
//!
//! ```text
//! â[i] = a(ψ^(2·brv(i) + 1)) mod q
//! ```
//!
//! so the output is in bit-reversed order of the odd powers of `ψ`. Products in
//! `Z_q[X]/(X^n + 1)` become pointwise products, and the automorphism `X -> X^g` becomes the
//! index permutation of [`galois_permutation_ntt`].
//!
//! # Algorithm
//!
//! Cooley–Tukey forward and Gentleman–Sande inverse with the powers of `ψ` merged into the
//! butterflies (Longa and Naehrig, "Speeding up the number theoretic transform for faster ideal
//! lattice-based cryptography", CANS 2016), Harvey's lazy butterflies with Shoup twiddles
//! (values stay in `[0, 4q)`, reduced once at the end; D. Harvey, "Faster arithmetic for
//! number-theoretic transforms", 2014), and `n^-1` folded into the last inverse stage.

use core::fmt;

use crate::simd::{self, VecTables, Word};
use crate::{Error, Modulus, Result, primes};

/// Which kernel an [`NttTable`] runs for [`forward`](NttTable::forward),
/// [`forward_lazy`](NttTable::forward_lazy) and [`inverse`](NttTable::inverse).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NttKernel {
    /// The portable scalar kernel (the specification).
    Scalar,
    /// The AVX-512 IFMA52 kernel, for primes `q < 2^50` and `n ≥ 16` on CPUs that have it.
    Ifma52,
    /// The AVX-512F/DQ kernel with 64-bit words, for the larger primes and `n ≥ 16` on CPUs
    /// that have it (and for all primes on CPUs with DQ but without IFMA).
    Avx512Dq,
}

/// The largest supported ring degree, `2^17`.
pub const MAX_DEGREE: usize = 1 << 17;

/// `log2(n)`-bit reversal of `x`.
#[inline]
#[must_use]
pub const fn bit_reverse(x: usize, log_n: u32) -> usize {
    if log_n == 0 {
        0
    } else {
        x.reverse_bits() >> (usize::BITS - log_n)
    }
}

/// Branch-free `if x >= s { x - s } else { x }` for `0 < s` (compiles to a conditional move).
#[inline(always)]
const fn csub(x: u64, s: u64) -> u64 {
    // If x < s the subtraction wraps to a value above x, so the minimum picks x.
    let t = x.wrapping_sub(s);
    if t < x { t } else { x }
}

/// Precomputed tables for the negacyclic NTT of size `n` modulo a prime `q ≡ 1 (mod 2n)`.
///
/// See the [module documentation](self) for the evaluation order.
#[derive(Clone)]
pub struct NttTable {
    modulus: Modulus,
    n: usize,
    log_n: u32,
    psi: u64,
    /// `ψ^brv(k)` for `k < n` (entry 0 unused); stage with `m` blocks uses `[m, 2m)`.
    pub(crate) fwd: Vec<u64>,
    fwd_shoup: Vec<u64>,
    /// `ψ^-brv(k)` for `k < n` (entries 0 and 1 unused: stage 1 is folded with `n^-1`).
    pub(crate) inv: Vec<u64>,
    inv_shoup: Vec<u64>,
    pub(crate) n_inv: u64,
    n_inv_shoup: u64,
    /// `ψ^-brv(1) · n^-1`.
    pub(crate) last_inv: u64,
    last_inv_shoup: u64,
    /// Tables of the vector kernel, present when one runs on this CPU for this `(q, n)`.
    vector: Option<VecTables>,
}

impl fmt::Debug for NttTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NttTable")
            .field("q", &self.modulus.value())
            .field("n", &self.n)
            .field("psi", &self.psi)
            .finish_non_exhaustive()
    }
}

impl NttTable {
    /// Builds the tables for degree `n` modulo `modulus`.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidDegree`] unless `n` is a power of two in `2..=2^17`;
    /// - [`Error::NotNttFriendly`] unless `q` is prime and `q ≡ 1 (mod 2n)`.
    pub fn new(modulus: Modulus, n: usize) -> Result<Self> {
        if !n.is_power_of_two() || !(2..=MAX_DEGREE).contains(&n) {
            return Err(Error::InvalidDegree { n });
        }
        let q = modulus.value();
        let two_n = 2 * n as u64;
        if q % two_n != 1 || !primes::is_prime(q) {
            return Err(Error::NotNttFriendly { q, n });
        }
        let psi = primes::primitive_root(q, two_n).map_err(|_| Error::NotNttFriendly { q, n })?;
        let psi_inv = modulus.inv(psi)?;
        let log_n = n.trailing_zeros();
        let fwd = bit_reversed_powers(&modulus, psi, n, log_n);
        let mut inv = bit_reversed_powers(&modulus, psi_inv, n, log_n);
        let n_inv = modulus.inv(n as u64)?;
        let last_inv = modulus.mul(inv.get(1).copied().unwrap_or(1), n_inv);
        // Entries 0 and 1 of `inv` are never read by the butterflies.
        inv.iter_mut().take(2).for_each(|w| *w = 1);
        let vector = simd::word_for(modulus.bits(), n, simd::features())
            .and_then(|w| VecTables::new(&modulus, n, (&fwd, &inv), (n_inv, last_inv), w));
        let shoup = |v: &[u64]| v.iter().map(|&w| modulus.shoup(w)).collect::<Vec<_>>();
        Ok(Self {
            modulus,
            n,
            log_n,
            psi,
            fwd_shoup: shoup(&fwd),
            fwd,
            inv_shoup: shoup(&inv),
            inv,
            n_inv,
            n_inv_shoup: modulus.shoup(n_inv),
            last_inv,
            last_inv_shoup: modulus.shoup(last_inv),
            vector,
        })
    }

    /// The kernel [`forward`](Self::forward), [`forward_lazy`](Self::forward_lazy) and
    /// [`inverse`](Self::inverse) run on this CPU for this table.
    #[inline]
    #[must_use]
    pub const fn kernel(&self) -> NttKernel {
        match &self.vector {
            None => NttKernel::Scalar,
            Some(v) => match v.word() {
                Word::W52 => NttKernel::Ifma52,
                Word::W64 => NttKernel::Avx512Dq,
            },
        }
    }

    /// The modulus `q`.
    #[inline]
    #[must_use]
    pub const fn modulus(&self) -> &Modulus {
        &self.modulus
    }

    /// The transform size `n`.
    #[inline]
    #[must_use]
    pub const fn n(&self) -> usize {
        self.n
    }

    /// `log2(n)`.
    #[inline]
    #[must_use]
    pub const fn log_n(&self) -> u32 {
        self.log_n
    }

    /// The primitive `2n`-th root of unity `ψ` (the smallest one) defining the evaluation points.
    #[inline]
    #[must_use]
    pub const fn psi(&self) -> u64 {
        self.psi
    }

    /// `n^-1 mod q`.
    #[inline]
    #[must_use]
    pub const fn n_inv(&self) -> u64 {
        self.n_inv
    }

    /// The exponent `e` such that output index `i` of [`forward`](Self::forward) holds
    /// `a(ψ^e)`, namely `e = 2·brv(i) + 1`.
    #[inline]
    #[must_use]
    pub const fn evaluation_exponent(&self, i: usize) -> usize {
        2 * bit_reverse(i, self.log_n) + 1
    }

    /// Forward NTT in place: coefficients in `[0, 4q)` to evaluations in `[0, q)`.
    ///
    /// `a.len()` must equal `n` (debug-asserted). Runs the [`kernel`](Self::kernel) of this
    /// table; the result equals [`forward_scalar`](Self::forward_scalar)'s.
    #[inline]
    pub fn forward(&self, a: &mut [u64]) {
        if let Some(v) = &self.vector
            && v.forward_avx(&self.fwd, a, true)
        {
            return;
        }
        self.forward_impl::<true>(a);
    }

    /// Forward NTT in place without the final reduction: inputs in `[0, 4q)`, outputs in
    /// `[0, 4q)`, congruent to the output of [`forward`](Self::forward).
    ///
    /// `a.len()` must equal `n` (debug-asserted). The IFMA52 kernel reduces its outputs to
    /// `[0, q)` at no extra cost, so the exact values depend on [`kernel`](Self::kernel); the
    /// other kernels give the values of [`forward_lazy_scalar`](Self::forward_lazy_scalar).
    #[inline]
    pub fn forward_lazy(&self, a: &mut [u64]) {
        if let Some(v) = &self.vector
            && v.forward_avx(&self.fwd, a, false)
        {
            return;
        }
        self.forward_impl::<false>(a);
    }

    /// The scalar forward NTT (the specification of [`forward`](Self::forward)), whatever
    /// the CPU: inputs in `[0, 4q)`, outputs in `[0, q)`. `a.len()` must equal `n`
    /// (debug-asserted).
    pub fn forward_scalar(&self, a: &mut [u64]) {
        self.forward_impl::<true>(a);
    }

    /// The scalar lazy forward NTT (the specification of
    /// [`forward_lazy`](Self::forward_lazy) up to congruence): inputs and outputs in
    /// `[0, 4q)`. `a.len()` must equal `n` (debug-asserted).
    pub fn forward_lazy_scalar(&self, a: &mut [u64]) {
        self.forward_impl::<false>(a);
    }

    fn forward_impl<const REDUCE: bool>(&self, a: &mut [u64]) {
        debug_assert_eq!(a.len(), self.n);
        let q = self.modulus;
        let two_q = 2 * q.value();
        let mut m = 1;
        let mut t = self.n / 2;
        // Two stages per pass (radix-4): half the passes over memory. Stage (m, t)
        // pairs (j, j + t) in block i with ψ^brv(m+i); stage (2m, t/2) then pairs
        // (j, j + t/2) in the two halves with ψ^brv(2m+2i) and ψ^brv(2m+2i+1).
        while t >= 4 {
            let w1 = self.fwd.get(m..2 * m).unwrap_or_default();
            let w1s = self.fwd_shoup.get(m..2 * m).unwrap_or_default();
            let w2 = self.fwd.get(2 * m..4 * m).unwrap_or_default();
            let w2s = self.fwd_shoup.get(2 * m..4 * m).unwrap_or_default();
            let blocks = a
                .chunks_exact_mut(2 * t)
                .zip(w1.iter().zip(w1s))
                .zip(w2.chunks_exact(2).zip(w2s.chunks_exact(2)));
            for ((block, (&wa, &was)), (wb, wbs)) in blocks {
                let (&[wb0, wb1], &[wb0s, wb1s]) = (wb, wbs) else {
                    continue;
                };
                let (lo, hi) = block.split_at_mut(t);
                let (a0, a1) = lo.split_at_mut(t / 2);
                let (a2, a3) = hi.split_at_mut(t / 2);
                for (((x0, x1), x2), x3) in a0
                    .iter_mut()
                    .zip(a1.iter_mut())
                    .zip(a2.iter_mut())
                    .zip(a3.iter_mut())
                {
                    let (u0, u2) = fwd_butterfly(&q, two_q, *x0, *x2, wa, was);
                    let (u1, u3) = fwd_butterfly(&q, two_q, *x1, *x3, wa, was);
                    (*x0, *x1) = fwd_butterfly(&q, two_q, u0, u1, wb0, wb0s);
                    (*x2, *x3) = fwd_butterfly(&q, two_q, u2, u3, wb1, wb1s);
                }
            }
            m *= 4;
            t /= 4;
        }
        // One or two radix-2 stages remain (t = 2 and/or t = 1).
        while t >= 1 {
            let stage = self.fwd.get(m..2 * m).unwrap_or_default();
            let stage_s = self.fwd_shoup.get(m..2 * m).unwrap_or_default();
            let blocks = a.chunks_exact_mut(2 * t).zip(stage.iter().zip(stage_s));
            if t == 1 {
                for (pair, (&w, &ws)) in blocks {
                    if let [x, y] = pair {
                        let (u, v) = fwd_butterfly(&q, two_q, *x, *y, w, ws);
                        (*x, *y) = if REDUCE {
                            (
                                csub(csub(u, two_q), q.value()),
                                csub(csub(v, two_q), q.value()),
                            )
                        } else {
                            (u, v)
                        };
                    }
                }
            } else {
                for (block, (&w, &ws)) in blocks {
                    let (lo, hi) = block.split_at_mut(t);
                    for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                        (*x, *y) = fwd_butterfly(&q, two_q, *x, *y, w, ws);
                    }
                }
            }
            m *= 2;
            t /= 2;
        }
    }

    /// Inverse NTT in place: evaluations in `[0, 2q)` to coefficients in `[0, q)`.
    ///
    /// `a.len()` must equal `n` (debug-asserted). Runs the [`kernel`](Self::kernel) of this
    /// table; the result equals [`inverse_scalar`](Self::inverse_scalar)'s.
    #[inline]
    pub fn inverse(&self, a: &mut [u64]) {
        if let Some(v) = &self.vector
            && v.inverse_avx(&self.inv, a)
        {
            return;
        }
        self.inverse_scalar(a);
    }

    /// The scalar inverse NTT (the specification of [`inverse`](Self::inverse)), whatever the
    /// CPU: evaluations in `[0, 2q)` to coefficients in `[0, q)`. `a.len()` must equal `n`
    /// (debug-asserted).
    pub fn inverse_scalar(&self, a: &mut [u64]) {
        debug_assert_eq!(a.len(), self.n);
        let q = self.modulus;
        let two_q = 2 * q.value();
        let mut h = self.n / 2;
        let mut t = 1;
        // Two stages per pass (radix-4) while at least two stages remain before the
        // folded last one: stage (h, t) pairs (j, j + t) in blocks 2i and 2i+1 with
        // ψ^-brv(h+2i), ψ^-brv(h+2i+1); stage (h/2, 2t) pairs (j, j + 2t) with ψ^-brv(h/2+i).
        while h > 2 {
            let w1 = self.inv.get(h..2 * h).unwrap_or_default();
            let w1s = self.inv_shoup.get(h..2 * h).unwrap_or_default();
            let w2 = self.inv.get(h / 2..h).unwrap_or_default();
            let w2s = self.inv_shoup.get(h / 2..h).unwrap_or_default();
            let blocks = a
                .chunks_exact_mut(4 * t)
                .zip(w1.chunks_exact(2).zip(w1s.chunks_exact(2)))
                .zip(w2.iter().zip(w2s));
            for ((block, (wa, was)), (&wb, &wbs)) in blocks {
                let (&[wa0, wa1], &[wa0s, wa1s]) = (wa, was) else {
                    continue;
                };
                let (lo, hi) = block.split_at_mut(2 * t);
                let (a0, a1) = lo.split_at_mut(t);
                let (a2, a3) = hi.split_at_mut(t);
                for (((x0, x1), x2), x3) in a0
                    .iter_mut()
                    .zip(a1.iter_mut())
                    .zip(a2.iter_mut())
                    .zip(a3.iter_mut())
                {
                    let (u0, u1) = inv_butterfly(&q, two_q, *x0, *x1, wa0, wa0s);
                    let (u2, u3) = inv_butterfly(&q, two_q, *x2, *x3, wa1, wa1s);
                    (*x0, *x2) = inv_butterfly(&q, two_q, u0, u2, wb, wbs);
                    (*x1, *x3) = inv_butterfly(&q, two_q, u1, u3, wb, wbs);
                }
            }
            h /= 4;
            t *= 4;
        }
        while h > 1 {
            let stage = self.inv.get(h..2 * h).unwrap_or_default();
            let stage_s = self.inv_shoup.get(h..2 * h).unwrap_or_default();
            for (block, (&w, &ws)) in a.chunks_exact_mut(2 * t).zip(stage.iter().zip(stage_s)) {
                let (lo, hi) = block.split_at_mut(t);
                for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                    (*x, *y) = inv_butterfly(&q, two_q, *x, *y, w, ws);
                }
            }
            h /= 2;
            t *= 2;
        }
        // Last stage: one block, twiddle ψ^-brv(1), with n^-1 folded in; outputs in [0, q).
        let (lo, hi) = a.split_at_mut(self.n / 2);
        let (ni, nis, li, lis) = (
            self.n_inv,
            self.n_inv_shoup,
            self.last_inv,
            self.last_inv_shoup,
        );
        for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
            let (u, v) = (*x, *y);
            *x = q.mul_shoup(u + v, ni, nis);
            *y = q.mul_shoup(u + two_q - v, li, lis);
        }
    }
}

/// Harvey's lazy Cooley–Tukey butterfly: `x, y < 4q` to `(x + w·y, x - w·y)` in `[0, 4q)`.
#[inline(always)]
fn fwd_butterfly(q: &Modulus, two_q: u64, x: u64, y: u64, w: u64, ws: u64) -> (u64, u64) {
    let x = csub(x, two_q);
    let t = q.mul_shoup_lazy(y, w, ws);
    (x + t, x + two_q - t)
}

/// Harvey's lazy Gentleman–Sande butterfly: `x, y < 2q` to `(x + y, (x - y)·w)` in `[0, 2q)`.
#[inline(always)]
fn inv_butterfly(q: &Modulus, two_q: u64, x: u64, y: u64, w: u64, ws: u64) -> (u64, u64) {
    (csub(x + y, two_q), q.mul_shoup_lazy(x + two_q - y, w, ws))
}

/// `[root^brv(k) for k < n]`.
fn bit_reversed_powers(q: &Modulus, root: u64, n: usize, log_n: u32) -> Vec<u64> {
    let mut out = vec![0; n];
    let mut power = 1;
    for j in 0..n {
        if let Some(slot) = out.get_mut(bit_reverse(j, log_n)) {
            *slot = power;
        }
        power = q.mul(power, root);
    }
    out
}

/// The index map of the automorphism `X -> X^g` on NTT-form polynomials.
///
/// For `n` a power of two and odd `g` in `[1, 2n)`, applying `X -> X^g` to a polynomial in the
/// form produced by [`NttTable::forward`] is `out[i] = in[perm[i]]`. Output index `i` holds
/// `a(ψ^(g·e_i))` with `e_i = 2·brv(i) + 1`, so `perm[i] = brv((g·e_i mod 2n - 1) / 2)`.
///
/// For other inputs the result is unspecified (but this function does not panic); `n = 0`
/// gives an empty map.
#[must_use]
pub fn galois_permutation_ntt(n: usize, galois_elt: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    debug_assert!(n.is_power_of_two() && galois_elt % 2 == 1);
    let log_n = n.trailing_zeros();
    let two_n = 2 * n;
    let g = galois_elt % two_n;
    (0..n)
        .map(|i| {
            let e = (2 * bit_reverse(i, log_n) + 1) * g % two_n;
            bit_reverse(e / 2, log_n)
        })
        .collect()
}

/// The automorphism `X -> X^g` in coefficient form: `out = input(X^g) mod (X^n + 1)`.
///
/// Coefficient `j` moves to `j·g mod 2n`, negated when that exceeds `n` (since `X^n = -1`).
/// `g` must be odd and `input`, `out` of equal power-of-two length with values in `[0, q)`
/// (debug-asserted; otherwise the result is unspecified).
pub fn apply_galois_coeff(q: &Modulus, input: &[u64], galois_elt: usize, out: &mut [u64]) {
    let n = input.len();
    debug_assert_eq!(out.len(), n);
    debug_assert!(galois_elt % 2 == 1);
    let two_n = 2 * n;
    if n == 0 {
        return;
    }
    let g = galois_elt % two_n;
    let mut e = 0usize;
    for &c in input {
        let (idx, value) = if e < n { (e, c) } else { (e - n, q.neg(c)) };
        if let Some(slot) = out.get_mut(idx) {
            *slot = value;
        }
        e += g;
        if e >= two_n {
            e -= two_n;
        }
    }
}

/// Negacyclic product `a·b mod (X^n + 1, q)` by the `O(n^2)` schoolbook method.
///
/// A test oracle (public so other crates' tests can use it). Inputs must be in `[0, q)` and of
/// equal length `n`; the result has length `n`.
#[must_use]
pub fn negacyclic_mul_schoolbook(q: &Modulus, a: &[u64], b: &[u64]) -> Vec<u64> {
    let n = a.len();
    debug_assert_eq!(b.len(), n);
    let mut out = vec![0u64; n];
    for (i, &x) in a.iter().enumerate() {
        // Terms with i + j < n add to out[i + j]; the others wrap around negated.
        let (wrap, direct) = out.split_at_mut(i);
        for (o, &y) in direct.iter_mut().zip(b) {
            *o = q.add(*o, q.mul(x, y));
        }
        for (o, &y) in wrap.iter_mut().zip(b.iter().skip(n - i)) {
            *o = q.sub(*o, q.mul(x, y));
        }
    }
    out
}

#[cfg(test)]
mod tests;
