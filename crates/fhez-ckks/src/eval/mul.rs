//! Multiplication: ciphertext × ciphertext (tensor), relinearization, and products
//! with plaintexts, scalars and integers.

use fhez_math::{Ntt, Poly, zq};

use super::Evaluator;
use super::add::check_plain_level;
use crate::ciphertext::Ciphertext;
use crate::keys::RelinKey;
use crate::plaintext::Plaintext;
use crate::rlwe::keyswitch;
use crate::{Error, Result};

impl Evaluator {
    /// `a × b` without relinearization: a 3-polynomial ciphertext at the common
    /// level whose scale is the product of the scales.
    ///
    /// # Errors
    /// [`Error::CiphertextSize`] unless both have 2 polynomials,
    /// [`Error::ScaleOverflow`] when the product scale does not fit under Q_l.
    pub fn mul(&self, a: &Ciphertext, b: &Ciphertext) -> Result<Ciphertext> {
        self.check_ct(a)?;
        self.check_ct(b)?;
        a.expect_size("mul", 2)?;
        b.expect_size("mul", 2)?;
        // Operands may sit at different levels: only the first `level + 1` limbs of
        // each are read, which is exactly dropping the higher one to `level`.
        let level = a.level.min(b.level);
        let scale = self.checked_scale(a.scale * b.scale, level)?;
        let basis = self.params.q_basis(level)?;
        let n = self.params.n();
        let limbs = level as usize + 1;
        let (Some(a0), Some(a1), Some(b0), Some(b1)) = (
            a.polys.first(),
            a.polys.get(1),
            b.polys.first(),
            b.polys.get(1),
        ) else {
            return Err(Error::CiphertextSize {
                op: "mul",
                expected: 2,
                found: 0,
            });
        };
        let mut d0 = Vec::with_capacity(limbs * n);
        let mut d1 = Vec::with_capacity(limbs * n);
        let mut d2 = Vec::with_capacity(limbs * n);
        let (la0, la1, lb0, lb1) = (
            limbs_of(a0, limbs),
            limbs_of(a1, limbs),
            limbs_of(b0, limbs),
            limbs_of(b1, limbs),
        );
        for (i, m) in basis.moduli().iter().enumerate().take(limbs) {
            let (Some(x0), Some(x1), Some(y0), Some(y1)) =
                (la0.get(i), la1.get(i), lb0.get(i), lb1.get(i))
            else {
                continue;
            };
            for ((&x0, &x1), (&y0, &y1)) in x0.iter().zip(x1.iter()).zip(y0.iter().zip(y1.iter())) {
                d0.push(m.reduce_u128(u128::from(x0) * u128::from(y0)));
                d1.push(m.reduce_u128(
                    u128::from(x0) * u128::from(y1) + u128::from(x1) * u128::from(y0),
                ));
                d2.push(m.reduce_u128(u128::from(x1) * u128::from(y1)));
            }
        }
        let (c0, c1, c2) = (
            Poly::from_vec(n, d0)?,
            Poly::from_vec(n, d1)?,
            Poly::from_vec(n, d2)?,
        );
        Ok(Ciphertext {
            polys: vec![c0, c1, c2],
            level,
            scale,
            params_id: a.params_id,
        })
    }

    /// `a²` without relinearization.
    ///
    /// # Errors
    /// As [`Evaluator::mul`].
    pub fn square(&self, a: &Ciphertext) -> Result<Ciphertext> {
        self.mul(a, a)
    }

    /// Switches the s² part of a 3-polynomial ciphertext back to s (one key switch).
    /// A 2-polynomial ciphertext is returned unchanged.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`] for a key of other parameters.
    pub fn relinearize(&self, ct: &Ciphertext, rk: &RelinKey) -> Result<Ciphertext> {
        self.check_ct(ct)?;
        self.params.check_id(rk.params_id())?;
        if ct.polys.len() == 2 {
            return Ok(ct.clone());
        }
        ct.expect_size("relinearize", 3)?;
        let basis = self.params.q_basis(ct.level)?;
        let mut polys = ct.polys.clone();
        let c2 = polys.pop().ok_or(Error::CiphertextSize {
            op: "relinearize",
            expected: 3,
            found: 0,
        })?;
        let dec = keyswitch::decompose(&self.params, &c2, ct.level)?;
        let (u0, u1) = keyswitch::apply_key(&self.params, &dec, &rk.0, None)?;
        dec.recycle();
        for (c, u) in polys.iter_mut().zip([&u0, &u1]) {
            c.add_assign(u, basis)?;
        }
        Ok(Ciphertext {
            polys,
            ..ct.clone()
        })
    }

    /// `a × b`, relinearized and rescaled: one level consumed.
    ///
    /// # Errors
    /// As [`Evaluator::mul`], plus [`Error::LevelExhausted`] at level 0.
    pub fn mul_relin_rescale(
        &self,
        a: &Ciphertext,
        b: &Ciphertext,
        rk: &RelinKey,
    ) -> Result<Ciphertext> {
        let level = a.level.min(b.level);
        if level == 0 {
            return Err(Error::LevelExhausted {
                op: "mul_relin_rescale",
                needed: 1,
                available: 0,
            });
        }
        let prod = self.mul(a, b)?;
        self.relinearize_rescale(&prod, rk)
    }

    /// Relinearizes a 3-polynomial ciphertext and rescales it in one step: the key
    /// switch's division by P and the rescale's division by q_l become a single
    /// division by q_l·P (one basis conversion instead of two), which saves l + 1
    /// NTTs per output polynomial. Same result as `rescale(relinearize(ct))`.
    ///
    /// # Errors
    /// [`Error::LevelExhausted`] at level 0, [`Error::CiphertextSize`] unless `ct`
    /// has 3 polynomials, parameter errors.
    pub fn relinearize_rescale(&self, ct: &Ciphertext, rk: &RelinKey) -> Result<Ciphertext> {
        self.check_ct(ct)?;
        self.params.check_id(rk.params_id())?;
        ct.expect_size("relinearize_rescale", 3)?;
        let level = ct.level;
        if level == 0 {
            return Err(Error::LevelExhausted {
                op: "relinearize_rescale",
                needed: 1,
                available: 0,
            });
        }
        let (Some(c0), Some(c1), Some(c2)) = (ct.polys.first(), ct.polys.get(1), ct.polys.get(2))
        else {
            return Err(Error::CiphertextSize {
                op: "relinearize_rescale",
                expected: 3,
                found: ct.polys.len(),
            });
        };
        let dec = keyswitch::decompose(&self.params, c2, level)?;
        let (mut acc0, mut acc1) = keyswitch::inner_product(&self.params, &dec, &rk.0, None)?;
        dec.recycle();
        // Lift c0, c1 to Q_l·P as P·c (zero modulo P): then everything divides by q_l·P.
        let basis = self.params.q_basis(level)?;
        let n = self.params.n();
        for (acc, c) in [(&mut acc0, c0), (&mut acc1, c1)] {
            for (((dst, src), m), &p_mod) in acc
                .chunks_exact_mut(n)
                .zip(c.limbs_iter())
                .zip(basis.moduli())
                .zip(self.params.p_mod_q())
            {
                let p_shoup = m.shoup(p_mod);
                for (d, &x) in dst.iter_mut().zip(src) {
                    *d = m.add(*d, m.mul_shoup(x, p_mod, p_shoup));
                }
            }
        }
        let q_last = self.params.q().get(level as usize).copied().unwrap_or(1) as f64;
        let par = crate::rlwe::split::worth_splitting(acc0.len());
        let (u0, u1) = crate::rlwe::split::join(
            par,
            || keyswitch::mod_down_rescale(&self.params, acc0, level),
            || keyswitch::mod_down_rescale(&self.params, acc1, level),
        );
        Ok(Ciphertext {
            polys: vec![u0?, u1?],
            level: level - 1,
            scale: ct.scale / q_last,
            params_id: ct.params_id,
        })
    }

    /// `ct × pt` (pointwise in the slots); the scale becomes the product of the
    /// scales. Rescale afterwards to return near the original scale.
    ///
    /// # Errors
    /// [`Error::ScaleOverflow`], [`Error::LevelIncrease`] when the plaintext is at a
    /// lower level than the ciphertext.
    pub fn mul_plain(&self, ct: &Ciphertext, pt: &Plaintext) -> Result<Ciphertext> {
        let mut out = ct.clone_meta();
        self.mul_plain_into(ct, pt, &mut out)?;
        Ok(out)
    }

    /// [`Evaluator::mul_plain`] into `out`, reusing its allocation (SEAL's
    /// destination-argument style): no allocation once `out` has the capacity, for
    /// loops that multiply many ciphertexts by plaintexts.
    ///
    /// # Errors
    /// As [`Evaluator::mul_plain`]; `out` is left unchanged on error.
    pub fn mul_plain_into(
        &self,
        ct: &Ciphertext,
        pt: &Plaintext,
        out: &mut Ciphertext,
    ) -> Result<()> {
        self.check_ct(ct)?;
        self.check_pt(pt)?;
        let scale = self.checked_scale(ct.scale * pt.scale, ct.level)?;
        check_plain_level(pt, ct.level)?;
        let basis = self.params.q_basis(ct.level)?;
        let limbs = ct.level as usize + 1;
        let mut old = std::mem::take(&mut out.polys).into_iter();
        let mut polys = Vec::with_capacity(ct.polys.len());
        for p in &ct.polys {
            let mut buf = old.next().map(Poly::into_vec).unwrap_or_default();
            buf.clear();
            // Copy the limbs, then the slice kernel multiplies in place.
            for ((src, m_limb), q) in p
                .limbs_iter()
                .zip(pt.poly.limbs_iter())
                .zip(basis.moduli())
                .take(limbs)
            {
                let start = buf.len();
                buf.extend_from_slice(src);
                if let Some(dst) = buf.get_mut(start..) {
                    zq::mul_slices_assign(q, dst, m_limb);
                }
            }
            polys.push(Poly::from_vec(self.params.n(), buf)?);
        }
        *out = Ciphertext {
            polys,
            scale,
            ..ct.clone_meta()
        };
        Ok(())
    }

    /// `Σ_i ct_i × pt_i`, accumulated in one buffer (one multiply-add pass per term, no
    /// intermediate ciphertexts): every ciphertext at the level of the first, with the same
    /// number of polynomials and the same scale, every plaintext with at least its limbs and
    /// the scale of the first. The scale is the product of the scales; rescale once
    /// afterwards.
    ///
    /// # Errors
    /// [`Error::CiphertextSize`] for no terms or a polynomial count that differs;
    /// [`Error::LevelIncrease`] for a ciphertext at another level or a plaintext with too few
    /// limbs; [`Error::ScaleMismatch`], [`Error::ScaleOverflow`]; parameter mismatches.
    pub fn mul_plain_sum(&self, terms: &[(&Ciphertext, &Plaintext)]) -> Result<Ciphertext> {
        let Some(((first_ct, first_pt), rest)) = terms.split_first() else {
            return Err(Error::CiphertextSize {
                op: "mul_plain_sum",
                expected: 1,
                found: 0,
            });
        };
        let mut acc = self.mul_plain(first_ct, first_pt)?;
        let basis = self.params.q_basis(acc.level)?;
        let limbs = acc.level as usize + 1;
        for (ct, pt) in rest {
            self.check_ct(ct)?;
            self.check_pt(pt)?;
            if ct.level != acc.level {
                return Err(Error::LevelIncrease {
                    from: acc.level,
                    to: ct.level,
                });
            }
            check_plain_level(pt, ct.level)?;
            if ct.polys.len() != acc.polys.len() {
                return Err(Error::CiphertextSize {
                    op: "mul_plain_sum",
                    expected: acc.polys.len(),
                    found: ct.polys.len(),
                });
            }
            let scale = ct.scale * pt.scale;
            if !super::scales_match(scale, acc.scale) {
                return Err(super::scale_mismatch(acc.scale, scale));
            }
            for (dst, src) in acc.polys.iter_mut().zip(&ct.polys) {
                let n = dst.n();
                for (((d, x), y), q) in dst
                    .as_mut_slice()
                    .chunks_exact_mut(n)
                    .zip(src.limbs_iter())
                    .zip(pt.poly.limbs_iter())
                    .zip(basis.moduli())
                    .take(limbs)
                {
                    zq::mul_add_slices_assign(q, d, x, y);
                }
            }
        }
        Ok(acc)
    }

    /// `ct × value` in every slot: multiplies by the integer `round(value·scale)`,
    /// so the result's scale is `ct.scale × scale` (rescale afterwards).
    ///
    /// # Errors
    /// [`Error::Unencodable`], [`Error::ScaleOverflow`].
    pub fn mul_scalar(&self, ct: &Ciphertext, value: f64, scale: f64) -> Result<Ciphertext> {
        self.check_ct(ct)?;
        let scaled = (value * scale).round();
        if !scaled.is_finite() || scaled.abs() >= 9.0e18 {
            return Err(Error::Unencodable {
                index: 0,
                log2_scale: scale.log2(),
            });
        }
        let new_scale = self.checked_scale(ct.scale * scale, ct.level)?;
        let mut out = self.mul_integer(ct, scaled as i64)?;
        out.scale = new_scale;
        Ok(out)
    }

    /// `ct × k` for an integer k: no scale change, no level consumed.
    ///
    /// # Errors
    /// Parameter errors.
    pub fn mul_integer(&self, ct: &Ciphertext, k: i64) -> Result<Ciphertext> {
        self.check_ct(ct)?;
        let basis = self.params.q_basis(ct.level)?;
        let scalars: Vec<u64> = basis.moduli().iter().map(|m| m.reduce_i64(k)).collect();
        let mut out = ct.clone();
        for p in &mut out.polys {
            p.mul_scalar_assign(&scalars, basis)?;
        }
        Ok(out)
    }

    fn checked_scale(&self, scale: f64, level: u32) -> Result<f64> {
        let log2_q_at_level = self.params.log_q_at(level);
        let log2_scale = scale.log2();
        if !scale.is_finite() || log2_scale + 1.0 >= log2_q_at_level {
            return Err(Error::ScaleOverflow {
                log2_scale,
                log2_q_at_level,
            });
        }
        Ok(scale)
    }
}

/// The first `limbs` limbs of `p`.
fn limbs_of(p: &Poly<Ntt>, limbs: usize) -> Vec<&[u64]> {
    p.limbs_iter().take(limbs).collect()
}
