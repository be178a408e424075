//! Ciphertexts.

use fhez_math::{Ntt, Poly};

use crate::params::ParamsId;
use crate::{Error, Result};

/// A CKKS ciphertext: two polynomials (three right after a multiplication, before
/// relinearization) in NTT form under Q_level, with the scale of the encrypted
/// values and the id of its parameter set.
///
/// Decryption computes `c0 + c1·s (+ c2·s²)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ciphertext {
    pub(crate) polys: Vec<Poly<Ntt>>,
    pub(crate) level: u32,
    pub(crate) scale: f64,
    pub(crate) params_id: ParamsId,
}

impl Ciphertext {
    /// Level: fresh ciphertexts are at the maximum level; 0 is the last.
    pub fn level(&self) -> u32 {
        self.level
    }
    /// The scale Δ of the encrypted values.
    pub fn scale(&self) -> f64 {
        self.scale
    }
    /// The parameter set it belongs to.
    pub fn params_id(&self) -> ParamsId {
        self.params_id
    }
    /// Number of polynomials (2, or 3 before relinearization).
    pub fn size(&self) -> usize {
        self.polys.len()
    }
    /// The polynomials, c0 first.
    pub fn polys(&self) -> &[Poly<Ntt>] {
        &self.polys
    }
    /// Overrides the recorded scale (for callers that track scales themselves,
    /// e.g. after multiplying by a constant they know). The encrypted values are
    /// unchanged; only their interpretation is.
    pub fn set_scale(&mut self, scale: f64) {
        self.scale = scale;
    }

    /// A ciphertext with the same level, scale and parameters but no polynomials
    /// (for building results without copying the operand's data).
    pub(crate) fn clone_meta(&self) -> Self {
        Self {
            polys: Vec::new(),
            level: self.level,
            scale: self.scale,
            params_id: self.params_id,
        }
    }

    /// Checks that the ciphertext has exactly `expected` polynomials.
    pub(crate) fn expect_size(&self, op: &'static str, expected: usize) -> Result<()> {
        if self.polys.len() == expected {
            Ok(())
        } else {
            Err(Error::CiphertextSize {
                op,
                expected,
                found: self.polys.len(),
            })
        }
    }
}
