//! Encoded (unencrypted) polynomials.

use fhez_math::{Ntt, Poly};

use crate::params::ParamsId;

/// An encoded message: a polynomial in NTT form at some level, with its scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Plaintext {
    pub(crate) poly: Poly<Ntt>,
    pub(crate) level: u32,
    pub(crate) scale: f64,
    pub(crate) params_id: ParamsId,
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
