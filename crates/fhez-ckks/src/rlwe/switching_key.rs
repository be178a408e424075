//! Key-switching keys (used by relinearization and Galois keys).

use fhez_math::{Ntt, Poly, sampling};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

use crate::Result;
use crate::params::{CkksParams, ParamsId};

/// A hybrid key-switching key from a secret s' to the secret s: for every digit j
/// of the ciphertext primes, `(b_j, a_j)` over Q_L·P with
/// `b_j = −a_j·s + e_j + P·g_j·s'`, where g_j is 1 modulo the primes of digit j and
/// 0 modulo the others. The uniform halves `a_j` are expanded from a 32-byte seed
/// (ChaCha20, stream j), so the key travels as the `b_j` plus the seed.
#[derive(Clone, PartialEq)]
pub struct KeySwitchKey {
    pub(crate) b: Vec<Poly<Ntt>>,
    pub(crate) a: Vec<Poly<Ntt>>,
    pub(crate) seed: [u8; 32],
    pub(crate) params_id: ParamsId,
}

impl std::fmt::Debug for KeySwitchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySwitchKey")
            .field("params_id", &self.params_id)
            .field("digits", &self.b.len())
            .finish_non_exhaustive()
    }
}

impl KeySwitchKey {
    /// Generates a key switching from `s_from` (NTT form over Q_L·P) to `s_to`.
    pub(crate) fn generate<R: RngCore + CryptoRng>(
        params: &CkksParams,
        s_to: &Poly<Ntt>,
        s_from: &Poly<Ntt>,
        rng: &mut R,
    ) -> Result<Self> {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let basis = params.qp_basis(params.max_level())?;
        let plan = params.ks_plan(params.max_level())?;
        let n = params.n();
        let mut b = Vec::with_capacity(plan.digits.len());
        let mut a = Vec::with_capacity(plan.digits.len());
        for (j, digit) in plan.digits.iter().enumerate() {
            let a_j = expand_uniform(params, &seed, j as u64)?;
            let err = sampling::sample_gaussian(rng, n, crate::keys::SIGMA);
            let mut b_j =
                fhez_math::Poly::from_signed(n, &err, basis, basis.len())?.to_ntt(basis)?;
            // b_j = e_j − a_j·s
            let mut a_s = a_j.clone();
            a_s.mul_assign(s_to, basis)?;
            b_j.sub_assign(&a_s, basis)?;
            // + P·s' on the limbs of digit j only.
            for i in digit.start..digit.end {
                let (Some(m), Some(&p_mod), Some(dst), Some(src)) = (
                    basis.moduli().get(i),
                    params.p_mod_q().get(i),
                    b_j.limb_mut(i),
                    s_from.limb(i),
                ) else {
                    continue;
                };
                let p_shoup = m.shoup(p_mod);
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = m.add(*d, m.mul_shoup(s, p_mod, p_shoup));
                }
            }
            b.push(b_j);
            a.push(a_j);
        }
        Ok(Self {
            b,
            a,
            seed,
            params_id: params.id(),
        })
    }

    /// Number of digits.
    pub fn digits(&self) -> usize {
        self.b.len()
    }

    /// The parameter set.
    pub fn params_id(&self) -> ParamsId {
        self.params_id
    }
}

/// The uniform polynomial of digit (or component) `stream` expanded from `seed`:
/// ChaCha20 keyed by the seed, stream number `stream`, limb by limb over Q_L·P,
/// unbiased rejection sampling (see `fhez_math::sampling::sample_uniform_into`).
pub(crate) fn expand_uniform(
    params: &CkksParams,
    seed: &[u8; 32],
    stream: u64,
) -> Result<Poly<Ntt>> {
    let basis = params.qp_basis(params.max_level())?;
    let mut rng = ChaCha20Rng::from_seed(*seed);
    rng.set_stream(stream);
    let mut poly = Poly::<Ntt>::zero(params.n(), basis.len());
    sampling::sample_uniform_into(&mut rng, basis, &mut poly);
    Ok(poly)
}
