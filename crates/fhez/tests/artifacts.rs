//! Model files, public bundles, key directories and ciphertext messages: round trips and
//! rejection of bad input (on toy parameters).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    reason = "test code"
)]

use std::sync::Arc;

use fhez::bundle::{
    load_client_keys, load_client_keys_insecure_for_testing, load_server_keys,
    load_server_keys_insecure_for_testing, public_bundle_from_bytes,
    public_bundle_from_bytes_insecure_for_testing, public_bundle_to_bytes, save_client_keys,
};
use fhez::ckks::{CkksParams, CkksParamsSpec, CkksServer};
use fhez::erray::Packing;
use fhez::erray::PlainArray;
use fhez::nn::{PlanRequest, prefab};
use fhez::{CtBatch, CtEntry, EncryptedModel, ModelFile, Task};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn model_file() -> Result<ModelFile, fhez::Error> {
    let graph = prefab::cnn_regressor((6, 2), 3, 3, 7)?;
    let request = PlanRequest {
        release: fhez::nn::ReleaseChoice::Shared,
        batch: 4,
        precision_bits: 20,
        magnitude_bits: 20,
        standard: fhez::nn::SecurityStandard::Standard2018,
        key_budget: None,
    };
    let task = Task::Regressor {
        scale: 1.0,
        offset: 0.0,
    };
    ModelFile::new("toy", &graph, &["x"], "Decrypt", task, request)
}

fn toy_params(model: &EncryptedModel) -> Result<Arc<CkksParams>, fhez::ckks::Error> {
    // DISCLAIMER: toy parameters for a fast test, they protect nothing.
    CkksParams::new(
        &CkksParamsSpec {
            log_n: 10,
            ..model.spec()
        }
        .insecure_for_testing(),
    )
}

#[test]
fn model_file_round_trips_and_rejects_bad_documents() -> TestResult {
    let file = model_file()?;
    let text = file.to_json()?;
    let back = ModelFile::from_json(&text)?;
    assert_eq!(back, file);
    assert_eq!(back.input_sizes(), vec![12]);
    assert_eq!(
        back.encrypted_model()?.plan(),
        file.encrypted_model()?.plan()
    );

    let wrong_format = text.replacen("fhez-model", "other", 1);
    assert!(
        ModelFile::from_json(&wrong_format)
            .unwrap_err()
            .to_string()
            .contains("format")
    );
    let wrong_version = text.replacen("\"format_version\": 1", "\"format_version\": 9", 1);
    assert!(
        ModelFile::from_json(&wrong_version)
            .unwrap_err()
            .to_string()
            .contains("version")
    );
    let mut bad_shape = file.clone();
    bad_shape.inputs[0].shape = vec![3, 3];
    let err = ModelFile::from_json(&bad_shape.to_json()?)
        .unwrap_err()
        .to_string();
    assert!(err.contains("input `x`"), "{err}");
    let mut bad_output = file;
    bad_output.output = "x".to_owned();
    assert!(ModelFile::from_json(&bad_output.to_json()?).is_err());
    assert!(ModelFile::from_json("{").is_err());
    Ok(())
}

#[test]
fn bundle_and_key_directory_round_trip() -> TestResult {
    let model = model_file()?.encrypted_model()?;
    let params = toy_params(&model)?;
    let client = model.keygen(&params)?;
    let bytes = public_bundle_to_bytes(&client.server_keys())?;
    let keys = public_bundle_from_bytes_insecure_for_testing(&bytes, bytes.len())?;
    assert_eq!(keys.params().id(), params.id());
    assert_eq!(public_bundle_to_bytes(&keys)?, bytes);

    // Every truncation and a few corruptions are errors, never panics.
    for cut in (0..bytes.len()).step_by(bytes.len() / 97 + 1) {
        assert!(public_bundle_from_bytes_insecure_for_testing(&bytes[..cut], usize::MAX).is_err());
    }
    assert!(
        public_bundle_from_bytes_insecure_for_testing(&bytes, bytes.len() - 1).is_err(),
        "limit"
    );
    let mut flipped = bytes.clone();
    flipped[0] ^= 1;
    assert!(
        public_bundle_from_bytes_insecure_for_testing(&flipped, usize::MAX).is_err(),
        "magic"
    );
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(
        public_bundle_from_bytes_insecure_for_testing(&trailing, usize::MAX).is_err(),
        "trailing"
    );

    let dir = std::env::temp_dir().join(format!("fhez-keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    save_client_keys(&dir, &client)?;
    assert!(
        save_client_keys(&dir, &client).is_err(),
        "never overwrite a secret key"
    );
    let loaded = load_client_keys_insecure_for_testing(&dir)?;
    assert_eq!(loaded.params().id(), params.id());
    let public_only = load_server_keys_insecure_for_testing(&dir.join("public"), usize::MAX)?;
    assert_eq!(public_bundle_to_bytes(&public_only)?, bytes);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("secret.key"))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "secret key readable by others: {mode:o}");
    }
    // The reloaded client decrypts what the original encrypted.
    let x = PlainArray::from_fn(vec![2, 6, 2], |k| k as f64 / 30.0)?;
    let sent = model.encrypt(&client, &[("x", x.clone())])?;
    let server = CkksServer::new(public_only);
    let out_a = model.decrypt(&client, &model.evaluate(&server, &sent)?)?;
    let out_b = model.decrypt(&loaded, &model.evaluate(&server, &sent)?)?;
    for (a, b) in out_a[0].1.data().iter().zip(out_b[0].1.data()) {
        assert!((a - b).abs() < 1e-3);
    }
    // The default readers refuse the toy (insecure) parameter set: a bundle, a key directory
    // and its public half.
    for err in [
        public_bundle_from_bytes(&bytes, usize::MAX).map(|_| ()),
        load_client_keys(&dir).map(|_| ()),
        load_server_keys(&dir.join("public"), usize::MAX).map(|_| ()),
    ] {
        let msg = err.unwrap_err().to_string();
        assert!(msg.contains("opt out of the security check"), "{msg}");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn ciphertext_messages_round_trip_seeded_and_full() -> TestResult {
    let model = model_file()?.encrypted_model()?;
    let params = toy_params(&model)?;
    let client = model.keygen(&params)?;
    let server = CkksServer::new(client.server_keys());
    let x = PlainArray::from_fn(vec![3, 6, 2], |k| ((k % 7) as f64 - 3.0) / 10.0)?;

    let seeded = CtBatch::encrypt_seeded_bytes(&client, &[("x", x.clone())])?;
    let full = model.encrypt(&client, &[("x", x.clone())])?.to_bytes()?;
    assert!(
        seeded.len() * 2 < full.len() + 4096,
        "seeded {} vs full {}",
        seeded.len(),
        full.len()
    );

    let request = CtBatch::from_bytes(&server, &seeded, seeded.len())?;
    let reply = model.evaluate(&server, &request)?;
    let reply_bytes = reply.to_bytes()?;
    let back = CtBatch::from_bytes(&client.server(), &reply_bytes, reply_bytes.len())?;
    assert_eq!(back, reply);
    let got = model.decrypt(&client, &back)?;
    let direct = model.decrypt(
        &client,
        &model.evaluate(&server, &CtBatch::from_bytes(&server, &full, usize::MAX)?)?,
    )?;
    for (a, b) in got[0].1.data().iter().zip(direct[0].1.data()) {
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
    }

    for bytes in [&seeded, &reply_bytes] {
        for cut in (0..bytes.len()).step_by(bytes.len() / 61 + 1) {
            assert!(CtBatch::from_bytes(&server, &bytes[..cut], usize::MAX).is_err());
        }
        assert!(
            CtBatch::from_bytes(&server, bytes, bytes.len() - 1).is_err(),
            "limit"
        );
    }
    // Flat packing is written with batch 0 (bytes 56..64: after the 48-byte frame header,
    // the entry count, name length and the one-byte name, and the packing tag); a non-zero
    // batch is a second encoding of the same entry and is refused.
    let flat = CtBatch {
        entries: vec![CtEntry {
            name: "f".to_owned(),
            shape: vec![3],
            packing: Packing::Flat,
            cts: request.entries[0].cts[..1].to_vec(),
        }],
    };
    let flat_bytes = flat.to_bytes()?;
    assert_eq!(&flat_bytes[55..64], &[0u8; 9]);
    assert_eq!(CtBatch::from_bytes(&server, &flat_bytes, usize::MAX)?, flat);
    let mut batched = flat_bytes.clone();
    batched[56] = 5;
    let e = CtBatch::from_bytes(&server, &batched, usize::MAX).unwrap_err();
    assert!(
        e.to_string().contains("flat packing with a non-zero batch"),
        "{e}"
    );
    // A coefficient pushed out of range inside the first ciphertext is rejected.
    let mut corrupt = seeded.clone();
    let at = corrupt.len() - 16;
    for b in &mut corrupt[at..at + 8] {
        *b = 0xff;
    }
    assert!(CtBatch::from_bytes(&server, &corrupt, usize::MAX).is_err());
    // Another parameter set's server rejects the message (params id).
    let other = CkksParams::new(
        &CkksParamsSpec {
            log_n: 11,
            ..model.spec()
        }
        .insecure_for_testing(),
    )?;
    let other_server = CkksServer::new(model.keygen(&other)?.server_keys());
    assert!(CtBatch::from_bytes(&other_server, &seeded, usize::MAX).is_err());
    // A public bundle is not a ciphertext message.
    let bundle = public_bundle_to_bytes(&client.server_keys())?;
    assert!(CtBatch::from_bytes(&server, &bundle, usize::MAX).is_err());
    Ok(())
}
