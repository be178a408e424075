//! Hybrid key switching (Han–Ki): decompose, ModUp, inner product with the key,
//! ModDown. [`Decomposition`] is the ModUp'd digits of one polynomial; hoisted
//! rotations reuse one decomposition for many keys, applying each automorphism as a
//! permutation of the NTT-form digits (Halevi–Shoup).

use fhez_math::{Coeff, Modulus, Ntt, Poly};

use super::KeySwitchKey;
use crate::params::CkksParams;
use crate::{Error, Result};

/// Digits accumulated in u128 before a reduction: products are < 2^122 (primes
/// < 2^61), so 32 of them stay below 2^127.
const LAZY_TERMS: usize = 32;

/// The digits of a polynomial at some level, each extended to Q_l·P (NTT form).
#[derive(Clone, Debug)]
pub(crate) struct Decomposition {
    pub(crate) level: u32,
    pub(crate) digits: Vec<Poly<Ntt>>,
}

/// Decomposes `d` (NTT form under Q_level) into ModUp'd digits.
pub(crate) fn decompose(params: &CkksParams, d: &Poly<Ntt>, level: u32) -> Result<Decomposition> {
    let ql = params.q_basis(level)?;
    let qlp = params.qp_basis(level)?;
    let plan = params.ks_plan(level)?;
    let n = params.n();
    let mut coeff: Poly<Coeff> = d.clone().to_coeff(ql)?;
    // Shift every digit by ⌊D/2⌋ so the conversion starts from its centered value.
    for digit in &plan.digits {
        for (i, &half) in (digit.start..digit.end).zip(&digit.half_in) {
            if let (Some(limb), Some(m)) = (coeff.limb_mut(i), ql.moduli().get(i)) {
                add_constant(m, limb, half);
            }
        }
    }
    let mut digits = Vec::with_capacity(plan.digits.len());
    for digit in &plan.digits {
        let input = coeff
            .as_slice()
            .get(digit.start * n..digit.end * n)
            .ok_or(Error::Math(fhez_math::Error::LimbMismatch {
                expected: digit.end,
                found: coeff.limbs(),
            }))?;
        let mut converted = vec![0u64; digit.complement.len() * n];
        digit.converter.convert_approx(input, &mut converted);
        for ((limb, &half), &idx) in converted
            .chunks_exact_mut(n)
            .zip(&digit.half_out)
            .zip(&digit.complement)
        {
            if let Some(m) = qlp.moduli().get(idx) {
                sub_constant(m, limb, half);
            }
        }
        let mut out = vec![0u64; qlp.len() * n];
        // The digit's own limbs are `d` itself, already in NTT form.
        if let (Some(dst), Some(src)) = (
            out.get_mut(digit.start * n..digit.end * n),
            d.as_slice().get(digit.start * n..digit.end * n),
        ) {
            dst.copy_from_slice(src);
        }
        for (&idx, limb) in digit.complement.iter().zip(converted.chunks_exact_mut(n)) {
            if let (Some(table), Some(dst)) =
                (qlp.tables().get(idx), out.get_mut(idx * n..(idx + 1) * n))
            {
                table.forward(limb);
                dst.copy_from_slice(limb);
            }
        }
        digits.push(Poly::from_vec(n, out)?);
    }
    Ok(Decomposition { level, digits })
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
    let mut acc0 = vec![0u64; qlp.len() * n];
    let mut acc1 = vec![0u64; qlp.len() * n];
    let mut wide0 = vec![0u128; n];
    let mut wide1 = vec![0u128; n];
    let mut gathered = vec![0u64; n];
    for (i, m) in qlp.moduli().iter().enumerate() {
        // Limb i of Q_l·P is limb `ki` of the key (stored over Q_L·P).
        let ki = if i < l1 { i } else { max_l1 + (i - l1) };
        for chunk in dec
            .digits
            .iter()
            .zip(key.b.iter().zip(&key.a))
            .collect::<Vec<_>>()
            .chunks(LAZY_TERMS)
        {
            for (digit, (kb, ka)) in chunk {
                let (Some(dl), Some(bl), Some(al)) = (digit.limb(i), kb.limb(ki), ka.limb(ki))
                else {
                    continue;
                };
                let dl = match perm {
                    Some(p) => {
                        for (g, &src) in gathered.iter_mut().zip(p) {
                            *g = dl.get(src).copied().unwrap_or(0);
                        }
                        &gathered[..]
                    }
                    None => dl,
                };
                for (((w0, w1), &x), (&b, &a)) in wide0
                    .iter_mut()
                    .zip(wide1.iter_mut())
                    .zip(dl)
                    .zip(bl.iter().zip(al))
                {
                    *w0 += u128::from(x) * u128::from(b);
                    *w1 += u128::from(x) * u128::from(a);
                }
            }
            // Fold the partial sums back below q to keep the next chunk in range.
            for (w0, w1) in wide0.iter_mut().zip(wide1.iter_mut()) {
                *w0 = u128::from(m.reduce_u128(*w0));
                *w1 = u128::from(m.reduce_u128(*w1));
            }
        }
        if let (Some(o0), Some(o1)) = (
            acc0.get_mut(i * n..(i + 1) * n),
            acc1.get_mut(i * n..(i + 1) * n),
        ) {
            for ((d0, d1), (w0, w1)) in o0
                .iter_mut()
                .zip(o1.iter_mut())
                .zip(wide0.iter_mut().zip(wide1.iter_mut()))
            {
                *d0 = *w0 as u64;
                *d1 = *w1 as u64;
                *w0 = 0;
                *w1 = 0;
            }
        }
    }
    let u0 = mod_down(params, acc0, level)?;
    let u1 = mod_down(params, acc1, level)?;
    Ok((u0, u1))
}

/// Divides an NTT-form polynomial over Q_l·P by P (with the fast-conversion error
/// of at most a few units): returns it under Q_l, NTT form.
pub(crate) fn mod_down(params: &CkksParams, mut data: Vec<u64>, level: u32) -> Result<Poly<Ntt>> {
    let ql = params.q_basis(level)?;
    let p_basis = params.p_basis();
    let plan = params.ks_plan(level)?;
    let n = params.n();
    let l1 = level as usize + 1;
    let mut p_part = data.split_off(l1 * n);
    for ((limb, table), &half) in p_part
        .chunks_exact_mut(n)
        .zip(p_basis.tables())
        .zip(&plan.half_p_in)
    {
        table.inverse(limb);
        add_constant(table.modulus(), limb, half);
    }
    let mut conv = vec![0u64; l1 * n];
    plan.moddown.convert_approx(&p_part, &mut conv);
    // (x − ([x + P/2]_P − P/2)) / P = round(x / P).
    for ((c, m), &half) in conv
        .chunks_exact_mut(n)
        .zip(ql.moduli())
        .zip(&plan.half_p_out)
    {
        sub_constant(m, c, half);
    }
    for (((limb, c), table), &p_inv) in data
        .chunks_exact_mut(n)
        .zip(conv.chunks_exact_mut(n))
        .zip(ql.tables())
        .zip(params.p_inv_mod_q())
    {
        table.forward(c);
        let m = table.modulus();
        let p_inv_shoup = m.shoup(p_inv);
        for (x, &y) in limb.iter_mut().zip(c.iter()) {
            *x = m.mul_shoup(m.sub(*x, y), p_inv, p_inv_shoup);
        }
    }
    Ok(Poly::from_vec(n, data)?)
}

fn add_constant(m: &Modulus, limb: &mut [u64], c: u64) {
    for x in limb.iter_mut() {
        *x = m.add(*x, c);
    }
}

fn sub_constant(m: &Modulus, limb: &mut [u64], c: u64) {
    for x in limb.iter_mut() {
        *x = m.sub(*x, c);
    }
}
