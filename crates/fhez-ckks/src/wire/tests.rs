//! Unit tests of the codec, the envelope, pinned error strings and a golden
//! encoding of a deterministic (RNG-free) ciphertext.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::sync::Arc;

use fhez_math::{Ntt, Poly};
use sha2::{Digest, Sha256};

use super::codec::{Reader, Writer};
use super::*;
use crate::{Ciphertext, CkksParams, Preset};

fn tiny() -> Arc<CkksParams> {
    CkksParams::new(&Preset::TinyInsecure.spec()).unwrap()
}

/// A ciphertext whose residues are a fixed pattern: no RNG involved, so its
/// encoding only changes when the format does.
fn pattern_ciphertext(params: &CkksParams, level: u32) -> Ciphertext {
    let n = params.n();
    let polys = (0..2u64)
        .map(|k| {
            let mut data = Vec::new();
            for (l, &q) in params.q().iter().take(level as usize + 1).enumerate() {
                data.extend((0..n as u64).map(|i| (i * 7919 + l as u64 * 104_729 + k * 13) % q));
            }
            Poly::<Ntt>::from_vec(n, data).unwrap()
        })
        .collect();
    Ciphertext {
        polys,
        level,
        scale: params.default_scale(),
        params_id: params.id(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn error_strings() {
    let id = ParamsId([0xab; 32]);
    let other = ParamsId([0x01; 32]);
    let cases: Vec<(WireError, &str)> = vec![
        (
            WireError::Truncated {
                needed: 48,
                available: 3,
            },
            "truncated input: needed 48 bytes, 3 available",
        ),
        (
            WireError::BadMagic { found: *b"FHEY" },
            "bad magic bytes [46, 48, 45, 59] (expected \"FHEZ\")",
        ),
        (
            WireError::UnsupportedVersion {
                found: 2,
                supported: 1,
            },
            "unsupported format version 2 (this build reads version 1)",
        ),
        (WireError::UnknownKind { found: 9 }, "unknown object kind 9"),
        (
            WireError::WrongKind {
                expected: ObjectKind::Ciphertext,
                found: ObjectKind::PublicKey,
            },
            "expected a ciphertext, found a public key",
        ),
        (
            WireError::ParamsMismatch {
                expected: id,
                found: other,
            },
            "parameter set mismatch: expected abababababababab, found 0101010101010101",
        ),
        (
            WireError::TooLarge {
                len: 100,
                limit: 10,
            },
            "payload of 100 bytes exceeds the limit of 10 bytes",
        ),
        (
            WireError::TrailingBytes { extra: 2 },
            "2 trailing bytes after the payload",
        ),
        (
            WireError::LengthMismatch {
                what: "ciphertext payload bytes",
                expected: 16,
                found: 15,
            },
            "ciphertext payload bytes: expected 16, found 15",
        ),
        (
            WireError::BadLevel {
                level: 7,
                max_level: 3,
            },
            "level 7 exceeds the maximum level 3",
        ),
        (
            WireError::BadDegree {
                found: 512,
                expected: 1024,
            },
            "ring degree 512 does not match N = 1024",
        ),
        (
            WireError::CoefficientOutOfRange {
                limb: 1,
                index: 5,
                value: 99,
                modulus: 97,
            },
            "coefficient 5 of limb 1 is 99, not below its modulus 97",
        ),
        (
            WireError::BadScale {
                bits: f64::NAN.to_bits(),
            },
            "invalid scale (f64 bits 0x7ff8000000000000): must be finite and positive",
        ),
        (
            WireError::BadPolyCount { found: 4 },
            "a ciphertext has 2 or 3 polynomials, found 4",
        ),
        (
            WireError::BadSecretCoefficient {
                index: 3,
                value: -2,
            },
            "secret-key coefficient 3 is -2, not in {-1, 0, 1}",
        ),
        (
            WireError::BadGaloisElement {
                element: 4,
                two_n: 2048,
            },
            "Galois element 4 is not an odd number below 2N = 2048",
        ),
        (
            WireError::UnorderedGaloisElement {
                element: 5,
                previous: 5,
            },
            "Galois element 5 does not follow 5: elements must be strictly increasing",
        ),
        (
            WireError::BadParamsJson { line: 1, column: 7 },
            "params payload is not a valid spec (JSON error at line 1, column 7)",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
    // Wrapped in the crate error, the message is unchanged.
    let e: crate::Error = WireError::TrailingBytes { extra: 1 }.into();
    assert_eq!(e.to_string(), "1 trailing bytes after the payload");
}

#[test]
fn kind_tags_round_trip() {
    for tag in 0..=20u16 {
        match ObjectKind::try_from(tag) {
            Ok(kind) => {
                assert!((1..=8).contains(&tag));
                assert_eq!(kind.tag(), tag);
            }
            Err(e) => {
                assert!(!(1..=8).contains(&tag));
                assert_eq!(e, WireError::UnknownKind { found: tag });
            }
        }
    }
    assert!(ObjectKind::SecretKey.is_secret());
    assert!(!ObjectKind::Ciphertext.is_secret());
    assert_eq!(
        ObjectKind::try_from(u16::MAX),
        Err(WireError::UnknownKind { found: u16::MAX })
    );
}

#[test]
fn reader_is_checked() {
    let mut r = Reader::new(&[1, 2, 3]);
    assert_eq!(r.array::<2>().map(u16::from_le_bytes), Ok(0x0201));
    assert_eq!(
        r.u32(),
        Err(WireError::Truncated {
            needed: 6,
            available: 3
        })
    );
    // A failed read consumes nothing.
    assert_eq!(r.remaining(), 1);
    assert_eq!(
        r.take(u64::MAX),
        Err(WireError::Truncated {
            needed: u64::MAX,
            available: 3
        })
    );
    assert_eq!(r.array::<1>(), Ok([3]));
    assert_eq!(r.finish(), Ok(()));

    let mut r = Reader::new(&[0; 9]);
    assert_eq!(r.u64(), Ok(0));
    assert_eq!(r.finish(), Err(WireError::TrailingBytes { extra: 1 }));

    for (x, ok) in [
        (1.0, true),
        (f64::MIN_POSITIVE, true),
        (0.0, false),
        (-0.0, false),
        (-1.0, false),
        (f64::NAN, false),
        (f64::INFINITY, false),
        (f64::NEG_INFINITY, false),
    ] {
        let bytes = x.to_bits().to_le_bytes();
        let got = Reader::new(&bytes).scale();
        assert_eq!(got.is_ok(), ok, "{x}");
        if !ok {
            assert_eq!(got, Err(WireError::BadScale { bits: x.to_bits() }));
        }
    }
}

#[test]
fn poly_codec_round_trips_and_checks_moduli() {
    let moduli = [97u64, 193];
    let data: Vec<u64> = (0..8).map(|i| i * 11 % 97).collect();
    let poly = Poly::<Ntt>::from_vec(4, data.clone()).unwrap();
    let mut w = Writer::with_capacity(64);
    w.poly(&poly);
    let bytes = w.into_vec();
    assert_eq!(bytes.len(), 64);
    assert_eq!(&bytes[8..16], &11u64.to_le_bytes());
    let got = Reader::new(&bytes).poly(4, &moduli).unwrap();
    assert_eq!(got.as_slice(), data.as_slice());

    // Residue 6 (limb 1, index 2) set to its modulus.
    let mut bad = bytes.clone();
    bad[48..56].copy_from_slice(&193u64.to_le_bytes());
    assert_eq!(
        Reader::new(&bad).poly(4, &moduli).unwrap_err(),
        WireError::CoefficientOutOfRange {
            limb: 1,
            index: 2,
            value: 193,
            modulus: 193
        }
    );
    // Too few bytes: an error before allocating.
    assert!(matches!(
        Reader::new(&bytes[..63]).poly(4, &moduli),
        Err(WireError::Truncated { .. })
    ));
    assert!(matches!(
        Reader::new(&bytes).poly(usize::MAX, &moduli),
        Err(WireError::Truncated { .. })
    ));
}

#[test]
fn envelope_layout_is_pinned() {
    let params = tiny();
    let ct = pattern_ciphertext(&params, 0);
    let bytes = ciphertext_to_bytes(&ct).unwrap();
    let payload_len = 4 + 8 + 4 + 2 * 1024 * 8;
    assert_eq!(bytes.len(), ENVELOPE_LEN + payload_len);
    assert_eq!(&bytes[0..4], b"FHEZ");
    assert_eq!(&bytes[4..6], &[1, 0]);
    assert_eq!(&bytes[6..8], &[3, 0]);
    assert_eq!(&bytes[8..40], &params.id().0);
    assert_eq!(&bytes[40..48], &(payload_len as u64).to_le_bytes());
    assert_eq!(&bytes[48..52], &0u32.to_le_bytes());
    assert_eq!(&bytes[52..60], &(2f64.powi(30)).to_bits().to_le_bytes());
    assert_eq!(&bytes[60..64], &2u32.to_le_bytes());
    assert_eq!(&bytes[64..72], &ct.polys[0].as_slice()[0].to_le_bytes());

    let env = peek_envelope(&bytes).unwrap();
    assert_eq!(
        env,
        Envelope {
            kind: ObjectKind::Ciphertext,
            version: FORMAT_VERSION,
            params_id: params.id(),
            payload_len: payload_len as u64,
        }
    );
    // The envelope alone is enough to peek.
    assert_eq!(peek_envelope(&bytes[..ENVELOPE_LEN]), Ok(env));
}

/// Golden: the whole encoding of a deterministic ciphertext at every level of
/// the tiny preset. A change here is a format change: bump `FORMAT_VERSION`.
#[test]
fn golden_pattern_ciphertext() {
    let params = tiny();
    let mut hashes = Vec::new();
    for level in 0..=params.max_level() {
        let ct = pattern_ciphertext(&params, level);
        let bytes = ciphertext_to_bytes(&ct).unwrap();
        assert_eq!(
            ciphertext_from_bytes(&params, &bytes, DEFAULT_LIMIT).unwrap(),
            ct
        );
        hashes.push(hex(&Sha256::digest(&bytes)));
    }
    let want = [
        "753a3bd7784bc2a802124109cacf6b2e2a33e1d13f1f664f03010e099a8fa0b1",
        "2fb8855238fa31e329c6ad3258fdd9af36ca131223976d90ef9b1e827f169fbf",
        "c2a38d088f31acbf0845c956fee2139d1f69da284d27865e69f34af512daec1e",
        "069b6befd0ba55a4fe7faf404ba89cf1a369c46148812564e8d0360baa168b9d",
    ];
    assert_eq!(hashes, want, "wire format changed: {hashes:#?}");
}

#[test]
fn writer_rejects_malformed_objects() {
    let params = tiny();
    let mut ct = pattern_ciphertext(&params, 1);
    ct.level = 2;
    assert!(matches!(
        ciphertext_to_bytes(&ct),
        Err(crate::Error::Wire(WireError::LengthMismatch { .. }))
    ));
    ct.level = 1;
    ct.polys.truncate(1);
    assert!(matches!(
        ciphertext_to_bytes(&ct),
        Err(crate::Error::Wire(WireError::BadPolyCount { found: 1 }))
    ));
}
