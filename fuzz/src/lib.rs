//! What the fuzz targets share: the tiny insecure-for-testing parameter set the seed
//! corpus is made with (`Preset::TinyInsecure`, N = 2^10), one server built from
//! deterministic keys over it, and the size limit every reader gets.

use std::sync::{Arc, OnceLock};

use fhez::ckks::{CkksClient, CkksParams, CkksServer, Preset};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// The size limit handed to every reader (larger than any seed).
pub const LIMIT: usize = 1 << 22;

/// The same limit as a `u64`, for the wire readers.
pub const LIMIT_U64: u64 = 1 << 22;

/// The parameter set of the seed corpus (`crates/fhez/examples/fuzz_corpus.rs`).
///
/// # Panics
/// If the preset does not build (a bug outside the fuzzed code).
pub fn params() -> &'static Arc<CkksParams> {
    static PARAMS: OnceLock<Arc<CkksParams>> = OnceLock::new();
    PARAMS.get_or_init(|| {
        CkksParams::new(&Preset::TinyInsecure.spec()).expect("the tiny preset builds")
    })
}

/// A client with deterministic keys over [`params`] (rotation by 1): ciphertexts only
/// carry the parameter id, so it reads every seed whatever keys made it.
///
/// # Panics
/// If key generation fails (a bug outside the fuzzed code).
pub fn client() -> &'static CkksClient {
    static CLIENT: OnceLock<CkksClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0x00F0_2200);
        CkksClient::generate_with_rng(params(), &[1], &mut rng).expect("tiny keygen")
    })
}

/// The server side of [`client`].
pub fn server() -> &'static CkksServer {
    static SERVER: OnceLock<CkksServer> = OnceLock::new();
    SERVER.get_or_init(|| client().server())
}
