//! [`CkksClient`]: the key-holding side of the CKKS backend (`Backend + Decrypt`).

use std::sync::Arc;

use fhez_backend::{Backend, BackendKind, Caps, Decrypt, OpStats, Result as BResult};
use rand_core::{CryptoRng, RngCore};

use super::keys::check_same_params;
use super::{CkksCt, CkksServer, ServerKeys};
use crate::Result;
use crate::keys::SecretKey;
use crate::params::CkksParams;

/// The client side of the CKKS backend: the secret key plus a [`CkksServer`] it evaluates
/// with. Implements [`Backend`] (every operation is the server's) and [`Decrypt`].
///
/// [`CkksClient::server_keys`] is what is sent to a server; [`CkksClient::server`] is an
/// in-process server value (sharing this client's counters) for code that must not decrypt.
///
/// A client given a release policy ([`CkksClient::with_release`]; model clients always
/// are) decrypts through [`Decrypt`] for release only: reply check, noise flooding and
/// rounding ([`SecretKey::decrypt_shared`]). Without one (an engine client made by
/// [`CkksClient::generate`], which has no plan to take a noise bound from), [`Decrypt`]
/// is exact. [`CkksClient::decrypt_exact`] is the named exact opt-in either way.
#[derive(Clone, Debug)]
pub struct CkksClient {
    sk: Arc<SecretKey>,
    server: CkksServer,
    release: Option<crate::SharedDecryption>,
}

impl CkksClient {
    /// Generates a secret key, public key, relinearization key and Galois keys for exactly
    /// `rotation_steps` (positive = left; the planner supplies the list), with OS randomness.
    ///
    /// # Errors
    /// Engine errors from key generation.
    pub fn generate(params: &Arc<CkksParams>, rotation_steps: &[i64]) -> Result<Self> {
        Self::generate_with_rng(params, rotation_steps, &mut crate::os_rng()?)
    }

    /// As [`CkksClient::generate`], drawing all randomness from `rng` (deterministic tests).
    /// Encryption still uses fresh OS randomness for every ciphertext.
    ///
    /// # Errors
    /// Engine errors from key generation.
    pub fn generate_with_rng<R: RngCore + CryptoRng>(
        params: &Arc<CkksParams>,
        rotation_steps: &[i64],
        rng: &mut R,
    ) -> Result<Self> {
        let sk = SecretKey::generate(params, rng)?;
        let pk = sk.public_key(rng)?;
        let rk = sk.relin_key(rng)?;
        let gk = sk.galois_keys(rotation_steps, false, rng)?;
        let keys = ServerKeys::new(Arc::clone(params), pk, rk, gk)?;
        Self::from_parts(Arc::new(sk), Arc::new(keys))
    }

    /// A client from an existing secret key and the server keys made from it.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`](crate::Error::ParamsMismatch) when they belong to different
    /// parameter sets.
    pub fn from_parts(sk: Arc<SecretKey>, keys: Arc<ServerKeys>) -> Result<Self> {
        check_same_params(&keys, sk.params())?;
        Ok(Self {
            sk,
            server: CkksServer::new(keys),
            release: None,
        })
    }

    /// The same client decrypting for release under `policy` (its used-slot count is
    /// replaced by each reply's) in every [`Decrypt`] call.
    #[must_use]
    pub fn with_release(self, policy: crate::SharedDecryption) -> Self {
        Self {
            release: Some(policy),
            ..self
        }
    }

    /// The release policy [`Decrypt`] applies, if any.
    #[must_use]
    pub fn release(&self) -> Option<&crate::SharedDecryption> {
        self.release.as_ref()
    }

    /// The evaluation keys to send to a server (no secret inside).
    #[must_use]
    pub fn server_keys(&self) -> Arc<ServerKeys> {
        Arc::clone(self.server.keys())
    }

    /// A server value with this client's keys (sharing its counters): the same operations,
    /// no [`Decrypt`].
    #[must_use]
    pub fn server(&self) -> CkksServer {
        self.server.clone()
    }

    /// The same client (same keys) with its own, zeroed counters.
    #[must_use]
    pub fn with_fresh_stats(&self) -> Self {
        Self {
            sk: Arc::clone(&self.sk),
            server: self.server.with_fresh_stats(),
            release: self.release,
        }
    }

    /// The parameter set.
    #[must_use]
    pub fn params(&self) -> &Arc<CkksParams> {
        self.server.params()
    }

    /// The secret key.
    #[must_use]
    pub fn secret_key(&self) -> &Arc<SecretKey> {
        &self.sk
    }
}

impl Backend for CkksClient {
    type Ct = CkksCt;
    type Pt = crate::Plaintext;

    fn kind(&self) -> BackendKind {
        BackendKind::Ckks
    }
    fn caps(&self) -> &Caps {
        self.server.caps()
    }
    /// The client holds the secret key, so it encrypts symmetrically: the fresh
    /// noise is only the Gaussian error (about 3 bits more precise than public-key
    /// encryption), and [`CkksClient::encrypt_seeded`] halves the upload.
    fn encrypt(&self, values: &[f64]) -> BResult<CkksCt> {
        let pt = self.encode_fresh(values)?;
        let ct = self.sk.encrypt(&pt, &mut crate::os_rng()?)?;
        Ok(CkksCt::new(ct))
    }
    fn add(&self, a: &CkksCt, b: &CkksCt) -> BResult<CkksCt> {
        self.server.add(a, b)
    }
    fn sub(&self, a: &CkksCt, b: &CkksCt) -> BResult<CkksCt> {
        self.server.sub(a, b)
    }
    fn neg(&self, a: &CkksCt) -> BResult<CkksCt> {
        self.server.neg(a)
    }
    fn add_plain(&self, a: &CkksCt, b: &[f64]) -> BResult<CkksCt> {
        self.server.add_plain(a, b)
    }
    fn sub_plain(&self, a: &CkksCt, b: &[f64]) -> BResult<CkksCt> {
        self.server.sub_plain(a, b)
    }
    fn mul_plain(&self, a: &CkksCt, b: &[f64]) -> BResult<CkksCt> {
        self.server.mul_plain(a, b)
    }
    fn encode_plain(&self, values: &[f64], level: u32) -> BResult<crate::Plaintext> {
        self.server.encode_plain(values, level)
    }
    fn plain_bytes(&self, pt: &crate::Plaintext) -> usize {
        self.server.plain_bytes(pt)
    }
    fn plain_level(&self, pt: &crate::Plaintext) -> u32 {
        self.server.plain_level(pt)
    }
    fn mul_plain_sum(&self, terms: &[(&CkksCt, &crate::Plaintext)]) -> BResult<CkksCt> {
        self.server.mul_plain_sum(terms)
    }
    fn add_scalar(&self, a: &CkksCt, s: f64) -> BResult<CkksCt> {
        self.server.add_scalar(a, s)
    }
    fn mul_scalar(&self, a: &CkksCt, s: f64) -> BResult<CkksCt> {
        self.server.mul_scalar(a, s)
    }
    fn mul(&self, a: &CkksCt, b: &CkksCt) -> BResult<CkksCt> {
        self.server.mul(a, b)
    }
    fn linear_combination(&self, cts: &[&CkksCt], weights: &[f64]) -> BResult<CkksCt> {
        self.server.linear_combination(cts, weights)
    }
    fn linear_combinations(&self, cts: &[&CkksCt], rows: &[Vec<f64>]) -> BResult<Vec<CkksCt>> {
        self.server.linear_combinations(cts, rows)
    }
    fn product_combinations(
        &self,
        pairs: &[(&CkksCt, &CkksCt)],
        rows: &[Vec<f64>],
    ) -> BResult<Vec<CkksCt>> {
        self.server.product_combinations(pairs, rows)
    }
    fn rotate(&self, a: &CkksCt, step: i64) -> BResult<CkksCt> {
        self.server.rotate(a, step)
    }
    fn rotate_hoisted(&self, a: &CkksCt, steps: &[i64]) -> BResult<Vec<CkksCt>> {
        self.server.rotate_hoisted(a, steps)
    }
    fn level(&self, a: &CkksCt) -> u32 {
        self.server.level(a)
    }
    fn stats(&self) -> OpStats {
        self.server.stats()
    }
    fn ct_to_bytes(&self, a: &CkksCt) -> BResult<Vec<u8>> {
        self.server.ct_to_bytes(a)
    }
    fn ct_from_bytes(&self, bytes: &[u8], limit: usize) -> BResult<CkksCt> {
        self.server.ct_from_bytes(bytes, limit)
    }
}

impl CkksClient {
    /// Encodes `values` as a fresh plaintext: top level, that level's scale.
    fn encode_fresh(&self, values: &[f64]) -> BResult<crate::Plaintext> {
        fhez_backend::cost::check_values(values, self.server.caps().slots)?;
        let level = self.server.caps().max_level;
        let scale = self
            .server
            .scale_at(level)
            .ok_or(crate::Error::LevelIncrease {
                from: level,
                to: level,
            })?;
        Ok(self.server.encoder().encode(values, scale, level)?)
    }

    /// Encrypts `values` keeping only the 32-byte seed of the uniform half: the
    /// compact form to send to a server, which calls
    /// [`SeededCiphertext::expand`](crate::SeededCiphertext::expand) (then
    /// [`CkksServer::import`]).
    ///
    /// # Errors
    /// As [`Backend::encrypt`].
    pub fn encrypt_seeded(&self, values: &[f64]) -> BResult<crate::SeededCiphertext> {
        let pt = self.encode_fresh(values)?;
        Ok(self.sk.encrypt_seeded(&pt, &mut crate::os_rng()?)?)
    }

    /// Decrypts a server's reply for release under `policy` (reply check, noise flooding,
    /// rounding: [`SecretKey::decrypt_shared`]) with fresh operating-system randomness,
    /// instead of the exact values [`Decrypt::decrypt`] returns.
    ///
    /// # Errors
    /// As [`SecretKey::decrypt_shared`], and [`crate::Error::OsRng`].
    pub fn decrypt_shared(
        &self,
        ct: &CkksCt,
        policy: &crate::SharedDecryption,
    ) -> Result<Vec<f64>> {
        self.sk.decrypt_shared(&ct.0, policy, &mut crate::os_rng()?)
    }

    /// Decrypts all slots **exactly** (`m + e` at full precision), whatever the release
    /// policy: for debugging and precision measurements only. Never show its output to
    /// anyone who may see the ciphertext: exact decryptions reveal the noise, and enough
    /// of them the secret key ([module docs of `shared`](crate::shared)).
    ///
    /// # Errors
    /// Engine errors.
    pub fn decrypt_exact(&self, a: &CkksCt) -> BResult<Vec<f64>> {
        let pt = self.sk.decrypt(&a.0)?;
        Ok(self.server.encoder().decode(&pt)?)
    }
}

impl Decrypt for CkksClient {
    /// With a release policy: [`Decrypt::decrypt_release`] with every slot used (the
    /// imaginary parts are checked); without one, [`CkksClient::decrypt_exact`].
    fn decrypt(&self, a: &CkksCt) -> BResult<Vec<f64>> {
        match self.release {
            Some(_) => self.decrypt_release(a, self.server.caps().slots),
            None => self.decrypt_exact(a),
        }
    }

    /// With a release policy: [`CkksClient::decrypt_shared`] with that policy for `used`
    /// slots (`used` values, rounded); without one, [`CkksClient::decrypt_exact`].
    fn decrypt_release(&self, a: &CkksCt, used: usize) -> BResult<Vec<f64>> {
        match self.release {
            Some(policy) => Ok(self.decrypt_shared(a, &policy.with_used_slots(used)?)?),
            None => self.decrypt_exact(a),
        }
    }

    fn decrypt_exact(&self, a: &CkksCt) -> BResult<Vec<f64>> {
        Self::decrypt_exact(self, a)
    }
}
