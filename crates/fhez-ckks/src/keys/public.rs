//! The public key and public-key encryption.

use fhez_math::{Ntt, Poly, sampling};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use super::{SIGMA, SecretKey};
use crate::Result;
use crate::ciphertext::Ciphertext;
use crate::params::{CkksParams, ParamsId};
use crate::plaintext::Plaintext;
use crate::rlwe::keyswitch::mod_down;

/// The public key `(b, a) = (−a·s + e, a)` over Q_L·P.
///
/// Encryption works over Q_L·P and then divides by P, as SEAL does: the
/// encryption noise shrinks by P and only the rounding error of the division
/// remains, so fresh public-key ciphertexts are about as precise as symmetric ones.
#[derive(Clone, PartialEq)]
pub struct PublicKey {
    pub(crate) b: Poly<Ntt>,
    pub(crate) a: Poly<Ntt>,
    pub(crate) seed: [u8; 32],
    pub(crate) params_id: ParamsId,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("params_id", &self.params_id)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    pub(crate) fn generate<R: RngCore + CryptoRng>(sk: &SecretKey, rng: &mut R) -> Result<Self> {
        let params = &sk.params;
        let basis = params.qp_basis(params.max_level())?;
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let a = crate::rlwe::expand_uniform(params, &seed, 0)?;
        let e = sampling::sample_gaussian(rng, params.n(), SIGMA);
        let mut b = Poly::from_signed(params.n(), &e, basis, basis.len())?.to_ntt(basis)?;
        let mut a_s = a.clone();
        a_s.mul_assign(&sk.ntt, basis)?;
        b.sub_assign(&a_s, basis)?;
        Ok(Self {
            b,
            a,
            seed,
            params_id: params.id(),
        })
    }

    /// The parameter set.
    pub fn params_id(&self) -> ParamsId {
        self.params_id
    }

    /// Encrypts `pt` at its level and scale.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`](crate::Error::ParamsMismatch) when `pt` or `params`
    /// belong to another parameter set.
    pub fn encrypt<R: RngCore + CryptoRng>(
        &self,
        params: &CkksParams,
        pt: &Plaintext,
        rng: &mut R,
    ) -> Result<Ciphertext> {
        params.check_id(self.params_id)?;
        params.check_id(pt.params_id)?;
        let level = params.max_level();
        let basis = params.qp_basis(level)?;
        let n = params.n();
        // The ephemeral u and the errors e decrypt the message if known: wiped after use,
        // on every path.
        let mut u_coeffs = sampling::sample_ternary(rng, n);
        let u = Poly::from_signed(n, &u_coeffs, basis, basis.len());
        u_coeffs.zeroize();
        let mut u = u?.to_ntt(basis)?;
        let polys = self.encrypt_with(params, &u, rng);
        u.as_mut_slice().zeroize();
        let mut polys = polys?;
        for c in &mut polys {
            c.truncate_limbs(pt.level as usize + 1);
        }
        if let Some(c0) = polys.first_mut() {
            c0.add_assign(&pt.poly, params.q_basis(pt.level)?)?;
        }
        Ok(Ciphertext {
            polys,
            level: pt.level,
            scale: pt.scale,
            params_id: params.id(),
        })
    }
    /// `(b·u + e0, a·u + e1)` divided by P, under Q_L, with the errors wiped.
    fn encrypt_with<R: RngCore + CryptoRng>(
        &self,
        params: &CkksParams,
        u: &Poly<Ntt>,
        rng: &mut R,
    ) -> Result<Vec<Poly<Ntt>>> {
        let level = params.max_level();
        let basis = params.qp_basis(level)?;
        let n = params.n();
        let mut polys = Vec::with_capacity(2);
        for key_part in [&self.b, &self.a] {
            let mut e = sampling::sample_gaussian(rng, n, SIGMA);
            let c = Poly::from_signed(n, &e, basis, basis.len());
            e.zeroize();
            let mut c = c?.to_ntt(basis)?;
            c.mul_add_assign(key_part, u, basis)?;
            polys.push(mod_down(params, c.into_vec(), level)?);
        }
        Ok(polys)
    }
}
