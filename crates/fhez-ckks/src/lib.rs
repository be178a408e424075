//! # fhez-ckks
//!
//! A pure-Rust RNS-CKKS homomorphic encryption scheme: parameters validated
//! against the HomomorphicEncryption.org 128-bit table, a canonical-embedding
//! encoder, keys (secret, public, relinearization, Galois) with hybrid key
//! switching, public- and secret-key encryption (with seed-compressed
//! ciphertexts), and evaluation — add, multiply, relinearize, rescale, rotate
//! (hoisted), conjugate — with typed errors, plus a validated wire format.
//!
//! Layer: depends on `fhez-math` only; knows nothing about arrays or networks.
//!
//! ## Conventions
//! - **Level**: a fresh ciphertext is at [`CkksParams::max_level`]; each rescale
//!   goes one level down; level 0 is the last. Level `l` means `l + 1` RNS limbs.
//! - **Rotation**: a positive step rotates left: slot `j` of the result holds slot
//!   `j + step` of the input.
//! - Polynomials stay in NTT form except inside rescale and key switching.
//!
//! ```
//! use fhez_ckks::{CkksParams, Encoder, Evaluator, Preset, SecretKey};
//! # fn main() -> Result<(), fhez_ckks::Error> {
//! let params = CkksParams::new(&Preset::TinyInsecure.spec())?;
//! let mut rng = fhez_ckks::os_rng()?;
//! let sk = SecretKey::generate(&params, &mut rng)?;
//! let pk = sk.public_key(&mut rng)?;
//! let rk = sk.relin_key(&mut rng)?;
//! let encoder = Encoder::new(&params);
//! let pt = encoder.encode(&[1.5, -2.0, 0.25], params.default_scale(), params.max_level())?;
//! let ct = pk.encrypt(&params, &pt, &mut rng)?;
//! let eval = Evaluator::new(&params);
//! let sq = eval.mul_relin_rescale(&ct, &ct, &rk)?;
//! let out = encoder.decode(&sk.decrypt(&sq)?)?;
//! assert!((out[1] - 4.0).abs() < 1e-3);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod backend;
mod ciphertext;
mod encoder;
pub mod encoding;
mod error;
pub mod eval;
pub mod keys;
pub mod params;
mod plaintext;
pub mod rlwe;
pub mod shared;
mod symmetric;
pub mod wire;

pub use backend::{CkksClient, CkksCt, CkksServer, ServerKeys};
pub use ciphertext::Ciphertext;
pub use encoder::Encoder;
pub use error::{Error, Result};
pub use eval::Evaluator;
pub use keys::{GaloisKeys, PublicKey, RelinKey, SecretKey};
pub use num_complex::Complex64;
pub use params::{CkksParams, CkksParamsSpec, ParamsId, Preset, SecurityLevel};
pub use plaintext::Plaintext;
pub use shared::SharedDecryption;
pub use symmetric::SeededCiphertext;

/// A ChaCha20 CSPRNG seeded from the operating system: the default randomness for
/// key generation and encryption.
///
/// # Errors
/// [`Error::OsRng`] when the operating system's random source fails (the seed is never
/// replaced by anything weaker).
pub fn os_rng() -> Result<rand_chacha::ChaCha20Rng> {
    use rand_core::SeedableRng;
    rand_chacha::ChaCha20Rng::try_from_os_rng().map_err(|e| Error::OsRng {
        os_error: e.raw_os_error(),
    })
}
