//! Integer linear combinations of ciphertexts in one pass.

use fhez_math::Poly;

use super::Evaluator;
use crate::ciphertext::Ciphertext;
use crate::{Error, Result};

/// Products are below 2^61 · 2^61 = 2^122 once both factors are reduced, so 32 of
/// them fit in a `u128` before a reduction.
const LAZY_TERMS: usize = 32;

impl Evaluator {
    /// `Σ_j k_j · ct_j` for integers `k_j`, at `level` (operands above it are read
    /// through their first `level + 1` limbs, which is exactly dropping them). One
    /// output allocation and one pass over the inputs, with lazy `u128`
    /// accumulation — the kernel of dense layers and convolutions whose weights
    /// were scaled to integers. The result is labelled with `scale`; the caller
    /// chooses the integers so that every term has that scale.
    ///
    /// # Errors
    /// [`Error::CiphertextSize`] unless every operand has 2 polynomials or the
    /// lists differ in length, [`Error::LevelIncrease`] for an operand below `level`.
    pub fn dot_integer(
        &self,
        cts: &[&Ciphertext],
        ks: &[i64],
        level: u32,
        scale: f64,
    ) -> Result<Ciphertext> {
        if cts.len() != ks.len() || cts.is_empty() {
            return Err(Error::CiphertextSize {
                op: "dot_integer",
                expected: ks.len().max(1),
                found: cts.len(),
            });
        }
        for ct in cts {
            self.check_ct(ct)?;
            ct.expect_size("dot_integer", 2)?;
            if ct.level < level {
                return Err(Error::LevelIncrease {
                    from: ct.level,
                    to: level,
                });
            }
        }
        let basis = self.params.q_basis(level)?;
        let n = self.params.n();
        let limbs = level as usize + 1;
        let mut polys = Vec::with_capacity(2);
        let mut acc = vec![0u128; n];
        for component in 0..2 {
            let mut data = Vec::with_capacity(limbs * n);
            for (i, m) in basis.moduli().iter().enumerate().take(limbs) {
                acc.iter_mut().for_each(|a| *a = 0);
                for (j, (ct, &k)) in cts.iter().zip(ks).enumerate() {
                    if j > 0 && j % LAZY_TERMS == 0 {
                        acc.iter_mut()
                            .for_each(|a| *a = u128::from(m.reduce_u128(*a)));
                    }
                    let k = u128::from(m.reduce_i64(k));
                    if let Some(limb) = ct.polys.get(component).and_then(|p| p.limb(i)) {
                        for (a, &x) in acc.iter_mut().zip(limb) {
                            *a += u128::from(x) * k;
                        }
                    }
                }
                data.extend(acc.iter().map(|&a| m.reduce_u128(a)));
            }
            polys.push(Poly::from_vec(n, data)?);
        }
        Ok(Ciphertext {
            polys,
            level,
            scale,
            params_id: self.params.id(),
        })
    }
}
