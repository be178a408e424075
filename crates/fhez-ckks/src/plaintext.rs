//! Encoded (unencrypted) polynomials.

use std::fmt;

use fhez_math::{Ntt, Poly};

use crate::params::ParamsId;

/// An encoded message: a polynomial in NTT form at some level, with its scale.
///
/// Its `Debug` output is redacted (level, scale and parameter id only): a decrypted
/// plaintext holds `m + e`, and its exact noise `e` next to the ciphertext reveals the
/// secret key (Li–Micciancio 2021), so it must not end up in logs.
#[derive(Clone, PartialEq)]
pub struct Plaintext {
    pub(crate) poly: Poly<Ntt>,
    pub(crate) level: u32,
    pub(crate) scale: f64,
    pub(crate) params_id: ParamsId,
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plaintext")
            .field("level", &self.level)
            .field("scale", &self.scale)
            .field("params_id", &self.params_id)
            .finish_non_exhaustive()
    }
}

impl Plaintext {
    /// Level (number of RNS limbs − 1).
    pub fn level(&self) -> u32 {
        self.level
    }
    /// The scale Δ the values were multiplied by.
    pub fn scale(&self) -> f64 {
        self.scale
    }
    /// The parameter set it was encoded under.
    pub fn params_id(&self) -> ParamsId {
        self.params_id
    }
    /// The polynomial (NTT form, `level + 1` limbs).
    pub fn poly(&self) -> &Poly<Ntt> {
        &self.poly
    }
}
