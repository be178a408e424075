use super::*;
use crate::test_util::basis;
use crate::{Coeff, Ntt};

fn rng(tag: u8) -> ChaCha20Rng {
    seeded_rng([tag; 32])
}

fn mean_var(v: &[i64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<i64>() as f64 / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var)
}

#[test]
fn ternary_statistics() {
    let n = 100_000;
    let v = sample_ternary(&mut rng(1), n);
    assert!(v.iter().all(|x| (-1..=1).contains(x)));
    let (mean, var) = mean_var(&v);
    // sd(mean) = sqrt(2/3 / n) ≈ 0.0026; sd(var) ≈ sqrt(2/9 / n) ≈ 0.0015. Allow 5 sd.
    assert!(mean.abs() < 0.013, "mean {mean}");
    assert!((var - 2.0 / 3.0).abs() < 0.0075, "var {var}");
    for value in -1..=1 {
        let count = v.iter().filter(|&&x| x == value).count() as f64;
        // Binomial(n, 1/3): sd ≈ 149.
        assert!((count - n as f64 / 3.0).abs() < 750.0, "{value}: {count}");
    }
}

#[test]
fn gaussian_statistics() {
    let n = 100_000;
    let sigma = DEFAULT_SIGMA;
    let v = sample_gaussian(&mut rng(2), n, sigma);
    assert_eq!(gaussian_bound(sigma), 20);
    assert!(v.iter().all(|x| x.abs() <= 20));
    let (mean, var) = mean_var(&v);
    // sd(mean) = σ/sqrt(n) ≈ 0.010; sd(var) ≈ σ²·sqrt(2/n) ≈ 0.046. Allow 5 sd.
    assert!(mean.abs() < 0.051, "mean {mean}");
    assert!((var - sigma * sigma).abs() < 0.23, "var {var}");
    // Frequencies of small values against the exact discrete Gaussian probabilities.
    let weight = |x: i64| (-((x * x) as f64) / (2.0 * sigma * sigma)).exp();
    let total: f64 = (-20..=20).map(weight).sum();
    let mut chi2 = 0.0;
    for x in -8..=8 {
        let expected = n as f64 * weight(x) / total;
        let observed = v.iter().filter(|&&y| y == x).count() as f64;
        chi2 += (observed - expected).powi(2) / expected;
    }
    // 17 cells: the 99.99th percentile of chi-square(17) is about 45.
    assert!(chi2 < 45.0, "chi2 {chi2}");
}

#[test]
fn gaussian_other_sigmas_and_errors() {
    for sigma in [0.5, 1.0, 10.0] {
        let v = try_sample_gaussian(&mut rng(3), 20_000, sigma).unwrap();
        let bound = gaussian_bound(sigma);
        assert!(v.iter().all(|x| x.abs() <= bound));
        let (_, var) = mean_var(&v);
        // The exact variance of the clipped discrete Gaussian (below σ² for small σ).
        let weight = |x: i64| (-((x * x) as f64) / (2.0 * sigma * sigma)).exp();
        let total: f64 = (-bound..=bound).map(weight).sum();
        let exact: f64 = (-bound..=bound)
            .map(|x| (x * x) as f64 * weight(x))
            .sum::<f64>()
            / total;
        assert!(
            (var / exact - 1.0).abs() < 0.05,
            "sigma {sigma}: var {var} vs {exact}"
        );
    }
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, MAX_GAUSSIAN_SIGMA * 2.0] {
        assert!(matches!(
            try_sample_gaussian(&mut rng(3), 4, bad),
            Err(Error::InvalidSigma { .. })
        ));
    }
    assert_eq!(sample_gaussian(&mut rng(3), 0, 3.2), Vec::<i64>::new());
}

#[test]
fn cdt_is_monotone_and_symmetric() {
    let table = cdt(3.2, 20);
    assert_eq!(table.len(), 40);
    assert!(table.windows(2).all(|w| w[0] <= w[1]));
    // P[X <= -1] = P[X >= 1] = 2^64 - T(X <= 0) up to rounding.
    let below = table[19]; // X <= -1
    let at_most_zero = table[20];
    let above = u64::MAX - at_most_zero;
    assert!(below.abs_diff(above) < 1 << 12);
}

#[test]
fn uniform_values_in_range_and_balanced() {
    let b = basis(4096, &[60, 40, 20]);
    let mut p = Poly::<Ntt>::zero(4096, 3);
    sample_uniform_into(&mut rng(4), &b, &mut p);
    for (limb, q) in p.limbs_iter().zip(b.moduli()) {
        let qv = q.value();
        assert!(limb.iter().all(|&x| x < qv));
        // 16 equal buckets: chi-square(15) 99.99th percentile ≈ 42.
        let mut counts = [0f64; 16];
        for &x in limb {
            counts[((u128::from(x) * 16) / u128::from(qv)) as usize] += 1.0;
        }
        let expected = limb.len() as f64 / 16.0;
        let chi2: f64 = counts
            .iter()
            .map(|c| (c - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 42.0, "q = {qv}: chi2 {chi2}");
    }
}

#[test]
fn uniform_rejection_matters() {
    // q = 40961 (16 bits, 1 mod 2^13) has mask 2^16 - 1: ~37% of draws are rejected, and no
    // value may reach q.
    let b = {
        let t = crate::NttTable::new(crate::Modulus::new(40961).unwrap(), 16).unwrap();
        RnsBasis::new(vec![std::sync::Arc::new(t)]).unwrap()
    };
    let mut p = Poly::<Coeff>::zero(16, 1);
    for round in 0..200u8 {
        sample_uniform_into(&mut rng(round), &b, &mut p);
        assert!(p.as_slice().iter().all(|&x| x < 40961));
    }
}

#[test]
fn seeded_expansion_is_deterministic_and_documented() {
    let b = basis(16, &[40, 30]);
    let mut p1 = Poly::<Ntt>::zero(16, 2);
    let mut p2 = Poly::<Ntt>::zero(16, 2);
    sample_uniform_into(&mut seeded_rng([9; 32]), &b, &mut p1);
    sample_uniform_into(&mut seeded_rng([9; 32]), &b, &mut p2);
    assert_eq!(p1, p2);
    // Re-derive the documented expansion by hand: limb by limb, masked draws, rejection.
    let mut r = seeded_rng([9; 32]);
    let mut expected = Vec::new();
    for (i, q) in b.moduli().iter().enumerate() {
        let mask = (1u64 << q.bits()) - 1;
        while expected.len() < 16 * (i + 1) {
            let x = r.next_u64() & mask;
            if x < q.value() {
                expected.push(x);
            }
        }
    }
    assert_eq!(p1.as_slice(), expected.as_slice());
    let mut p3 = Poly::<Ntt>::zero(16, 2);
    sample_uniform_into(&mut seeded_rng([8; 32]), &b, &mut p3);
    assert_ne!(p1, p3);
    // Ternary and Gaussian are reproducible under a fixed seed too.
    assert_eq!(
        sample_ternary(&mut rng(5), 64),
        sample_ternary(&mut rng(5), 64)
    );
    assert_eq!(
        sample_gaussian(&mut rng(5), 64, 3.2),
        sample_gaussian(&mut rng(5), 64, 3.2)
    );
}
