//! Fast basis extension between RNS bases (the ModUp/ModDown kernel of key switching).

use core::fmt;

use super::{RnsBasis, scale_transposed};
use crate::{Error, Modulus, Result};

/// Fast (approximate) basis extension from one RNS basis to another.
///
/// For `x` given modulo `Q = Π q_i` (basis `from`, `k` limbs), computes for every modulus `p_j`
/// of `to`: `Σ_i [x_i·q̂_i^-1]_{q_i} · (q̂_i mod p_j) mod p_j`, which is `x + u·Q mod p_j` for
/// one integer `0 <= u < k` per coefficient (the same `u` for every `p_j`).
#[derive(Clone)]
pub struct BasisConverter {
    n: usize,
    from_moduli: Vec<Modulus>,
    to_moduli: Vec<Modulus>,
    q_hat_inv: Vec<u64>,
    q_hat_inv_shoup: Vec<u64>,
    /// Row `j` (length `k`): `q̂_i mod p_j` for each `i`.
    q_hat_mod_p: Vec<u64>,
}

impl fmt::Debug for BasisConverter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = |m: &[Modulus]| m.iter().map(Modulus::value).collect::<Vec<_>>();
        f.debug_struct("BasisConverter")
            .field("n", &self.n)
            .field("from", &v(&self.from_moduli))
            .field("to", &v(&self.to_moduli))
            .finish_non_exhaustive()
    }
}

/// Number of 124-bit products a `u128` accumulator can absorb without overflow.
const LAZY_TERMS: usize = 16;

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
        Ok(Self {
            n: from.n(),
            from_moduli: from.moduli().to_vec(),
            to_moduli: to.moduli().to_vec(),
            q_hat_inv: from.q_hat_inv.clone(),
            q_hat_inv_shoup: from.q_hat_inv_shoup.clone(),
            q_hat_mod_p,
        })
    }

    /// The number of input limbs.
    #[inline]
    #[must_use]
    pub fn from_len(&self) -> usize {
        self.from_moduli.len()
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
        let (n, k) = (self.n, self.from_moduli.len());
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
        // y_i = [x_i q̂_i^-1]_{q_i}, transposed to coefficient-major order so that each
        // output is an inner product of two contiguous length-k vectors.
        let ys = scale_transposed(
            input,
            n,
            &self.from_moduli,
            &self.q_hat_inv,
            &self.q_hat_inv_shoup,
        );
        let rows = self.q_hat_mod_p.chunks_exact(k);
        for ((out_limb, p), row) in out.chunks_exact_mut(n).zip(&self.to_moduli).zip(rows) {
            match k {
                1 => inner_products::<1>(p, row, &ys, out_limb),
                2 => inner_products::<2>(p, row, &ys, out_limb),
                3 => inner_products::<3>(p, row, &ys, out_limb),
                4 => inner_products::<4>(p, row, &ys, out_limb),
                5 => inner_products::<5>(p, row, &ys, out_limb),
                6 => inner_products::<6>(p, row, &ys, out_limb),
                7..=LAZY_TERMS => {
                    for (o, yv) in out_limb.iter_mut().zip(ys.chunks_exact(k)) {
                        let acc = yv
                            .iter()
                            .zip(row)
                            .fold(0u128, |acc, (&y, &h)| acc + u128::from(y) * u128::from(h));
                        *o = p.reduce_u128(acc);
                    }
                }
                _ => {
                    for (o, yv) in out_limb.iter_mut().zip(ys.chunks_exact(k)) {
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
                        *o = p.reduce_u128(acc);
                    }
                }
            }
        }
    }
}

/// `out[c] = Σ_i ys[c·K + i] · row[i] mod p` with a compile-time `K` (fully unrolled).
#[inline]
fn inner_products<const K: usize>(p: &Modulus, row: &[u64], ys: &[u64], out: &mut [u64]) {
    let Ok(row) = <&[u64; K]>::try_from(row) else {
        return;
    };
    for (o, yv) in out.iter_mut().zip(ys.chunks_exact(K)) {
        if let Ok(yv) = <&[u64; K]>::try_from(yv) {
            let acc = yv
                .iter()
                .zip(row)
                .fold(0u128, |acc, (&y, &h)| acc + u128::from(y) * u128::from(h));
            *o = p.reduce_u128(acc);
        }
    }
}
