//! Statistics of the key-switching error against the rounding floor of the parameters.
//!
//! A rotation by one slot is applied 32 times in succession to an encryption of zero. The
//! error of rotation `k` is `dec(ct_k) − rot(dec(ct_{k−1}))` in slot units (decoded values
//! times the scale): rotating the decrypted slots is exact, so this is the key-switching error
//! alone, fresh encryption noise excluded.
//!
//! The floor: key switching returns `round(x/P)` for both output polynomials plus the key noise
//! carried by the digits, so with `r0`, `r1` coefficients uniform in `[−½, ½]` (variance 1/12),
//! a uniform ternary secret (each coefficient non-zero with probability 2/3), digits `d_j`
//! uniform modulo `D_j` (variance `D_j²/12`) and key errors of standard deviation σ = 3.2, one
//! coefficient of `r0 + r1·s + Σ_j d_j·e_j / P` has variance
//!
//! `v = (1 + 2N/3)/12 + Σ_j N·σ²·D_j² / (12·P²)`
//!
//! and a slot (a sum of `N` coefficients times roots of unity) has `E|z|² = N·v =: σ²`.
//!
//! The slot error is not Gaussian: its large terms are products, `r1(ζ)·s(ζ)` and
//! `d_j(ζ)·e_j(ζ)/P`, of two independent near-Gaussian slot values, one of which (`s`, `e_j`)
//! is the same in every key switch. For such a product `z` with `E|z|² = σ²`,
//! `P(|z| > tσ) = 2t·K1(2t) ≈ sqrt(πt)·e^(−2t)`, so the expected maximum over `M` slots is
//! `t_M·σ` with `sqrt(π·t_M)·e^(−2·t_M) = 1/M` (about 5σ for `M = 2^12`, where a Gaussian would
//! give 3σ).
//!
//! The test asserts, at every preset: each rotation's root-mean-square slot error is within one
//! bit (a factor 2) of `σ`; the worst slot over all rotations is within one bit of the expected
//! maximum `t_M·σ` (`M` = slots × rotations); the mean error over the 32 rotations (variance
//! `σ²/32` where there is no bias) has no slot beyond one bit above its expected maximum; and
//! after 32 rotations the error stays within one bit of `sqrt(32)·σ` in RMS and
//! `sqrt(32)·t_M·σ` in its worst slot (independent errors add in variance).
//!
//! Relinearization (the same key switch, of `c2` with the key of `s²`) is held to the same
//! floor, and public-key encryption (SEAL's division by P of an encryption over Q·P) to the
//! rounding part alone, `σ² = N·(1 + 2N/3)/12` (its other terms are divided by P), in the
//! per-trial RMS, worst-slot and mean checks over independent trials.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use fhez_ckks::{CkksParams, Complex64, Encoder, Evaluator, Preset, SecretKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const ROTATIONS: usize = 32;
const SIGMA: f64 = 3.2;

/// `sqrt(N·v)`: the root-mean-square slot error of one key switch at the top level.
fn floor_rms(params: &CkksParams) -> f64 {
    let n = params.n() as f64;
    let log_p: f64 = params.p().iter().map(|&p| (p as f64).log2()).sum();
    let key_noise: f64 = params
        .q()
        .chunks(params.digit_size())
        .map(|digit| {
            let log_d: f64 = digit.iter().map(|&q| (q as f64).log2()).sum();
            n * SIGMA * SIGMA * (2.0 * (log_d - log_p)).exp2() / 12.0
        })
        .sum();
    let v = (1.0 + 2.0 * n / 3.0) / 12.0 + key_noise;
    (n * v).sqrt()
}

fn slots(enc: &Encoder, sk: &SecretKey, ct: &fhez_ckks::Ciphertext) -> Vec<Complex64> {
    let pt = sk.decrypt(ct).unwrap();
    let scale = pt.scale();
    enc.decode_complex(&pt)
        .unwrap()
        .into_iter()
        .map(|z| z * scale)
        .collect()
}

fn rotated(v: &[Complex64], step: usize) -> Vec<Complex64> {
    let mut out = v.to_vec();
    out.rotate_left(step % v.len());
    out
}

fn rms(v: &[Complex64]) -> f64 {
    (v.iter().map(Complex64::norm_sqr).sum::<f64>() / v.len() as f64).sqrt()
}

fn worst(v: &[Complex64]) -> f64 {
    v.iter().map(|z| z.norm()).fold(0.0, f64::max)
}

/// Runs the 32 rotations and returns the per-rotation errors and the total error.
fn rotation_errors(preset: Preset) -> (f64, usize, Vec<Vec<Complex64>>, Vec<Complex64>) {
    let params = CkksParams::new(&preset.spec()).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(0x6b73_6e6f);
    let sk = SecretKey::generate(&params, &mut rng).unwrap();
    let gk = sk.galois_keys(&[1], false, &mut rng).unwrap();
    let enc = Encoder::new(&params);
    let eval = Evaluator::new(&params);
    let zero = enc
        .encode(&[0.0], params.default_scale(), params.max_level())
        .unwrap();
    let mut ct = sk.encrypt(&zero, &mut rng).unwrap();
    let first = slots(&enc, &sk, &ct);
    let mut prev = first.clone();
    let mut errors = Vec::with_capacity(ROTATIONS);
    for _ in 0..ROTATIONS {
        ct = eval.rotate(&ct, 1, &gk).unwrap();
        let cur = slots(&enc, &sk, &ct);
        errors.push(
            cur.iter()
                .zip(rotated(&prev, 1))
                .map(|(a, b)| a - b)
                .collect(),
        );
        prev = cur;
    }
    let total = prev
        .iter()
        .zip(rotated(&first, ROTATIONS))
        .map(|(a, b)| a - b)
        .collect();
    (floor_rms(&params), params.slots(), errors, total)
}

/// `t_M`: the solution of `sqrt(π·t)·e^(−2t) = 1/M` (see the module documentation), by
/// bisection on `[1, 64]`, where the left side decreases.
fn expected_max_factor(m: usize) -> f64 {
    let target = 1.0 / m as f64;
    let (mut lo, mut hi) = (1.0f64, 64.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if (core::f64::consts::PI * mid).sqrt() * (-2.0 * mid).exp() > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

fn check(preset: Preset) {
    let (floor, m, errors, total) = rotation_errors(preset);
    let max_factor = expected_max_factor(m);
    let max_factor_all = expected_max_factor(m * errors.len());
    let name = preset.name();
    let per_rms: Vec<f64> = errors.iter().map(|e| rms(e)).collect();
    let per_worst: Vec<f64> = errors.iter().map(|e| worst(e)).collect();
    let worst_rms = per_rms.iter().copied().fold(0.0, f64::max);
    let worst_slot = per_worst.iter().copied().fold(0.0, f64::max);
    let count = errors.len() as f64;
    let mean: Vec<Complex64> = (0..m)
        .map(|j| errors.iter().map(|e| e[j]).sum::<Complex64>() / count)
        .collect();
    let mean_bound = 2.0 * floor / count.sqrt() * max_factor;
    let total_floor = floor * count.sqrt();
    println!(
        "{name}: floor RMS 2^{:.2} (expected worst slot 2^{:.2}); per rotation: worst RMS \
         2^{:.2}, worst slot 2^{:.2}; mean over rotations: worst slot 2^{:.2}; after \
         {ROTATIONS}: RMS 2^{:.2}, worst slot 2^{:.2}",
        floor.log2(),
        (floor * max_factor_all).log2(),
        worst_rms.log2(),
        worst_slot.log2(),
        worst(&mean).log2(),
        rms(&total).log2(),
        worst(&total).log2()
    );
    assert!(
        worst_rms <= 2.0 * floor,
        "{name}: RMS slot error 2^{:.2} > one bit above the floor 2^{:.2}",
        worst_rms.log2(),
        floor.log2()
    );
    assert!(
        worst_slot <= 2.0 * floor * max_factor_all,
        "{name}: worst slot error 2^{:.2} > one bit above the expected maximum 2^{:.2}",
        worst_slot.log2(),
        (floor * max_factor_all).log2()
    );
    assert!(
        worst(&mean) <= mean_bound,
        "{name}: mean error over {ROTATIONS} rotations reaches 2^{:.2} in one slot (bound 2^{:.2})",
        worst(&mean).log2(),
        mean_bound.log2()
    );
    assert!(
        rms(&total) <= 2.0 * total_floor && worst(&total) <= 2.0 * total_floor * max_factor,
        "{name}: after {ROTATIONS} rotations RMS 2^{:.2}, worst 2^{:.2} (floor 2^{:.2})",
        rms(&total).log2(),
        worst(&total).log2(),
        total_floor.log2()
    );
}

/// The per-trial checks of [`check`] (RMS, worst slot, mean over trials) for independent
/// trials of another operation.
fn check_trials(label: &str, floor: f64, m: usize, errors: &[Vec<Complex64>]) {
    let count = errors.len() as f64;
    let max_factor = expected_max_factor(m);
    let max_factor_all = expected_max_factor(m * errors.len());
    let worst_rms = errors.iter().map(|e| rms(e)).fold(0.0, f64::max);
    let worst_slot = errors.iter().map(|e| worst(e)).fold(0.0, f64::max);
    let mean: Vec<Complex64> = (0..m)
        .map(|j| errors.iter().map(|e| e[j]).sum::<Complex64>() / count)
        .collect();
    let mean_bound = 2.0 * floor / count.sqrt() * max_factor;
    println!(
        "{label}: floor RMS 2^{:.2} (expected worst slot 2^{:.2}); worst RMS 2^{:.2}, worst \
         slot 2^{:.2}; mean over {} trials: worst slot 2^{:.2} (bound 2^{:.2})",
        floor.log2(),
        (floor * max_factor_all).log2(),
        worst_rms.log2(),
        worst_slot.log2(),
        errors.len(),
        worst(&mean).log2(),
        mean_bound.log2()
    );
    assert!(
        worst_rms <= 2.0 * floor,
        "{label}: RMS 2^{:.2}",
        worst_rms.log2()
    );
    assert!(
        worst_slot <= 2.0 * floor * max_factor_all,
        "{label}: worst slot 2^{:.2}",
        worst_slot.log2()
    );
    assert!(
        worst(&mean) <= mean_bound,
        "{label}: mean reaches 2^{:.2}",
        worst(&mean).log2()
    );
}

/// Relinearization and public-key encryption errors at `preset` over `trials` trials.
fn check_relin_and_pk(preset: Preset, trials: usize) {
    let params = CkksParams::new(&preset.spec()).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(0x72_6c_6e);
    let sk = SecretKey::generate(&params, &mut rng).unwrap();
    let pk = sk.public_key(&mut rng).unwrap();
    let rk = sk.relin_key(&mut rng).unwrap();
    let enc = Encoder::new(&params);
    let eval = Evaluator::new(&params);
    let zero = enc
        .encode(&[0.0], params.default_scale(), params.max_level())
        .unwrap();
    let diff = |a: Vec<Complex64>, b: Vec<Complex64>| -> Vec<Complex64> {
        a.iter().zip(&b).map(|(x, y)| x - y).collect()
    };
    let mut relin = Vec::with_capacity(trials);
    let mut public = Vec::with_capacity(trials);
    for _ in 0..trials {
        let ct = sk.encrypt(&zero, &mut rng).unwrap();
        let product = eval.mul(&ct, &ct).unwrap();
        let relinearized = eval.relinearize(&product, &rk).unwrap();
        relin.push(diff(
            slots(&enc, &sk, &relinearized),
            slots(&enc, &sk, &product),
        ));
        let fresh = pk.encrypt(&params, &zero, &mut rng).unwrap();
        public.push(slots(&enc, &sk, &fresh));
    }
    let n = params.n() as f64;
    let rounding_floor = (n * (1.0 + 2.0 * n / 3.0) / 12.0).sqrt();
    let m = params.slots();
    check_trials(
        &format!("{} relinearize", preset.name()),
        floor_rms(&params),
        m,
        &relin,
    );
    check_trials(
        &format!("{} public-key encryption", preset.name()),
        rounding_floor,
        m,
        &public,
    );
}

#[test]
fn relin_and_pk_noise_tiny() {
    check_relin_and_pk(Preset::TinyInsecure, 16);
}

#[test]
fn relin_and_pk_noise_n15() {
    check_relin_and_pk(Preset::N15Qp881, 8);
}

#[test]
fn keyswitch_noise_tiny() {
    check(Preset::TinyInsecure);
}

#[test]
fn keyswitch_noise_n13() {
    check(Preset::N13Qp218);
}

#[test]
fn keyswitch_noise_n14() {
    check(Preset::N14Qp438);
}

#[test]
fn keyswitch_noise_n15() {
    check(Preset::N15Qp881);
}
