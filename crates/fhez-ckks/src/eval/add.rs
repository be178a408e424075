//! Addition, subtraction, negation, and operations with plaintexts and scalars.

use fhez_math::{Poly, zq};

use super::{Evaluator, scale_mismatch, scales_match, zip_map};
use crate::ciphertext::Ciphertext;
use crate::plaintext::Plaintext;
use crate::{Error, Result};

impl Evaluator {
    /// Brings two ciphertexts to a common level and scale: the one at the higher
    /// level is dropped; if the scales also differ, the higher one is multiplied by
    /// the integer constant that makes its scale match after one rescale.
    ///
    /// # Errors
    /// [`Error::ScaleMismatch`] when the scales differ and both are at the same
    /// level (nothing left to absorb the correction).
    pub fn align(&self, a: &Ciphertext, b: &Ciphertext) -> Result<(Ciphertext, Ciphertext)> {
        self.check_ct(a)?;
        self.check_ct(b)?;
        if scales_match(a.scale, b.scale) {
            let level = a.level.min(b.level);
            return Ok((self.drop_to_level(a, level)?, self.drop_to_level(b, level)?));
        }
        let (hi, lo, swapped) = if a.level > b.level {
            (a, b, false)
        } else if b.level > a.level {
            (b, a, true)
        } else {
            return Err(scale_mismatch(a.scale, b.scale));
        };
        // hi at level lo.level + 1, times c = lo.scale·q/hi.scale, then rescale by q.
        let hi = self.drop_to_level(hi, lo.level + 1)?;
        let q = self
            .params
            .q()
            .get(lo.level as usize + 1)
            .copied()
            .unwrap_or(1) as f64;
        let c = (lo.scale * q / hi.scale).round();
        if !(1.0..9.0e18).contains(&c) {
            return Err(scale_mismatch(a.scale, b.scale));
        }
        let mut hi = self.mul_integer(&hi, c as i64)?;
        hi.scale *= c;
        let mut hi = self.rescale(&hi)?;
        hi.scale = lo.scale;
        if swapped {
            Ok((lo.clone(), hi))
        } else {
            Ok((hi, lo.clone()))
        }
    }

    /// `a + b`, aligning levels and scales first.
    ///
    /// # Errors
    /// Parameter, size and scale errors.
    pub fn add(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.combine(a, b, false)
    }

    /// `a − b`, aligning levels and scales first.
    ///
    /// # Errors
    /// As [`Evaluator::add`].
    pub fn sub(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.combine(a, b, true)
    }

    fn combine(&self, a: &Ciphertext, b: &Ciphertext, subtract: bool) -> Result<Ciphertext> {
        self.check_ct(a)?;
        self.check_ct(b)?;
        // Fast path: same level and scale, no alignment copies.
        let aligned;
        let (x, y) = if a.level == b.level && scales_match(a.scale, b.scale) {
            (a, b)
        } else {
            aligned = self.align(a, b)?;
            (&aligned.0, &aligned.1)
        };
        let basis = self.params.q_basis(x.level)?;
        let n = self.params.n();
        let limbs = x.level as usize + 1;
        let moduli = basis.moduli();
        let zero = Poly::zero(n, limbs);
        let count = x.polys.len().max(y.polys.len());
        let mut polys = Vec::with_capacity(count);
        for i in 0..count {
            let xp = x.polys.get(i).unwrap_or(&zero);
            let yp = y.polys.get(i).unwrap_or(&zero);
            polys.push(if subtract {
                zip_map(xp, yp, moduli, limbs, |m, a, b| m.sub(a, b))?
            } else {
                zip_map(xp, yp, moduli, limbs, |m, a, b| m.add(a, b))?
            });
        }
        let out = Ciphertext {
            polys,
            level: x.level,
            scale: x.scale,
            params_id: x.params_id,
        };
        Ok(out)
    }

    /// `−a`.
    ///
    /// # Errors
    /// Parameter errors.
    pub fn neg(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.check_ct(a)?;
        let basis = self.params.q_basis(a.level)?;
        let mut out = a.clone();
        for p in &mut out.polys {
            p.neg_assign(basis)?;
        }
        Ok(out)
    }

    /// `ct + pt`. The plaintext must have the ciphertext's scale; it may be at a
    /// higher level (its extra limbs are ignored).
    ///
    /// # Errors
    /// [`Error::ScaleMismatch`], [`Error::LevelIncrease`] when the plaintext is at
    /// a lower level than the ciphertext.
    pub fn add_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        self.plain_combine(ct, pt, false)
    }

    /// `ct − pt`, as [`Evaluator::add_plain`].
    ///
    /// # Errors
    /// As [`Evaluator::add_plain`].
    pub fn sub_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        self.plain_combine(ct, pt, true)
    }

    fn plain_combine(&self, ct: &Ciphertext, pt: &Plaintext, subtract: bool) -> Result<Ciphertext> {
        self.check_ct(ct)?;
        self.check_pt(pt)?;
        if !scales_match(ct.scale, pt.scale) {
            return Err(scale_mismatch(ct.scale, pt.scale));
        }
        check_plain_level(pt, ct.level)?;
        let basis = self.params.q_basis(ct.level)?;
        let mut out = ct.clone();
        if let Some(c0) = out.polys.first_mut() {
            for ((limb, m_limb), q) in c0
                .limbs_iter_mut()
                .zip(pt.poly.limbs_iter())
                .zip(basis.moduli())
            {
                if subtract {
                    zq::sub_slices_assign(q, limb, m_limb);
                } else {
                    zq::add_slices_assign(q, limb, m_limb);
                }
            }
        }
        Ok(out)
    }

    /// `ct + value` in every slot (no level consumed): adds `round(value·scale)` to
    /// the constant coefficient.
    ///
    /// # Errors
    /// [`Error::Unencodable`] for NaN/infinite/overflowing values.
    pub fn add_scalar(&self, ct: &Ciphertext, value: f64) -> Result<Ciphertext> {
        self.check_ct(ct)?;
        let scaled = (value * ct.scale).round();
        if !scaled.is_finite() || scaled.abs() >= 9.0e18 {
            return Err(Error::Unencodable {
                index: 0,
                log2_scale: ct.scale.log2(),
            });
        }
        let basis = self.params.q_basis(ct.level)?;
        let mut out = ct.clone();
        if let Some(c0) = out.polys.first_mut() {
            // A constant polynomial is the same constant at every NTT point.
            for (limb, m) in c0.limbs_iter_mut().zip(basis.moduli()) {
                let c = m.reduce_i64(scaled as i64);
                for x in limb.iter_mut() {
                    *x = m.add(*x, c);
                }
            }
        }
        Ok(out)
    }
}

/// Checks that a plaintext has at least the limbs of a ciphertext at `level`.
pub(crate) fn check_plain_level(pt: &Plaintext, level: u32) -> Result<()> {
    if pt.level < level {
        return Err(Error::LevelIncrease {
            from: pt.level,
            to: level,
        });
    }
    Ok(())
}
