//! Encoding slot values into plaintexts and decoding them back.

use std::sync::Arc;

use fhez_math::{Coeff, Modulus, Poly};
use num_complex::Complex64;

use crate::params::CkksParams;
use crate::plaintext::Plaintext;
use crate::{Error, Result};

/// Largest |Δ·value| handled by the fast 64-bit path; larger values take an exact
/// mantissa/exponent path.
const FAST_PATH_BOUND: f64 = 9.2e18;

/// Encodes up to N/2 real or complex values into a [`Plaintext`] (canonical
/// embedding, scale, rounding, RNS) and decodes plaintexts back.
#[derive(Clone, Debug)]
pub struct Encoder {
    params: Arc<CkksParams>,
}

impl Encoder {
    /// An encoder for `params`.
    pub fn new(params: &Arc<CkksParams>) -> Self {
        Self {
            params: Arc::clone(params),
        }
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<CkksParams> {
        &self.params
    }

    /// Encodes real `values` (at most N/2; the rest of the slots are zero) at
    /// `scale` and `level`.
    ///
    /// # Errors
    /// [`Error::TooManyValues`], [`Error::Encoding`] for NaN or infinite values,
    /// [`Error::ValueTooLarge`] when `|scale·x| >= Q_level/2` for a value or a coefficient
    /// (it would wrap), [`Error::Unencodable`] when a scaled value overflows, level errors.
    pub fn encode(&self, values: &[f64], scale: f64, level: u32) -> Result<Plaintext> {
        self.check_len(values.len())?;
        self.check_magnitudes(values.iter().map(|v| v.abs()), scale, level)?;
        let coeffs = self.params.encoder().coeffs_from_real_slots(values)?;
        self.plaintext_from_coeffs(&coeffs, scale, level)
    }

    /// Encodes complex `values` at `scale` and `level`.
    ///
    /// # Errors
    /// As [`Encoder::encode`].
    pub fn encode_complex(
        &self,
        values: &[Complex64],
        scale: f64,
        level: u32,
    ) -> Result<Plaintext> {
        self.check_len(values.len())?;
        self.check_magnitudes(values.iter().map(|v| v.norm()), scale, level)?;
        let coeffs = self.params.encoder().coeffs_from_slots(values)?;
        self.plaintext_from_coeffs(&coeffs, scale, level)
    }

    /// Encodes the constant `value` in every slot: the polynomial is the constant
    /// `round(value·scale)`, so no FFT is needed.
    ///
    /// # Errors
    /// [`Error::ValueTooLarge`] when `|scale·value| >= Q_level/2`, [`Error::Unencodable`] for
    /// NaN, infinite or overflowing values.
    pub fn encode_constant(&self, value: f64, scale: f64, level: u32) -> Result<Plaintext> {
        let mut coeffs = vec![0.0; self.params.n()];
        if let Some(c) = coeffs.first_mut() {
            *c = value;
        }
        self.plaintext_from_coeffs(&coeffs, scale, level)
    }

    /// Decodes the real parts of all N/2 slots.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`] for a plaintext of other parameters.
    pub fn decode(&self, pt: &Plaintext) -> Result<Vec<f64>> {
        Ok(self.decode_complex(pt)?.into_iter().map(|z| z.re).collect())
    }

    /// Decodes all N/2 complex slots.
    ///
    /// # Errors
    /// As [`Encoder::decode`].
    pub fn decode_complex(&self, pt: &Plaintext) -> Result<Vec<Complex64>> {
        self.params.check_id(pt.params_id)?;
        let basis = self.params.q_basis(pt.level)?;
        let coeff = pt.poly.clone().to_coeff(basis)?;
        let mut values = vec![0.0; self.params.n()];
        basis.to_centered_f64(coeff.as_slice(), &mut values)?;
        let inv_scale = 1.0 / pt.scale;
        values.iter_mut().for_each(|v| *v *= inv_scale);
        Ok(self.params.encoder().slots_from_coeffs(&values)?)
    }

    fn check_len(&self, len: usize) -> Result<()> {
        let slots = self.params.slots();
        if len > slots {
            return Err(Error::TooManyValues { len, slots });
        }
        Ok(())
    }

    /// `Q_level / 2` as an `f64`, lowered by 2^-50 relative so that the `f64` rounding of
    /// the product can only make the check stricter.
    fn half_q(&self, level: u32) -> f64 {
        let q: f64 = self
            .params
            .q()
            .iter()
            .take(level as usize + 1)
            .map(|&q| q as f64)
            .product();
        0.5 * q * (1.0 - f64::EPSILON * 4.0)
    }

    /// [`Error::ValueTooLarge`] for the first magnitude `|x|` with `|scale·x| >= Q_level/2`
    /// (NaN magnitudes are left to the encoder's own checks).
    fn check_magnitudes(
        &self,
        magnitudes: impl Iterator<Item = f64>,
        scale: f64,
        level: u32,
    ) -> Result<()> {
        let half_q = self.half_q(level);
        for (index, m) in magnitudes.enumerate() {
            let value = m * scale;
            if value >= half_q {
                return Err(Error::ValueTooLarge {
                    index,
                    log2_value: value.log2(),
                    log2_half_q: half_q.log2(),
                });
            }
        }
        Ok(())
    }

    /// Scales, rounds and reduces real coefficients into an NTT-form plaintext.
    fn plaintext_from_coeffs(&self, coeffs: &[f64], scale: f64, level: u32) -> Result<Plaintext> {
        let basis = self.params.q_basis(level)?;
        let log2_scale = scale.log2();
        if !scale.is_finite() || scale <= 0.0 || log2_scale >= self.params.log_q_at(level) {
            return Err(Error::ScaleOverflow {
                log2_scale,
                log2_q_at_level: self.params.log_q_at(level),
            });
        }
        let n = self.params.n();
        let limbs = level as usize + 1;
        let mut poly = Poly::<Coeff>::zero(n, limbs);
        let scaled: Vec<f64> = coeffs.iter().map(|c| (c * scale).round()).collect();
        if let Some(index) = scaled.iter().position(|x| !x.is_finite()) {
            return Err(Error::Unencodable { index, log2_scale });
        }
        // Each coefficient is an average of slot values times roots of unity, so this only
        // adds to the slot check for constants (and values rounded up onto Q/2).
        self.check_magnitudes(scaled.iter().map(|x| x.abs()), 1.0, level)?;
        let small = scaled.iter().all(|x| x.abs() < FAST_PATH_BOUND);
        for (limb, m) in poly.limbs_iter_mut().zip(basis.moduli()) {
            if small {
                for (dst, &x) in limb.iter_mut().zip(&scaled) {
                    *dst = m.reduce_i64(x as i64);
                }
            } else {
                for (dst, &x) in limb.iter_mut().zip(&scaled) {
                    *dst = reduce_f64_exact(m, x);
                }
            }
        }
        Ok(Plaintext {
            poly: poly.to_ntt(basis)?,
            level,
            scale,
            params_id: self.params.id(),
        })
    }
}

/// `x mod q` for an integral, finite `x` of any magnitude, exactly: x = mant·2^exp.
fn reduce_f64_exact(m: &Modulus, x: f64) -> u64 {
    let bits = x.to_bits();
    let negative = (bits >> 63) != 0;
    let exp_field = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    // Values here are integers ≥ 2^63, so they are normal numbers with exp ≥ 0.
    let (mant, exp) = if exp_field == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_field - 1075)
    };
    let r = if exp >= 0 {
        m.mul(m.reduce(mant), m.pow(2, exp as u64))
    } else {
        m.reduce(mant >> (-exp).min(63))
    };
    if negative { m.neg(r) } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_reduction_of_large_values_matches_bigint() {
        // Any odd modulus below 2^62 exercises the arithmetic.
        let m = Modulus::new(1_152_921_504_606_830_593).unwrap();
        for &x in &[
            2f64.powi(70),
            -(2f64.powi(80)) * 3.0,
            1.5 * 2f64.powi(64),
            12345.0,
        ] {
            let got = reduce_f64_exact(&m, x);
            let big = num_bigint::BigInt::from(x as i128).mod_floor_ref(&m.value());
            assert_eq!(got, big, "x = {x}");
        }
    }

    trait ModFloor {
        fn mod_floor_ref(&self, q: &u64) -> u64;
    }
    impl ModFloor for num_bigint::BigInt {
        fn mod_floor_ref(&self, q: &u64) -> u64 {
            let q = num_bigint::BigInt::from(*q);
            let r = ((self % &q) + &q) % &q;
            u64::try_from(r).unwrap()
        }
    }
}
