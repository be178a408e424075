#![no_main]
//! `fhez::bundle::public_bundle_from_bytes`: what a client registers with the service. The
//! seeds use the tiny insecure set, which the default reader refuses at its params section,
//! so the opt-in reader is run too to reach the key sections behind it.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fhez::bundle::public_bundle_from_bytes(data, fhez_fuzz::LIMIT);
    let _ = fhez::bundle::public_bundle_from_bytes_insecure_for_testing(data, fhez_fuzz::LIMIT);
});
