//! RNS polynomials with their representation in the type.
//!
//! A [`Poly<R>`] stores `limbs × n` residues in one contiguous limb-major buffer: limb `i`
//! (the residues modulo the `i`-th modulus of an [`RnsBasis`]) is `data[i·n..(i+1)·n]`. The
//! marker `R` records whether the limbs hold coefficients ([`Coeff`]) or NTT evaluations
//! ([`Ntt`], in the order documented in [`crate::ntt`]); operations that only make sense in
//! one representation exist only on that type, so mixing them is a compile error.
//!
//! Arithmetic takes the basis explicitly: limb `i` is reduced modulo `basis.moduli()[i]`. The
//! basis may be longer than the polynomial (a polynomial at a lower level uses a prefix).

use core::marker::PhantomData;

use crate::{Error, Result, RnsBasis, zq};

mod sealed {
    /// Prevents downstream representations.
    pub trait Sealed {}
}

/// A polynomial representation marker: [`Coeff`] or [`Ntt`].
pub trait Repr: sealed::Sealed + Clone + Copy + core::fmt::Debug + Send + Sync + 'static {}

/// Coefficient representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Coeff;

/// NTT (evaluation) representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Ntt;

impl sealed::Sealed for Coeff {}
impl sealed::Sealed for Ntt {}
impl Repr for Coeff {}
impl Repr for Ntt {}

/// A polynomial of degree `< n` over an RNS basis, `limbs` residues per coefficient.
///
/// Invariant: `data.len() == limbs·n`; every residue of limb `i` is below the `i`-th modulus
/// of the basis it is used with (the arithmetic relies on it and keeps it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Poly<R: Repr> {
    n: usize,
    data: Vec<u64>,
    repr: PhantomData<R>,
}

impl<R: Repr> Poly<R> {
    /// The zero polynomial with `limbs` limbs of `n` coefficients.
    #[must_use]
    pub fn zero(n: usize, limbs: usize) -> Self {
        Self {
            n,
            data: vec![0; n * limbs],
            repr: PhantomData,
        }
    }

    /// Wraps a limb-major buffer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDegree`] if `n == 0`, [`Error::LengthMismatch`] unless `data.len()` is a
    /// multiple of `n`.
    pub fn from_vec(n: usize, data: Vec<u64>) -> Result<Self> {
        if n == 0 {
            return Err(Error::InvalidDegree { n });
        }
        if !data.len().is_multiple_of(n) {
            let expected = data.len().div_ceil(n) * n;
            return Err(Error::LengthMismatch {
                expected,
                found: data.len(),
            });
        }
        Ok(Self {
            n,
            data,
            repr: PhantomData,
        })
    }

    /// The ring degree `n`.
    #[inline]
    #[must_use]
    pub fn n(&self) -> usize {
        self.n
    }

    /// The number of limbs.
    #[inline]
    #[must_use]
    pub fn limbs(&self) -> usize {
        self.data.len().checked_div(self.n).unwrap_or(0)
    }

    /// All residues, limb-major.
    #[inline]
    #[must_use]
    pub fn as_slice(&self) -> &[u64] {
        &self.data
    }

    /// All residues, limb-major, mutably. Callers keep residues of limb `i` below `q_i`.
    #[inline]
    #[must_use]
    pub fn as_mut_slice(&mut self) -> &mut [u64] {
        &mut self.data
    }

    /// The limb-major buffer.
    #[inline]
    #[must_use]
    pub fn into_vec(self) -> Vec<u64> {
        self.data
    }

    /// Limb `i`, or `None` if `i >= limbs()`.
    #[inline]
    #[must_use]
    pub fn limb(&self, i: usize) -> Option<&[u64]> {
        self.data.get(i * self.n..(i + 1) * self.n)
    }

    /// Limb `i` mutably, or `None` if `i >= limbs()`.
    #[inline]
    #[must_use]
    pub fn limb_mut(&mut self, i: usize) -> Option<&mut [u64]> {
        self.data.get_mut(i * self.n..(i + 1) * self.n)
    }

    /// The limbs in order.
    #[inline]
    pub fn limbs_iter(&self) -> impl ExactSizeIterator<Item = &[u64]> + '_ {
        self.data.chunks_exact(self.n.max(1))
    }

    /// The limbs in order, mutably.
    #[inline]
    pub fn limbs_iter_mut(&mut self) -> impl ExactSizeIterator<Item = &mut [u64]> + '_ {
        self.data.chunks_exact_mut(self.n.max(1))
    }

    /// Keeps the first `k` limbs (no-op if `k >= limbs()`).
    #[inline]
    pub fn truncate_limbs(&mut self, k: usize) {
        self.data.truncate(k * self.n);
    }

    /// Appends a limb.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `limb.len() == n`.
    pub fn push_limb(&mut self, limb: &[u64]) -> Result<()> {
        if limb.len() != self.n {
            return Err(Error::LengthMismatch {
                expected: self.n,
                found: limb.len(),
            });
        }
        self.data.extend_from_slice(limb);
        Ok(())
    }

    /// Reinterprets the representation without transforming the data.
    ///
    /// Only for kernels that transform the buffer themselves (e.g. an in-place NTT through
    /// [`as_mut_slice`](Self::as_mut_slice)) and then relabel the result; misuse silently
    /// yields wrong results.
    #[inline]
    #[must_use]
    pub fn into_repr_unchecked<S: Repr>(self) -> Poly<S> {
        Poly {
            n: self.n,
            data: self.data,
            repr: PhantomData,
        }
    }

    /// Checks that `basis` covers this polynomial (same `n`, at least `limbs()` moduli).
    ///
    /// # Errors
    ///
    /// [`Error::DegreeMismatch`] or [`Error::LimbMismatch`].
    pub fn check_basis(&self, basis: &RnsBasis) -> Result<()> {
        if basis.n() != self.n {
            return Err(Error::DegreeMismatch {
                expected: self.n,
                found: basis.n(),
            });
        }
        if basis.len() < self.limbs() {
            return Err(Error::LimbMismatch {
                expected: self.limbs(),
                found: basis.len(),
            });
        }
        Ok(())
    }

    fn check_operand(&self, rhs: &Self, basis: &RnsBasis) -> Result<()> {
        self.check_basis(basis)?;
        if rhs.n != self.n {
            return Err(Error::DegreeMismatch {
                expected: self.n,
                found: rhs.n,
            });
        }
        if rhs.limbs() != self.limbs() {
            return Err(Error::LimbMismatch {
                expected: self.limbs(),
                found: rhs.limbs(),
            });
        }
        Ok(())
    }

    /// Applies `f(modulus, self_limb, rhs_limb)` to every limb after checking shapes.
    fn zip_limbs(
        &mut self,
        rhs: &Self,
        basis: &RnsBasis,
        f: impl Fn(&crate::Modulus, &mut [u64], &[u64]),
    ) -> Result<()> {
        self.check_operand(rhs, basis)?;
        let n = self.n;
        for ((a, b), q) in self
            .data
            .chunks_exact_mut(n)
            .zip(rhs.data.chunks_exact(n))
            .zip(basis.moduli())
        {
            f(q, a, b);
        }
        Ok(())
    }

    /// `self += rhs`.
    ///
    /// # Errors
    ///
    /// [`Error::DegreeMismatch`] / [`Error::LimbMismatch`] on incompatible shapes or a basis
    /// with fewer than `limbs()` moduli.
    pub fn add_assign(&mut self, rhs: &Self, basis: &RnsBasis) -> Result<()> {
        self.zip_limbs(rhs, basis, zq::add_slices_assign)
    }

    /// `self -= rhs`.
    ///
    /// # Errors
    ///
    /// As [`add_assign`](Self::add_assign).
    pub fn sub_assign(&mut self, rhs: &Self, basis: &RnsBasis) -> Result<()> {
        self.zip_limbs(rhs, basis, zq::sub_slices_assign)
    }

    /// `self = -self`.
    ///
    /// # Errors
    ///
    /// [`Error::DegreeMismatch`] / [`Error::LimbMismatch`] if `basis` does not cover `self`.
    pub fn neg_assign(&mut self, basis: &RnsBasis) -> Result<()> {
        self.check_basis(basis)?;
        for (a, q) in self.data.chunks_exact_mut(self.n).zip(basis.moduli()) {
            zq::neg_slice_assign(q, a);
        }
        Ok(())
    }

    /// Multiplies limb `i` by `scalars[i]` (any `u64`, reduced first).
    ///
    /// # Errors
    ///
    /// As [`neg_assign`](Self::neg_assign), plus [`Error::LimbMismatch`] unless
    /// `scalars.len() == limbs()`.
    pub fn mul_scalar_assign(&mut self, scalars: &[u64], basis: &RnsBasis) -> Result<()> {
        self.check_basis(basis)?;
        if scalars.len() != self.limbs() {
            return Err(Error::LimbMismatch {
                expected: self.limbs(),
                found: scalars.len(),
            });
        }
        for ((a, q), &s) in self
            .data
            .chunks_exact_mut(self.n)
            .zip(basis.moduli())
            .zip(scalars)
        {
            zq::mul_scalar_slice_assign(q, a, s);
        }
        Ok(())
    }
}

impl Poly<Coeff> {
    /// Forward NTT of every limb, in place.
    ///
    /// # Errors
    ///
    /// [`Error::DegreeMismatch`] / [`Error::LimbMismatch`] if `basis` does not cover `self`.
    pub fn to_ntt(mut self, basis: &RnsBasis) -> Result<Poly<Ntt>> {
        self.check_basis(basis)?;
        for (a, t) in self.data.chunks_exact_mut(self.n).zip(basis.tables()) {
            t.forward(a);
        }
        Ok(self.into_repr_unchecked())
    }

    /// Reduces small signed coefficients (`values.len() == n`) into the first `limbs` moduli.
    ///
    /// # Errors
    ///
    /// [`Error::DegreeMismatch`] if `basis.n() != n`, [`Error::LengthMismatch`] unless
    /// `values.len() == n`, [`Error::LimbMismatch`] if `limbs > basis.len()`.
    pub fn from_signed(n: usize, values: &[i64], basis: &RnsBasis, limbs: usize) -> Result<Self> {
        if basis.n() != n {
            return Err(Error::DegreeMismatch {
                expected: n,
                found: basis.n(),
            });
        }
        if values.len() != n {
            return Err(Error::LengthMismatch {
                expected: n,
                found: values.len(),
            });
        }
        if limbs > basis.len() {
            return Err(Error::LimbMismatch {
                expected: limbs,
                found: basis.len(),
            });
        }
        let mut poly = Self::zero(n, limbs);
        for (limb, q) in poly.data.chunks_exact_mut(n).zip(basis.moduli()) {
            limb.iter_mut()
                .zip(values)
                .for_each(|(x, &v)| *x = q.reduce_i64(v));
        }
        Ok(poly)
    }
}

impl Poly<Ntt> {
    /// Inverse NTT of every limb, in place.
    ///
    /// # Errors
    ///
    /// [`Error::DegreeMismatch`] / [`Error::LimbMismatch`] if `basis` does not cover `self`.
    pub fn to_coeff(mut self, basis: &RnsBasis) -> Result<Poly<Coeff>> {
        self.check_basis(basis)?;
        for (a, t) in self.data.chunks_exact_mut(self.n).zip(basis.tables()) {
            t.inverse(a);
        }
        Ok(self.into_repr_unchecked())
    }

    /// Pointwise `self *= rhs` (the negacyclic product in coefficient form).
    ///
    /// # Errors
    ///
    /// As [`add_assign`](Self::add_assign).
    pub fn mul_assign(&mut self, rhs: &Self, basis: &RnsBasis) -> Result<()> {
        self.zip_limbs(rhs, basis, zq::mul_slices_assign)
    }

    /// Pointwise `self += a · b`.
    ///
    /// # Errors
    ///
    /// As [`add_assign`](Self::add_assign), for both `a` and `b`.
    pub fn mul_add_assign(&mut self, a: &Self, b: &Self, basis: &RnsBasis) -> Result<()> {
        self.check_operand(a, basis)?;
        self.check_operand(b, basis)?;
        let n = self.n;
        let limbs = self
            .data
            .chunks_exact_mut(n)
            .zip(a.data.chunks_exact(n).zip(b.data.chunks_exact(n)));
        for ((acc, (x, y)), q) in limbs.zip(basis.moduli()) {
            zq::mul_add_slices_assign(q, acc, x, y);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
