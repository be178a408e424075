//! Symmetric (secret-key) encryption with seed-compressed ciphertexts, and
//! decryption.

use fhez_math::{Ntt, Poly, sampling, zq};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use zeroize::Zeroize;

use crate::ciphertext::Ciphertext;
use crate::keys::{SIGMA, SecretKey};
use crate::params::{CkksParams, ParamsId};
use crate::plaintext::Plaintext;
use crate::{Error, Result};

/// A fresh symmetric ciphertext whose uniform half `c1` is not stored but
/// regenerated from a 32-byte seed: half the size of a [`Ciphertext`] on the wire.
/// [`SeededCiphertext::expand`] turns it into an ordinary ciphertext.
#[derive(Clone, Debug, PartialEq)]
pub struct SeededCiphertext {
    pub(crate) c0: Poly<Ntt>,
    pub(crate) seed: [u8; 32],
    pub(crate) level: u32,
    pub(crate) scale: f64,
    pub(crate) params_id: ParamsId,
}

impl SeededCiphertext {
    /// Level.
    pub fn level(&self) -> u32 {
        self.level
    }
    /// Scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }
    /// The parameter set.
    pub fn params_id(&self) -> ParamsId {
        self.params_id
    }

    /// Regenerates `c1` from the seed.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`] for other parameters.
    pub fn expand(&self, params: &CkksParams) -> Result<Ciphertext> {
        params.check_id(self.params_id)?;
        let c1 = expand_c1(params, &self.seed, self.level)?;
        Ok(Ciphertext {
            polys: vec![self.c0.clone(), c1],
            level: self.level,
            scale: self.scale,
            params_id: self.params_id,
        })
    }

    /// [`SeededCiphertext::expand`] consuming the seeded form: `c0` moves into the result
    /// instead of being copied, so a reader expanding one ciphertext at a time holds no
    /// second copy of it.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`] for other parameters.
    pub fn into_expanded(self, params: &CkksParams) -> Result<Ciphertext> {
        params.check_id(self.params_id)?;
        let c1 = expand_c1(params, &self.seed, self.level)?;
        Ok(Ciphertext {
            polys: vec![self.c0, c1],
            level: self.level,
            scale: self.scale,
            params_id: self.params_id,
        })
    }
}

/// The uniform `c1` of a seeded ciphertext: ChaCha20 keyed by the seed (stream 0),
/// limb by limb over Q_level, unbiased rejection sampling, NTT form.
fn expand_c1(params: &CkksParams, seed: &[u8; 32], level: u32) -> Result<Poly<Ntt>> {
    let basis = params.q_basis(level)?;
    let mut rng = ChaCha20Rng::from_seed(*seed);
    let mut c1 = Poly::<Ntt>::zero(params.n(), basis.len());
    sampling::sample_uniform_into(&mut rng, basis, &mut c1);
    Ok(c1)
}

impl SecretKey {
    /// Encrypts `pt` under the secret key: `(−a·s + e + m, a)`. Fresh noise is only
    /// the Gaussian e, so this is the most precise encryption.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`] for a plaintext of other parameters.
    pub fn encrypt<R: RngCore + CryptoRng>(
        &self,
        pt: &Plaintext,
        rng: &mut R,
    ) -> Result<Ciphertext> {
        self.encrypt_seeded(pt, rng)?.expand(&self.params)
    }

    /// Encrypts `pt` under the secret key, keeping only the seed of the uniform half.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`] for a plaintext of other parameters.
    pub fn encrypt_seeded<R: RngCore + CryptoRng>(
        &self,
        pt: &Plaintext,
        rng: &mut R,
    ) -> Result<SeededCiphertext> {
        let params = &self.params;
        params.check_id(pt.params_id)?;
        let basis = params.q_basis(pt.level)?;
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let c1 = expand_c1(params, &seed, pt.level)?;
        let n = params.n();
        let mut e = sampling::sample_gaussian(rng, n, SIGMA);
        let c0 = Poly::from_signed(n, &e, basis, basis.len());
        e.zeroize();
        let mut c0 = c0?.to_ntt(basis)?;
        c0.add_assign(&pt.poly, basis)?;
        // a·s limb by limb against the key's own limbs (no copy of s), wiped after use.
        let mut a_s = c1;
        for ((limb, s), m) in a_s
            .limbs_iter_mut()
            .zip(self.ntt.limbs_iter())
            .zip(basis.moduli())
        {
            zq::mul_slices_assign(m, limb, s);
        }
        let diff = c0.sub_assign(&a_s, basis);
        a_s.as_mut_slice().zeroize();
        diff?;
        Ok(SeededCiphertext {
            c0,
            seed,
            level: pt.level,
            scale: pt.scale,
            params_id: params.id(),
        })
    }

    /// Decrypts: `c0 + c1·s (+ c2·s²)`, in NTT form.
    ///
    /// # Errors
    /// [`Error::ParamsMismatch`] for a ciphertext of other parameters,
    /// [`Error::CiphertextSize`] for more than three polynomials.
    pub fn decrypt(&self, ct: &Ciphertext) -> Result<Plaintext> {
        let mut out = Plaintext {
            poly: Poly::zero(self.params.n(), 0),
            level: ct.level,
            scale: ct.scale,
            params_id: ct.params_id,
        };
        self.decrypt_into(ct, &mut out)?;
        Ok(out)
    }

    /// [`SecretKey::decrypt`] into `out`, reusing its allocation (SEAL's
    /// destination-argument style).
    ///
    /// # Errors
    /// As [`SecretKey::decrypt`]; `out` is left unchanged on error.
    pub fn decrypt_into(&self, ct: &Ciphertext, out: &mut Plaintext) -> Result<()> {
        let params = &self.params;
        params.check_id(ct.params_id)?;
        if ct.polys.len() < 2 || ct.polys.len() > 3 {
            return Err(Error::CiphertextSize {
                op: "decrypt",
                expected: 2,
                found: ct.polys.len(),
            });
        }
        let basis = params.q_basis(ct.level)?;
        let limbs = basis.len();
        // Horner: ((c2·s + c1)·s + c0), limb by limb into the reused buffer, with the
        // slice kernels.
        let n = params.n();
        let mut buf = std::mem::replace(&mut out.poly, Poly::zero(n, 0)).into_vec();
        buf.clear();
        buf.reserve(limbs * n);
        for (i, (m, s)) in basis.moduli().iter().zip(self.ntt.limbs_iter()).enumerate() {
            let mut polys = ct.polys.iter().rev().filter_map(|p| p.limb(i));
            let Some(top) = polys.next() else { continue };
            let start = buf.len();
            buf.extend_from_slice(top);
            let Some(acc) = buf.get_mut(start..) else {
                continue;
            };
            for c in polys {
                zq::mul_slices_assign(m, acc, s);
                zq::add_slices_assign(m, acc, c);
            }
        }
        *out = Plaintext {
            poly: Poly::from_vec(n, buf)?,
            level: ct.level,
            scale: ct.scale,
            params_id: ct.params_id,
        };
        Ok(())
    }
}
