//! [`ServerKeys`]: everything a server needs to evaluate, nothing secret.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::keys::{GaloisKeys, PublicKey, RelinKey};
use crate::params::CkksParams;
use crate::{Error, Result};

/// The evaluation material a client hands to a server: the parameter set, the public key
/// (for server-side encryption of constants or inputs), the relinearization key and the
/// Galois keys. There is no secret-key field, so a server built from it cannot decrypt:
///
/// ```compile_fail
/// fn leak(keys: &fhez_ckks::ServerKeys) -> &fhez_ckks::SecretKey {
///     keys.secret_key() // no such method: server keys carry no secret
/// }
/// ```
#[derive(Clone, Debug)]
pub struct ServerKeys {
    params: Arc<CkksParams>,
    pk: PublicKey,
    rk: RelinKey,
    gk: GaloisKeys,
    /// Normalised rotation step (in `[1, slots)`) of every Galois key, by Galois element.
    steps: BTreeMap<usize, i64>,
}

impl ServerKeys {
    /// Bundles the evaluation keys, checking that they all belong to `params`.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`] when a key was made under another parameter set.
    pub fn new(
        params: Arc<CkksParams>,
        pk: PublicKey,
        rk: RelinKey,
        gk: GaloisKeys,
    ) -> Result<Self> {
        params.check_id(pk.params_id())?;
        params.check_id(rk.params_id())?;
        params.check_id(gk.params_id())?;
        let steps = rotation_steps_of(&params, &gk);
        Ok(Self {
            params,
            pk,
            rk,
            gk,
            steps,
        })
    }

    /// The parameter set.
    #[must_use]
    pub fn params(&self) -> &Arc<CkksParams> {
        &self.params
    }

    /// The public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.pk
    }

    /// The relinearization key.
    #[must_use]
    pub fn relin_key(&self) -> &RelinKey {
        &self.rk
    }

    /// The Galois (rotation) keys.
    #[must_use]
    pub fn galois_keys(&self) -> &GaloisKeys {
        &self.gk
    }

    /// The rotation steps with an exact Galois key, normalised to `[1, slots)` (a key made
    /// for step `-1` is listed as `slots − 1`). The conjugation key, if any, is not a rotation
    /// and is not listed.
    #[must_use]
    pub fn rotation_steps(&self) -> BTreeSet<i64> {
        self.steps.values().copied().collect()
    }

    /// Whether an exact key for the (normalised, non-zero) step exists.
    pub(crate) fn has_step(&self, norm: i64) -> bool {
        self.steps.values().any(|&s| s == norm)
    }
}

/// Maps every Galois element of `gk` that is a rotation to its step in `[1, slots)`:
/// the element of a left rotation by `k` is `5^k mod 2N`.
fn rotation_steps_of(params: &CkksParams, gk: &GaloisKeys) -> BTreeMap<usize, i64> {
    let present: BTreeSet<usize> = gk.elements().collect();
    let two_n = 2 * params.n() as u64;
    let mut out = BTreeMap::new();
    let mut g = 1u64;
    for k in 0..params.slots() as i64 {
        if out.len() == present.len() {
            break;
        }
        if k > 0 && present.contains(&(g as usize)) {
            out.insert(g as usize, k);
        }
        g = g * 5 % two_n;
    }
    out
}

/// Checks that `params` is the parameter set of `keys` (by id).
pub(crate) fn check_same_params(keys: &ServerKeys, params: &CkksParams) -> Result<()> {
    if keys.params.id() == params.id() {
        Ok(())
    } else {
        Err(Error::ParamsMismatch {
            lhs: keys.params.id(),
            rhs: params.id(),
        })
    }
}
