//! Hybrid key switching (Han–Ki): decompose, ModUp, inner product with the key,
//! ModDown. [`Decomposition`] is the ModUp'd digits of one polynomial; hoisted
//! rotations reuse one decomposition for many keys, applying each automorphism as a
//! permutation of the NTT-form digits (Halevi–Shoup).
//!
//! One key switch runs on rayon's thread pool (see [`split`](super::split)): the inverse
//! NTTs by limb, the digits of the decomposition side by side (each digit's exact conversion
//! by columns and its NTTs by limb), the inner product by limb, and the ModDown (or ModDown
//! with rescale) of the two output polynomials side by side (each by limb, the conversion
//! from P by columns). Every task computes what the sequential loop computed for its part,
//! so the results do not depend on the thread count; with one thread, or for small rings,
//! everything runs inline in order.

use fhez_math::{Ntt, Poly, zq};

use super::{KeySwitchKey, scratch, split};
use crate::params::CkksParams;
use crate::{Error, Result};

/// The digits of a polynomial at some level, each extended to Q_l·P (NTT form).
#[derive(Clone, Debug)]
pub(crate) struct Decomposition {
    pub(crate) level: u32,
    pub(crate) digits: Vec<Poly<Ntt>>,
}

impl Decomposition {
    /// Returns the digit buffers to this thread's scratch pool.
    pub(crate) fn recycle(self) {
        for d in self.digits {
            scratch::give(d.into_vec());
        }
    }
}

/// Decomposes `d` (NTT form under Q_level) into ModUp'd digits.
pub(crate) fn decompose(params: &CkksParams, d: &Poly<Ntt>, level: u32) -> Result<Decomposition> {
    let ql = params.q_basis(level)?;
    let qlp = params.qp_basis(level)?;
    let plan = params.ks_plan(level)?;
    let n = params.n();
    d.check_basis(ql)?;
    // Coefficient form of `d`, limb by limb in parallel (the inverse NTTs of `to_coeff`).
    let par = split::worth_splitting(qlp.len() * n);
    let mut coeff = scratch::take(d.as_slice().len());
    coeff.extend_from_slice(d.as_slice());
    let limbs = coeff.chunks_mut(n).zip(ql.tables()).collect();
    split::for_each(par, limbs, |(limb, table)| table.inverse(limb));
    let digits = split::map(par, plan.digits.iter().collect(), |digit| {
        mod_up_digit(d, &coeff, digit, qlp, par)
    })
    .into_iter()
    .collect::<Result<Vec<_>>>();
    scratch::give(coeff);
    Ok(Decomposition {
        level,
        digits: digits?,
    })
}

/// One digit of [`decompose`]: the digit's limbs of `coeff` (coefficient form of `d`)
/// extended exactly to the complement limbs of Q_l·P, in NTT form, with `d`'s own NTT-form
/// limbs spliced in.
fn mod_up_digit(
    d: &Poly<Ntt>,
    coeff: &[u64],
    digit: &crate::params::DigitPlan,
    qlp: &fhez_math::RnsBasis,
    par: bool,
) -> Result<Poly<Ntt>> {
    let n = qlp.n();
    let input = coeff
        .get(digit.start * n..digit.end * n)
        .ok_or(Error::Math(fhez_math::Error::LimbMismatch {
            expected: digit.end,
            found: coeff.len() / n.max(1),
        }))?;
    let own = d
        .as_slice()
        .get(digit.start * n..digit.end * n)
        .unwrap_or_default();
    if let (true, Some(q)) = (digit.end == digit.start + 1, qlp.moduli().get(digit.start)) {
        // One prime per digit (one special prime, as in SEAL): each complement limb is the
        // exact conversion from that prime, written in place (no intermediate buffer).
        let mut out = scratch::zeroed(qlp.len() * n);
        let limbs = out.chunks_mut(n).zip(qlp.tables()).enumerate().collect();
        split::for_each(par, limbs, |(i, (limb, table))| {
            if i == digit.start {
                limb.iter_mut().zip(own).for_each(|(o, &x)| *o = x);
            } else {
                fhez_math::rns::convert_centered(q, table.modulus(), input, limb);
                table.forward_lazy(limb);
            }
        });
        return Ok(Poly::from_vec(n, out)?);
    }
    // The digit's centered representative, extended exactly: an approximate extension
    // would add u·D (0 <= u < digit size) and with it the key noise u·D·e/P.
    let mut converted = scratch::zeroed(digit.complement.len() * n);
    split::convert_exact(par, &digit.converter, n, input, &mut converted);
    // Lazy NTTs: outputs stay in [0, 4q); the inner product reduces them.
    let limbs = converted.chunks_mut(n).zip(&digit.complement).collect();
    split::for_each(par, limbs, |(limb, &idx)| {
        if let Some(table) = qlp.tables().get(idx) {
            table.forward_lazy(limb);
        }
    });
    // Complement limbs are [0, start) then [end, len): splice the digit's own
    // limbs (`d` itself, already in NTT form) in between.
    let (before, after) = converted.split_at(digit.start * n);
    let mut out = scratch::take(qlp.len() * n);
    out.extend_from_slice(before);
    out.extend_from_slice(own);
    out.extend_from_slice(after);
    scratch::give(converted);
    Ok(Poly::from_vec(n, out)?)
}

/// Inner product of the decomposition with `key` (optionally permuting the digits
/// by a Galois permutation first), then ModDown: returns `(u0, u1)` under Q_level
/// in NTT form with `u0 + u1·s ≈ d·s'` (for the permuted `d` when `perm` is given).
pub(crate) fn apply_key(
    params: &CkksParams,
    dec: &Decomposition,
    key: &KeySwitchKey,
    perm: Option<&[usize]>,
) -> Result<(Poly<Ntt>, Poly<Ntt>)> {
    let (acc0, acc1) = inner_product(params, dec, key, perm)?;
    let par = split::worth_splitting(acc0.len());
    let (u0, u1) = split::join(
        par,
        || mod_down(params, acc0, dec.level),
        || mod_down(params, acc1, dec.level),
    );
    Ok((u0?, u1?))
}

/// The inner product of the decomposition with `key`, before ModDown: two
/// NTT-form polynomials over Q_l·P (limb-major data), equal to `P·d·s'` plus small
/// noise, where `d` is the decomposed polynomial.
pub(crate) fn inner_product(
    params: &CkksParams,
    dec: &Decomposition,
    key: &KeySwitchKey,
    perm: Option<&[usize]>,
) -> Result<(Vec<u64>, Vec<u64>)> {
    params.check_id(key.params_id)?;
    let level = dec.level;
    let qlp = params.qp_basis(level)?;
    let n = params.n();
    let l1 = level as usize + 1;
    let max_l1 = params.max_level() as usize + 1;
    if key.b.len() < dec.digits.len() {
        return Err(Error::CiphertextSize {
            op: "key switch (key digits)",
            expected: dec.digits.len(),
            found: key.b.len(),
        });
    }
    let mut acc0 = scratch::zeroed(qlp.len() * n);
    let mut acc1 = scratch::zeroed(qlp.len() * n);
    let digits = dec.digits.len();
    let par = split::worth_splitting(acc0.len());
    let limbs = acc0
        .chunks_mut(n)
        .zip(acc1.chunks_mut(n))
        .zip(qlp.moduli())
        .enumerate()
        .collect();
    // Limb by limb; with a permutation each task permutes the digits into a scratch buffer.
    split::try_for_each(par, limbs, |(i, ((out0, out1), m))| {
        // Limb i of Q_l·P is limb `ki` of the key (stored over Q_L·P).
        let ki = if i < l1 { i } else { max_l1 + (i - l1) };
        let mut xs: Vec<&[u64]> = Vec::with_capacity(digits);
        let mut bs: Vec<&[u64]> = Vec::with_capacity(digits);
        let mut as_: Vec<&[u64]> = Vec::with_capacity(digits);
        for (digit, (kb, ka)) in dec.digits.iter().zip(key.b.iter().zip(&key.a)) {
            let (Some(x), Some(b), Some(a)) = (digit.limb(i), kb.limb(ki), ka.limb(ki)) else {
                return Err(Error::Math(fhez_math::Error::LimbMismatch {
                    expected: ki + 1,
                    found: kb.limbs(),
                }));
            };
            xs.push(x);
            bs.push(b);
            as_.push(a);
        }
        // Digit residues are lazy NTT outputs (< 4q) or reduced, key residues < q: the
        // preconditions of `mul_sum2_slices`.
        match perm {
            None => zq::mul_sum2_slices(m, (&xs, &bs, &as_), out0, out1),
            Some(p) => {
                let mut permuted = scratch::take(digits * n);
                permute_digits(&xs, p, n, &mut permuted);
                {
                    let px: Vec<&[u64]> = permuted.chunks_exact(n).collect();
                    zq::mul_sum2_slices(m, (&px, &bs, &as_), out0, out1);
                }
                scratch::give(permuted);
            }
        }
        Ok(())
    })?;
    Ok((acc0, acc1))
}

/// Divides an NTT-form polynomial over Q_l·P by P and then by q_l, both rounded and
/// with exact conversions, sharing the NTTs: the q_l limb of x/P is
/// formed in coefficient form (where the rescale needs it anyway), and both
/// corrections of every lower limb go through one NTT. Returns it under Q_{l−1}.
/// Saves l + 1 NTTs per polynomial over a ModDown followed by a rescale.
pub(crate) fn mod_down_rescale(
    params: &CkksParams,
    mut data: Vec<u64>,
    level: u32,
) -> Result<Poly<Ntt>> {
    if level == 0 {
        return Err(Error::LevelExhausted {
            op: "rescale",
            needed: 1,
            available: 0,
        });
    }
    let ql = params.q_basis(level)?;
    let plan = params.ks_plan(level)?;
    let n = params.n();
    let l = level as usize;
    // x_P: the centered representative of x mod P (coefficient form), converted exactly
    // to every q_i of Q_l, so that (x − x_P)/P = round(x/P).
    let par = split::worth_splitting(data.len());
    let p_part = p_part_coeff(par, params, &mut data, l + 1)?;
    let mut conv = scratch::zeroed((l + 1) * n);
    split::convert_exact(par, &plan.moddown, n, &p_part, &mut conv);
    // y = round(x/P) mod q_l, in coefficient form.
    let mut top = scratch::take(n);
    top.extend_from_slice(data.get(l * n..).unwrap_or_default());
    data.truncate(l * n);
    let (Some(top_table), Some(conv_top), Some(&p_inv_top)) = (
        ql.tables().get(l),
        conv.get(l * n..),
        params.p_inv_mod_q().get(l),
    ) else {
        return Err(Error::LevelIncrease {
            from: level,
            to: level,
        });
    };
    top_table.inverse(&mut top);
    let mq = top_table.modulus();
    let pis = mq.shoup(p_inv_top);
    for (y, &c) in top.iter_mut().zip(conv_top) {
        *y = mq.mul_shoup(mq.sub(*y, c), p_inv_top, pis);
    }
    // Lower limbs: out = (x·P⁻¹ − NTT(t))·q_l⁻¹ with t = conv_P·P⁻¹ + r_i, where r_i is the
    // centered representative of y modulo q_i; computed as (x − NTT(t'))·(P⁻¹·q_l⁻¹) with
    // t' = P·t = conv_P + P·r_i, so that one subtract-and-scale pass finishes each limb.
    let q_inv = params.rescale_inv(level);
    let limbs = data
        .chunks_exact_mut(n)
        .zip(conv.chunks_exact_mut(n))
        .zip(ql.tables())
        .zip(params.p_inv_mod_q().iter().zip(q_inv))
        .zip(params.p_mod_q())
        .collect();
    split::for_each(
        par,
        limbs,
        |((((limb, c), table), (&p_inv, &ql_inv)), &p_mod)| {
            let m = table.modulus();
            let mut t = scratch::zeroed(n);
            fhez_math::rns::convert_centered(mq, m, &top, &mut t);
            zq::mul_scalar_add_slices_assign(m, c, &t, p_mod);
            table.forward_lazy(c);
            zq::sub_scale_slices_assign(m, limb, c, m.mul(p_inv, ql_inv));
            scratch::give(t);
        },
    );
    scratch::give(top);
    scratch::give(p_part);
    scratch::give(conv);
    Ok(Poly::from_vec(n, data)?)
}

/// Writes the digits `xs` read through the Galois permutation `perm` (hoisted rotation) to
/// `out`, `n` coefficients per digit (out-of-range entries read 0, which cannot happen for a
/// permutation of `0..n`).
fn permute_digits(xs: &[&[u64]], perm: &[usize], n: usize, out: &mut Vec<u64>) {
    out.clear();
    out.resize(xs.len() * n, 0);
    for (dst, x) in out.chunks_exact_mut(n).zip(xs) {
        for (d, &src) in dst.iter_mut().zip(perm) {
            *d = x.get(src).copied().unwrap_or(0);
        }
    }
}

/// Divides an NTT-form polynomial over Q_l·P by P, rounding to the nearest integer
/// (exact basis conversion): returns it under Q_l, NTT form.
pub(crate) fn mod_down(params: &CkksParams, mut data: Vec<u64>, level: u32) -> Result<Poly<Ntt>> {
    let ql = params.q_basis(level)?;
    let plan = params.ks_plan(level)?;
    let n = params.n();
    let l1 = level as usize + 1;
    let par = split::worth_splitting(data.len());
    let p_part = p_part_coeff(par, params, &mut data, l1)?;
    // x_P, the centered representative of x mod P, extended exactly to Q_l:
    // (x − x_P) / P = round(x / P), an integer with no overflow term.
    let mut conv = scratch::zeroed(l1 * n);
    split::convert_exact(par, &plan.moddown, n, &p_part, &mut conv);
    let limbs = data
        .chunks_mut(n)
        .zip(conv.chunks_mut(n))
        .zip(ql.tables())
        .zip(params.p_inv_mod_q())
        .collect();
    split::for_each(par, limbs, |(((limb, c), table), &p_inv)| {
        table.forward_lazy(c);
        // x < q (reduced inner product) and y < 4q (lazy NTT): x ← (x − y)·P⁻¹.
        zq::sub_scale_slices_assign(table.modulus(), limb, c, p_inv);
    });
    scratch::give(p_part);
    scratch::give(conv);
    Ok(Poly::from_vec(n, data)?)
}

/// Splits the P limbs off `data` (NTT form over Q_l·P, `l1` limbs of Q_l first) and returns
/// them in coefficient form (inverse NTTs by limb, on the pool when `par`).
fn p_part_coeff(
    par: bool,
    params: &CkksParams,
    data: &mut Vec<u64>,
    l1: usize,
) -> Result<Vec<u64>> {
    let n = params.n();
    let p_tables = params.p_basis().tables();
    if data.len() != (l1 + p_tables.len()) * n {
        return Err(Error::Math(fhez_math::Error::LimbMismatch {
            expected: l1 + p_tables.len(),
            found: data.len() / n.max(1),
        }));
    }
    let mut p_part = scratch::take(data.len() - l1 * n);
    p_part.extend_from_slice(data.get(l1 * n..).unwrap_or_default());
    data.truncate(l1 * n);
    let limbs = p_part.chunks_exact_mut(n).zip(p_tables).collect();
    split::for_each(par, limbs, |(limb, table)| table.inverse(limb));
    Ok(p_part)
}
