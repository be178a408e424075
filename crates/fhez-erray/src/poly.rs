//! Powers and polynomials at optimal multiplicative depth.
//!
//! Cost model (see `fhez_backend::Backend`): a ct×ct product and a multiplication by a
//! non-integer scalar each consume one level. Under it the optimal depth of a generic degree-`d`
//! polynomial is `⌈log2(d + 1)⌉` (a degree-`d` term needs `⌈log2 d⌉` squarings plus one level
//! for its non-integer coefficient, and `2^k − 1` is the largest degree reachable in `k`
//! levels). [`Erray::polyval`] reaches it by splitting
//! `p(x) = q(x) · x^(2^k) + r(x)` at the largest power of two `2^k ≤ d` (a power-of-two BSGS
//! in the power basis): degree 1 → depth 1, degree 2 → 2, degree 3 → 2, degree 4–7 → 3.
//! Integer coefficients with `|c| ≤ 2^20` are free, so `x² + x` takes depth 1.

use fhez_backend::Backend;

use crate::{Erray, Packing, Result};

/// Ciphertexts a batch-in-slots [`Erray::polyval`] evaluates at a time: the polynomial is
/// elementwise, so a large array is evaluated in chunks of this many ciphertexts, and the
/// temporaries (powers, scaled terms, partial sums) exist for one chunk at a time instead
/// of for the whole array.
pub const POLYVAL_CHUNK: usize = 64;

/// A partial result: a constant (no ciphertext needed) or an erray.
enum Term<B: Backend> {
    Const(f64),
    Enc(Erray<B>),
}

impl<B: Backend> Erray<B> {
    /// `self^k` elementwise by square-and-multiply: depth `⌈log2 k⌉` (0 for k ≤ 1).
    /// `k = 0` gives ones.
    ///
    /// # Errors
    /// Backend errors (`LevelExhausted`).
    pub fn pow(&self, k: u32) -> Result<Self> {
        if k == 0 {
            return self.zeros_like()?.add_scalar(1.0);
        }
        let mut result: Option<Self> = None;
        let mut base = self.clone();
        let mut rest = k;
        loop {
            if rest & 1 == 1 {
                result = Some(match result {
                    Some(r) => r.mul(&base)?,
                    None => base.clone(),
                });
            }
            rest >>= 1;
            if rest == 0 {
                break;
            }
            base = base.mul(&base)?;
        }
        match result {
            Some(r) => Ok(r),
            None => Ok(base),
        }
    }

    /// Evaluates `Σ_i coeffs[i] · self^i` elementwise (ascending coefficients, like
    /// `numpy.polynomial.polynomial.polyval`, **not** `numpy.polyval`) at depth
    /// `⌈log2(d + 1)⌉` for degree `d` (see the module docs). Trailing zero coefficients are
    /// ignored; a constant polynomial yields that constant (no level).
    ///
    /// # Errors
    /// Backend errors (`LevelExhausted`, non-finite coefficients).
    pub fn polyval(&self, coeffs: &[f64]) -> Result<Self> {
        self.clone().polyval_owned(coeffs)
    }

    /// [`Erray::polyval`] consuming the array: a batch-in-slots array is evaluated chunk by
    /// chunk ([`POLYVAL_CHUNK`]) and each chunk's inputs are dropped as soon as its outputs
    /// exist, so when the caller hands over its last handle on the ciphertexts the inputs
    /// are freed while the outputs are made. Values are those of [`Erray::polyval`].
    ///
    /// # Errors
    /// As [`Erray::polyval`].
    pub fn polyval_owned(self, coeffs: &[f64]) -> Result<Self> {
        match self.packing {
            Packing::BatchInSlots { batch } if self.cts.len() > POLYVAL_CHUNK => {
                let mut out = self.with_cts(self.shape.clone(), Vec::new(), true);
                out.cts.reserve_exact(self.cts.len());
                let clean_in = self.clean;
                let mut inputs = self.cts.into_iter();
                loop {
                    let chunk: Vec<B::Ct> = inputs.by_ref().take(POLYVAL_CHUNK).collect();
                    if chunk.is_empty() {
                        break;
                    }
                    let part = out.with_cts(vec![batch, chunk.len()], chunk, clean_in);
                    let done = part.polyval_whole(coeffs)?;
                    out.clean &= done.clean;
                    out.cts.extend(done.cts);
                }
                Ok(out)
            }
            Packing::BatchInSlots { .. } | Packing::Flat | Packing::SingleInput { .. } => {
                self.polyval_whole(coeffs)
            }
        }
    }

    /// [`Erray::polyval`] on the whole array at once.
    fn polyval_whole(&self, coeffs: &[f64]) -> Result<Self> {
        let degree = coeffs.iter().rposition(|&c| c != 0.0).unwrap_or(0);
        let coeffs = coeffs.get(..=degree).unwrap_or(&[]);
        let mut powers = vec![self.clone()]; // powers[k] = self^(2^k)
        match self.eval(coeffs, &mut powers)? {
            Term::Enc(e) => Ok(e),
            Term::Const(c) => self.zeros_like()?.add_scalar(c),
        }
    }

    fn eval(&self, coeffs: &[f64], powers: &mut Vec<Self>) -> Result<Term<B>> {
        let degree = coeffs.iter().rposition(|&c| c != 0.0).unwrap_or(0);
        match coeffs.get(..=degree) {
            None | Some([]) => Ok(Term::Const(0.0)),
            Some(&[c0]) => Ok(Term::Const(c0)),
            Some(&[c0, c1]) => {
                let lin = self.mul_scalar(c1)?;
                Ok(Term::Enc(if c0 == 0.0 { lin } else { lin.add_scalar(c0)? }))
            }
            Some(cs) => {
                let k = usize::BITS - 1 - degree.leading_zeros(); // 2^k <= degree
                let split = 1usize << k;
                let (low, high) = cs.split_at(split);
                let x_pow = self.power_of_two(k as usize, powers)?;
                let prod = match self.eval(high, powers)? {
                    Term::Const(c) => x_pow.mul_scalar(c)?,
                    Term::Enc(q) => q.mul(&x_pow)?,
                };
                Ok(Term::Enc(match self.eval(low, powers)? {
                    Term::Const(0.0) => prod,
                    Term::Const(c) => prod.add_scalar(c)?,
                    Term::Enc(r) => prod.add(&r)?,
                }))
            }
        }
    }

    /// `self^(2^k)` by repeated squaring, cached in `powers`.
    fn power_of_two(&self, k: usize, powers: &mut Vec<Self>) -> Result<Self> {
        while powers.len() <= k {
            let last = powers.last().cloned().unwrap_or_else(|| self.clone());
            powers.push(last.mul(&last)?);
        }
        Ok(powers.get(k).cloned().unwrap_or_else(|| self.clone()))
    }
}
