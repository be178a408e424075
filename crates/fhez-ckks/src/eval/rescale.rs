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
        let half = q_last.value() >> 1;
        let inv = self.params.rescale_inv(level);
        let mut last = vec![0u64; n];
        let mut t = vec![0u64; n];
        let mut polys = Vec::with_capacity(ct.polys.len());
        for p in &ct.polys {
            if let Some(src) = p.limb(l) {
                last.copy_from_slice(src);
            }
            last_table.inverse(&mut last);
            // Adding q_l/2 before the floor division turns it into rounding.
            for x in last.iter_mut() {
                *x = q_last.add(*x, half);
            }
            let mut data = Vec::with_capacity(l * n);
            for ((table, &inv_i), src) in basis.tables().iter().zip(inv).zip(p.limbs_iter()).take(l)
            {
                let m = table.modulus();
                let half_i = m.reduce(half);
                for (ti, &x) in t.iter_mut().zip(&last) {
                    *ti = m.sub(m.reduce(x), half_i);
                }
                table.forward_lazy(&mut t);
                let inv_shoup = m.shoup(inv_i);
                let four_q = 4 * m.value();
                // x < q, y < 4q: x + 4q − y does not wrap; Shoup reduces any u64.
                data.extend(
                    src.iter()
                        .zip(&t)
                        .map(|(&x, &y)| m.mul_shoup(x + four_q - y, inv_i, inv_shoup)),
                );
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
