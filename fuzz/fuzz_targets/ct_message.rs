#![no_main]
//! `fhez::CtBatch::from_bytes` on the server: a client's request (seeded or full
//! ciphertexts); an accepted message re-encodes and reads back equal.

use fhez::CtBatch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let server = fhez_fuzz::server();
    if let Ok(batch) = CtBatch::from_bytes(server, data, fhez_fuzz::LIMIT) {
        let again = batch.to_bytes().expect("a read message encodes");
        let back = CtBatch::from_bytes(server, &again, usize::MAX).expect("own encoding reads");
        assert!(back == batch, "message changed through a round trip");
    }
});
