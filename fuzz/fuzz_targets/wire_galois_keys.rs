#![no_main]
//! `fhez_ckks::wire::galois_keys_from_bytes` over the tiny parameter set; an accepted object
//! re-encodes to exactly the input (one encoding per object).

use fhez::ckks::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params = fhez_fuzz::params();
    if let Ok(obj) = wire::galois_keys_from_bytes(params, data, fhez_fuzz::LIMIT_U64) {
        let again = wire::galois_keys_to_bytes(&obj).expect("a read object encodes");
        assert!(again == data, "non-canonical galois_keys encoding accepted");
    }
});
