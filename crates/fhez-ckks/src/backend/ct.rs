//! [`CkksCt`]: the ciphertext type of the CKKS backend.

use crate::ciphertext::Ciphertext;

/// A ciphertext of [`CkksServer`](super::CkksServer) / [`CkksClient`](super::CkksClient):
/// a relinearized (two-polynomial) [`Ciphertext`] whose scale is the canonical scale of its
/// level (see the [module docs](super)). Only the backend creates them, so the invariant
/// always holds; [`CkksServer::import`](super::CkksServer::import) checks a raw ciphertext.
#[derive(Clone, Debug, PartialEq)]
pub struct CkksCt(pub(crate) std::sync::Arc<Ciphertext>);

impl CkksCt {
    /// The underlying engine ciphertext.
    #[must_use]
    pub fn ciphertext(&self) -> &Ciphertext {
        &self.0
    }

    /// Unwraps the engine ciphertext.
    #[must_use]
    pub fn into_ciphertext(self) -> Ciphertext {
        std::sync::Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone())
    }

    /// Wraps an engine ciphertext (shared: clones of a `CkksCt` are O(1), so array
    /// views such as convolution windows never copy ciphertext data).
    pub(crate) fn new(ct: Ciphertext) -> Self {
        Self(std::sync::Arc::new(ct))
    }

    /// Level (fresh = `max_level`, 0 = last usable).
    #[must_use]
    pub fn level(&self) -> u32 {
        self.0.level()
    }

    /// The scale of the encrypted values.
    #[must_use]
    pub fn scale(&self) -> f64 {
        self.0.scale()
    }
}
