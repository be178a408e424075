//! Keys: the secret key (client only), the public key, and the evaluation keys the
//! server needs (relinearization and Galois keys).

pub(crate) mod galois;
mod public;
mod relin;
mod secret;

pub use galois::{GaloisKeys, conjugation_element, rotation_element};
pub use public::PublicKey;
pub use relin::RelinKey;
pub use secret::SecretKey;

/// Standard deviation of the discrete Gaussian error (as SEAL and the standard).
pub(crate) const SIGMA: f64 = 3.2;
