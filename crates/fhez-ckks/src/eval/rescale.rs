//! Rescaling: divide by the last prime, rounding, and drop it.

use super::Evaluator;
use crate::ciphertext::Ciphertext;
use crate::{Error, Result};

impl Evaluator {
    /// Divides the ciphertext by its last prime q_l (rounding to nearest) and drops
    /// that prime: level l → l − 1, scale Δ → Δ / q_l.
    ///
    /// # Errors
    /// [`Error::LevelExhausted`] at level 0.
    pub fn rescale(&self, ct: &Ciphertext) -> Result<Ciphertext> {
        self.check_ct(ct)?;
        if ct.level == 0 {
            return Err(Error::LevelExhausted {
                op: "rescale",
                needed: 1,
                available: 0,
            });
        }
        let level = ct.level;
        let basis = self.params.q_basis(level)?;
        let n = self.params.n();
        let l = level as usize;
        let (Some(last_table), Some(q_last)) = (basis.tables().get(l), basis.moduli().get(l))
        else {
            return Err(Error::LevelIncrease {
                from: level,
                to: level,
            });
        };
        let q_last = *q_last;
        let inv = self.params.rescale_inv(level);
        let mut last = vec![0u64; n];
        let mut t = vec![0u64; n];
        let mut polys = Vec::with_capacity(ct.polys.len());
        for p in &ct.polys {
            if let Some(src) = p.limb(l) {
                last.copy_from_slice(src);
            }
            last_table.inverse(&mut last);
            let mut data = Vec::with_capacity(l * n);
            for ((table, &inv_i), src) in basis.tables().iter().zip(inv).zip(p.limbs_iter()).take(l)
            {
                let m = table.modulus();
                // The centered representative r of the last limb, modulo q_i: (x − r)/q_l is
                // x/q_l rounded to the nearest integer (q_l is odd: no ties).
                fhez_math::rns::convert_centered(&q_last, m, &last, &mut t);
                table.forward_lazy(&mut t);
                // x < q, y < 4q (lazy NTT): x ← (x − y)·q_l⁻¹.
                let start = data.len();
                data.extend_from_slice(src);
                if let Some(dst) = data.get_mut(start..) {
                    fhez_math::zq::sub_scale_slices_assign(m, dst, &t, inv_i);
                }
            }
            polys.push(fhez_math::Poly::from_vec(n, data)?);
        }
        let mut out = Ciphertext {
            polys,
            level: ct.level,
            scale: ct.scale,
            params_id: ct.params_id,
        };
        out.level = level - 1;
        out.scale = ct.scale / q_last.value() as f64;
        Ok(out)
    }
}
