#![no_main]
//! `fhez_ckks::wire::params_from_bytes`: a parameter set from the wire (JSON payload). The
//! seeds use the tiny insecure set, which the default reader refuses before building it, so
//! the opt-in reader is run too to reach the parsing and validation behind that refusal.

use fhez::ckks::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = wire::params_from_bytes(data, fhez_fuzz::LIMIT_U64);
    let lenient = wire::params_from_bytes_insecure_for_testing(data, fhez_fuzz::LIMIT_U64);
    if let Ok(params) = &strict {
        assert_eq!(lenient.as_ref().map(|p| p.id()).ok(), Some(params.id()));
    }
    if let Ok(params) = lenient {
        // Accepted parameters re-encode to an envelope with the same id.
        let again = wire::params_to_bytes(&params).expect("a read parameter set encodes");
        let env = wire::peek_envelope(&again).expect("own envelope");
        assert_eq!(env.params_id, params.id());
    }
});
