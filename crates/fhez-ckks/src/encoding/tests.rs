//! Tests of the slot encoder against the direct `O(N²)` embedding, algebraic
//! properties (rotation, conjugation, symmetry, linearity), known answers and
//! error paths.

use std::error::Error;

use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use super::fft::unit_root;
use super::{Complex64, EncodingError, SlotEncoder, oracle};

type TestResult = Result<(), Box<dyn Error>>;

fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    // 53 random bits -> [-1, 1).
    (rng.next_u64() >> 11) as f64 * 2f64.powi(-52) - 1.0
}

fn random_coeffs(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| uniform(rng)).collect()
}

fn random_slots(rng: &mut ChaCha8Rng, len: usize) -> Vec<Complex64> {
    (0..len)
        .map(|_| Complex64::new(uniform(rng), uniform(rng)))
        .collect()
}

fn max_norm_c(a: &[Complex64]) -> f64 {
    a.iter().map(|z| z.norm()).fold(0.0, f64::max)
}

fn max_norm_r(a: &[f64]) -> f64 {
    a.iter().map(|x| x.abs()).fold(0.0, f64::max)
}

fn max_diff_c(a: &[Complex64], b: &[Complex64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).norm())
        .fold(0.0, f64::max)
}

fn max_diff_r(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Coefficients of `m(X^g)` in `R[X]/(X^N + 1)`: `X^i → ±X^{i·g mod N}`, with
/// a minus sign when `i·g mod 2N >= N` (because `X^N = −1`).
fn automorphism(coeffs: &[f64], g: usize) -> Vec<f64> {
    let n = coeffs.len();
    let mut out = vec![0.0; n];
    for (i, c) in coeffs.iter().enumerate() {
        let t = i * g % (2 * n);
        if t < n {
            out[t] += c;
        } else {
            out[t - n] -= c;
        }
    }
    out
}

const ORACLE_DEGREES: [usize; 5] = [4, 8, 32, 256, 1024];

#[test]
fn decode_matches_direct_embedding() -> TestResult {
    for n in ORACLE_DEGREES {
        let enc = SlotEncoder::new(n)?;
        let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
        let coeffs = random_coeffs(&mut rng, n);
        let want = oracle::slots_from_coeffs(&coeffs);
        let got = enc.slots_from_coeffs(&coeffs)?;
        let err = max_diff_c(&got, &want);
        assert!(
            err <= 1e-9 * max_norm_c(&want),
            "N={n}: decode differs from the direct embedding by {err:e}"
        );
    }
    Ok(())
}

#[test]
fn encode_matches_direct_interpolation() -> TestResult {
    for n in ORACLE_DEGREES {
        let enc = SlotEncoder::new(n)?;
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + n as u64);
        // Full and partial (zero-padded) slot vectors.
        for len in [n / 2, n / 4 + 1, 1] {
            let values = random_slots(&mut rng, len);
            let want = oracle::coeffs_from_slots(&values, n);
            let got = enc.coeffs_from_slots(&values)?;
            let err = max_diff_r(&got, &want);
            assert!(
                err <= 1e-9 * max_norm_r(&want),
                "N={n}, len={len}: encode differs from the direct formula by {err:e}"
            );
        }
    }
    Ok(())
}

/// Round-trip tolerance `1e-12 · log2(N) · max|v|`.
///
/// Justification: both directions are radix-2 FFTs with twiddles accurate to
/// `μ ≈ 2u` (`u = 2^-53`). Higham (Accuracy and Stability of Numerical
/// Algorithms, 2nd ed., Thm 24.2) bounds the computed transform by
/// `‖ŷ − y‖₂ ≤ log2(n)·η·‖y‖₂ / (1 − log2(n)·η)` with
/// `η = μ + γ₄(√2 + μ) ≈ 8u ≈ 9e-16`. The transform is `√n` times a unitary
/// map (`n = N/2`) and the `1/n` scale and the real/imaginary fold are exact,
/// so the round trip errs by at most `≈ 2·log2(n)·η·‖v‖₂ ≤ 2·log2(n)·η·√n·max|v|`.
/// For `n ≤ 2^16` that is `≤ 32·9e-16·256·max|v| ≈ 7.4e-12·max|v|`, below
/// `1e-12·log2(N)·max|v|` (`≥ 1.7e-11·max|v|` there). Typical observed errors
/// are ~1e-15 (errors add like a random walk, not worst case).
fn round_trip_tolerance(n: usize, max_input: f64) -> f64 {
    1e-12 * (n as f64).log2() * max_input
}

#[test]
fn round_trip_slots_to_coeffs_to_slots_up_to_2_16() -> TestResult {
    for log_n in 1..=16 {
        let n = 1usize << log_n;
        let enc = SlotEncoder::new(n)?;
        let mut rng = ChaCha8Rng::seed_from_u64(2000 + log_n);
        let values = random_slots(&mut rng, n / 2);
        let back = enc.slots_from_coeffs(&enc.coeffs_from_slots(&values)?)?;
        let err = max_diff_c(&back, &values);
        let tol = round_trip_tolerance(n, max_norm_c(&values));
        assert!(
            err <= tol,
            "N=2^{log_n}: round-trip error {err:e} > {tol:e}"
        );
    }
    Ok(())
}

#[test]
fn round_trip_coeffs_to_slots_to_coeffs_up_to_2_16() -> TestResult {
    for log_n in 1..=16 {
        let n = 1usize << log_n;
        let enc = SlotEncoder::new(n)?;
        let mut rng = ChaCha8Rng::seed_from_u64(3000 + log_n);
        let coeffs = random_coeffs(&mut rng, n);
        let back = enc.coeffs_from_slots(&enc.slots_from_coeffs(&coeffs)?)?;
        let err = max_diff_r(&back, &coeffs);
        // |u_k| <= √2·max|m| for the folded complex coefficients.
        let tol = round_trip_tolerance(n, 2f64.sqrt() * max_norm_r(&coeffs));
        assert!(
            err <= tol,
            "N=2^{log_n}: round-trip error {err:e} > {tol:e}"
        );
    }
    Ok(())
}

#[test]
fn real_slots_decode_real_and_encode_antisymmetric() -> TestResult {
    for n in [4, 16, 512] {
        let enc = SlotEncoder::new(n)?;
        let mut rng = ChaCha8Rng::seed_from_u64(4000 + n as u64);
        let values = random_coeffs(&mut rng, n / 2);
        let coeffs = enc.coeffs_from_real_slots(&values)?;
        // Real slots mean m(x) = m(1/x) on every root, i.e. m_{N-k} = -m_k.
        let scale = max_norm_r(&coeffs);
        assert!(
            coeffs[n / 2].abs() <= 1e-14 * scale,
            "m_(N/2) = {}",
            coeffs[n / 2]
        );
        for k in 1..n {
            assert!(
                (coeffs[n - k] + coeffs[k]).abs() <= 1e-14 * scale,
                "N={n}: m_{} != -m_{k}",
                n - k
            );
        }
        let slots = enc.slots_from_coeffs(&coeffs)?;
        for (z, v) in slots.iter().zip(&values) {
            assert!(
                (z.re - v).abs() <= 1e-13 && z.im.abs() <= 1e-13,
                "{z} vs {v}"
            );
        }
    }
    Ok(())
}

#[test]
fn real_slots_path_equals_complex_path_bitwise() -> TestResult {
    let enc = SlotEncoder::new(256)?;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let values = random_coeffs(&mut rng, 100);
    let complex: Vec<Complex64> = values.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    assert_eq!(
        enc.coeffs_from_real_slots(&values)?,
        enc.coeffs_from_slots(&complex)?
    );
    Ok(())
}

#[test]
fn real_coeffs_give_conjugate_symmetric_full_evaluation() -> TestResult {
    for n in [8, 64] {
        let enc = SlotEncoder::new(n)?;
        let mut rng = ChaCha8Rng::seed_from_u64(6000 + n as u64);
        let coeffs = random_coeffs(&mut rng, n);
        let m = 2 * n as u64;
        // All N primitive 2N-th roots: odd exponents.
        for e in (1..m).step_by(2) {
            let a = oracle::evaluate_at(&coeffs, e);
            let b = oracle::evaluate_at(&coeffs, m - e);
            assert!((a - b.conj()).norm() <= 1e-12, "N={n}, e={e}");
        }
        // The slots and their conjugates cover every odd exponent once.
        let group = oracle::rotation_group(n);
        let mut covered: Vec<u64> = group.iter().flat_map(|&g| [g, m - g]).collect();
        covered.sort_unstable();
        assert_eq!(covered, (1..m).step_by(2).collect::<Vec<_>>());
        // And the encoder's slots are the evaluations at ζ^{5^j}.
        let slots = enc.slots_from_coeffs(&coeffs)?;
        for (z, &g) in slots.iter().zip(&group) {
            assert!((z - oracle::evaluate_at(&coeffs, g)).norm() <= 1e-12);
            assert!((z.conj() - oracle::evaluate_at(&coeffs, m - g)).norm() <= 1e-12);
        }
    }
    Ok(())
}

#[test]
fn positive_rotation_step_rotates_slots_left() -> TestResult {
    for n in [4, 8, 64, 1024] {
        let enc = SlotEncoder::new(n)?;
        let slots = n / 2;
        let mut rng = ChaCha8Rng::seed_from_u64(7000 + n as u64);
        let coeffs = random_coeffs(&mut rng, n);
        let z = enc.slots_from_coeffs(&coeffs)?;
        let s = slots as i64;
        for step in [0, 1, 2, 3, -1, -2, s - 1, s + 2, -s - 3, i64::MAX, i64::MIN] {
            let g = enc.rotation_galois_element(step);
            let rotated = enc.slots_from_coeffs(&automorphism(&coeffs, g))?;
            let k = step.rem_euclid(s) as usize;
            // Left rotation: out[j] = in[(j + k) mod slots].
            let want: Vec<Complex64> = (0..slots).map(|j| z[(j + k) % slots]).collect();
            let err = max_diff_c(&rotated, &want);
            assert!(err <= 1e-11, "N={n}, step={step}: error {err:e}");
        }
    }
    Ok(())
}

#[test]
fn conjugation_galois_element_conjugates_slots() -> TestResult {
    for n in [2, 8, 256] {
        let enc = SlotEncoder::new(n)?;
        let mut rng = ChaCha8Rng::seed_from_u64(8000 + n as u64);
        let coeffs = random_coeffs(&mut rng, n);
        let z = enc.slots_from_coeffs(&coeffs)?;
        let g = enc.conjugation_galois_element();
        assert_eq!(g, 2 * n - 1);
        let conj = enc.slots_from_coeffs(&automorphism(&coeffs, g))?;
        let want: Vec<Complex64> = z.iter().map(Complex64::conj).collect();
        assert!(max_diff_c(&conj, &want) <= 1e-12);
    }
    Ok(())
}

#[test]
fn galois_elements_known_values() -> TestResult {
    let enc = SlotEncoder::new(8)?; // 2N = 16, rotation group {1, 5, 9, 13}.
    let got: Vec<usize> = (-1..=4).map(|k| enc.rotation_galois_element(k)).collect();
    assert_eq!(got, [13, 1, 5, 9, 13, 1]);
    assert_eq!(enc.conjugation_galois_element(), 15);
    let big = SlotEncoder::new(1 << 17)?;
    let m = 1usize << 18;
    for k in [1i64, 7, -7, 1 << 40] {
        let g = big.rotation_galois_element(k);
        let g_inv = big.rotation_galois_element(-k);
        assert_eq!(g * g_inv % m, 1, "5^k · 5^-k = 1 mod 2N");
    }
    assert_eq!(SlotEncoder::new(2)?.rotation_galois_element(-5), 1);
    Ok(())
}

/// N = 8, 2N = 16, slots at ζ^{1, 5, 9, 13}, ζ = exp(iπ/8). With
/// `c = cos(π/8)`, `s = sin(π/8)` and real slots `z = [1, 2, 3, 4]`:
/// `m_k = (1/4)·Σ_j z_j cos(π·k·g_j/8)`, by hand:
/// * k=0: (1+2+3+4)/4 = 5/2
/// * k=1: cos(π/8), cos(5π/8), cos(9π/8), cos(13π/8) = c, −s, −c, s → (c − 2s − 3c + 4s)/4 = (s − c)/2
/// * k=2: √2/2·(1, −1, 1, −1) → −2·(√2/2)/4 = −√2/4
/// * k=3: s, c, −s, −c → (s + 2c − 3s − 4c)/4 = −(s + c)/2
/// * k=4: cos(odd·π/2) = 0
/// * k=5,6,7: −m_3, −m_2, −m_1 (real slots ⇒ `m_{N−k} = −m_k`); k=5 checked
///   directly: −s, −c, s, c → (s + c)/2.
#[test]
fn known_answer_n8_real_ramp() -> TestResult {
    let enc = SlotEncoder::new(8)?;
    let c = (std::f64::consts::PI / 8.0).cos();
    let s = (std::f64::consts::PI / 8.0).sin();
    let r = std::f64::consts::SQRT_2 / 4.0;
    let want = [
        2.5,
        (s - c) / 2.0,
        -r,
        -(s + c) / 2.0,
        0.0,
        (s + c) / 2.0,
        r,
        (c - s) / 2.0,
    ];
    let got = enc.coeffs_from_real_slots(&[1.0, 2.0, 3.0, 4.0])?;
    assert!(max_diff_r(&got, &want) <= 1e-15, "{got:?}");
    // Numerically: [2.5, -0.2705980501, -0.3535533906, -0.6532814824, 0, ...].
    assert!((got[1] + 0.270_598_050_073_098_5).abs() < 1e-15);
    let back = enc.slots_from_coeffs(&want)?;
    let expected = [1.0, 2.0, 3.0, 4.0].map(|x| Complex64::new(x, 0.0));
    assert!(max_diff_c(&back, &expected) <= 1e-14);
    Ok(())
}

/// N = 8, z = [i, 0, 0, 0]: `m_k = (1/4)·Re(i·ζ^{−k}) = sin(kπ/8)/4`.
#[test]
fn known_answer_n8_imaginary_unit_in_slot_0() -> TestResult {
    let enc = SlotEncoder::new(8)?;
    let want: Vec<f64> = (0..8)
        .map(|k| (k as f64 * std::f64::consts::PI / 8.0).sin() / 4.0)
        .collect();
    let got = enc.coeffs_from_slots(&[Complex64::new(0.0, 1.0)])?;
    assert!(max_diff_r(&got, &want) <= 1e-15, "{got:?}");
    Ok(())
}

/// N = 2: one slot at ζ = i, so z = m_0 + i·m_1 exactly.
#[test]
fn degree_two_is_the_complex_number() -> TestResult {
    let enc = SlotEncoder::new(2)?;
    assert_eq!(enc.slots(), 1);
    assert_eq!(
        enc.slots_from_coeffs(&[3.0, -7.5])?,
        [Complex64::new(3.0, -7.5)]
    );
    assert_eq!(
        enc.coeffs_from_slots(&[Complex64::new(0.25, 2.0)])?,
        [0.25, 2.0]
    );
    Ok(())
}

#[test]
fn rejects_bad_degrees() {
    for n in [0, 1, 3, 6, 12, 1000, 1 << 18, usize::MAX] {
        assert_eq!(
            SlotEncoder::new(n).err(),
            Some(EncodingError::InvalidDegree { n }),
            "n={n}"
        );
    }
    assert!(SlotEncoder::new(1 << 17).is_ok());
}

#[test]
fn rejects_bad_inputs_and_leaves_out_untouched() -> TestResult {
    let enc = SlotEncoder::new(16)?;
    let too_many = vec![Complex64::new(1.0, 0.0); 9];
    assert_eq!(
        enc.coeffs_from_slots(&too_many),
        Err(EncodingError::TooManyValues { len: 9, slots: 8 })
    );
    assert_eq!(
        enc.coeffs_from_real_slots(&[0.5; 9]),
        Err(EncodingError::TooManyValues { len: 9, slots: 8 })
    );
    let mut values = vec![Complex64::new(1.0, 0.0); 5];
    values[3].im = f64::NAN;
    assert_eq!(
        enc.coeffs_from_slots(&values),
        Err(EncodingError::NonFinite { index: 3 })
    );
    assert_eq!(
        enc.coeffs_from_real_slots(&[0.0, f64::NEG_INFINITY]),
        Err(EncodingError::NonFinite { index: 1 })
    );
    let mut coeffs = vec![0.0; 16];
    coeffs[15] = f64::INFINITY;
    assert_eq!(
        enc.slots_from_coeffs(&coeffs),
        Err(EncodingError::NonFinite { index: 15 })
    );
    assert_eq!(
        enc.slots_from_coeffs(&[0.0; 8]),
        Err(EncodingError::LengthMismatch {
            expected: 16,
            found: 8
        })
    );
    let mut short = [7.0; 15];
    assert_eq!(
        enc.coeffs_from_slots_into(&[], &mut short),
        Err(EncodingError::LengthMismatch {
            expected: 16,
            found: 15
        })
    );
    assert_eq!(
        enc.coeffs_from_real_slots_into(&[], &mut short),
        Err(EncodingError::LengthMismatch {
            expected: 16,
            found: 15
        })
    );
    let mut out = [Complex64::new(7.0, 7.0); 9];
    assert_eq!(
        enc.slots_from_coeffs_into(&[0.0; 16], &mut out),
        Err(EncodingError::LengthMismatch {
            expected: 8,
            found: 9
        })
    );
    // Validation happens before any write.
    let mut buf = [7.0; 16];
    assert!(enc.coeffs_from_slots_into(&values, &mut buf).is_err());
    assert_eq!(buf, [7.0; 16]);
    let mut out = [Complex64::new(7.0, 7.0); 8];
    assert!(enc.slots_from_coeffs_into(&coeffs, &mut out).is_err());
    assert_eq!(out, [Complex64::new(7.0, 7.0); 8]);
    Ok(())
}

#[test]
fn into_variants_match_allocating_and_overwrite_stale_buffers() -> TestResult {
    let enc = SlotEncoder::new(64)?;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let values = random_slots(&mut rng, 20);
    let mut buf = vec![123.0; 64];
    enc.coeffs_from_slots_into(&values, &mut buf)?;
    assert_eq!(buf, enc.coeffs_from_slots(&values)?);
    let mut out = vec![Complex64::new(-5.0, 5.0); 32];
    enc.slots_from_coeffs_into(&buf, &mut out)?;
    assert_eq!(out, enc.slots_from_coeffs(&buf)?);
    Ok(())
}

#[test]
fn twiddles_are_accurate_and_exact_on_axes() {
    for log_m in 2..=18 {
        let m = 1usize << log_m;
        for e in (0..m)
            .step_by((m / 64).max(1))
            .chain([1, m / 8 + 1, m - 1, 3 * m + 5])
        {
            let w = unit_root(e, m);
            let reference =
                Complex64::from_polar(1.0, std::f64::consts::TAU * (e % m) as f64 / m as f64);
            assert!((w - reference).norm() <= 1e-15, "m={m}, e={e}");
            assert!((w.norm() - 1.0).abs() <= 3e-16, "m={m}, e={e}");
        }
        assert_eq!(unit_root(0, m), Complex64::new(1.0, 0.0));
        assert_eq!(unit_root(m / 4, m), Complex64::new(0.0, 1.0));
        assert_eq!(unit_root(m / 2, m), Complex64::new(-1.0, 0.0));
        assert_eq!(unit_root(3 * m / 4, m), Complex64::new(0.0, -1.0));
    }
}

fn degree_strategy() -> impl Strategy<Value = usize> {
    (1u32..=10).prop_map(|log_n| 1usize << log_n)
}

proptest! {
    #[test]
    fn encode_is_linear(
        n in degree_strategy(),
        seed in any::<u64>(),
        alpha in -100.0f64..100.0,
        beta in -100.0f64..100.0,
    ) {
        let enc = SlotEncoder::new(n).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let a = random_slots(&mut rng, n / 2);
        let b = random_slots(&mut rng, n / 2);
        let mix: Vec<Complex64> = a.iter().zip(&b).map(|(x, y)| x * alpha + y * beta).collect();
        let lhs = enc.coeffs_from_slots(&mix).unwrap();
        let ca = enc.coeffs_from_slots(&a).unwrap();
        let cb = enc.coeffs_from_slots(&b).unwrap();
        let rhs: Vec<f64> = ca.iter().zip(&cb).map(|(x, y)| alpha * x + beta * y).collect();
        let tol = 1e-12 * (alpha.abs() + beta.abs() + 1.0) * (n as f64).log2().max(1.0);
        prop_assert!(max_diff_r(&lhs, &rhs) <= tol);
    }

    #[test]
    fn decode_is_linear(
        n in degree_strategy(),
        seed in any::<u64>(),
        alpha in -100.0f64..100.0,
        beta in -100.0f64..100.0,
    ) {
        let enc = SlotEncoder::new(n).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let a = random_coeffs(&mut rng, n);
        let b = random_coeffs(&mut rng, n);
        let mix: Vec<f64> = a.iter().zip(&b).map(|(x, y)| alpha * x + beta * y).collect();
        let lhs = enc.slots_from_coeffs(&mix).unwrap();
        let za = enc.slots_from_coeffs(&a).unwrap();
        let zb = enc.slots_from_coeffs(&b).unwrap();
        let rhs: Vec<Complex64> = za.iter().zip(&zb).map(|(x, y)| x * alpha + y * beta).collect();
        // Slot magnitudes grow like √N·max|m| (random coefficients).
        let tol = 1e-12 * (alpha.abs() + beta.abs() + 1.0) * (n as f64).sqrt() * (n as f64).log2().max(1.0);
        prop_assert!(max_diff_c(&lhs, &rhs) <= tol);
    }
}

/// Release-mode timing at N = 8192 and 16384 (target: ≤ 60 µs per direction at
/// N = 8192). Prints the minimum and median over 201 batches of 20 calls. Run
/// with `cargo test --release -- --ignored timing --nocapture`.
#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn timing_n8192_n16384() -> TestResult {
    use std::time::Instant;
    type Stats = Result<(f64, f64), Box<dyn Error>>;
    fn measure(f: &mut dyn FnMut() -> TestResult) -> Stats {
        let mut samples = Vec::new();
        for _ in 0..201 {
            let start = Instant::now();
            for _ in 0..20 {
                f()?;
            }
            samples.push(start.elapsed().as_secs_f64() / 20.0 * 1e6);
        }
        samples.sort_by(f64::total_cmp);
        Ok((samples[0], samples[100]))
    }
    for n in [8192usize, 16384] {
        let enc = SlotEncoder::new(n)?;
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let values = random_slots(&mut rng, n / 2);
        let mut coeffs = vec![0.0; n];
        let mut slots = vec![Complex64::new(0.0, 0.0); n / 2];
        let (enc_min, enc_med) =
            measure(&mut || Ok(enc.coeffs_from_slots_into(&values, &mut coeffs)?))?;
        let (dec_min, dec_med) =
            measure(&mut || Ok(enc.slots_from_coeffs_into(&coeffs, &mut slots)?))?;
        println!(
            "N={n}: coeffs_from_slots min {enc_min:.1} µs / median {enc_med:.1} µs, \
             slots_from_coeffs min {dec_min:.1} µs / median {dec_med:.1} µs"
        );
        if n == 8192 && !cfg!(debug_assertions) {
            assert!(enc_min <= 60.0 && dec_min <= 60.0);
        }
    }
    Ok(())
}
