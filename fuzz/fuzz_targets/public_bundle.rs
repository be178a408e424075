#![no_main]
//! `fhez::bundle::public_bundle_from_bytes`: what a client registers with the service.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fhez::bundle::public_bundle_from_bytes(data, fhez_fuzz::LIMIT);
});
