//! The wire format through the public API: round trips of every object, every
//! error on truncated / corrupted / oversized / mismatched input, golden hashes of
//! the preset encodings, and a proptest fuzzer over every reader.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::sync::{Arc, OnceLock};

use common::{rng, tiny, values};
use fhez_ckks::wire::{
    self, DEFAULT_LIMIT, ENVELOPE_LEN, Envelope, ObjectKind, WireError, peek_envelope,
};
use fhez_ckks::{
    Ciphertext, CkksParams, Error, GaloisKeys, Plaintext, Preset, SecretKey, SeededCiphertext,
};
use proptest::prelude::*;
use proptest::sample::Index;
use sha2::{Digest, Sha256};

// ------------------------------------------------------------------ fixtures

fn plaintext(level: u32) -> Plaintext {
    let f = tiny();
    f.enc
        .encode(&values(512, 3), f.params.default_scale(), level)
        .unwrap()
}

fn ciphertext(level: u32) -> Ciphertext {
    let f = tiny();
    f.pk.encrypt(&f.params, &plaintext(level), &mut rng(11))
        .unwrap()
}

fn seeded(level: u32) -> SeededCiphertext {
    tiny()
        .sk
        .encrypt_seeded(&plaintext(level), &mut rng(12))
        .unwrap()
}

fn decrypt(ct: &Ciphertext) -> Vec<f64> {
    let f = tiny();
    f.enc.decode(&f.sk.decrypt(ct).unwrap()).unwrap()
}

/// Two Galois keys: small enough to fuzz.
fn small_galois() -> &'static GaloisKeys {
    static G: OnceLock<GaloisKeys> = OnceLock::new();
    G.get_or_init(|| {
        tiny()
            .sk
            .galois_keys(&[1, -4], false, &mut rng(13))
            .unwrap()
    })
}

fn other_params() -> Arc<CkksParams> {
    CkksParams::new(&Preset::TinyInsecure.spec().with_log_scale(25)).unwrap()
}

fn wire_err<T: std::fmt::Debug>(r: Result<T, Error>) -> WireError {
    match r {
        Err(Error::Wire(e)) => e,
        other => panic!("expected a wire error, got {other:?}"),
    }
}

/// Every reader, behind one signature: decodes and re-encodes (`None` for the
/// params, whose JSON need not be byte-canonical).
type Reader = fn(&[u8], u64) -> Result<Option<Vec<u8>>, Error>;

fn read_ct(b: &[u8], limit: u64) -> Result<Option<Vec<u8>>, Error> {
    let ct = wire::ciphertext_from_bytes(&tiny().params, b, limit)?;
    Ok(Some(wire::ciphertext_to_bytes(&ct)?))
}
fn read_seeded(b: &[u8], limit: u64) -> Result<Option<Vec<u8>>, Error> {
    let ct = wire::seeded_ciphertext_from_bytes(&tiny().params, b, limit)?;
    Ok(Some(wire::seeded_ciphertext_to_bytes(&ct)?))
}
fn read_pt(b: &[u8], limit: u64) -> Result<Option<Vec<u8>>, Error> {
    let pt = wire::plaintext_from_bytes(&tiny().params, b, limit)?;
    Ok(Some(wire::plaintext_to_bytes(&pt)?))
}
fn read_pk(b: &[u8], limit: u64) -> Result<Option<Vec<u8>>, Error> {
    let pk = wire::public_key_from_bytes(&tiny().params, b, limit)?;
    Ok(Some(wire::public_key_to_bytes(&pk)?))
}
fn read_rk(b: &[u8], limit: u64) -> Result<Option<Vec<u8>>, Error> {
    let rk = wire::relin_key_from_bytes(&tiny().params, b, limit)?;
    Ok(Some(wire::relin_key_to_bytes(&rk)?))
}
fn read_gk(b: &[u8], limit: u64) -> Result<Option<Vec<u8>>, Error> {
    let gk = wire::galois_keys_from_bytes(&tiny().params, b, limit)?;
    Ok(Some(wire::galois_keys_to_bytes(&gk)?))
}
fn read_sk(b: &[u8], _limit: u64) -> Result<Option<Vec<u8>>, Error> {
    let sk = SecretKey::from_secret_bytes(&tiny().params, b)?;
    Ok(Some(sk.to_secret_bytes().to_vec()))
}
fn read_params(b: &[u8], limit: u64) -> Result<Option<Vec<u8>>, Error> {
    wire::params_from_bytes_insecure_for_testing(b, limit)?;
    Ok(None)
}

/// Valid encodings of every kind (small ones), with their reader.
fn corpus() -> &'static Vec<(ObjectKind, Vec<u8>, Reader)> {
    static C: OnceLock<Vec<(ObjectKind, Vec<u8>, Reader)>> = OnceLock::new();
    C.get_or_init(|| {
        let f = tiny();
        vec![
            (
                ObjectKind::Ciphertext,
                wire::ciphertext_to_bytes(&ciphertext(0)).unwrap(),
                read_ct as Reader,
            ),
            (
                ObjectKind::Ciphertext,
                wire::ciphertext_to_bytes(&ciphertext(1)).unwrap(),
                read_ct,
            ),
            (
                ObjectKind::SeededCiphertext,
                wire::seeded_ciphertext_to_bytes(&seeded(1)).unwrap(),
                read_seeded,
            ),
            (
                ObjectKind::Plaintext,
                wire::plaintext_to_bytes(&plaintext(0)).unwrap(),
                read_pt,
            ),
            (
                ObjectKind::PublicKey,
                wire::public_key_to_bytes(&f.pk).unwrap(),
                read_pk,
            ),
            (
                ObjectKind::RelinKey,
                wire::relin_key_to_bytes(&f.rk).unwrap(),
                read_rk,
            ),
            (
                ObjectKind::GaloisKeys,
                wire::galois_keys_to_bytes(small_galois()).unwrap(),
                read_gk,
            ),
            (
                ObjectKind::SecretKey,
                f.sk.to_secret_bytes().to_vec(),
                read_sk,
            ),
            (
                ObjectKind::Params,
                wire::params_to_bytes(&f.params).unwrap(),
                read_params,
            ),
        ]
    })
}

/// Overwrites `bytes[at..at+k]` with the little-endian `value` (if it fits).
fn put(bytes: &mut [u8], at: usize, value: &[u8]) {
    if let Some(dst) = bytes.get_mut(at..at + value.len()) {
        dst.copy_from_slice(value);
    }
}

// ------------------------------------------------------------------ round trips

#[test]
fn ciphertexts_round_trip() {
    let f = tiny();
    let mut cts = vec![ciphertext(f.params.max_level()), ciphertext(0)];
    cts.push(f.eval.mul(&cts[0], &cts[0]).unwrap()); // three polynomials
    cts.push(
        f.eval
            .rescale(&f.eval.relinearize(&cts[2], &f.rk).unwrap())
            .unwrap(),
    );
    for ct in &cts {
        let bytes = wire::ciphertext_to_bytes(ct).unwrap();
        let n_limbs = ct.level() as usize + 1;
        assert_eq!(
            bytes.len(),
            ENVELOPE_LEN + 16 + ct.size() * n_limbs * 1024 * 8
        );
        let back = wire::ciphertext_from_bytes(&f.params, &bytes, DEFAULT_LIMIT).unwrap();
        assert_eq!(&back, ct);
        assert_eq!(decrypt(&back), decrypt(ct));
        // An exact limit is enough.
        let exact = (bytes.len() - ENVELOPE_LEN) as u64;
        assert!(wire::ciphertext_from_bytes(&f.params, &bytes, exact).is_ok());
    }
}

#[test]
fn seeded_ciphertexts_and_plaintexts_round_trip() {
    let f = tiny();
    for level in [0, f.params.max_level()] {
        let s = seeded(level);
        let bytes = wire::seeded_ciphertext_to_bytes(&s).unwrap();
        assert_eq!(
            bytes.len(),
            ENVELOPE_LEN + 44 + (level as usize + 1) * 1024 * 8
        );
        let back = wire::seeded_ciphertext_from_bytes(&f.params, &bytes, DEFAULT_LIMIT).unwrap();
        assert_eq!(back, s);
        let full = back.expand(&f.params).unwrap();
        assert_eq!(decrypt(&full), decrypt(&s.expand(&f.params).unwrap()));
        let want = values(512, 3);
        assert!(common::max_err(&decrypt(&full), &want) < 1e-3);

        let pt = plaintext(level);
        let bytes = wire::plaintext_to_bytes(&pt).unwrap();
        assert_eq!(
            wire::plaintext_from_bytes(&f.params, &bytes, DEFAULT_LIMIT).unwrap(),
            pt
        );
    }
}

#[test]
fn keys_round_trip() {
    let f = tiny();
    let pk = wire::public_key_from_bytes(
        &f.params,
        &wire::public_key_to_bytes(&f.pk).unwrap(),
        DEFAULT_LIMIT,
    )
    .unwrap();
    assert_eq!(pk, f.pk);
    let rk = wire::relin_key_from_bytes(
        &f.params,
        &wire::relin_key_to_bytes(&f.rk).unwrap(),
        DEFAULT_LIMIT,
    )
    .unwrap();
    assert_eq!(rk, f.rk);
    let gk = wire::galois_keys_from_bytes(
        &f.params,
        &wire::galois_keys_to_bytes(&f.gk).unwrap(),
        DEFAULT_LIMIT,
    )
    .unwrap();
    assert_eq!(gk, f.gk);
    let empty = f.sk.galois_keys(&[], false, &mut rng(5)).unwrap();
    let bytes = wire::galois_keys_to_bytes(&empty).unwrap();
    assert_eq!(bytes.len(), ENVELOPE_LEN + 4);
    assert_eq!(
        wire::galois_keys_from_bytes(&f.params, &bytes, DEFAULT_LIMIT).unwrap(),
        empty
    );

    // The keys read back work: encrypt with pk, multiply with rk, rotate with gk.
    let x = values(512, 3);
    let ct = pk
        .encrypt(&f.params, &plaintext(f.params.max_level()), &mut rng(21))
        .unwrap();
    let sq = f.eval.mul_relin_rescale(&ct, &ct, &rk).unwrap();
    let rot = f.eval.rotate(&sq, 3, &gk).unwrap();
    let got = decrypt(&rot);
    let want: Vec<f64> = (0..512).map(|j| x[(j + 3) % 512].powi(2)).collect();
    assert!(common::max_err(&got, &want) < 1e-2);
}

#[test]
fn secret_key_round_trips_only_through_its_named_api() {
    let f = tiny();
    let bytes = f.sk.to_secret_bytes();
    assert_eq!(bytes.len(), ENVELOPE_LEN + 1024);
    assert!(
        bytes[ENVELOPE_LEN..]
            .iter()
            .all(|&b| matches!(b, 0 | 1 | 0xff))
    );
    let sk = SecretKey::from_secret_bytes(&f.params, &bytes).unwrap();
    assert_eq!(*sk.to_secret_bytes(), *bytes);
    let ct = ciphertext(2);
    let a = f.enc.decode(&sk.decrypt(&ct).unwrap()).unwrap();
    assert_eq!(a, decrypt(&ct));
    // Peeking tells what it is without touching the payload.
    let env = peek_envelope(&bytes).unwrap();
    assert_eq!(env.kind, ObjectKind::SecretKey);
    assert!(env.kind.is_secret());
    assert_eq!(env.payload_len, 1024);
}

#[test]
fn params_round_trip_for_every_preset() {
    for preset in Preset::ALL {
        let params = CkksParams::new(&preset.spec()).unwrap();
        let bytes = wire::params_to_bytes(&params).unwrap();
        let back = wire::params_from_bytes_insecure_for_testing(&bytes, DEFAULT_LIMIT).unwrap();
        assert_eq!(back.id(), params.id());
        assert_eq!(back.spec(), params.spec());
        let env = peek_envelope(&bytes).unwrap();
        assert_eq!((env.kind, env.params_id), (ObjectKind::Params, params.id()));
    }
}

/// Golden: SHA-256 of `params_to_bytes` for every preset. A change here means the
/// params encoding (or a preset) changed: make it deliberate.
#[test]
fn golden_preset_encodings() {
    let want = [
        (
            Preset::N13Qp218,
            "3be955929314d84aced95624435df25c969c9c6c80213aa5ef78fcc197392e52",
        ),
        (
            Preset::N14Qp438,
            "6c45dc1f9f742a0b1ea305920a9fefd162b4ee7e3bc6fd502549e227b4da6d9a",
        ),
        (
            Preset::N15Qp881,
            "7b03e541284d023e0b79940e443a77dddcc6d3596d8af86abdd42fdab74baf6c",
        ),
        (
            Preset::TinyInsecure,
            "8e7745d337dc858ccb07e5686f015c66e701932c05c5b560975e44526d4468ae",
        ),
    ];
    let mut got = Vec::new();
    for (preset, _) in want {
        let params = CkksParams::new(&preset.spec()).unwrap();
        let bytes = wire::params_to_bytes(&params).unwrap();
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        got.push((preset, hex));
    }
    let got: Vec<(Preset, &str)> = got.iter().map(|(p, h)| (*p, h.as_str())).collect();
    assert_eq!(got, want, "params encodings changed: {got:#?}");
}

// ------------------------------------------------------------------ errors

#[test]
fn every_prefix_of_a_ciphertext_is_an_error() {
    let f = tiny();
    let bytes = wire::ciphertext_to_bytes(&ciphertext(0)).unwrap();
    for len in 0..bytes.len() {
        let e = wire_err(wire::ciphertext_from_bytes(
            &f.params,
            &bytes[..len],
            DEFAULT_LIMIT,
        ));
        let available = len as u64;
        let needed = if len < ENVELOPE_LEN {
            ENVELOPE_LEN as u64
        } else {
            bytes.len() as u64
        };
        assert_eq!(
            e,
            WireError::Truncated { needed, available },
            "prefix {len}"
        );
    }
    assert!(wire::ciphertext_from_bytes(&f.params, &bytes, DEFAULT_LIMIT).is_ok());
}

#[test]
fn every_prefix_of_every_object_is_an_error() {
    for (kind, bytes, read) in corpus() {
        let step = (bytes.len() / 3000).max(1);
        for len in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
            assert!(
                read(&bytes[..len], DEFAULT_LIMIT).is_err(),
                "{kind} prefix {len}"
            );
        }
        assert!(read(bytes, DEFAULT_LIMIT).is_ok(), "{kind}");
    }
}

#[test]
fn corrupted_envelopes_are_typed_errors() {
    let f = tiny();
    let good = wire::ciphertext_to_bytes(&ciphertext(0)).unwrap();
    let read = |b: &[u8]| wire_err(wire::ciphertext_from_bytes(&f.params, b, DEFAULT_LIMIT));

    let mut b = good.clone();
    b[0] ^= 0x20;
    assert_eq!(read(&b), WireError::BadMagic { found: *b"fHEZ" });

    let mut b = good.clone();
    put(&mut b, 4, &2u16.to_le_bytes());
    assert_eq!(
        read(&b),
        WireError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );

    let mut b = good.clone();
    put(&mut b, 6, &0u16.to_le_bytes());
    assert_eq!(read(&b), WireError::UnknownKind { found: 0 });
    put(&mut b, 6, &9u16.to_le_bytes());
    assert_eq!(read(&b), WireError::UnknownKind { found: 9 });
    put(&mut b, 6, &5u16.to_le_bytes());
    assert_eq!(
        read(&b),
        WireError::WrongKind {
            expected: ObjectKind::Ciphertext,
            found: ObjectKind::PublicKey
        }
    );
    // A reader of another kind refuses a ciphertext.
    assert_eq!(
        wire_err(wire::plaintext_from_bytes(&f.params, &good, DEFAULT_LIMIT)),
        WireError::WrongKind {
            expected: ObjectKind::Plaintext,
            found: ObjectKind::Ciphertext
        }
    );
    assert_eq!(
        wire_err(SecretKey::from_secret_bytes(&f.params, &good)),
        WireError::WrongKind {
            expected: ObjectKind::SecretKey,
            found: ObjectKind::Ciphertext
        }
    );

    // A ciphertext of another parameter set.
    let other = other_params();
    assert_ne!(other.id(), f.params.id());
    assert_eq!(
        wire_err(wire::ciphertext_from_bytes(&other, &good, DEFAULT_LIMIT)),
        WireError::ParamsMismatch {
            expected: other.id(),
            found: f.params.id()
        }
    );
    let mut b = good.clone();
    b[20] ^= 1;
    assert!(matches!(read(&b), WireError::ParamsMismatch { .. }));

    // Oversized: refused from the envelope alone, before reading or allocating.
    let payload = (good.len() - ENVELOPE_LEN) as u64;
    assert_eq!(
        wire_err(wire::ciphertext_from_bytes(&f.params, &good, payload - 1)),
        WireError::TooLarge {
            len: payload,
            limit: payload - 1
        }
    );
    let mut huge = good[..ENVELOPE_LEN].to_vec();
    put(&mut huge, 40, &u64::MAX.to_le_bytes());
    assert_eq!(
        read(&huge),
        WireError::TooLarge {
            len: u64::MAX,
            limit: DEFAULT_LIMIT
        }
    );
    assert_eq!(
        wire_err(wire::ciphertext_from_bytes(&f.params, &huge, u64::MAX)),
        WireError::Truncated {
            needed: u64::MAX,
            available: ENVELOPE_LEN as u64
        }
    );

    // Trailing bytes, and a payload_len that disagrees with the bytes present.
    let mut b = good.clone();
    b.extend_from_slice(&[0, 0, 0]);
    assert_eq!(read(&b), WireError::TrailingBytes { extra: 3 });
    let mut b = good.clone();
    put(&mut b, 40, &(payload - 8).to_le_bytes());
    assert_eq!(read(&b), WireError::TrailingBytes { extra: 8 });
    // Consistent envelope, short payload: a length error, not an allocation.
    let mut b = good[..good.len() - 8].to_vec();
    put(&mut b, 40, &(payload - 8).to_le_bytes());
    assert!(matches!(read(&b), WireError::LengthMismatch { .. }));
}

#[test]
fn corrupted_payloads_are_typed_errors() {
    let f = tiny();
    let q = f.params.q().to_vec();
    let good = wire::ciphertext_to_bytes(&ciphertext(1)).unwrap();
    let read = |b: &[u8]| wire_err(wire::ciphertext_from_bytes(&f.params, b, DEFAULT_LIMIT));
    let (lvl, scale, count, polys) = (
        ENVELOPE_LEN,
        ENVELOPE_LEN + 4,
        ENVELOPE_LEN + 12,
        ENVELOPE_LEN + 16,
    );

    let mut b = good.clone();
    put(&mut b, lvl, &4u32.to_le_bytes());
    assert_eq!(
        read(&b),
        WireError::BadLevel {
            level: 4,
            max_level: 3
        }
    );
    put(&mut b, lvl, &u32::MAX.to_le_bytes());
    assert_eq!(
        read(&b),
        WireError::BadLevel {
            level: u32::MAX,
            max_level: 3
        }
    );
    // A valid but different level: the length no longer matches.
    put(&mut b, lvl, &2u32.to_le_bytes());
    assert!(matches!(read(&b), WireError::LengthMismatch { .. }));

    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, -1.0] {
        let mut b = good.clone();
        put(&mut b, scale, &bad.to_bits().to_le_bytes());
        assert_eq!(
            read(&b),
            WireError::BadScale {
                bits: bad.to_bits()
            }
        );
    }

    for bad in [0u32, 1, 4, u32::MAX] {
        let mut b = good.clone();
        put(&mut b, count, &bad.to_le_bytes());
        assert_eq!(read(&b), WireError::BadPolyCount { found: bad });
    }
    let mut b = good.clone();
    put(&mut b, count, &3u32.to_le_bytes());
    assert!(matches!(read(&b), WireError::LengthMismatch { .. }));

    // Coefficients equal to, or far above, their modulus: first poly limb 0,
    // second poly limb 1.
    let mut b = good.clone();
    put(&mut b, polys + 5 * 8, &q[0].to_le_bytes());
    assert_eq!(
        read(&b),
        WireError::CoefficientOutOfRange {
            limb: 0,
            index: 5,
            value: q[0],
            modulus: q[0]
        }
    );
    let mut b = good.clone();
    let at = polys + (2 * 1024 + 1024 + 1023) * 8;
    put(&mut b, at, &u64::MAX.to_le_bytes());
    assert_eq!(
        read(&b),
        WireError::CoefficientOutOfRange {
            limb: 1,
            index: 1023,
            value: u64::MAX,
            modulus: q[1]
        }
    );
    // q - 1 is fine.
    let mut b = good.clone();
    put(&mut b, at, &(q[1] - 1).to_le_bytes());
    assert!(wire::ciphertext_from_bytes(&f.params, &b, DEFAULT_LIMIT).is_ok());
}

#[test]
fn corrupted_keys_are_typed_errors() {
    let f = tiny();
    let qp: Vec<u64> = f.params.q().iter().chain(f.params.p()).copied().collect();

    // Public key: the P limb (last) holds a value ≥ p.
    let mut b = wire::public_key_to_bytes(&f.pk).unwrap();
    let at = ENVELOPE_LEN + 32 + 4 * 1024 * 8;
    put(&mut b, at, &qp[4].to_le_bytes());
    assert_eq!(
        wire_err(wire::public_key_from_bytes(&f.params, &b, DEFAULT_LIMIT)),
        WireError::CoefficientOutOfRange {
            limb: 4,
            index: 0,
            value: qp[4],
            modulus: qp[4]
        }
    );

    // Relinearization key: wrong digit count.
    let mut b = wire::relin_key_to_bytes(&f.rk).unwrap();
    let digits = f.params.digit_count() as u32;
    put(&mut b, ENVELOPE_LEN + 32, &(digits - 1).to_le_bytes());
    assert_eq!(
        wire_err(wire::relin_key_from_bytes(&f.params, &b, DEFAULT_LIMIT)),
        WireError::LengthMismatch {
            what: "key-switching digits",
            expected: u64::from(digits),
            found: u64::from(digits - 1)
        }
    );

    // Galois keys: even, too large, out-of-order elements; a huge count.
    let good = wire::galois_keys_to_bytes(small_galois()).unwrap();
    let elements: Vec<usize> = small_galois().elements().collect();
    let key_len = (good.len() - ENVELOPE_LEN - 4) / 2;
    let second = ENVELOPE_LEN + 4 + key_len;
    let read = |b: &[u8]| wire_err(wire::galois_keys_from_bytes(&f.params, b, DEFAULT_LIMIT));
    for (at, value, want) in [
        (
            ENVELOPE_LEN + 4,
            4u32,
            WireError::BadGaloisElement {
                element: 4,
                two_n: 2048,
            },
        ),
        (
            ENVELOPE_LEN + 4,
            2049,
            WireError::BadGaloisElement {
                element: 2049,
                two_n: 2048,
            },
        ),
        (
            second,
            elements[0] as u32,
            WireError::UnorderedGaloisElement {
                element: elements[0] as u64,
                previous: elements[0] as u64,
            },
        ),
        (
            second,
            1,
            WireError::UnorderedGaloisElement {
                element: 1,
                previous: elements[0] as u64,
            },
        ),
    ] {
        let mut b = good.clone();
        put(&mut b, at, &value.to_le_bytes());
        assert_eq!(read(&b), want);
    }
    let mut b = good.clone();
    put(&mut b, ENVELOPE_LEN, &u32::MAX.to_le_bytes());
    assert!(matches!(
        read(&b),
        WireError::LengthMismatch { expected: 1024, .. }
    ));
    put(&mut b, ENVELOPE_LEN, &3u32.to_le_bytes());
    assert!(matches!(read(&b), WireError::LengthMismatch { .. }));
}

#[test]
fn corrupted_secret_keys_are_typed_errors() {
    let f = tiny();
    let good = f.sk.to_secret_bytes();
    for (index, value) in [(0usize, 2i8), (17, -2), (1023, i8::MIN), (500, i8::MAX)] {
        let mut b = good.to_vec();
        b[ENVELOPE_LEN + index] = value as u8;
        assert_eq!(
            wire_err(SecretKey::from_secret_bytes(&f.params, &b)),
            WireError::BadSecretCoefficient {
                index: index as u64,
                value: i64::from(value)
            }
        );
    }
    // Short payload: the degree is wrong; long payload: above the N-byte limit.
    let mut b = good[..good.len() - 1].to_vec();
    put(&mut b, 40, &1023u64.to_le_bytes());
    assert_eq!(
        wire_err(SecretKey::from_secret_bytes(&f.params, &b)),
        WireError::BadDegree {
            found: 1023,
            expected: 1024
        }
    );
    let mut b = good.to_vec();
    b.push(0);
    put(&mut b, 40, &1025u64.to_le_bytes());
    assert_eq!(
        wire_err(SecretKey::from_secret_bytes(&f.params, &b)),
        WireError::TooLarge {
            len: 1025,
            limit: 1024
        }
    );
    let other = other_params();
    assert!(matches!(
        wire_err(SecretKey::from_secret_bytes(&other, &good)),
        WireError::ParamsMismatch { .. }
    ));
}

#[test]
fn corrupted_params_are_errors() {
    let f = tiny();
    let good = wire::params_to_bytes(&f.params).unwrap();
    let json = &good[ENVELOPE_LEN..];

    let with_payload = |id: [u8; 32], payload: &[u8]| {
        let mut b = good[..ENVELOPE_LEN].to_vec();
        b[8..40].copy_from_slice(&id);
        b[40..48].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        b.extend_from_slice(payload);
        b
    };
    // Not JSON.
    assert!(matches!(
        wire_err(wire::params_from_bytes_insecure_for_testing(
            &with_payload(f.params.id().0, b"{\"log_n\": x"),
            DEFAULT_LIMIT
        )),
        WireError::BadParamsJson { line: 1, .. }
    ));
    // A valid spec of another set under this id.
    let other = other_params();
    let other_json = &wire::params_to_bytes(&other).unwrap()[ENVELOPE_LEN..];
    assert_eq!(
        wire_err(wire::params_from_bytes_insecure_for_testing(
            &with_payload(f.params.id().0, other_json),
            DEFAULT_LIMIT
        )),
        WireError::ParamsMismatch {
            expected: f.params.id(),
            found: other.id()
        }
    );
    // Bit sizes instead of explicit primes are not the canonical encoding.
    let spec = serde_json::to_vec(&Preset::TinyInsecure.spec()).unwrap();
    assert!(matches!(
        wire_err(wire::params_from_bytes_insecure_for_testing(
            &with_payload(f.params.id().0, &spec),
            DEFAULT_LIMIT
        )),
        WireError::LengthMismatch {
            what: "params log_q entries",
            ..
        }
    ));
    // A spec that does not validate is a parameter error.
    let text = std::str::from_utf8(json)
        .unwrap()
        .replace("\"log_n\":10", "\"log_n\":11");
    assert_ne!(text.as_bytes(), json);
    assert!(matches!(
        wire::params_from_bytes_insecure_for_testing(
            &with_payload(f.params.id().0, text.as_bytes()),
            DEFAULT_LIMIT
        ),
        Err(Error::BadModulus { .. })
    ));
    assert_eq!(
        wire_err(wire::params_from_bytes_insecure_for_testing(&good, 10)),
        WireError::TooLarge {
            len: json.len() as u64,
            limit: 10
        }
    );
    // The params section is capped whatever the caller's limit: valid JSON padded with
    // whitespace to one byte over the cap is refused before it is parsed, at the cap it
    // still decodes.
    let cap = wire::MAX_PARAMS_BYTES as usize;
    let padded = |len: usize| {
        let mut p = json.to_vec();
        p.resize(len, b' ');
        with_payload(f.params.id().0, &p)
    };
    assert_eq!(
        wire_err(wire::params_from_bytes_insecure_for_testing(
            &padded(cap + 1),
            u64::MAX
        )),
        WireError::TooLarge {
            len: cap as u64 + 1,
            limit: cap as u64
        }
    );
    assert_eq!(
        wire::params_from_bytes_insecure_for_testing(&padded(cap), u64::MAX)
            .unwrap()
            .id(),
        f.params.id()
    );
}

#[test]
fn peek_envelope_checks_only_the_header() {
    for (kind, bytes, _) in corpus() {
        let env = peek_envelope(bytes).unwrap();
        assert_eq!(env.kind, *kind);
        assert_eq!(env.version, wire::FORMAT_VERSION);
        assert_eq!(env.payload_len, (bytes.len() - ENVELOPE_LEN) as u64);
        let _: Envelope = env;
    }
    assert_eq!(
        peek_envelope(b"FHEZ"),
        Err(WireError::Truncated {
            needed: 48,
            available: 4
        })
    );
    assert_eq!(
        peek_envelope(&[0u8; 48]),
        Err(WireError::BadMagic { found: [0; 4] })
    );
}

/// The sizes quoted in the docs, at the N13 preset (run with `--ignored --nocapture`).
#[test]
#[ignore = "slow: builds N13 keys"]
fn n13_sizes() {
    let f = common::n13();
    let pt = f
        .enc
        .encode(
            &values(64, 1),
            f.params.default_scale(),
            f.params.max_level(),
        )
        .unwrap();
    let ct = f.pk.encrypt(&f.params, &pt, &mut rng(3)).unwrap();
    let seeded = f.sk.encrypt_seeded(&pt, &mut rng(4)).unwrap();
    let gk = f.sk.galois_keys_pow2(&mut rng(5)).unwrap();
    let sizes = [
        ("ct_fresh", wire::ciphertext_to_bytes(&ct).unwrap().len()),
        (
            "ct_fresh_seeded",
            wire::seeded_ciphertext_to_bytes(&seeded).unwrap().len(),
        ),
        ("plaintext", wire::plaintext_to_bytes(&pt).unwrap().len()),
        (
            "public_key",
            wire::public_key_to_bytes(&f.pk).unwrap().len(),
        ),
        ("relin_key", wire::relin_key_to_bytes(&f.rk).unwrap().len()),
        (
            "galois_keys_pow2",
            wire::galois_keys_to_bytes(&gk).unwrap().len(),
        ),
        ("galois_keys_pow2_count", gk.len()),
        ("secret_key", f.sk.to_secret_bytes().len()),
        ("params", wire::params_to_bytes(&f.params).unwrap().len()),
    ];
    let bytes = wire::ciphertext_to_bytes(&ct).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..100 {
        std::hint::black_box(wire::ciphertext_to_bytes(std::hint::black_box(&ct)).unwrap());
    }
    let write = t.elapsed() / 100;
    let t = std::time::Instant::now();
    for _ in 0..100 {
        std::hint::black_box(
            wire::ciphertext_from_bytes(&f.params, std::hint::black_box(&bytes), DEFAULT_LIMIT)
                .unwrap(),
        );
    }
    let read = t.elapsed() / 100;
    println!("{sizes:#?}\nwrite {write:?} read {read:?}");
    let gk2 = wire::galois_keys_from_bytes(
        &f.params,
        &wire::galois_keys_to_bytes(&gk).unwrap(),
        DEFAULT_LIMIT,
    )
    .unwrap();
    assert_eq!(gk2, gk);
}

// ------------------------------------------------------------------ fuzz

#[derive(Clone, Debug)]
enum Mutation {
    /// Flip one bit.
    Flip(Index, u8),
    /// Cut the input.
    Truncate(Index),
    /// Overwrite 4 bytes (a u32 field, or part of a coefficient).
    Put32(Index, u32),
    /// Overwrite 8 bytes (payload_len, scale, a coefficient).
    Put64(Index, u64),
    /// Rewrite the payload_len field.
    PayloadLen(u64),
    /// Append bytes.
    Append(Vec<u8>),
}

fn interesting_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(0u64),
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        0u64..4096,
        Just(f64::NAN.to_bits()),
        Just(f64::INFINITY.to_bits()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), prop_oneof![any::<u32>(), Just(0u32), Just(u32::MAX), 0u32..8])
            .prop_map(|(i, v)| Mutation::Put32(i, v)),
        2 => (any::<Index>(), interesting_u64()).prop_map(|(i, v)| Mutation::Put64(i, v)),
        1 => interesting_u64().prop_map(Mutation::PayloadLen),
        1 => proptest::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
    ]
}

/// Positions are drawn mostly in the header and the first payload fields, where
/// a mutation changes the most, else anywhere.
fn position(bytes: &[u8], i: &Index, salt: u8) -> usize {
    if bytes.is_empty() {
        return 0;
    }
    if salt.is_multiple_of(2) {
        i.index(bytes.len().min(ENVELOPE_LEN + 48))
    } else {
        i.index(bytes.len())
    }
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip(i, bit) => {
            let at = position(bytes, i, *bit);
            if let Some(b) = bytes.get_mut(at) {
                *b ^= 1 << bit;
            }
        }
        Mutation::Truncate(i) => {
            let at = i.index(bytes.len().max(1));
            bytes.truncate(at);
        }
        Mutation::Put32(i, v) => {
            let at = position(bytes, i, *v as u8);
            put(bytes, at, &v.to_le_bytes());
        }
        Mutation::Put64(i, v) => {
            let at = position(bytes, i, (*v >> 3) as u8);
            put(bytes, at, &v.to_le_bytes());
        }
        Mutation::PayloadLen(v) => put(bytes, 40, &v.to_le_bytes()),
        Mutation::Append(extra) => bytes.extend_from_slice(extra),
    }
}

/// Runs a reader on possibly hostile bytes: it must return, never panic; whatever
/// it accepts must re-encode to exactly the same bytes (the format is canonical).
fn check_reader(read: Reader, bytes: &[u8], limit: u64) {
    if let Ok(Some(again)) = read(bytes, limit) {
        assert_eq!(
            again.as_slice(),
            bytes,
            "accepted bytes re-encode differently"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Mutations of valid encodings, for every reader.
    #[test]
    fn fuzz_mutated_encodings(
        which in any::<Index>(),
        muts in proptest::collection::vec(mutation(), 1..4),
        limit in prop_oneof![Just(DEFAULT_LIMIT), Just(u64::MAX), 0u64..100_000],
    ) {
        let corpus = corpus();
        let (_, good, read) = &corpus[which.index(corpus.len())];
        let mut bytes = good.clone();
        for m in &muts {
            apply(&mut bytes, m);
        }
        check_reader(*read, &bytes, limit);
    }

    /// Random bytes, bare or behind a valid envelope of a random kind, for every
    /// reader.
    #[test]
    fn fuzz_random_bytes(
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        tag in 0u16..10,
        enveloped in any::<bool>(),
        stated_len in prop_oneof![Just(None), interesting_u64().prop_map(Some)],
    ) {
        let f = tiny();
        let bytes = if enveloped {
            let mut b = b"FHEZ".to_vec();
            b.extend_from_slice(&1u16.to_le_bytes());
            b.extend_from_slice(&tag.to_le_bytes());
            b.extend_from_slice(&f.params.id().0);
            b.extend_from_slice(&stated_len.unwrap_or(payload.len() as u64).to_le_bytes());
            b.extend_from_slice(&payload);
            b
        } else {
            payload
        };
        for (_, _, read) in corpus() {
            check_reader(*read, &bytes, DEFAULT_LIMIT);
        }
        let _ = peek_envelope(&bytes);
    }

    /// A valid prefix (counts and levels intact) followed by random residues:
    /// accepted exactly when every residue is below its modulus.
    #[test]
    fn fuzz_random_residues(at in any::<Index>(), value in any::<u64>()) {
        let f = tiny();
        let mut bytes = wire::ciphertext_to_bytes(&ciphertext(0)).unwrap();
        let coeffs = (bytes.len() - ENVELOPE_LEN - 16) / 8;
        let i = at.index(coeffs);
        put(&mut bytes, ENVELOPE_LEN + 16 + i * 8, &value.to_le_bytes());
        let q0 = f.params.q()[0];
        let r = wire::ciphertext_from_bytes(&f.params, &bytes, DEFAULT_LIMIT);
        prop_assert_eq!(r.is_ok(), value < q0);
    }
}

// ------------------------------------------------------------------ committed fixtures

/// The values in the committed plaintext fixture.
fn fixture_values() -> Vec<f64> {
    (0..512).map(|j| f64::from(j) / 512.0 - 0.5).collect()
}

/// Committed encodings (tiny preset) and corrupted variants of them: old bytes
/// must keep reading, bad bytes must keep failing with the same error.
const FIXTURES: [(&str, &[u8]); 8] = [
    (
        "tiny_params.fhez",
        include_bytes!("fixtures/tiny_params.fhez"),
    ),
    (
        "tiny_params.bad_version.fhez",
        include_bytes!("fixtures/tiny_params.bad_version.fhez"),
    ),
    (
        "tiny_params.wrong_id.fhez",
        include_bytes!("fixtures/tiny_params.wrong_id.fhez"),
    ),
    (
        "tiny_plaintext_l0.fhez",
        include_bytes!("fixtures/tiny_plaintext_l0.fhez"),
    ),
    (
        "tiny_plaintext_l0.truncated.fhez",
        include_bytes!("fixtures/tiny_plaintext_l0.truncated.fhez"),
    ),
    (
        "tiny_plaintext_l0.bad_coeff.fhez",
        include_bytes!("fixtures/tiny_plaintext_l0.bad_coeff.fhez"),
    ),
    (
        "tiny_plaintext_l0.bad_scale.fhez",
        include_bytes!("fixtures/tiny_plaintext_l0.bad_scale.fhez"),
    ),
    (
        "tiny_plaintext_l0.bad_level.fhez",
        include_bytes!("fixtures/tiny_plaintext_l0.bad_level.fhez"),
    ),
];

fn fixture(name: &str) -> &'static [u8] {
    FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .unwrap()
}

#[test]
fn committed_fixtures_read_and_fail_as_pinned() {
    let f = tiny();
    let q0 = f.params.q()[0];
    let params =
        wire::params_from_bytes_insecure_for_testing(fixture("tiny_params.fhez"), DEFAULT_LIMIT)
            .unwrap();
    assert_eq!(params.id(), f.params.id());
    assert_eq!(
        wire_err(wire::params_from_bytes_insecure_for_testing(
            fixture("tiny_params.bad_version.fhez"),
            DEFAULT_LIMIT
        )),
        WireError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    assert!(matches!(
        wire_err(wire::params_from_bytes_insecure_for_testing(fixture("tiny_params.wrong_id.fhez"), DEFAULT_LIMIT)),
        WireError::ParamsMismatch { found, .. } if found == f.params.id()
    ));

    let good = fixture("tiny_plaintext_l0.fhez");
    let pt = wire::plaintext_from_bytes(&f.params, good, DEFAULT_LIMIT).unwrap();
    assert_eq!(wire::plaintext_to_bytes(&pt).unwrap(), good);
    let got = f.enc.decode(&pt).unwrap();
    assert!(common::max_err(&got, &fixture_values()) < 1e-6);

    let read = |name: &str| {
        wire_err(wire::plaintext_from_bytes(
            &f.params,
            fixture(name),
            DEFAULT_LIMIT,
        ))
    };
    assert_eq!(
        read("tiny_plaintext_l0.truncated.fhez"),
        WireError::Truncated {
            needed: good.len() as u64,
            available: 4000
        }
    );
    assert_eq!(
        read("tiny_plaintext_l0.bad_coeff.fhez"),
        WireError::CoefficientOutOfRange {
            limb: 0,
            index: 7,
            value: q0,
            modulus: q0
        }
    );
    assert_eq!(
        read("tiny_plaintext_l0.bad_scale.fhez"),
        WireError::BadScale {
            bits: f64::NAN.to_bits()
        }
    );
    assert_eq!(
        read("tiny_plaintext_l0.bad_level.fhez"),
        WireError::BadLevel {
            level: 9,
            max_level: 3
        }
    );
}

/// Rewrites the committed fixtures: `FHEZ_WRITE_FIXTURES=1 cargo test -p fhez-ckks
/// --test wire -- --ignored write_fixtures`. Only for deliberate format changes.
#[test]
#[ignore = "writes the committed fixtures"]
fn write_fixtures() {
    if std::env::var_os("FHEZ_WRITE_FIXTURES").is_none() {
        return;
    }
    let f = tiny();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();

    let params = wire::params_to_bytes(&f.params).unwrap();
    write("tiny_params.fhez", &params);
    let mut b = params.clone();
    put(&mut b, 4, &2u16.to_le_bytes());
    write("tiny_params.bad_version.fhez", &b);
    let mut b = params.clone();
    b[8] ^= 0xff;
    write("tiny_params.wrong_id.fhez", &b);

    let pt = f
        .enc
        .encode(&fixture_values(), f.params.default_scale(), 0)
        .unwrap();
    let good = wire::plaintext_to_bytes(&pt).unwrap();
    write("tiny_plaintext_l0.fhez", &good);
    write("tiny_plaintext_l0.truncated.fhez", &good[..4000]);
    let mut b = good.clone();
    put(
        &mut b,
        ENVELOPE_LEN + 12 + 7 * 8,
        &f.params.q()[0].to_le_bytes(),
    );
    write("tiny_plaintext_l0.bad_coeff.fhez", &b);
    let mut b = good.clone();
    put(&mut b, ENVELOPE_LEN + 4, &f64::NAN.to_bits().to_le_bytes());
    write("tiny_plaintext_l0.bad_scale.fhez", &b);
    let mut b = good.clone();
    put(&mut b, ENVELOPE_LEN, &9u32.to_le_bytes());
    write("tiny_plaintext_l0.bad_level.fhez", &b);
}

#[test]
fn insecure_params_are_refused_from_the_wire_unless_named_opt_in() {
    let f = tiny();
    let bytes = wire::params_to_bytes(&f.params).unwrap();
    assert_eq!(
        wire_err(wire::params_from_bytes(&bytes, DEFAULT_LIMIT)),
        WireError::InsecureParams { log_n: 10 }
    );
    let back = wire::params_from_bytes_insecure_for_testing(&bytes, DEFAULT_LIMIT).unwrap();
    assert_eq!(back.id(), f.params.id());
    // A secure set is read by the default reader.
    let secure = CkksParams::new(&Preset::N13Qp218.spec()).unwrap();
    let bytes = wire::params_to_bytes(&secure).unwrap();
    assert_eq!(
        wire::params_from_bytes(&bytes, DEFAULT_LIMIT).unwrap().id(),
        secure.id()
    );
}
