//! Slot rotations and complex conjugation (automorphisms + key switching), with
//! hoisting: many rotations of one ciphertext share one decomposition.

use fhez_math::{Ntt, Poly};

use super::Evaluator;
use crate::ciphertext::Ciphertext;
use crate::keys::GaloisKeys;
use crate::keys::galois::{conjugation_element, rotation_element};
use crate::rlwe::keyswitch::{self, Decomposition};
use crate::{Error, Result};

impl Evaluator {
    /// Rotates the slots left by `step` (negative = right): slot j of the result
    /// holds slot j + step of the input. Uses the key for `step` if present,
    /// otherwise composes power-of-two keys (one key switch each).
    ///
    /// # Errors
    /// [`Error::MissingGaloisKey`] when neither the exact key nor the power-of-two
    /// keys to compose it are present.
    pub fn rotate(&self, ct: &Ciphertext, step: i64, gk: &GaloisKeys) -> Result<Ciphertext> {
        let plan = self.rotation_plan(step, gk)?;
        let mut out = ct.clone();
        for s in plan {
            let g = rotation_element(self.params.n(), s);
            out = self.apply_galois(&out, g, gk)?;
        }
        Ok(out)
    }

    /// Rotations of one ciphertext by each of `steps`, sharing one decomposition
    /// (Halevi–Shoup hoisting). Steps without an exact key fall back to
    /// [`Evaluator::rotate`].
    ///
    /// # Errors
    /// As [`Evaluator::rotate`].
    pub fn rotate_hoisted(
        &self,
        ct: &Ciphertext,
        steps: &[i64],
        gk: &GaloisKeys,
    ) -> Result<Vec<Ciphertext>> {
        self.check_ct(ct)?;
        self.params.check_id(gk.params_id)?;
        ct.expect_size("rotate", 2)?;
        let n = self.params.n();
        let mut dec: Option<Decomposition> = None;
        let mut out = Vec::with_capacity(steps.len());
        for &s in steps {
            let g = rotation_element(n, s);
            if g == 1 {
                out.push(ct.clone());
                continue;
            }
            if !gk.has_element(g) {
                out.push(self.rotate(ct, s, gk)?);
                continue;
            }
            let d = match &mut dec {
                Some(d) => d,
                None => dec.insert(self.decompose_c1(ct)?),
            };
            out.push(self.switch_with(ct, d, g, gk)?);
        }
        if let Some(d) = dec {
            d.recycle();
        }
        Ok(out)
    }

    /// Complex conjugation of every slot.
    ///
    /// # Errors
    /// [`Error::MissingConjugationKey`].
    pub fn conjugate(&self, ct: &Ciphertext, gk: &GaloisKeys) -> Result<Ciphertext> {
        let g = conjugation_element(self.params.n());
        if !gk.has_element(g) {
            return Err(Error::MissingConjugationKey);
        }
        self.apply_galois(ct, g, gk)
    }

    /// The automorphism X → X^g followed by a key switch back to s.
    fn apply_galois(&self, ct: &Ciphertext, g: usize, gk: &GaloisKeys) -> Result<Ciphertext> {
        self.check_ct(ct)?;
        self.params.check_id(gk.params_id)?;
        ct.expect_size("rotate", 2)?;
        if g == 1 {
            return Ok(ct.clone());
        }
        let dec = self.decompose_c1(ct)?;
        let out = self.switch_with(ct, &dec, g, gk);
        dec.recycle();
        out
    }

    fn decompose_c1(&self, ct: &Ciphertext) -> Result<Decomposition> {
        let c1 = ct.polys.get(1).ok_or(Error::CiphertextSize {
            op: "rotate",
            expected: 2,
            found: ct.polys.len(),
        })?;
        keyswitch::decompose(&self.params, c1, ct.level)
    }

    /// `(σ_g(c0) + u0, u1)` where `(u0, u1)` switches σ_g(c1) from σ_g(s) to s.
    fn switch_with(
        &self,
        ct: &Ciphertext,
        dec: &Decomposition,
        g: usize,
        gk: &GaloisKeys,
    ) -> Result<Ciphertext> {
        let key = gk.get(g).ok_or(Error::MissingGaloisKey {
            step: self.step_of_element(g),
        })?;
        let perm = self.params.galois_permutation(g);
        let (u0, u1) = keyswitch::apply_key(&self.params, dec, key, Some(&perm))?;
        let basis = self.params.q_basis(ct.level)?;
        let c0 = ct.polys.first().ok_or(Error::CiphertextSize {
            op: "rotate",
            expected: 2,
            found: 0,
        })?;
        let mut c0 = permute(c0, &perm);
        c0.add_assign(&u0, basis)?;
        Ok(Ciphertext {
            polys: vec![c0, u1],
            level: ct.level,
            scale: ct.scale,
            params_id: ct.params_id,
        })
    }

    /// The rotation steps to apply for `step`: the step itself when its key exists,
    /// else a signed power-of-two decomposition whose keys all exist.
    fn rotation_plan(&self, step: i64, gk: &GaloisKeys) -> Result<Vec<i64>> {
        let n = self.params.n();
        let slots = self.params.slots() as i64;
        let k = step.rem_euclid(slots);
        if k == 0 {
            return Ok(Vec::new());
        }
        if gk.has_element(rotation_element(n, k)) {
            return Ok(vec![k]);
        }
        let candidates = [naf(k), naf(k - slots)];
        candidates
            .into_iter()
            .filter(|plan| plan.iter().all(|&s| gk.has_element(rotation_element(n, s))))
            .min_by_key(Vec::len)
            .ok_or(Error::MissingGaloisKey { step })
    }

    fn step_of_element(&self, g: usize) -> i64 {
        let n = self.params.n();
        (0..self.params.slots() as i64)
            .find(|&s| rotation_element(n, s) == g)
            .unwrap_or(0)
    }
}

/// Non-adjacent form of `k`: signed powers of two summing to `k`.
fn naf(mut k: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut bit = 1i64;
    while k != 0 {
        if k & 1 != 0 {
            let digit = 2 - k.rem_euclid(4);
            out.push(digit * bit);
            k -= digit;
        }
        k /= 2;
        bit *= 2;
    }
    out
}

fn permute(p: &Poly<Ntt>, perm: &[usize]) -> Poly<Ntt> {
    let mut out = p.clone();
    for (dst, src) in out.limbs_iter_mut().zip(p.limbs_iter()) {
        for (d, &i) in dst.iter_mut().zip(perm) {
            *d = src.get(i).copied().unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::naf;

    #[test]
    fn naf_sums_back() {
        for k in -300i64..300 {
            let d = naf(k);
            assert_eq!(d.iter().sum::<i64>(), k);
            assert!(d.iter().all(|x| x.unsigned_abs().is_power_of_two()));
        }
        assert_eq!(naf(7).len(), 2); // 8 - 1
    }
}
