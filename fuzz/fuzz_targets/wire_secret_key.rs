#![no_main]
//! `fhez_ckks::SecretKey::from_secret_bytes` (a key directory's `secret.key`).

use fhez::ckks::SecretKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sk) = SecretKey::from_secret_bytes(fhez_fuzz::params(), data) {
        assert!(
            sk.to_secret_bytes().as_slice() == data,
            "non-canonical secret key"
        );
    }
});
