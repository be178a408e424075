//! Decryption for release: the flooding noise has the documented standard deviation, and the
//! reply check refuses probing replies while accepting honest ones.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

mod common;

use common::{rng, tiny};
use fhez_ckks::{Complex64, Error, SharedDecryption};

/// Flooding with s = 8 and B = 2^6 on the N = 2^10 test set: σ = ½·32·2^6·2^8 = 2^18, so
/// each decoded value gets noise of standard deviation σ·sqrt(N/2)/Δ = 2^(18+4.5−30) ≈ 2^-7.5,
/// far above the fresh noise (≈ 2^-23) and the rounding step (2^-40 here).
#[test]
fn flooding_adds_the_documented_standard_deviation() {
    let f = tiny();
    let n = f.params.n();
    let slots = f.params.slots();
    let policy = SharedDecryption::new(8, 64.0, 40, slots).unwrap();
    let scale = f.params.default_scale();
    let want_std = policy.output_std(n, scale);
    assert!((policy.flooding_sigma(n) - 2f64.powi(18)).abs() < 1e-6);
    let values = common::values(slots, 5);
    let pt = f.enc.encode(&values, scale, f.params.max_level()).unwrap();
    let ct = f.sk.encrypt(&pt, &mut rng(50)).unwrap();
    let exact = f.enc.decode(&f.sk.decrypt(&ct).unwrap()).unwrap();
    // 8 decryptions × 512 slots: the flooding differences are independent across
    // decryptions; within one they are N(0, want_std²) per slot.
    let rounds = 8;
    let mut diffs = Vec::with_capacity(rounds * slots);
    let mut r = rng(51);
    for _ in 0..rounds {
        let shared = f.sk.decrypt_shared(&ct, &policy, &mut r).unwrap();
        assert_eq!(shared.len(), slots);
        diffs.extend(shared.iter().zip(&exact).map(|(a, b)| a - b));
    }
    let count = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / count;
    let var = diffs.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (count - 1.0);
    // Sample variance of `count` normals: relative standard error sqrt(2/count) (≈ 2.2 %);
    // accept within 6 standard errors. The mean has standard error want_std/sqrt(count).
    let rel = var / (want_std * want_std) - 1.0;
    assert!(
        rel.abs() < 6.0 * (2.0 / count).sqrt(),
        "variance {var:e} vs {:e} (relative {rel:+.3})",
        want_std * want_std
    );
    assert!(
        mean.abs() < 6.0 * want_std / count.sqrt(),
        "mean {mean:e}, std {want_std:e}"
    );
    // Without flooding the output would equal the exact decryption to the rounding step:
    // the noise really is there.
    assert!(var.sqrt() > 1000.0 * 2f64.powi(-40));
}

#[test]
fn outputs_are_rounded_to_the_promised_precision() {
    let f = tiny();
    let policy = SharedDecryption::new(1, 1.0, 6, 4).unwrap();
    let pt = f
        .enc
        .encode(&[0.3, -1.7, 2.0, 0.015], f.params.default_scale(), 1)
        .unwrap();
    let ct = f.sk.encrypt(&pt, &mut rng(60)).unwrap();
    let out = f.sk.decrypt_shared(&ct, &policy, &mut rng(61)).unwrap();
    assert_eq!(out.len(), 4);
    for (got, want) in out.iter().zip([0.3, -1.7, 2.0, 0.015]) {
        assert_eq!(
            got * 64.0,
            (got * 64.0).round(),
            "{got} is not a multiple of 2^-6"
        );
        assert!((got - want).abs() <= 1.0 / 64.0, "{got} vs {want}");
    }
}

#[test]
fn reply_check_accepts_honest_replies_and_rejects_probes() {
    let f = tiny();
    let n = f.params.n();
    let used = 4;
    let policy = SharedDecryption::new(4, 1024.0, 20, used).unwrap();
    let scale = f.params.default_scale();
    let level = f.params.max_level();
    let bound = policy.reply_bound(n, scale);
    // Honest: values in the used slots, zeros elsewhere, after a multiplication (more
    // noise than a fresh encryption).
    let x = [0.5, -0.25, 0.75, 1.0];
    let ct =
        f.sk.encrypt(&f.enc.encode(&x, scale, level).unwrap(), &mut rng(70))
            .unwrap();
    let sq = f.eval.mul_relin_rescale(&ct, &ct, &f.rk).unwrap();
    let out = f.sk.decrypt_shared(&sq, &policy, &mut rng(71)).unwrap();
    // Flooding noise (6 standard deviations), rounding (2^-21) and the product's own error.
    let tolerance = 6.0 * policy.output_std(n, sq.scale()) + 2f64.powi(-21) + 1e-6;
    for (got, v) in out.iter().zip(x) {
        assert!((got - v * v).abs() < tolerance, "{got} vs {}", v * v);
    }
    // Probes: a server adds four times the bound to an unused slot, or to the imaginary
    // part of a used slot.
    let probe = 4.0 * bound;
    let mut unused = vec![Complex64::new(0.0, 0.0); used + 1];
    unused[used] = Complex64::new(probe, 0.0);
    let mut imag = vec![Complex64::new(0.0, 0.0); used];
    imag[1] = Complex64::new(0.0, probe);
    for (delta, want_slot, want_imaginary) in [(unused, used, false), (imag, 1, true)] {
        let d = f.enc.encode_complex(&delta, scale, level).unwrap();
        let probed = f.eval.add_plain(&ct, &d).unwrap();
        match f.sk.decrypt_shared(&probed, &policy, &mut rng(72)) {
            Err(Error::ReplyRejected {
                slot,
                imaginary,
                log2_magnitude,
                log2_bound,
            }) => {
                assert_eq!((slot, imaginary), (want_slot, want_imaginary));
                assert!((log2_bound - bound.log2()).abs() < 1e-9);
                assert!(log2_magnitude > log2_bound);
            }
            other => panic!("probe in slot {want_slot} not rejected: {other:?}"),
        }
    }
}

#[test]
fn policies_out_of_range_and_oversized_flooding_are_errors() {
    assert!(matches!(
        SharedDecryption::new(0, 1.0, 10, 1),
        Err(Error::InvalidParam { .. })
    ));
    assert!(matches!(
        SharedDecryption::new(40, f64::NAN, 10, 1),
        Err(Error::InvalidParam { .. })
    ));
    assert!(matches!(
        SharedDecryption::new(40, 8.0, 53, 1),
        Err(Error::InvalidParam { .. })
    ));
    assert!(matches!(
        SharedDecryption::new(40, 8.0, 10, 0),
        Err(Error::InvalidParam { .. })
    ));
    let f = tiny();
    let ct =
        f.sk.encrypt(
            &f.enc.encode(&[1.0], f.params.default_scale(), 0).unwrap(),
            &mut rng(80),
        )
        .unwrap();
    // s = 40 at level 0 (Q ≈ 2^50): σ = 2^(4+3+40) cannot fit under Q/2.
    let policy = SharedDecryption::new(40, 8.0, 10, 1).unwrap();
    assert!(matches!(
        f.sk.decrypt_shared(&ct, &policy, &mut rng(81)),
        Err(Error::FloodingTooLarge { .. })
    ));
    let too_many = SharedDecryption::new(1, 1.0, 10, f.params.slots() + 1).unwrap();
    assert!(matches!(
        f.sk.decrypt_shared(&ct, &too_many, &mut rng(82)),
        Err(Error::TooManyValues { .. })
    ));
}

/// Whether a backend error is the engine's reply rejection.
fn rejected(e: &fhez_backend::Error) -> bool {
    matches!(
        e,
        fhez_backend::Error::Engine(inner)
            if matches!(inner.downcast_ref::<Error>(), Some(Error::ReplyRejected { .. }))
    )
}

#[test]
fn a_releasing_client_floods_every_decrypt_and_refuses_probes() {
    use fhez_backend::{Backend, Decrypt};
    let f = tiny();
    let client = fhez_ckks::CkksClient::generate_with_rng(&f.params, &[], &mut rng(90)).unwrap();
    let n = f.params.n();
    let used = 4;
    let policy = SharedDecryption::new(4, 1024.0, 12, f.params.slots()).unwrap();
    // Without a policy the engine client is exact; with one, `Decrypt` is for release.
    assert!(client.release().is_none());
    let releasing = client.clone().with_release(policy);
    let x = [0.5, -0.25, 0.75, 1.0];
    let ct = releasing.encrypt(&x).unwrap();
    let exact = releasing.decrypt_exact(&ct).unwrap();
    let out = Decrypt::decrypt(&releasing, &ct).unwrap();
    assert_eq!(out.len(), f.params.slots());
    let four = releasing.decrypt_release(&ct, used).unwrap();
    assert_eq!(four.len(), used);
    let step = 2f64.powi(12);
    let tolerance = 6.0 * policy.output_std(n, ct.scale()) + 0.5 / step + 1e-6;
    for (i, v) in x.iter().enumerate() {
        assert_eq!((four[i] * step).fract(), 0.0, "{} not rounded", four[i]);
        assert!((four[i] - v).abs() < tolerance, "{} vs {v}", four[i]);
        assert!((exact[i] - v).abs() < 1e-6, "{} vs {v}", exact[i]);
    }
    assert!(
        out.iter().zip(&exact).any(|(a, b)| a != b),
        "release equals the exact decryption"
    );
    // A server adds four times the reply bound to an unused slot, then to an imaginary part.
    let bound = policy.reply_bound(n, ct.scale());
    let server = client.server();
    let level = ct.level();
    for (slot, value) in [
        (used, fhez_ckks::Complex64::new(4.0 * bound, 0.0)),
        (1, fhez_ckks::Complex64::new(0.0, 4.0 * bound)),
    ] {
        let mut delta = vec![fhez_ckks::Complex64::new(0.0, 0.0); slot + 1];
        delta[slot] = value;
        let d = f.enc.encode_complex(&delta, ct.scale(), level).unwrap();
        let probed = server
            .import(f.eval.add_plain(ct.ciphertext(), &d).unwrap())
            .unwrap();
        let e = releasing.decrypt_release(&probed, used).unwrap_err();
        assert!(rejected(&e), "slot {slot}: {e}");
        // The exact opt-in does not check.
        releasing.decrypt_exact(&probed).unwrap();
        if slot == 1 {
            // Every slot in use: the imaginary parts are still checked.
            let e = Decrypt::decrypt(&releasing, &probed).unwrap_err();
            assert!(rejected(&e), "{e}");
        }
    }
}

/// A private-only policy checks the reply and rounds exactly as a shared one, and adds no
/// flooding: every output is the exact decryption rounded to the precision.
#[test]
fn a_private_only_policy_rounds_and_checks_without_flooding() {
    let f = tiny();
    let n = f.params.n();
    let used = 4;
    let policy = SharedDecryption::private_only(1024.0, 20, used).unwrap();
    assert!(!policy.floods());
    assert_eq!(policy.stat_security_bits(), 0);
    assert_eq!(policy.flooding_sigma(n), 0.0);
    let wider = policy.with_used_slots(8).unwrap();
    assert!(!wider.floods() && wider.used_slots() == 8);
    assert!(SharedDecryption::new(4, 1024.0, 20, used).unwrap().floods());
    let scale = f.params.default_scale();
    let level = f.params.max_level();
    let x = [0.5, -0.25, 0.75, 1.0];
    let ct =
        f.sk.encrypt(&f.enc.encode(&x, scale, level).unwrap(), &mut rng(100))
            .unwrap();
    let exact = f.enc.decode(&f.sk.decrypt(&ct).unwrap()).unwrap();
    let step = 2f64.powi(20);
    for seed in [101, 102] {
        let out = f.sk.decrypt_shared(&ct, &policy, &mut rng(seed)).unwrap();
        assert_eq!(out.len(), used);
        for (got, e) in out.iter().zip(&exact) {
            assert_eq!(
                *got,
                (e * step).round() / step,
                "no flooding: exact, rounded"
            );
        }
    }
    // The reply check still refuses a probe in an unused slot.
    let probe = 4.0 * policy.reply_bound(n, scale);
    let mut delta = vec![Complex64::new(0.0, 0.0); used + 1];
    delta[used] = Complex64::new(probe, 0.0);
    let probed = f
        .eval
        .add_plain(&ct, &f.enc.encode_complex(&delta, scale, level).unwrap())
        .unwrap();
    assert!(matches!(
        f.sk.decrypt_shared(&probed, &policy, &mut rng(103)),
        Err(Error::ReplyRejected { slot, imaginary: false, .. }) if slot == used
    ));
    assert!(matches!(
        SharedDecryption::private_only(0.5, 20, used),
        Err(Error::InvalidParam { .. })
    ));
}
