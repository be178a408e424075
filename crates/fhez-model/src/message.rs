//! [`CtBatch`]: named ciphertext arrays in transit between client and server, detached
//! from any backend value (so the receiver evaluates with *its own* keys).

use fhez_backend::Backend;
use fhez_ckks::CkksCt;
use fhez_erray::{Erray, Packing};

use crate::Result;

/// One named ciphertext array: layout plus ciphertexts.
#[derive(Clone, Debug, PartialEq)]
pub struct CtEntry {
    /// Input node name (client → server) or decrypt node name (server → client).
    pub name: String,
    /// Logical shape `(batch, shape…)`.
    pub shape: Vec<usize>,
    /// How the elements are laid out in the ciphertexts.
    pub packing: Packing,
    /// The ciphertexts.
    pub cts: Vec<CkksCt>,
}

/// A message of named ciphertext arrays. It holds no key and no backend: binding it to a
/// backend ([`CtBatch::bind`]) decides who evaluates (a [`CkksServer`](fhez_ckks::CkksServer))
/// or who may decrypt (a [`CkksClient`](fhez_ckks::CkksClient)).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CtBatch {
    /// The arrays, in order.
    pub entries: Vec<CtEntry>,
}

impl CtBatch {
    /// Detaches named errays from their backend.
    pub fn from_errays<'a, B: Backend<Ct = CkksCt>>(
        errays: impl IntoIterator<Item = (&'a str, &'a Erray<B>)>,
    ) -> Self {
        let entries = errays
            .into_iter()
            .map(|(name, x)| CtEntry {
                name: name.to_owned(),
                shape: x.shape().to_vec(),
                packing: x.packing(),
                cts: x.cts().to_vec(),
            })
            .collect();
        Self { entries }
    }

    /// The arrays as errays evaluated (or decrypted) by `backend`.
    ///
    /// # Errors
    /// [`fhez_erray::Error::ShapeMismatch`] when an entry's ciphertext count does not match
    /// its shape and packing for `backend`'s slot count.
    pub fn bind<B: Backend<Ct = CkksCt>>(&self, backend: &B) -> Result<Vec<(String, Erray<B>)>> {
        self.entries
            .iter()
            .map(|e| {
                let x = Erray::from_parts(backend, e.shape.clone(), e.packing, e.cts.clone())?;
                Ok((e.name.clone(), x))
            })
            .collect()
    }

    /// As [`CtBatch::bind`], consuming the message: the errays hold the only handles on
    /// its ciphertexts, so they are freed as soon as the errays are.
    ///
    /// # Errors
    /// As [`CtBatch::bind`].
    pub fn into_bound<B: Backend<Ct = CkksCt>>(
        self,
        backend: &B,
    ) -> Result<Vec<(String, Erray<B>)>> {
        self.entries
            .into_iter()
            .map(|e| {
                let x = Erray::from_parts(backend, e.shape, e.packing, e.cts)?;
                Ok((e.name, x))
            })
            .collect()
    }

    /// Total number of ciphertexts.
    #[must_use]
    pub fn num_cts(&self) -> usize {
        self.entries.iter().map(|e| e.cts.len()).sum()
    }

    /// Total size of the ciphertexts in the wire format (`fhez_ckks::wire`).
    ///
    /// # Errors
    /// Wire encoding errors.
    pub fn wire_bytes(&self) -> Result<usize> {
        let mut total = 0;
        for ct in self.entries.iter().flat_map(|e| &e.cts) {
            total += fhez_ckks::wire::ciphertext_to_bytes(ct.ciphertext())?.len();
        }
        Ok(total)
    }
}
