//! The CKKS flavour of [`fhez_backend::Backend`]: a *managed* backend that relinearizes,
//! rescales and aligns levels and scales itself.
//!
//! # Roles
//!
//! - [`CkksClient`] holds the secret key: it implements [`Backend`](fhez_backend::Backend)
//!   and [`Decrypt`](fhez_backend::Decrypt). It generates every key and hands the public part,
//!   [`ServerKeys`], to a server.
//! - [`CkksServer`] holds [`ServerKeys`] only (public key, relinearization key, Galois keys):
//!   it implements `Backend` but **not** `Decrypt`, so code that decrypts cannot be given a
//!   server value — that is a compile error, not a runtime check.
//!
//! # Level rules
//!
//! Exactly the table of [`fhez_backend::Backend`], enforced with [`fhez_backend::cost`] before
//! the engine is called (so `LevelExhausted` carries the backend's operation name):
//! additions, subtractions, negation, `add_plain`/`sub_plain`/`add_scalar` and free integer
//! `mul_scalar` keep the (minimum) level; `mul_plain`, other `mul_scalar`s and ct×ct `mul`
//! consume one level (one rescale); `mul` and every non-identity rotation are one key switch;
//! `linear_combination` rescales once (see [`CkksServer`]).
//!
//! # Scale management
//!
//! Every ciphertext the backend produces at level `l` carries exactly the *canonical scale*
//! `Δ_l` of that level ([`CkksServer::scale_at`]), a deterministic function of the parameter
//! set:
//!
//! ```text
//! Δ_0 = Δ = 2^log_scale,      Δ_l = sqrt(Δ_{l-1} · q_l)   (so Δ_{l-1} = Δ_l² / q_l)
//! ```
//!
//! Because `Δ_l² / q_l = Δ_{l-1}`, a ct×ct product of two level-`l` ciphertexts lands exactly
//! on `Δ_{l-1}` after its rescale; `mul_plain` and non-integer `mul_scalar` encode their
//! operand at scale `Δ_{l-1}·q_l/Δ_l = Δ_l` (≈ `q_l`), so they land there as well; a
//! ciphertext at a higher level is brought down by dropping limbs to `l + 1` and multiplying by
//! the integer `round(Δ_l·q_{l+1}/Δ_h)` before one rescale. Hence two ciphertexts at the same
//! level always have the same scale (additions never hit a scale mismatch) and scales never
//! drift with circuit depth: after any number of operations the scale is the canonical one.
//!
//! The canonical scales are not all exactly `Δ`: the ladder is anchored at level 0 (where the
//! integer headroom `q_0/Δ` matters) and each step halves the deviation of the one below, so
//! `|Δ_l/Δ − 1| ≤ max_l |q_l/Δ − 1|` at every level, whatever the depth. With the NTT-friendly
//! primes just below `2^log_scale`, the largest deviation is `2^-21.4` for `N13Qp218`,
//! `2^-17.5` for `N14Qp438`, `2^-16.3` for `N15Qp881` and `2^-14.7` for `TinyInsecure` — a
//! change of interpretation, not an error: decryption divides by the exact recorded scale.
//! Keeping every scale at exactly `Δ` is impossible for ct×ct products without spending
//! extra levels (`Δ²/q_l ≠ Δ`), and letting the product scales float instead compounds: a
//! squaring chain from the top level would end `2^-10.5` off `Δ` on `N14Qp438` and near `5Δ`
//! on `N15Qp881` — and two same-level results of different histories would no longer add.
//!
//! # Rotations
//!
//! Only steps with an exact Galois key are available: [`Caps::rotations`] lists them
//! ([`RotationSet::Steps`], from the Galois elements present) and any other step is
//! [`Error::MissingGaloisKey`](fhez_backend::Error::MissingGaloisKey), even when the engine
//! could compose it from power-of-two keys. This keeps `Sim` (strict mode) an exact predictor
//! of key switches: one per non-identity rotation. The planner supplies the step list to
//! [`CkksClient::generate`].
//!
//! [`Caps::rotations`]: fhez_backend::Caps::rotations
//! [`RotationSet::Steps`]: fhez_backend::RotationSet::Steps
//!
//! # Examples
//!
//! ```
//! use fhez_backend::{Backend, Decrypt};
//! use fhez_ckks::{CkksClient, CkksParams, Preset};
//!
//! let params = CkksParams::new(&Preset::TinyInsecure.spec())?;
//! let client = CkksClient::generate(&params, &[1])?;
//! let x = client.encrypt(&[0.5, -1.0, 2.0])?;
//! let y = client.mul(&x, &x)?; // relinearized and rescaled: one level
//! let z = client.rotate(&client.mul_plain(&y, &[1.0, 2.0, 3.0])?, 1)?;
//! assert_eq!(client.level(&z), client.caps().max_level - 2);
//! let out = client.decrypt(&z)?;
//! assert!((out[0] - 2.0).abs() < 1e-4 && (out[1] - 12.0).abs() < 1e-4);
//! # Ok::<(), fhez_backend::Error>(())
//! ```

mod client;
mod ct;
mod keys;
mod server;

#[cfg(test)]
mod tests;

pub use client::CkksClient;
pub use ct::CkksCt;
pub use keys::ServerKeys;
pub use server::CkksServer;

use crate::params::CkksParams;

/// Maps engine errors onto the backend's typed variants where one matches; everything else
/// is forwarded unchanged through [`fhez_backend::Error::engine`].
impl From<crate::Error> for fhez_backend::Error {
    fn from(e: crate::Error) -> Self {
        use crate::encoding::EncodingError;
        use crate::wire::WireError;
        // `if let` chains rather than a `match` with a catch-all arm: new engine variants are
        // forwarded as engine errors without touching this list.
        if let crate::Error::LevelExhausted {
            op,
            needed,
            available,
        } = e
        {
            return Self::LevelExhausted {
                op,
                needed,
                available,
            };
        }
        if let crate::Error::MissingGaloisKey { step } = e {
            return Self::MissingGaloisKey { step };
        }
        if let crate::Error::TooManyValues { len, slots }
        | crate::Error::Encoding(EncodingError::TooManyValues { len, slots }) = e
        {
            return Self::TooManyValues { len, slots };
        }
        if let crate::Error::Encoding(EncodingError::NonFinite { index }) = e {
            return Self::NonFinite { index };
        }
        if let crate::Error::Wire(WireError::TooLarge { len, limit }) = e {
            return Self::SizeLimit {
                what: "ckks ciphertext payload",
                len: usize::try_from(len).unwrap_or(usize::MAX),
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            };
        }
        Self::engine(e)
    }
}

/// The canonical scales `Δ_0 … Δ_L` (index = level): `Δ_0 = Δ`, `Δ_l = sqrt(Δ_{l-1}·q_l)`.
pub(crate) fn scale_ladder(params: &CkksParams) -> Vec<f64> {
    let mut scales = Vec::with_capacity(params.q().len());
    let mut s = params.default_scale();
    for (l, &q) in params.q().iter().enumerate() {
        if l > 0 {
            s = (s * q as f64).sqrt();
        }
        scales.push(s);
    }
    scales
}
