//! Rescaling: divide by the last prime, rounding, and drop it.

use super::Evaluator;
use crate::ciphertext::Ciphertext;
use crate::rlwe::{scratch, split};
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
        let words = ct.polys.len() * (l + 1) * n;
        let par = split::worth_splitting_from(words, split::MIN_SPLIT_WORDS_LIGHT);
        // Each polynomial's last limb in coefficient form.
        let lasts = split::map(par, ct.polys.iter().collect(), |p| {
            let mut last = p.limb(l).unwrap_or_default().to_vec();
            last.resize(n, 0);
            last_table.inverse(&mut last);
            last
        });
        let mut datas: Vec<Vec<u64>> = ct
            .polys
            .iter()
            .map(|p| p.as_slice().get(..l * n).unwrap_or_default().to_vec())
            .collect();
        // One task per (polynomial, limb).
        let mut tasks = Vec::with_capacity(ct.polys.len() * l);
        for (data, last) in datas.iter_mut().zip(&lasts) {
            for (dst, (table, &inv_i)) in
                data.chunks_exact_mut(n).zip(basis.tables().iter().zip(inv))
            {
                tasks.push((dst, table, inv_i, last));
            }
        }
        split::for_each(par, tasks, |(dst, table, inv_i, last)| {
            let m = table.modulus();
            // The centered representative r of the last limb, modulo q_i: (x − r)/q_l is
            // x/q_l rounded to the nearest integer (q_l is odd: no ties).
            let mut t = scratch::zeroed(n);
            fhez_math::rns::convert_centered(&q_last, m, last, &mut t);
            table.forward_lazy(&mut t);
            // x < q, y < 4q (lazy NTT): x ← (x − y)·q_l⁻¹.
            fhez_math::zq::sub_scale_slices_assign(m, dst, &t, inv_i);
            scratch::give(t);
        });
        let polys = datas
            .into_iter()
            .map(|data| fhez_math::Poly::from_vec(n, data))
            .collect::<core::result::Result<Vec<_>, _>>()?;
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
