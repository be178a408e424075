//! The service client decrypts for release: a reply a server has probed (a value added to
//! the imaginary part of a slot) is refused by `decrypt_reply`, and the keys a client saves
//! and reloads decrypt for release.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use fhez_ckks::{CkksParams, CkksServer, Complex64, Encoder, Evaluator};
use fhez_erray::PlainArray;
use fhez_model::bundle::{load_client_keys, save_client_keys};
use fhez_serve::ClientError;
use fhez_serve::client::decrypt_reply;
use fhez_serve::fixture::{SIDE, bars};

mod common;
use common::{TestResult, bars_file, temp_dir};

#[test]
fn the_service_client_refuses_a_probed_reply() -> TestResult {
    let dir = temp_dir("release");
    let model = bars_file().encrypted_model()?;
    let params = CkksParams::new(&model.spec())?;
    save_client_keys(&dir, &model.keygen(&params)?)?;
    // The keys as a client session reloads them: releasing.
    let keys = load_client_keys(&dir)?;
    let policy = *keys.release().ok_or("reloaded keys decrypt exactly")?;
    let images: Vec<f64> = bars(2, 7).into_iter().flat_map(|(x, _)| x).collect();
    let x = PlainArray::new(vec![2, SIDE, SIDE], images)?;
    let server = CkksServer::new(keys.server_keys());
    let reply = model.evaluate(&server, &model.encrypt(&keys, &[("x", x)])?)?;
    let honest = decrypt_reply(&keys, &reply.to_bytes()?, "Decrypt", "bars")?;
    assert_eq!(honest.len(), 2);

    // A probing server: four times the reply bound on the imaginary part of slot 1.
    let mut probed = reply.clone();
    let ct = probed.entries[0].cts[0].ciphertext().clone();
    let bound = policy.reply_bound(params.n(), ct.scale());
    let delta = [Complex64::new(0.0, 0.0), Complex64::new(0.0, 4.0 * bound)];
    let pt = Encoder::new(&params).encode_complex(&delta, ct.scale(), ct.level())?;
    probed.entries[0].cts[0] = server.import(Evaluator::new(&params).add_plain(&ct, &pt)?)?;
    match decrypt_reply(&keys, &probed.to_bytes()?, "Decrypt", "bars") {
        Err(e @ ClientError::Fhez(_)) => {
            assert!(e.to_string().contains("reply rejected"), "{e}");
        }
        other => panic!("a probed reply was not refused: {other:?}"),
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
