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
    /// Operands may be unrelinearized (3 polynomials) as long as all have the same
    /// size: relinearization is linear, so a dense layer after a square can
    /// relinearize once per output instead of once per input (lazy relinearization).
    ///
    /// # Errors
    /// [`Error::CiphertextSize`] unless every operand has the first operand's size (2
    /// or 3 polynomials) or the lists differ in length, [`Error::LevelIncrease`] for an
    /// operand below `level`.
    pub fn dot_integer<'a>(
        &self,
        cts: &[&'a Ciphertext],
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
        let size = self.check_operands("dot_integer", cts, level)?;
        let basis = self.params.q_basis(level)?;
        let n = self.params.n();
        let limbs = level as usize + 1;
        let mut polys = Vec::with_capacity(size);
        let mut acc = vec![0u128; n];
        let mut acc64 = vec![0u64; n];
        for component in 0..size {
            let mut data = Vec::with_capacity(limbs * n);
            for (i, m) in basis.moduli().iter().enumerate().take(limbs) {
                let limb_of = |ct: &'a Ciphertext| ct.polys.get(component).and_then(|p| p.limb(i));
                if m.bits() <= 32 {
                    // Residues and weights are at most q − 1 < 2^bits ≤ 2^32: products
                    // are 32×32-bit multiplies (vectorizable) below 2^64 − 2^(bits+1),
                    // and a reduced accumulator (< 2^bits) plus 2^(64 − 2·bits) of them
                    // stays below 2^64.
                    let lazy = 1usize << (64 - 2 * m.bits()).min(20);
                    acc64.iter_mut().for_each(|a| *a = 0);
                    for (j, (ct, &k)) in cts.iter().zip(ks).enumerate() {
                        if j > 0 && j % lazy == 0 {
                            acc64.iter_mut().for_each(|a| *a = m.reduce(*a));
                        }
                        // (both masks are no-ops: they tell the compiler the factors
                        // are 32-bit, so the products vectorize)
                        let k = m.reduce_i64(k) & 0xffff_ffff;
                        if let Some(limb) = limb_of(ct) {
                            for (a, &x) in acc64.iter_mut().zip(limb) {
                                *a = a.wrapping_add((x & 0xffff_ffff) * k);
                            }
                        }
                    }
                    data.extend(acc64.iter().map(|&a| m.reduce(a)));
                    continue;
                }
                acc.iter_mut().for_each(|a| *a = 0);
                for (j, (ct, &k)) in cts.iter().zip(ks).enumerate() {
                    if j > 0 && j % LAZY_TERMS == 0 {
                        acc.iter_mut()
                            .for_each(|a| *a = u128::from(m.reduce_u128(*a)));
                    }
                    let k = u128::from(m.reduce_i64(k));
                    if let Some(limb) = limb_of(ct) {
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

    /// Checks the operands of an integer linear combination: same parameters, one
    /// size (2, or 3 before relinearization), each at least at `level`. Returns the
    /// size.
    fn check_operands(&self, op: &'static str, cts: &[&Ciphertext], level: u32) -> Result<usize> {
        let size = cts.first().map_or(2, |c| c.polys.len());
        if !(2..=3).contains(&size) {
            return Err(Error::CiphertextSize {
                op,
                expected: 2,
                found: size,
            });
        }
        for ct in cts {
            self.check_ct(ct)?;
            ct.expect_size(op, size)?;
            if ct.level < level {
                return Err(Error::LevelIncrease {
                    from: ct.level,
                    to: level,
                });
            }
        }
        Ok(size)
    }
}

/// Coefficients per block in [`Evaluator::dot_integer_many`]: the accumulators of
/// every output for one block stay in the L1/L2 cache while the inputs stream by.
const BLOCK: usize = 512;

impl Evaluator {
    /// Several integer linear combinations of the same ciphertexts at once:
    /// output `o` is `Σ_j ks[o][j] · cts[j]`, as [`Evaluator::dot_integer`] (same
    /// level rule, operand sizes 2 or 3, result labelled with `scale`). The inputs
    /// are read once for all outputs, in cache-sized coefficient blocks, instead of
    /// once per output — the kernel of dense layers and multi-channel convolutions
    /// in batch-in-slots packing, where the inputs are many large ciphertexts.
    ///
    /// # Errors
    /// As [`Evaluator::dot_integer`]; also [`Error::CiphertextSize`] when a weight
    /// row's length differs from the number of ciphertexts or `ks` is empty.
    pub fn dot_integer_many(
        &self,
        cts: &[&Ciphertext],
        ks: &[Vec<i64>],
        level: u32,
        scale: f64,
    ) -> Result<Vec<Ciphertext>> {
        let bad_len = |found: usize| Error::CiphertextSize {
            op: "dot_integer_many",
            expected: cts.len().max(1),
            found,
        };
        if cts.is_empty() || ks.is_empty() {
            return Err(bad_len(0));
        }
        if let Some(row) = ks.iter().find(|r| r.len() != cts.len()) {
            return Err(bad_len(row.len()));
        }
        let size = self.check_operands("dot_integer_many", cts, level)?;
        let basis = self.params.q_basis(level)?;
        let n = self.params.n();
        let limbs = level as usize + 1;
        let outs = ks.len();
        // data[o][component] : limbs·n residues
        let mut data: Vec<Vec<Vec<u64>>> = vec![vec![vec![0u64; limbs * n]; size]; outs];
        let block = BLOCK.min(n);
        let mut acc = vec![0u128; outs * block];
        let mut acc64 = vec![0u64; outs * block];
        for component in 0..size {
            for (i, m) in basis.moduli().iter().enumerate().take(limbs) {
                let inputs: Vec<&[u64]> = cts
                    .iter()
                    .map(|ct| {
                        ct.polys.get(component).and_then(|p| p.limb(i)).ok_or(
                            Error::CiphertextSize {
                                op: "dot_integer_many",
                                expected: size,
                                found: ct.polys.len(),
                            },
                        )
                    })
                    .collect::<Result<_>>()?;
                let kr: Vec<Vec<u64>> = ks
                    .iter()
                    .map(|row| row.iter().map(|&k| m.reduce_i64(k)).collect())
                    .collect();
                let fast = m.bits() <= 32;
                // see dot_integer: 2^(64 − 2·bits) products fit on a reduced accumulator
                let lazy64 = 1usize << (64 - 2 * m.bits().min(32)).min(20);
                for start in (0..n).step_by(block) {
                    let len = block.min(n - start);
                    if fast {
                        acc64.iter_mut().for_each(|a| *a = 0);
                        for (j, x) in inputs.iter().enumerate() {
                            if j > 0 && j % lazy64 == 0 {
                                acc64.iter_mut().for_each(|a| *a = m.reduce(*a));
                            }
                            let Some(x) = x.get(start..start + len) else {
                                continue;
                            };
                            for (o, a) in acc64.chunks_exact_mut(block).enumerate() {
                                // (masks: no-ops that let the products vectorize as 32×32 bit)
                                let k = kr.get(o).and_then(|r| r.get(j)).copied().unwrap_or(0)
                                    & 0xffff_ffff;
                                for (a, &x) in a.iter_mut().zip(x) {
                                    *a = a.wrapping_add((x & 0xffff_ffff) * k);
                                }
                            }
                        }
                        for (o, a) in acc64.chunks_exact(block).enumerate() {
                            if let Some(dst) = data
                                .get_mut(o)
                                .and_then(|d| d.get_mut(component))
                                .and_then(|d| d.get_mut(i * n + start..i * n + start + len))
                            {
                                for (d, &a) in dst.iter_mut().zip(a) {
                                    *d = m.reduce(a);
                                }
                            }
                        }
                    } else {
                        acc.iter_mut().for_each(|a| *a = 0);
                        for (j, x) in inputs.iter().enumerate() {
                            if j > 0 && j % LAZY_TERMS == 0 {
                                acc.iter_mut()
                                    .for_each(|a| *a = u128::from(m.reduce_u128(*a)));
                            }
                            let Some(x) = x.get(start..start + len) else {
                                continue;
                            };
                            for (o, a) in acc.chunks_exact_mut(block).enumerate() {
                                let k = u128::from(
                                    kr.get(o).and_then(|r| r.get(j)).copied().unwrap_or(0),
                                );
                                for (a, &x) in a.iter_mut().zip(x) {
                                    *a += u128::from(x) * k;
                                }
                            }
                        }
                        for (o, a) in acc.chunks_exact(block).enumerate() {
                            if let Some(dst) = data
                                .get_mut(o)
                                .and_then(|d| d.get_mut(component))
                                .and_then(|d| d.get_mut(i * n + start..i * n + start + len))
                            {
                                for (d, &a) in dst.iter_mut().zip(a) {
                                    *d = m.reduce_u128(a);
                                }
                            }
                        }
                    }
                }
            }
        }
        data.into_iter()
            .map(|polys| {
                Ok(Ciphertext {
                    polys: polys
                        .into_iter()
                        .map(|d| Poly::from_vec(n, d))
                        .collect::<std::result::Result<_, _>>()?,
                    level,
                    scale,
                    params_id: self.params.id(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::needless_range_loop,
        reason = "tests: shapes are fixed"
    )]

    use fhez_math::{Ntt, Poly};

    use crate::Evaluator;
    use crate::ciphertext::Ciphertext;
    use crate::params::{CkksParams, CkksParamsSpec};

    /// The lazy u64 path (primes ≤ 32 bits) and the u128 path agree exactly with a
    /// term-by-term u128 reference, with worst-case residues q − 1 and weights ≡ −1,
    /// across several reduction periods, for 2- and 3-polynomial operands.
    #[test]
    fn dot_integer_is_exact_on_both_paths() {
        let spec = CkksParamsSpec::new(10)
            .with_log_q(&[40, 32, 31, 30, 22])
            .with_log_p(&[45])
            .insecure_for_testing();
        let params = CkksParams::new(&spec).unwrap();
        let eval = Evaluator::new(&params);
        let n = params.n();
        let level = params.max_level();
        let limbs = level as usize + 1;
        let q: Vec<u64> = params.q().to_vec();
        for size in [2usize, 3] {
            let terms = 70usize;
            let cts: Vec<Ciphertext> = (0..terms)
                .map(|j| Ciphertext {
                    polys: (0..size)
                        .map(|c| {
                            let data: Vec<u64> = (0..limbs)
                                .flat_map(|i| {
                                    let qi = q[i];
                                    (0..n).map(move |t| {
                                        if (t + j + c) % 3 == 0 {
                                            qi - 1
                                        } else {
                                            (t as u64 * 7919 + j as u64 * 104_729 + c as u64) % qi
                                        }
                                    })
                                })
                                .collect();
                            Poly::<Ntt>::from_vec(n, data).unwrap()
                        })
                        .collect(),
                    level,
                    scale: 1.0,
                    params_id: params.id(),
                })
                .collect();
            let ks: Vec<i64> = (0..terms)
                .map(|j| if j % 2 == 0 { -1 } else { i64::MAX - j as i64 })
                .collect();
            let refs: Vec<&Ciphertext> = cts.iter().collect();
            let out = eval.dot_integer(&refs, &ks, level, 1.0).unwrap();
            assert_eq!(out.polys.len(), size);
            // the multi-output kernel agrees exactly, output by output
            let rows: Vec<Vec<i64>> = (0..5)
                .map(|o| ks.iter().map(|&k| k.wrapping_mul(o as i64 - 2)).collect())
                .collect();
            let many = eval.dot_integer_many(&refs, &rows, level, 1.0).unwrap();
            for (row, got) in rows.iter().zip(&many) {
                assert_eq!(got, &eval.dot_integer(&refs, row, level, 1.0).unwrap());
            }
            for c in 0..size {
                for i in 0..limbs {
                    let qi = u128::from(q[i]);
                    let got = out.polys[c].limb(i).unwrap();
                    for t in (0..n).step_by(7) {
                        let mut want = 0u128;
                        for (ct, &k) in cts.iter().zip(&ks) {
                            let k = (i128::from(k).rem_euclid(qi as i128)) as u128;
                            let x = u128::from(ct.polys[c].limb(i).unwrap()[t]);
                            want = (want + x * k) % qi;
                        }
                        assert_eq!(u128::from(got[t]), want, "size {size} limb {i} coeff {t}");
                    }
                }
            }
        }
        // mixed sizes are rejected
        let two = eval
            .drop_to_level(
                &Ciphertext {
                    polys: vec![Poly::<Ntt>::zero(n, limbs), Poly::<Ntt>::zero(n, limbs)],
                    level,
                    scale: 1.0,
                    params_id: params.id(),
                },
                level,
            )
            .unwrap();
        let three = Ciphertext {
            polys: vec![Poly::<Ntt>::zero(n, limbs); 3],
            level,
            scale: 1.0,
            params_id: params.id(),
        };
        assert!(
            eval.dot_integer(&[&two, &three], &[1, 1], level, 1.0)
                .is_err()
        );
    }
}
