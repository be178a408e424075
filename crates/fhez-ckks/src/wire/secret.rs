//! The secret key's explicitly named encoding. Nothing else serializes it.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{ObjectKind, WireError, envelope};
use crate::Result;
use crate::keys::SecretKey;
use crate::params::CkksParams;

impl SecretKey {
    /// Encodes the secret key: the envelope, then its `n` ternary coefficients as
    /// `i8`. **This is secret material**: store it encrypted or not at all. The
    /// buffer is allocated once at its final size and zeroized when dropped.
    pub fn to_secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        let n = self.coeffs.len();
        let mut w = envelope::start(ObjectKind::SecretKey, self.params.id(), n);
        for &c in &self.coeffs {
            // Coefficients are in {-1, 0, 1}: the i8 cast is exact.
            w.byte(c as i8 as u8);
        }
        Zeroizing::new(w.into_vec())
    }

    /// Decodes a secret key of `params` written by [`SecretKey::to_secret_bytes`].
    /// The payload must be exactly `N` bytes, each -1, 0 or 1 as `i8`;
    /// intermediate buffers are zeroized.
    ///
    /// # Errors
    /// A [`WireError`] for a bad envelope, another kind or parameter set, a
    /// payload of other than `N` bytes ([`WireError::TooLarge`] above `N`,
    /// [`WireError::BadDegree`] below) or a non-ternary coefficient
    /// ([`WireError::BadSecretCoefficient`]).
    pub fn from_secret_bytes(params: &Arc<CkksParams>, bytes: &[u8]) -> Result<SecretKey> {
        let n = params.n() as u64;
        let (_, mut r) = envelope::open(bytes, ObjectKind::SecretKey, Some(params.id()), n)?;
        if r.remaining() != n {
            return Err(WireError::BadDegree {
                found: r.remaining(),
                expected: n,
            }
            .into());
        }
        let raw = r.take(n)?;
        r.finish()?;
        let mut coeffs = Zeroizing::new(Vec::with_capacity(raw.len()));
        for (index, &b) in raw.iter().enumerate() {
            let value = i64::from(i8::from_le_bytes([b]));
            if !(-1..=1).contains(&value) {
                return Err(WireError::BadSecretCoefficient {
                    index: index as u64,
                    value,
                }
                .into());
            }
            coeffs.push(value);
        }
        SecretKey::from_coeffs(params, std::mem::take(&mut *coeffs))
    }
}
