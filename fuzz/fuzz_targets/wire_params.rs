#![no_main]
//! `fhez_ckks::wire::params_from_bytes`: a parameter set from the wire (JSON payload).

use fhez::ckks::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = wire::params_from_bytes(data, fhez_fuzz::LIMIT_U64) {
        // Accepted parameters re-encode to an envelope with the same id.
        let again = wire::params_to_bytes(&params).expect("a read parameter set encodes");
        let env = wire::peek_envelope(&again).expect("own envelope");
        assert_eq!(env.params_id, params.id());
    }
});
