//! Galois keys: rotations and conjugation.

use std::collections::BTreeMap;

use fhez_math::ntt::galois_permutation_ntt;
use rand_core::{CryptoRng, RngCore};

use super::SecretKey;
use crate::Result;
use crate::params::ParamsId;
use crate::rlwe::KeySwitchKey;

/// Key-switching keys from σ_g(s) to s, one per Galois element g.
#[derive(Clone, Debug, PartialEq)]
pub struct GaloisKeys {
    pub(crate) keys: BTreeMap<usize, KeySwitchKey>,
    pub(crate) params_id: ParamsId,
}

/// The Galois element of a left rotation by `step` slots: 5^step mod 2N.
pub fn rotation_element(n: usize, step: i64) -> usize {
    let slots = (n / 2) as i64;
    let two_n = 2 * n as u64;
    let k = step.rem_euclid(slots.max(1)) as u64;
    let mut g = 1u64;
    let mut base = 5u64 % two_n;
    let mut e = k;
    while e > 0 {
        if e & 1 == 1 {
            g = g * base % two_n;
        }
        base = base * base % two_n;
        e >>= 1;
    }
    g as usize
}

/// The Galois element of complex conjugation: 2N − 1.
pub fn conjugation_element(n: usize) -> usize {
    2 * n - 1
}

impl GaloisKeys {
    pub(crate) fn generate<R: RngCore + CryptoRng>(
        sk: &SecretKey,
        steps: &[i64],
        conjugation: bool,
        rng: &mut R,
    ) -> Result<Self> {
        let params = &sk.params;
        let n = params.n();
        let mut elements: Vec<usize> = steps.iter().map(|&s| rotation_element(n, s)).collect();
        if conjugation {
            elements.push(conjugation_element(n));
        }
        elements.sort_unstable();
        elements.dedup();
        let mut keys = BTreeMap::new();
        for g in elements.into_iter().filter(|&g| g != 1) {
            let perm = galois_permutation_ntt(n, g);
            let mut s_g = sk.ntt.clone();
            for (dst, src) in s_g.limbs_iter_mut().zip(sk.ntt.limbs_iter()) {
                for (d, &p) in dst.iter_mut().zip(&perm) {
                    *d = src.get(p).copied().unwrap_or(0);
                }
            }
            let key = KeySwitchKey::generate(params, &sk.ntt, &s_g, rng);
            zeroize::Zeroize::zeroize(s_g.as_mut_slice());
            keys.insert(g, key?);
        }
        Ok(Self {
            keys,
            params_id: params.id(),
        })
    }

    /// The power-of-two steps ±1, ±2, …, ±slots/2.
    pub fn pow2_steps(slots: usize) -> Vec<i64> {
        let mut steps = Vec::new();
        let mut s = 1i64;
        while (s as usize) < slots {
            steps.push(s);
            steps.push(-s);
            s *= 2;
        }
        steps
    }

    /// The parameter set.
    pub fn params_id(&self) -> ParamsId {
        self.params_id
    }

    /// The Galois elements present.
    pub fn elements(&self) -> impl Iterator<Item = usize> + '_ {
        self.keys.keys().copied()
    }

    /// Whether a key for Galois element `g` is present.
    pub fn has_element(&self, g: usize) -> bool {
        self.keys.contains_key(&g)
    }

    /// The key for Galois element `g`.
    pub(crate) fn get(&self, g: usize) -> Option<&KeySwitchKey> {
        self.keys.get(&g)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
