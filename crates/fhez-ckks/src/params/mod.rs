//! Parameters: the serde [`CkksParamsSpec`], its validation into immutable
//! [`CkksParams`] (with every precomputed table), the 128-bit security table and
//! named [`Preset`]s.
//!
//! Level convention (Lattigo/SEAL): a fresh ciphertext is at [`CkksParams::max_level`],
//! each rescale goes one level down, level 0 is the last. A ciphertext at level `l`
//! has `l + 1` RNS limbs, under the primes q_0 … q_l.

mod context;
mod presets;
mod security;
mod spec;

use std::fmt;

use serde::{Deserialize, Serialize};

pub(crate) use context::DigitPlan;
pub use context::{CkksParams, KeySwitchPlan};
pub use presets::Preset;
pub use security::{SecurityLevel, max_log_qp_128, max_log_qp_128_2024};
pub use spec::CkksParamsSpec;

/// The identity of a parameter set: SHA-256 of its canonical encoding. Every
/// ciphertext, plaintext and key carries it; combining objects with different ids
/// is a [`ParamsMismatch`](crate::Error::ParamsMismatch) error.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ParamsId(pub [u8; 32]);

impl ParamsId {
    /// The id as lowercase hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for ParamsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().take(8) {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ParamsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParamsId({self})")
    }
}

/// A non-fatal remark about a parameter set.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ParamsWarning {
    /// The special primes are smaller than the largest key-switching digit, so key
    /// switching adds more noise than usual.
    SmallSpecialModulus {
        /// log2 of P.
        log_p: f64,
        /// log2 of the largest digit.
        log_digit: f64,
    },
    /// q_0 leaves few bits above the scale for the integer part at level 0.
    SmallBasePrime {
        /// Bits of q_0 above the scale.
        headroom_bits: f64,
    },
}
