#![no_main]
//! `fhez::erray::Erray::from_bytes` over the CKKS server backend; an accepted erray
//! re-encodes to exactly the input (one encoding per erray).

use fhez::erray::Erray;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Erray::from_bytes(fhez_fuzz::server(), data, fhez_fuzz::LIMIT) {
        let again = e.to_bytes().expect("a read erray encodes");
        assert!(again == data, "non-canonical erray encoding accepted");
    }
});
