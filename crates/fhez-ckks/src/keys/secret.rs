//! The secret key.

use std::fmt;
use std::sync::Arc;

use fhez_math::{Ntt, Poly, sampling};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use super::{GaloisKeys, PublicKey, RelinKey};
use crate::Result;
use crate::params::{CkksParams, ParamsId};
use crate::rlwe::KeySwitchKey;

/// The ternary secret key s. Only the client ever holds one.
///
/// It is zeroized on drop, its `Debug` output is redacted, it has no `Clone`,
/// `PartialEq` or serde impls, and it is serialized only through the explicitly
/// named [`SecretKey::to_secret_bytes`](crate::wire) API.
pub struct SecretKey {
    pub(crate) params: Arc<CkksParams>,
    /// Coefficients in {-1, 0, 1}.
    pub(crate) coeffs: Vec<i64>,
    /// s in NTT form over Q_L·P.
    pub(crate) ntt: Poly<Ntt>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("params_id", &self.params.id())
            .finish_non_exhaustive()
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.coeffs.zeroize();
        self.ntt.as_mut_slice().zeroize();
    }
}

impl SecretKey {
    /// Samples a fresh uniform ternary secret key.
    ///
    /// # Errors
    /// Only on internal table errors.
    pub fn generate<R: RngCore + CryptoRng>(params: &Arc<CkksParams>, rng: &mut R) -> Result<Self> {
        let coeffs = sampling::sample_ternary(rng, params.n());
        Self::from_coeffs(params, coeffs)
    }

    /// Builds the key from its ternary coefficients.
    pub(crate) fn from_coeffs(params: &Arc<CkksParams>, coeffs: Vec<i64>) -> Result<Self> {
        let basis = params.qp_basis(params.max_level())?;
        let ntt = Poly::from_signed(params.n(), &coeffs, basis, basis.len())?.to_ntt(basis)?;
        Ok(Self {
            params: Arc::clone(params),
            coeffs,
            ntt,
        })
    }

    /// The parameter set.
    pub fn params(&self) -> &Arc<CkksParams> {
        &self.params
    }

    /// The parameter set's id.
    pub fn params_id(&self) -> ParamsId {
        self.params.id()
    }

    /// Generates the public key.
    ///
    /// # Errors
    /// Only on internal table errors.
    pub fn public_key<R: RngCore + CryptoRng>(&self, rng: &mut R) -> Result<PublicKey> {
        PublicKey::generate(self, rng)
    }

    /// Generates the relinearization key (s² → s).
    ///
    /// # Errors
    /// Only on internal table errors.
    pub fn relin_key<R: RngCore + CryptoRng>(&self, rng: &mut R) -> Result<RelinKey> {
        let basis = self.params.qp_basis(self.params.max_level())?;
        let mut s2 = self.ntt.clone();
        s2.mul_assign(&self.ntt, basis)?;
        let key = KeySwitchKey::generate(&self.params, &self.ntt, &s2, rng);
        s2.as_mut_slice().zeroize();
        Ok(RelinKey(key?))
    }

    /// Generates Galois keys for the given rotation steps (positive = left) and,
    /// if `conjugation`, for complex conjugation.
    ///
    /// # Errors
    /// Only on internal table errors.
    pub fn galois_keys<R: RngCore + CryptoRng>(
        &self,
        steps: &[i64],
        conjugation: bool,
        rng: &mut R,
    ) -> Result<GaloisKeys> {
        GaloisKeys::generate(self, steps, conjugation, rng)
    }

    /// Generates Galois keys for every power-of-two step ±1, ±2, …, ±N/4 (SEAL's
    /// default set), from which any rotation can be composed.
    ///
    /// # Errors
    /// Only on internal table errors.
    pub fn galois_keys_pow2<R: RngCore + CryptoRng>(&self, rng: &mut R) -> Result<GaloisKeys> {
        let steps = GaloisKeys::pow2_steps(self.params.slots());
        GaloisKeys::generate(self, &steps, false, rng)
    }
}
