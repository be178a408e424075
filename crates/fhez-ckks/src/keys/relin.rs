//! The relinearization key.

use crate::params::ParamsId;
use crate::rlwe::KeySwitchKey;

/// Switches the s² component of a product back to s.
#[derive(Clone, Debug, PartialEq)]
pub struct RelinKey(pub(crate) KeySwitchKey);

impl RelinKey {
    /// The parameter set.
    pub fn params_id(&self) -> ParamsId {
        self.0.params_id
    }
    /// The underlying key-switching key.
    pub fn key(&self) -> &KeySwitchKey {
        &self.0
    }
}
