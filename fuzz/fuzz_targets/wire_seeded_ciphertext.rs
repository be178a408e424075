#![no_main]
//! `fhez_ckks::wire::seeded_ciphertext_from_bytes` and the expansion of `c1` from the
//! seed; an accepted object re-encodes to exactly the input.

use fhez::ckks::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params = fhez_fuzz::params();
    if let Ok(ct) = wire::seeded_ciphertext_from_bytes(params, data, fhez_fuzz::LIMIT_U64) {
        let again = wire::seeded_ciphertext_to_bytes(&ct).expect("a read object encodes");
        assert!(
            again == data,
            "non-canonical seeded ciphertext encoding accepted"
        );
        ct.expand(params)
            .expect("an accepted seeded ciphertext expands");
    }
});
