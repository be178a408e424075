//! Every evaluator operation checked against the same computation on plain f64
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! vectors, on the tiny test preset (fast) — the secure preset runs in
//! `precision.rs`.

mod common;

use common::{max_err, tiny, values};
use fhez_ckks::{Complex64, Error};

/// Tolerance on the tiny preset: scale 2^30, N = 2^10. A fresh ciphertext has slot
/// noise ≈ σ·√(N·(1 + 2N/3)) / Δ ≈ 2^-15; allow 2^-12 after a few operations.
const TOL: f64 = 1.0 / 4096.0;

fn encrypt(v: &[f64]) -> fhez_ckks::Ciphertext {
    let f = tiny();
    let pt = f
        .enc
        .encode(v, f.params.default_scale(), f.params.max_level())
        .unwrap();
    f.pk.encrypt(&f.params, &pt, &mut common::rng(7)).unwrap()
}

fn decrypt(ct: &fhez_ckks::Ciphertext) -> Vec<f64> {
    let f = tiny();
    f.enc.decode(&f.sk.decrypt(ct).unwrap()).unwrap()
}

#[test]
fn add_sub_neg_match_plain() {
    let f = tiny();
    let (x, y) = (values(512, 1), values(512, 2));
    let (cx, cy) = (encrypt(&x), encrypt(&y));
    let sum: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
    let diff: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
    let neg: Vec<f64> = x.iter().map(|a| -a).collect();
    assert!(max_err(&decrypt(&f.eval.add(&cx, &cy).unwrap()), &sum) < TOL);
    assert!(max_err(&decrypt(&f.eval.sub(&cx, &cy).unwrap()), &diff) < TOL);
    assert!(max_err(&decrypt(&f.eval.neg(&cx).unwrap()), &neg) < TOL);
}

#[test]
fn mul_relin_rescale_matches_plain_and_consumes_one_level() {
    let f = tiny();
    let (x, y) = (values(512, 3), values(512, 4));
    let (cx, cy) = (encrypt(&x), encrypt(&y));
    let prod = f.eval.mul_relin_rescale(&cx, &cy, &f.rk).unwrap();
    assert_eq!(prod.level(), f.params.max_level() - 1);
    assert_eq!(prod.size(), 2);
    let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
    assert!(max_err(&decrypt(&prod), &want) < TOL);
    // Without relinearization the 3-polynomial ciphertext still decrypts.
    let raw = f.eval.mul(&cx, &cy).unwrap();
    assert_eq!(raw.size(), 3);
    let raw = f.eval.rescale(&raw).unwrap();
    assert!(max_err(&decrypt(&raw), &want) < TOL);
}

#[test]
fn depth_three_chain_reaches_level_zero_then_errors() {
    let f = tiny();
    let x = values(256, 5);
    let mut ct = encrypt(&x);
    let mut want = x.clone();
    for _ in 0..f.params.max_level() {
        ct = f.eval.mul_relin_rescale(&ct, &ct, &f.rk).unwrap();
        want.iter_mut().for_each(|v| *v *= *v);
    }
    assert_eq!(ct.level(), 0);
    assert!(max_err(&decrypt(&ct), &want) < TOL);
    match f.eval.mul_relin_rescale(&ct, &ct, &f.rk) {
        Err(Error::LevelExhausted {
            needed: 1,
            available: 0,
            ..
        }) => {}
        other => panic!("expected LevelExhausted, got {other:?}"),
    }
}

#[test]
fn plaintext_and_scalar_operations() {
    let f = tiny();
    let (x, y) = (values(512, 6), values(512, 7));
    let cx = encrypt(&x);
    let scale = f.params.default_scale();
    let py = f.enc.encode(&y, scale, cx.level()).unwrap();
    let sum: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
    assert!(max_err(&decrypt(&f.eval.add_plain(&cx, &py).unwrap()), &sum) < TOL);
    let prod: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
    let mp = f
        .eval
        .rescale(&f.eval.mul_plain(&cx, &py).unwrap())
        .unwrap();
    assert!(max_err(&decrypt(&mp), &prod) < TOL);
    let plus: Vec<f64> = x.iter().map(|a| a + 0.75).collect();
    assert!(max_err(&decrypt(&f.eval.add_scalar(&cx, 0.75).unwrap()), &plus) < TOL);
    let times: Vec<f64> = x.iter().map(|a| a * -1.25).collect();
    let ms = f
        .eval
        .rescale(&f.eval.mul_scalar(&cx, -1.25, scale).unwrap())
        .unwrap();
    assert!(max_err(&decrypt(&ms), &times) < TOL);
    let triple: Vec<f64> = x.iter().map(|a| a * 3.0).collect();
    assert!(max_err(&decrypt(&f.eval.mul_integer(&cx, 3).unwrap()), &triple) < TOL);
}

#[test]
fn add_aligns_levels_and_scales() {
    let f = tiny();
    let (x, y) = (values(128, 8), values(128, 9));
    let (cx, cy) = (encrypt(&x), encrypt(&y));
    let sq = f.eval.mul_relin_rescale(&cx, &cx, &f.rk).unwrap(); // level L-1, scale Δ²/q
    let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * a + b).collect();
    let sum = f.eval.add(&sq, &cy).unwrap();
    assert_eq!(sum.level(), sq.level());
    assert!(max_err(&decrypt(&sum), &want) < TOL);
}

#[test]
fn rotations_exact_composed_and_hoisted() {
    let f = tiny();
    let slots = f.params.slots();
    let x = values(slots, 10);
    let cx = encrypt(&x);
    let rot = |k: i64| -> Vec<f64> {
        (0..slots)
            .map(|j| x[(j as i64 + k).rem_euclid(slots as i64) as usize])
            .collect()
    };
    for k in [1i64, 3, -3, 6, 100, -77, 511] {
        let got = decrypt(&f.eval.rotate(&cx, k, &f.gk).unwrap());
        assert!(max_err(&got, &rot(k)) < TOL, "step {k}");
    }
    let steps = [1i64, 2, 5, 7, 9];
    let hoisted = f.eval.rotate_hoisted(&cx, &steps, &f.gk).unwrap();
    for (k, ct) in steps.iter().zip(&hoisted) {
        assert!(max_err(&decrypt(ct), &rot(*k)) < TOL, "hoisted step {k}");
    }
}

#[test]
fn missing_galois_key_is_a_typed_error() {
    let f = tiny();
    let gk = f.sk.galois_keys(&[1], false, &mut common::rng(3)).unwrap();
    let cx = encrypt(&values(8, 11));
    match f.eval.rotate(&cx, 2, &gk) {
        Err(Error::MissingGaloisKey { step: 2 }) => {}
        other => panic!("expected MissingGaloisKey, got {other:?}"),
    }
    assert!(matches!(
        f.eval.conjugate(&cx, &gk),
        Err(Error::MissingConjugationKey)
    ));
}

#[test]
fn conjugation_of_complex_slots() {
    let f = tiny();
    let z: Vec<Complex64> = values(64, 12)
        .iter()
        .zip(values(64, 13))
        .map(|(a, b)| Complex64::new(*a, b))
        .collect();
    let pt = f
        .enc
        .encode_complex(&z, f.params.default_scale(), f.params.max_level())
        .unwrap();
    let ct = f.pk.encrypt(&f.params, &pt, &mut common::rng(4)).unwrap();
    let conj = f.eval.conjugate(&ct, &f.gk).unwrap();
    let got = f.enc.decode_complex(&f.sk.decrypt(&conj).unwrap()).unwrap();
    for (g, w) in got.iter().zip(&z) {
        assert!((g - w.conj()).norm() < TOL);
    }
}

#[test]
fn symmetric_and_seeded_encryption() {
    let f = tiny();
    let x = values(300, 14);
    let pt = f
        .enc
        .encode(&x, f.params.default_scale(), f.params.max_level())
        .unwrap();
    let seeded = f.sk.encrypt_seeded(&pt, &mut common::rng(5)).unwrap();
    let ct = seeded.expand(&f.params).unwrap();
    // Symmetric noise is only the Gaussian: far below the public-key bound.
    assert!(max_err(&decrypt(&ct), &x) < TOL / 16.0);
    let ct2 = f.sk.encrypt(&pt, &mut common::rng(6)).unwrap();
    assert!(max_err(&decrypt(&ct2), &x) < TOL / 16.0);
}

#[test]
fn errors_carry_numbers() {
    let f = tiny();
    let too_many = vec![0.0; f.params.slots() + 1];
    match f.enc.encode(&too_many, 1e9, 0) {
        Err(Error::TooManyValues { len, slots }) => assert_eq!((len, slots), (513, 512)),
        other => panic!("{other:?}"),
    }
    assert!(f.enc.encode(&[f64::NAN], 1e9, 0).is_err());
    let cx = encrypt(&values(4, 15));
    assert!(matches!(
        f.eval.drop_to_level(&cx, 9),
        Err(Error::LevelIncrease { .. })
    ));
    let low = f.eval.drop_to_level(&cx, 0).unwrap();
    assert!(matches!(
        f.eval.rescale(&low),
        Err(Error::LevelExhausted {
            op: "rescale",
            needed: 1,
            available: 0
        })
    ));
    // Δ·Δ at level 0 (50 bits of Q) overflows.
    assert!(matches!(
        f.eval.mul(&low, &low),
        Err(Error::ScaleOverflow { .. })
    ));
    // Objects from another parameter set are rejected.
    let other =
        fhez_ckks::CkksParams::new(&fhez_ckks::Preset::TinyInsecure.spec().with_log_scale(25))
            .unwrap();
    let enc2 = fhez_ckks::Encoder::new(&other);
    let pt2 = enc2.encode(&[1.0], 2f64.powi(25), 0).unwrap();
    assert!(matches!(
        f.eval.add_plain(&low, &pt2),
        Err(Error::ParamsMismatch { .. })
    ));
}

#[test]
fn hybrid_key_switching_with_two_special_primes() {
    // Two ciphertext primes per digit: P = p0·p1 must cover a 2-prime digit.
    let spec = fhez_ckks::CkksParamsSpec::new(10)
        .with_log_q(&[50, 30, 30, 30, 30])
        .with_log_p(&[55, 55])
        .with_log_scale(30)
        .insecure_for_testing();
    let params = fhez_ckks::CkksParams::new(&spec).unwrap();
    assert_eq!(params.digit_count(), 3);
    let mut r = common::rng(42);
    let sk = fhez_ckks::SecretKey::generate(&params, &mut r).unwrap();
    let pk = sk.public_key(&mut r).unwrap();
    let rk = sk.relin_key(&mut r).unwrap();
    let gk = sk.galois_keys(&[1, 5], true, &mut r).unwrap();
    let enc = fhez_ckks::Encoder::new(&params);
    let eval = fhez_ckks::Evaluator::new(&params);
    let x = values(512, 40);
    let ct = pk
        .encrypt(
            &params,
            &enc.encode(&x, params.default_scale(), 4).unwrap(),
            &mut r,
        )
        .unwrap();
    // Work at every level, so partial last digits are exercised too.
    let mut c = ct;
    let mut want = x.clone();
    for _ in 0..4 {
        c = eval.mul_relin_rescale(&c, &c, &rk).unwrap();
        want.iter_mut().for_each(|v| *v *= *v);
        let r5 = eval.rotate(&c, 5, &gk).unwrap();
        let got = enc.decode(&sk.decrypt(&r5).unwrap()).unwrap();
        let rot: Vec<f64> = (0..512).map(|j| want[(j + 5) % 512]).collect();
        assert!(max_err(&got, &rot) < TOL, "level {}", c.level());
    }
}

#[test]
fn dot_integer_matches_plain_and_reads_higher_levels_as_dropped() {
    let f = tiny();
    let xs: Vec<Vec<f64>> = (0..40).map(|j| values(256, 100 + j)).collect();
    let cts: Vec<_> = xs.iter().map(|x| encrypt(x)).collect();
    // One operand one level lower: the others are read at its level.
    let low = f
        .eval
        .drop_to_level(&cts[0], f.params.max_level() - 1)
        .unwrap();
    let mut refs: Vec<&fhez_ckks::Ciphertext> = cts.iter().collect();
    refs[0] = &low;
    let ks: Vec<i64> = (0..40).map(|j| j as i64 - 17).collect();
    let out = f
        .eval
        .dot_integer(
            &refs,
            &ks,
            f.params.max_level() - 1,
            f.params.default_scale(),
        )
        .unwrap();
    let want: Vec<f64> = (0..256)
        .map(|i| xs.iter().zip(&ks).map(|(x, &k)| x[i] * k as f64).sum())
        .collect();
    // 40 terms with |k| ≤ 22: noise grows by about the weights' l2 norm (≈ 80).
    assert!(max_err(&decrypt(&out), &want) < 128.0 * TOL);
    assert!(f.eval.dot_integer(&refs, &ks[..3], 0, 1.0).is_err());
    let lowest = f.eval.drop_to_level(&cts[1], 0).unwrap();
    assert!(matches!(
        f.eval.dot_integer(&[&lowest], &[1], 1, 1.0),
        Err(Error::LevelIncrease { from: 0, to: 1 })
    ));
}

#[test]
fn fused_relinearize_rescale_equals_the_two_steps() {
    let f = tiny();
    let (x, y) = (values(512, 50), values(512, 51));
    let (cx, cy) = (encrypt(&x), encrypt(&y));
    let prod = f.eval.mul(&cx, &cy).unwrap();
    let fused = f.eval.relinearize_rescale(&prod, &f.rk).unwrap();
    let steps = f
        .eval
        .rescale(&f.eval.relinearize(&prod, &f.rk).unwrap())
        .unwrap();
    assert_eq!((fused.level(), fused.size()), (steps.level(), 2));
    assert!((fused.scale() - steps.scale()).abs() < 1e-9 * steps.scale());
    let (a, b) = (decrypt(&fused), decrypt(&steps));
    // Both round the same quantities; they differ by a few units of the last place.
    assert!(max_err(&a, &b) < TOL / 16.0);
    let want: Vec<f64> = x.iter().zip(&y).map(|(p, q)| p * q).collect();
    assert!(max_err(&a, &want) < TOL);
    let low = f.eval.drop_to_level(&prod, 0).unwrap();
    assert!(matches!(
        f.eval.relinearize_rescale(&low, &f.rk),
        Err(Error::LevelExhausted { .. })
    ));
}

#[test]
fn into_forms_equal_allocating_forms_and_reuse_buffers() {
    let f = tiny();
    let x = values(512, 60);
    let cx = encrypt(&x);
    let py = f
        .enc
        .encode(&values(512, 61), f.params.default_scale(), cx.level())
        .unwrap();
    let mut out = cx.clone();
    f.eval.mul_plain_into(&cx, &py, &mut out).unwrap();
    assert_eq!(out, f.eval.mul_plain(&cx, &py).unwrap());
    let mut pt = f.sk.decrypt(&cx).unwrap();
    let ptr = pt.poly().as_slice().as_ptr();
    f.sk.decrypt_into(&cx, &mut pt).unwrap();
    assert_eq!(pt, f.sk.decrypt(&cx).unwrap());
    assert_eq!(
        pt.poly().as_slice().as_ptr(),
        ptr,
        "decrypt_into reuses its buffer"
    );
    // Errors leave the destination untouched.
    let before = out.clone();
    let py_low = f.enc.encode(&[1.0], f.params.default_scale(), 0).unwrap();
    assert!(f.eval.mul_plain_into(&cx, &py_low, &mut out).is_err());
    assert_eq!(out, before);
}

#[test]
fn values_reaching_half_the_modulus_are_errors_not_wrapped() {
    let f = tiny();
    let scale = f.params.default_scale();
    let q0 = f.params.q()[0] as f64;
    // At level 0 the modulus is q_0 alone: the largest encodable |x| is below q_0/(2·scale).
    let limit = q0 / 2.0 / scale;
    let too_large = limit * 1.01;
    match f.enc.encode(&[1.0, -too_large], scale, 0) {
        Err(Error::ValueTooLarge {
            index,
            log2_value,
            log2_half_q,
        }) => {
            assert_eq!(index, 1);
            assert!((log2_value - (too_large * scale).log2()).abs() < 1e-9);
            assert!((log2_half_q - (q0 / 2.0).log2()).abs() < 1e-9);
        }
        other => panic!("expected ValueTooLarge, got {other:?}"),
    }
    let complex = [Complex64::new(0.0, too_large)];
    assert!(matches!(
        f.enc.encode_complex(&complex, scale, 0),
        Err(Error::ValueTooLarge { index: 0, .. })
    ));
    assert!(matches!(
        f.enc.encode_constant(too_large, scale, 0),
        Err(Error::ValueTooLarge { index: 0, .. })
    ));
    // A quarter of the limit round-trips at level 0.
    let ok = limit / 4.0;
    let pt = f.enc.encode(&[ok, -ok], scale, 0).unwrap();
    let got = f
        .enc
        .decode(
            &f.sk
                .decrypt(&f.sk.encrypt(&pt, &mut common::rng(77)).unwrap())
                .unwrap(),
        )
        .unwrap();
    assert!(max_err(&got, &[ok, -ok]) < 1e-3, "{:?}", &got[..2]);
    // The same value is fine at the top level, where Q is far larger.
    assert!(
        f.enc
            .encode(&[too_large], scale, f.params.max_level())
            .is_ok()
    );
}
