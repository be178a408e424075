//! The public key bundle (`FZPB`) and the ciphertext message (`FZCB`) in the common frame:
//! layout, round trips, version 1 still read, and hostile frames refused with typed errors
//! before any section is read (tiny insecure parameters: they protect nothing).

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic,
    clippy::wildcard_enum_match_arm,
    reason = "test code"
)]

use std::sync::Arc;

use fhez_backend::frame::{FrameError, HEADER_LEN, NO_PARAMS};
use fhez_ckks::{CkksClient, CkksParams, CkksServer, Preset};
use fhez_erray::PlainArray;
use fhez_model::bundle::{
    BundleRefusal, public_bundle_for_params, public_bundle_from_bytes_insecure_for_testing,
    public_bundle_to_bytes,
};
use fhez_model::{CtBatch, Error, frames};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const LIMIT: usize = 1 << 30;

fn client() -> Result<(Arc<CkksParams>, CkksClient), fhez_ckks::Error> {
    let params = CkksParams::new(&Preset::TinyInsecure.spec())?;
    let client = CkksClient::generate(&params, &[1])?;
    Ok((params, client))
}

fn frame_error(e: &Error) -> &FrameError {
    match e {
        Error::Backend(e) => e.as_frame().unwrap(),
        other => panic!("not a frame error: {other:?}"),
    }
}

fn declared(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[40..48].try_into().unwrap())
}

/// Version 1 of a format: `magic | 0x01 | the version 2 payload`.
fn version_1(bytes: &[u8]) -> Vec<u8> {
    let mut v1 = bytes[..4].to_vec();
    v1.push(1);
    v1.extend_from_slice(&bytes[HEADER_LEN..]);
    v1
}

#[test]
fn bundle_is_framed_with_its_params_id_and_reads_back() -> TestResult {
    let (params, client) = client()?;
    let bytes = public_bundle_to_bytes(&client.server_keys())?;
    assert_eq!(&bytes[..8], b"FZPB\x02\x00\x01\x00");
    assert_eq!(bytes[8..40], params.id().0);
    assert_eq!(declared(&bytes), (bytes.len() - HEADER_LEN) as u64);
    let keys = public_bundle_from_bytes_insecure_for_testing(&bytes, LIMIT)?;
    assert_eq!(keys.params().id(), params.id());
    // Version 1 (no frame) is still read, to the same keys.
    let old = public_bundle_from_bytes_insecure_for_testing(&version_1(&bytes), LIMIT)?;
    assert_eq!(
        public_bundle_to_bytes(&old)?,
        bytes,
        "v1 reads to the same keys"
    );
    Ok(())
}

#[test]
fn hostile_bundle_frames_are_refused() -> TestResult {
    let (params, client) = client()?;
    let bytes = public_bundle_to_bytes(&client.server_keys())?;
    let read = |b: &[u8], limit: usize| public_bundle_from_bytes_insecure_for_testing(b, limit);
    // Truncations: inside the header, and inside the payload.
    for cut in [0, 4, 47, 48, bytes.len() / 2, bytes.len() - 1] {
        let err = read(&bytes[..cut], LIMIT).unwrap_err();
        let needed = if cut < HEADER_LEN {
            48
        } else {
            bytes.len() as u64
        };
        assert_eq!(
            frame_error(&err),
            &FrameError::Truncated {
                what: "public key bundle",
                needed,
                available: cut as u64
            },
            "cut at {cut}"
        );
    }
    // A length lie far over the limit is refused by the limit.
    let mut lie = bytes.clone();
    lie[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        frame_error(&read(&lie, LIMIT).unwrap_err()),
        FrameError::TooLarge { len: u64::MAX, .. }
    ));
    // Trailing bytes.
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        frame_error(&read(&long, LIMIT).unwrap_err()),
        FrameError::TrailingBytes { extra: 1, .. }
    ));
    // Version, kind.
    let mut v3 = bytes.clone();
    v3[4] = 3;
    assert!(matches!(
        frame_error(&read(&v3, LIMIT).unwrap_err()),
        FrameError::UnsupportedVersion {
            found: 3,
            supported: 2,
            ..
        }
    ));
    let mut kind = bytes.clone();
    kind[6] = 9;
    assert!(matches!(
        frame_error(&read(&kind, LIMIT).unwrap_err()),
        FrameError::WrongKind {
            expected: 1,
            found: 9,
            ..
        }
    ));
    // The caller's limit applies to the whole input.
    let err = read(&bytes, bytes.len() - 1).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backend(fhez_backend::Error::SizeLimit { len, .. }) if len == bytes.len()
        ),
        "{err:?}"
    );
    // A frame that names another parameter set than its params section.
    let mut other = bytes.clone();
    other[8] ^= 1;
    let err = read(&other, LIMIT).unwrap_err();
    assert!(
        matches!(frame_error(&err), FrameError::ParamsMismatch { expected, .. } if *expected == params.id().0),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn bundle_for_known_params_refuses_a_frame_naming_other_params() -> TestResult {
    let (params, client) = client()?;
    let bytes = public_bundle_to_bytes(&client.server_keys())?;
    let mut other = bytes.clone();
    other[8] ^= 1;
    // The tiny set is insecure: the params section is refused as such first, whatever
    // the frame says, as before the frame existed.
    assert!(matches!(
        public_bundle_for_params(&other, LIMIT, &params),
        Err(BundleRefusal::Insecure)
    ));
    let mut v9 = bytes;
    v9[4] = 9;
    assert!(matches!(
        public_bundle_for_params(&v9, LIMIT, &params),
        Err(BundleRefusal::Malformed(_))
    ));
    Ok(())
}

#[test]
fn message_is_framed_and_other_params_are_refused_before_any_entry() -> TestResult {
    let (params, client) = client()?;
    let server = CkksServer::new(client.server_keys());
    let x = PlainArray::new(vec![2, 3], vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6])?;
    let bytes = CtBatch::encrypt_seeded_bytes(&client, &[("x", x)])?;
    assert_eq!(&bytes[..8], b"FZCB\x02\x00\x01\x00");
    assert_eq!(bytes[8..40], params.id().0);
    assert_eq!(declared(&bytes), (bytes.len() - HEADER_LEN) as u64);
    let batch = CtBatch::from_bytes(&server, &bytes, LIMIT)?;
    assert_eq!(batch.entries.len(), 1);
    let full = batch.to_bytes()?;
    assert_eq!(full[8..40], params.id().0);
    assert_eq!(CtBatch::from_bytes(&server, &full, LIMIT)?, batch);
    // Version 1 (no frame) is still read.
    assert_eq!(
        CtBatch::from_bytes(&server, &version_1(&full), LIMIT)?,
        batch
    );

    // Another parameter set in the frame, with garbage entries behind it: the params id
    // is what is reported, so no entry was read.
    let mut other = full.clone();
    other[8] ^= 1;
    other[HEADER_LEN..].fill(0xff);
    let err = CtBatch::from_bytes(&server, &other, LIMIT).unwrap_err();
    assert!(
        matches!(frame_error(&err), FrameError::ParamsMismatch { expected, .. } if *expected == params.id().0),
        "{err:?}"
    );
    // A message that names no parameter set may not carry ciphertexts.
    let mut anonymous = full.clone();
    anonymous[8..40].copy_from_slice(&NO_PARAMS);
    let err = CtBatch::from_bytes(&server, &anonymous, LIMIT).unwrap_err();
    assert!(
        matches!(frame_error(&err), FrameError::ParamsMismatch { found, .. } if *found == NO_PARAMS),
        "{err:?}"
    );
    // An empty message names none and reads back.
    let empty = CtBatch::default().to_bytes()?;
    assert_eq!(empty[8..40], NO_PARAMS);
    assert_eq!(
        CtBatch::from_bytes(&server, &empty, LIMIT)?,
        CtBatch::default()
    );
    // Truncation and a length lie.
    let err = CtBatch::from_bytes(&server, &full[..full.len() - 1], LIMIT).unwrap_err();
    assert!(matches!(frame_error(&err), FrameError::Truncated { .. }));
    let mut lie = full;
    lie[40..48].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let err = CtBatch::from_bytes(&server, &lie, LIMIT).unwrap_err();
    assert!(matches!(frame_error(&err), FrameError::TooLarge { .. }));
    Ok(())
}

#[test]
fn version_1_is_recognised_only_by_its_fifth_byte() {
    assert!(frames::is_version_1(b"FZPB\x01rest", &frames::BUNDLE));
    assert!(!frames::is_version_1(b"FZPB\x02\x00", &frames::BUNDLE));
    assert!(!frames::is_version_1(b"FZCB\x01", &frames::BUNDLE));
    assert!(!frames::is_version_1(b"FZ", &frames::BUNDLE));
}
