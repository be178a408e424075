//! CKKS precision at the benchmark set (N = 2^13, Q = 60+40+40, P = 60,
//! Δ = 2^40), as statistics over trials with thresholds derived from the
//! parameters, also held to the absolute targets 2^-25 (encrypt/decrypt) and
//! 2^-24 (multiply + relinearize + rescale).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use common::{max_err, n13, values};

const TRIALS: u64 = 5;

/// Standard deviation (in coefficient units) of the error a fresh public-key
/// ciphertext carries after the division by P: rounding δ0 + δ1·s with δ uniform
/// in ±1/2 (variance 1/12 per coefficient, times N·2/3 for the product with a
/// ternary s), plus the encoding's own rounding (1/12).
fn fresh_slot_sd(n: f64) -> f64 {
    let coeff_var = 1.0 / 12.0 + n * (2.0 / 3.0) / 12.0 + 1.0 / 12.0;
    // The real part of one slot sums N coefficients times cosines: variance N·v/2.
    (n * coeff_var / 2.0).sqrt()
}

fn log2_stats(errs: &[f64]) -> String {
    let mut e: Vec<f64> = errs.iter().map(|x| x.log2()).collect();
    e.sort_by(f64::total_cmp);
    format!("log2 errors per trial (sorted): {e:.2?}")
}

#[test]
fn encrypt_decrypt_precision_n13() {
    let f = n13();
    let (n, delta) = (f.params.n() as f64, f.params.default_scale());
    // 12 standard deviations: the maximum over 4096 slots of independent Gaussians
    // would stay near 4.5σ; the product δ1·s makes slot errors heavier-tailed, and
    // measured maxima sit near 8σ, so 12σ leaves room without hiding a real bug
    // (a missing rounding step alone costs 2 bits = 4σ).
    let bound = (12.0 * fresh_slot_sd(n) / delta).min(2f64.powi(-25));
    let slots = f.params.slots();
    let errs: Vec<f64> = (0..TRIALS)
        .map(|t| {
            let x = values(slots, 100 + t);
            let pt = f.enc.encode(&x, delta, f.params.max_level()).unwrap();
            let ct =
                f.pk.encrypt(&f.params, &pt, &mut common::rng(200 + t))
                    .unwrap();
            max_err(&f.enc.decode(&f.sk.decrypt(&ct).unwrap()).unwrap(), &x)
        })
        .collect();
    let worst = errs.iter().copied().fold(0.0, f64::max);
    println!(
        "enc/dec: bound 2^{:.2}; {}",
        bound.log2(),
        log2_stats(&errs)
    );
    assert!(
        worst <= bound,
        "enc/dec max error 2^{:.2} > bound 2^{:.2}; {}",
        worst.log2(),
        bound.log2(),
        log2_stats(&errs)
    );
    // And not suspiciously exact: real noise is there (a test that cannot fail is a defect).
    assert!(worst > 2f64.powi(-40));
}

#[test]
fn mul_relin_rescale_precision_n13() {
    let f = n13();
    let (n, delta) = (f.params.n() as f64, f.params.default_scale());
    // x·e_y + y·e_x (|x|, |y| ≤ 1) plus the rescale rounding: ≈ √3 fresh errors.
    let bound = (12.0 * 3f64.sqrt() * fresh_slot_sd(n) / delta).min(2f64.powi(-24));
    let slots = f.params.slots();
    let errs: Vec<f64> = (0..TRIALS)
        .map(|t| {
            let (x, y) = (values(slots, 300 + t), values(slots, 400 + t));
            let enc = |v: &[f64], s| {
                let pt = f.enc.encode(v, delta, f.params.max_level()).unwrap();
                f.pk.encrypt(&f.params, &pt, &mut common::rng(s)).unwrap()
            };
            let prod = f
                .eval
                .mul_relin_rescale(&enc(&x, 500 + t), &enc(&y, 600 + t), &f.rk)
                .unwrap();
            let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
            max_err(&f.enc.decode(&f.sk.decrypt(&prod).unwrap()).unwrap(), &want)
        })
        .collect();
    let worst = errs.iter().copied().fold(0.0, f64::max);
    println!(
        "mul+relin+rescale: bound 2^{:.2}; {}",
        bound.log2(),
        log2_stats(&errs)
    );
    assert!(
        worst <= bound,
        "mul max error 2^{:.2} > bound 2^{:.2}; {}",
        worst.log2(),
        bound.log2(),
        log2_stats(&errs)
    );
}

#[test]
fn rotation_precision_n13() {
    let f = n13();
    let slots = f.params.slots();
    let x = values(slots, 700);
    let pt = f
        .enc
        .encode(&x, f.params.default_scale(), f.params.max_level())
        .unwrap();
    let ct = f.pk.encrypt(&f.params, &pt, &mut common::rng(701)).unwrap();
    let r = f.eval.rotate(&ct, 1, &f.gk).unwrap();
    let want: Vec<f64> = (0..slots).map(|j| x[(j + 1) % slots]).collect();
    let err = max_err(&f.enc.decode(&f.sk.decrypt(&r).unwrap()).unwrap(), &want);
    assert!(err < 2f64.powi(-24), "rotate error 2^{:.2}", err.log2());
}
