//! CKKS slot encoding: the canonical embedding between `N/2` complex slots and a
//! real polynomial of degree `< N` in `R[X]/(X^N + 1)`.
//!
//! This module is pure `f64` / complex arithmetic. Scaling by Δ, rounding and
//! the RNS representation are the caller's business.
//!
//! # Conventions
//!
//! * `N` is the ring degree (a power of two in `2..=2^17`), `slots = N/2`,
//!   `M = 2N`, and `ζ = exp(iπ/N)` is a primitive `M`-th root of unity.
//! * Slot `j` (for `j < slots`) is the evaluation at `ζ^{g_j}` with
//!   `g_j = 5^j mod 2N`:
//!   `z_j = m(ζ^{g_j}) = Σ_{k<N} m_k ζ^{g_j·k}`.
//!   The other `N/2` primitive roots `ζ^{-g_j}` carry `conj(z_j)`, because `m`
//!   is real.
//! * Rotation: the automorphism `X → X^{g}` with
//!   `g = SlotEncoder::rotation_galois_element(k) = 5^k mod 2N` maps slot
//!   vector `z` to `z'` with `z'_j = z_{(j+k) mod slots}`: a **positive step
//!   rotates left**. Conjugation is `X → X^{2N-1}` and maps `z_j → conj(z_j)`.
//! * Coefficient layout: with `u_k = m_k + i·m_{k+N/2}` (`k < N/2`),
//!   `z_j = Σ_{k<N/2} u_k ζ^{g_j·k}` because `ζ^{g_j·N/2} = i^{g_j} = i`
//!   (every `g_j ≡ 1 mod 4`). So decoding packs coefficient `k` and `k + N/2`
//!   into one complex number, and encoding writes `Re u_k` to `m_k` and
//!   `Im u_k` to `m_{k+N/2}`.
//! * Nothing is scaled: `coeffs_from_slots` returns the exact preimage, so
//!   `slots_from_coeffs(coeffs_from_slots(z)) = z` up to rounding.
//!
//! # Algorithm
//!
//! The "special FFT" of size `N/2` (Cheon–Kim–Kim–Song, Asiacrypt 2017, and the
//! HEAAN implementation notes), derived here from the even/odd split
//! `p(X) = p_e(X²) + X·p_o(X²)` of a polynomial of degree `< L`, evaluated at
//! `ρ_{L,j} = ζ_{4L}^{5^j mod 4L}` for `j < L`:
//!
//! * `ρ_{L,j}² = ρ_{L/2, j mod L/2}` because 5 has order `L/2` modulo `2L`, and
//! * `ρ_{L,j+L/2} = −ρ_{L,j}` because `5^{L/2} ≡ 2L + 1 (mod 4L)`,
//!
//! so `P_j = E_j + ρ_{L,j} O_j` and `P_{j+L/2} = E_j − ρ_{L,j} O_j`: a radix-2
//! decimation-in-time butterfly network with bit-reversed input and outputs in
//! natural slot order. The inverse runs the same stages backwards with
//! conjugated twiddles and a single `1/(N/2)` scale. Both directions cost
//! `O(N log N)` with every twiddle precomputed, in stage order, from exact
//! angles (no accumulated trigonometric error).

mod fft;
#[cfg(test)]
mod oracle;
#[cfg(test)]
mod tests;

use core::fmt;

pub use num_complex::Complex64;

use fft::SpecialFft;

/// Smallest supported ring degree.
pub const MIN_DEGREE: usize = 2;
/// Largest supported ring degree (`2^17`).
pub const MAX_DEGREE: usize = 1 << 17;

/// Errors of the slot encoder.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodingError {
    /// The ring degree is not a power of two in `MIN_DEGREE..=MAX_DEGREE`.
    #[error("ring degree {n} is not a power of two in {MIN_DEGREE}..={MAX_DEGREE}")]
    InvalidDegree {
        /// The rejected degree.
        n: usize,
    },
    /// More values than slots were given.
    #[error("{len} values do not fit in {slots} slots")]
    TooManyValues {
        /// Number of values given.
        len: usize,
        /// Number of slots (`N/2`).
        slots: usize,
    },
    /// An input value is NaN or infinite.
    #[error("input value at index {index} is not finite")]
    NonFinite {
        /// Index of the first non-finite input.
        index: usize,
    },
    /// An input or output buffer has the wrong length.
    #[error("buffer length mismatch: expected {expected}, found {found}")]
    LengthMismatch {
        /// Required length.
        expected: usize,
        /// Length given.
        found: usize,
    },
}

/// Precomputed canonical-embedding transform for one ring degree `N`.
///
/// Invariants: `N` is a power of two in [`MIN_DEGREE`]`..=`[`MAX_DEGREE`]; the
/// tables hold `N/2 − 1` twiddles (stage order) and an `N/2`-entry bit-reversal
/// permutation. Immutable after construction, so it is `Send + Sync` and can be
/// shared (`Arc`) between threads. See the [module docs](self) for the exact
/// slot and coefficient conventions.
///
/// # Examples
///
/// ```
/// use fhez_ckks::encoding::{Complex64, SlotEncoder};
/// let enc = SlotEncoder::new(8)?;
/// let z = [Complex64::new(1.0, 2.0), Complex64::new(-0.5, 0.0)];
/// let m = enc.coeffs_from_slots(&z)?; // 8 real coefficients
/// let back = enc.slots_from_coeffs(&m)?; // 4 slots: z, then zeros
/// assert!((back[0] - z[0]).norm() < 1e-12);
/// # Ok::<(), fhez_ckks::encoding::EncodingError>(())
/// ```
#[derive(Clone)]
pub struct SlotEncoder {
    degree: usize,
    fft: SpecialFft,
}

impl fmt::Debug for SlotEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotEncoder")
            .field("degree", &self.degree)
            .field("slots", &self.slots())
            .finish_non_exhaustive()
    }
}

impl SlotEncoder {
    /// Builds the tables for ring degree `n`.
    ///
    /// # Errors
    ///
    /// [`EncodingError::InvalidDegree`] unless `n` is a power of two in
    /// `2..=2^17`.
    pub fn new(n: usize) -> Result<Self, EncodingError> {
        if !n.is_power_of_two() || !(MIN_DEGREE..=MAX_DEGREE).contains(&n) {
            return Err(EncodingError::InvalidDegree { n });
        }
        Ok(Self {
            degree: n,
            fft: SpecialFft::new(n / 2),
        })
    }

    /// Ring degree `N`.
    #[must_use]
    pub fn degree(&self) -> usize {
        self.degree
    }

    /// Number of complex slots, `N/2`.
    #[must_use]
    pub fn slots(&self) -> usize {
        self.degree / 2
    }

    /// Slots → real coefficients (length `N`), not scaled: the result `m`
    /// satisfies `m(ζ^{5^j}) = values[j]` for every slot `j`, with missing
    /// trailing values taken as zero.
    ///
    /// # Errors
    ///
    /// [`EncodingError::TooManyValues`] if `values.len() > slots`;
    /// [`EncodingError::NonFinite`] if a real or imaginary part is NaN or
    /// infinite.
    pub fn coeffs_from_slots(&self, values: &[Complex64]) -> Result<Vec<f64>, EncodingError> {
        let mut out = vec![0.0; self.degree];
        self.coeffs_from_slots_into(values, &mut out)?;
        Ok(out)
    }

    /// As [`coeffs_from_slots`](Self::coeffs_from_slots) for real slot values
    /// (imaginary parts zero). The result is antisymmetric:
    /// `m_{N−k} = −m_k` for `0 < k < N` (so `m_{N/2} = 0`).
    ///
    /// # Errors
    ///
    /// As [`coeffs_from_slots`](Self::coeffs_from_slots).
    pub fn coeffs_from_real_slots(&self, values: &[f64]) -> Result<Vec<f64>, EncodingError> {
        let mut out = vec![0.0; self.degree];
        self.coeffs_from_real_slots_into(values, &mut out)?;
        Ok(out)
    }

    /// Real coefficients (length exactly `N`) → slot values (length `N/2`):
    /// `out[j] = m(ζ^{5^j})`.
    ///
    /// # Errors
    ///
    /// [`EncodingError::LengthMismatch`] if `coeffs.len() != N`;
    /// [`EncodingError::NonFinite`] for a NaN or infinite coefficient.
    pub fn slots_from_coeffs(&self, coeffs: &[f64]) -> Result<Vec<Complex64>, EncodingError> {
        let mut out = vec![Complex64::new(0.0, 0.0); self.slots()];
        self.slots_from_coeffs_into(coeffs, &mut out)?;
        Ok(out)
    }

    /// Allocation-free [`coeffs_from_slots`](Self::coeffs_from_slots) into a
    /// caller buffer of length exactly `N`. Inputs are validated before `out`
    /// is written, so on error `out` is untouched.
    ///
    /// # Errors
    ///
    /// As [`coeffs_from_slots`](Self::coeffs_from_slots), plus
    /// [`EncodingError::LengthMismatch`] if `out.len() != N`.
    pub fn coeffs_from_slots_into(
        &self,
        values: &[Complex64],
        out: &mut [f64],
    ) -> Result<(), EncodingError> {
        self.check_encode_lengths(values.len(), out.len())?;
        if let Some(index) = values
            .iter()
            .position(|v| !(v.re.is_finite() && v.im.is_finite()))
        {
            return Err(EncodingError::NonFinite { index });
        }
        let (re, im) = out.split_at_mut(self.slots());
        self.fft.inverse(values.iter().copied(), re, im);
        Ok(())
    }

    /// Allocation-free [`coeffs_from_real_slots`](Self::coeffs_from_real_slots)
    /// into a caller buffer of length exactly `N`; `out` is untouched on error.
    ///
    /// # Errors
    ///
    /// As [`coeffs_from_slots_into`](Self::coeffs_from_slots_into).
    pub fn coeffs_from_real_slots_into(
        &self,
        values: &[f64],
        out: &mut [f64],
    ) -> Result<(), EncodingError> {
        self.check_encode_lengths(values.len(), out.len())?;
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(EncodingError::NonFinite { index });
        }
        let (re, im) = out.split_at_mut(self.slots());
        let values = values.iter().map(|&v| Complex64::new(v, 0.0));
        self.fft.inverse(values, re, im);
        Ok(())
    }

    /// Allocation-free [`slots_from_coeffs`](Self::slots_from_coeffs) into a
    /// caller buffer of length exactly `N/2`; `out` is untouched on error.
    ///
    /// # Errors
    ///
    /// As [`slots_from_coeffs`](Self::slots_from_coeffs), plus
    /// [`EncodingError::LengthMismatch`] if `out.len() != N/2`.
    pub fn slots_from_coeffs_into(
        &self,
        coeffs: &[f64],
        out: &mut [Complex64],
    ) -> Result<(), EncodingError> {
        check_len(self.degree, coeffs.len())?;
        check_len(self.slots(), out.len())?;
        if let Some(index) = coeffs.iter().position(|c| !c.is_finite()) {
            return Err(EncodingError::NonFinite { index });
        }
        let (lo, hi) = coeffs.split_at(self.slots());
        self.fft.forward(lo, hi, out);
        Ok(())
    }

    /// Galois element `5^step mod 2N` of the automorphism that rotates the
    /// slots **left** by `step`: `out[j] = in[(j + step) mod slots]`. Any
    /// `step` is accepted (negative = right rotation); it is reduced modulo the
    /// order `N/2` of 5 in `(Z/2N)^*`.
    #[must_use]
    pub fn rotation_galois_element(&self, step: i64) -> usize {
        let modulus = 2 * self.degree as u64;
        // `slots <= 2^16` fits in i64, and `rem_euclid` is in `0..slots`.
        let exponent = step.rem_euclid(self.slots() as i64) as u64;
        let g = pow_mod(5, exponent, modulus);
        // `g < 2N <= 2^18` fits in usize.
        g as usize
    }

    /// Galois element `2N − 1` (`X → X^{-1}`), which conjugates every slot.
    #[must_use]
    pub fn conjugation_galois_element(&self) -> usize {
        2 * self.degree - 1
    }

    fn check_encode_lengths(&self, len: usize, out_len: usize) -> Result<(), EncodingError> {
        if len > self.slots() {
            return Err(EncodingError::TooManyValues {
                len,
                slots: self.slots(),
            });
        }
        check_len(self.degree, out_len)
    }
}

fn check_len(expected: usize, found: usize) -> Result<(), EncodingError> {
    if expected == found {
        Ok(())
    } else {
        Err(EncodingError::LengthMismatch { expected, found })
    }
}

/// `base^exp mod modulus` for `modulus <= 2^32` (no overflow in `u64`).
fn pow_mod(base: u64, mut exp: u64, modulus: u64) -> u64 {
    debug_assert!(modulus > 0 && modulus <= 1 << 32);
    let mut acc = 1 % modulus;
    let mut b = base % modulus;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = acc * b % modulus;
        }
        b = b * b % modulus;
        exp >>= 1;
    }
    acc
}
