use super::*;
use crate::primes::ntt_primes;
use crate::test_util::basis;
use num_bigint::BigUint;
use num_traits::{ToPrimitive, Zero};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

type TestResult = core::result::Result<(), Box<dyn std::error::Error>>;

fn big_q(b: &RnsBasis) -> BigUint {
    b.moduli()
        .iter()
        .map(|m| BigUint::from(m.value()))
        .product()
}

fn to_words(x: &BigUint, len: usize) -> Vec<u64> {
    let mut w = x.to_u64_digits();
    w.resize(len, 0);
    w
}

/// The textbook CRT with big integers: Σ r_i·q̂_i·(q̂_i^-1 mod q_i) mod Q.
fn crt_oracle(b: &RnsBasis, residues: &[u64]) -> BigUint {
    let q = big_q(b);
    let mut acc = BigUint::zero();
    for (m, &r) in b.moduli().iter().zip(residues) {
        let qi = BigUint::from(m.value());
        let hat = &q / &qi;
        let inv = (&hat % &qi).modpow(&(&qi - 2u32), &qi);
        acc += BigUint::from(r) * hat * inv;
    }
    acc % q
}

/// Centered value as f64 via num-bigint.
fn centered_oracle(x: &BigUint, q: &BigUint) -> f64 {
    if x * 2u32 > *q {
        -(q - x).to_f64().unwrap()
    } else {
        x.to_f64().unwrap()
    }
}

fn residues_of(b: &RnsBasis, x: &BigUint) -> Vec<u64> {
    b.moduli()
        .iter()
        .map(|m| (x % m.value()).to_u64().unwrap())
        .collect()
}

fn random_below(rng: &mut impl RngCore, q: &BigUint) -> BigUint {
    let words = q.to_u64_digits().len() + 1;
    let digits: Vec<u32> = (0..2 * words).map(|_| rng.next_u32()).collect();
    BigUint::from_slice(&digits) % q
}

/// Interesting values: 0, ±1, small, near ±Q/2, near Q, and random.
fn interesting_values(rng: &mut impl RngCore, q: &BigUint, count: usize) -> Vec<BigUint> {
    let half = q / 2u32;
    let mut v = vec![
        BigUint::zero(),
        BigUint::from(1u32),
        q - 1u32,
        BigUint::from(123_456_789u64),
        q - 987_654_321u64 % q,
        half.clone(),
        &half + 1u32,
        &half - 1u32 % &half,
        q - &half,
        BigUint::from(1u64 << 53) + 1u32,
        q - (BigUint::from(1u64 << 53) + 1u32) % q,
        (BigUint::from(1u32) << 200u32) % q,
        // Around the 2^125 / 2^128 limits of the i128 fast path.
        (BigUint::from(1u32) << 125u32) - 1u32,
        q - ((BigUint::from(1u32) << 125u32) - 1u32) % q,
        BigUint::from(1u32) << 125u32,
        q - (BigUint::from(1u32) << 125u32) % q,
        (BigUint::from(1u32) << 128u32) + 5u32,
        q - ((BigUint::from(1u32) << 128u32) + 5u32) % q,
        (BigUint::from(1u32) << 127u32) + 3u32,
    ];
    while v.len() < count {
        v.push(random_below(rng, q));
    }
    v.truncate(count);
    v.iter().map(|x| x % q).collect()
}

#[test]
fn reconstruct_known_small() -> TestResult {
    let b = basis(16, &[20, 20]);
    let x = BigUint::from(123_456_789_012u64);
    let r = residues_of(&b, &x);
    assert_eq!(b.reconstruct(&r), to_words(&x, 1));
    assert_eq!(b.product_words(), to_words(&big_q(&b), 1).as_slice());
    Ok(())
}

#[test]
fn to_centered_f64_matches_bigint() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let n = 32;
    let configs: [&[u32]; 7] = [
        &[60],
        &[30],
        &[60, 40],
        &[61, 61],
        &[40, 40, 40],
        &[60, 40, 40, 40, 60],
        &[60; 16],
    ];
    for bits in configs {
        let b = basis(n, bits);
        let q = big_q(&b);
        let values = interesting_values(&mut rng, &q, n);
        let mut limbs = vec![0u64; b.len() * n];
        for (j, x) in values.iter().enumerate() {
            for (i, r) in residues_of(&b, x).into_iter().enumerate() {
                limbs[i * n + j] = r;
            }
        }
        let mut out = vec![0.0; n];
        b.to_centered_f64(&limbs, &mut out)?;
        for (j, x) in values.iter().enumerate() {
            assert_eq!(out[j], centered_oracle(x, &q), "bits {bits:?}, value {x}");
        }
        assert_eq!(
            b.to_centered_f64(&limbs[1..], &mut out),
            Err(Error::LengthMismatch {
                expected: b.len() * n,
                found: b.len() * n - 1
            })
        );
        assert_eq!(
            b.to_centered_f64(&limbs, &mut out[1..]),
            Err(Error::LengthMismatch {
                expected: n,
                found: n - 1
            })
        );
    }
    Ok(())
}

#[test]
fn to_f64_rounds_to_nearest_even() {
    // 2^64 + 2^11 is a tie between 2^64 and 2^64 + 2^12: rounds to even (2^64).
    assert_eq!(words::to_f64(&[1 << 11, 1]), 18_446_744_073_709_551_616.0);
    // 2^128 + 2^75 is a tie too; a sticky bit far below breaks it upwards.
    assert_eq!(words::to_f64(&[0, 1 << 11, 1]), 2f64.powi(128));
    assert_eq!(
        words::to_f64(&[1, 1 << 11, 1]),
        2f64.powi(128) + 2f64.powi(76)
    );
    assert_eq!(words::to_f64(&[0, 0, 0]), 0.0);
    assert_eq!(words::to_f64(&[5]), 5.0);
    assert_eq!(
        words::to_f64(&[0; 17].iter().copied().chain([1]).collect::<Vec<_>>()),
        f64::INFINITY
    );
}

#[test]
fn convert_approx_is_x_plus_small_multiple_of_q() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let n = 16;
    // (from bits, to bits): the CKKS shapes plus a 20-limb source to exercise the periodic
    // reduction of the u128 accumulators.
    let shapes: [(&[u32], &[u32]); 5] = [
        (&[50; 10], &[61]),
        (&[60, 40, 40, 40, 40, 40], &[61, 61]),
        (&[60, 40, 40], &[61, 59, 58, 57]),
        (&[40], &[60, 61]),
        (&[61; 20], &[59, 60]),
    ];
    for (from_bits, to_bits) in shapes {
        let all: Vec<u32> = from_bits.iter().chain(to_bits).copied().collect();
        let whole = basis(n, &all);
        let from = whole.prefix(from_bits.len())?;
        let to = RnsBasis::new(whole.tables()[from_bits.len()..].to_vec())?;
        let conv = BasisConverter::new(&from, &to)?;
        assert_eq!((conv.from_len(), conv.to_len()), (from.len(), to.len()));
        let q = big_q(&from);
        let values = interesting_values(&mut rng, &q, n);
        let mut input = vec![0u64; from.len() * n];
        for (j, x) in values.iter().enumerate() {
            for (i, r) in residues_of(&from, x).into_iter().enumerate() {
                input[i * n + j] = r;
            }
        }
        let mut out = vec![0u64; to.len() * n];
        conv.convert_approx(&input, &mut out);
        for (j, x) in values.iter().enumerate() {
            let got: Vec<u64> = (0..to.len()).map(|i| out[i * n + j]).collect();
            let u = (0..from.len()).find(|&u| residues_of(&to, &(x + &q * u)) == got);
            assert!(u.is_some(), "no u in [0, k) for value {x}");
        }
    }
    Ok(())
}

/// Centered representative of `x` in `[0, q)`, modulo `p`.
fn centered_mod(x: &BigUint, q: &BigUint, p: u64) -> u64 {
    let p_big = BigUint::from(p);
    if x * 2u32 > *q {
        let neg = (q - x) % &p_big;
        ((&p_big - neg) % &p_big).to_u64().unwrap()
    } else {
        (x % &p_big).to_u64().unwrap()
    }
}

#[test]
fn convert_exact_matches_big_integer_crt() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let n = 64;
    // One to twenty source limbs (one, two and three are the special-prime counts of the
    // presets), including small primes where the f64 estimate sits close to ½ more often.
    // Input and output primes below 2^50 take the IFMA52 kernel for the output limbs (the
    // models' [31, 26×6, 31] chains with two special primes; 40- and 50-bit digits).
    let shapes: [(&[u32], &[u32]); 12] = [
        (&[31, 31], &[26, 26, 26, 31]),
        (&[26, 26], &[31, 31]),
        (&[40, 40], &[40, 40, 49, 50]),
        (&[50, 50, 50], &[50, 26]),
        (&[60], &[40, 40, 61]),
        (&[60, 60], &[40, 40, 40, 61]),
        (&[61, 61, 61], &[40, 59]),
        (&[60, 40, 40], &[61, 59, 58, 57]),
        (&[20, 21, 22], &[60]),
        (&[50; 10], &[61]),
        (&[60, 40, 40, 40, 40, 40], &[61, 61]),
        (&[61; 20], &[59, 60]),
    ];
    for (from_bits, to_bits) in shapes {
        let all: Vec<u32> = from_bits.iter().chain(to_bits).copied().collect();
        let whole = basis(n, &all);
        let from = whole.prefix(from_bits.len())?;
        let to = RnsBasis::new(whole.tables()[from_bits.len()..].to_vec())?;
        let conv = BasisConverter::new(&from, &to)?;
        let q = big_q(&from);
        let half = &q / 2u32;
        let mut values = interesting_values(&mut rng, &q, n);
        // Every value within 8 of ±Q/2 (where the f64 estimate is ambiguous), replacing
        // random ones at the end.
        let edges: Vec<BigUint> = (0u32..8)
            .flat_map(|d| [&half - d, &half + 1u32 + d])
            .collect();
        let len = values.len();
        values[len - edges.len()..].clone_from_slice(&edges);
        let mut input = vec![0u64; from.len() * n];
        for (j, x) in values.iter().enumerate() {
            for (i, r) in residues_of(&from, x).into_iter().enumerate() {
                input[i * n + j] = r;
            }
        }
        let mut out = vec![0u64; to.len() * n];
        conv.convert_exact(&input, &mut out);
        for (j, x) in values.iter().enumerate() {
            for (i, p) in to.moduli().iter().enumerate() {
                assert_eq!(
                    out[i * n + j],
                    centered_mod(x, &q, p.value()),
                    "{from_bits:?} -> {to_bits:?}: value {x}, output prime {i}"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn convert_exact_random(seed in any::<u64>(), k in 1usize..6) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = 16;
        let bits: Vec<u32> = (0..k).map(|i| 40 + 5 * i as u32).chain([61, 41]).collect();
        let whole = basis(n, &bits);
        let from = whole.prefix(k).unwrap();
        let to = RnsBasis::new(whole.tables()[k..].to_vec()).unwrap();
        let conv = BasisConverter::new(&from, &to).unwrap();
        let q = big_q(&from);
        let values: Vec<BigUint> = (0..n).map(|_| random_below(&mut rng, &q)).collect();
        let mut input = vec![0u64; k * n];
        for (j, x) in values.iter().enumerate() {
            for (i, r) in residues_of(&from, x).into_iter().enumerate() {
                input[i * n + j] = r;
            }
        }
        let mut out = vec![0u64; to.len() * n];
        conv.convert_exact(&input, &mut out);
        for (j, x) in values.iter().enumerate() {
            for (i, p) in to.moduli().iter().enumerate() {
                prop_assert_eq!(out[i * n + j], centered_mod(x, &q, p.value()));
            }
        }
    }
}

#[test]
fn basis_construction() -> TestResult {
    let b = basis(16, &[60, 50, 40]);
    assert_eq!((b.len(), b.n(), b.is_empty()), (3, 16, false));
    assert!((b.product_bits() - big_q(&b).to_f64().unwrap().log2()).abs() < 1e-9);
    let p = b.prefix(2)?;
    assert_eq!(p.moduli(), &b.moduli()[..2]);
    assert_eq!(
        b.prefix(0).err(),
        Some(Error::LimbMismatch {
            expected: 3,
            found: 0
        })
    );
    assert_eq!(
        b.prefix(4).err(),
        Some(Error::LimbMismatch {
            expected: 3,
            found: 4
        })
    );
    assert_eq!(RnsBasis::new(vec![]).err(), Some(Error::EmptyBasis));
    let t = b.tables()[0].clone();
    let q0 = t.modulus().value();
    assert_eq!(
        RnsBasis::new(vec![t.clone(), t.clone()]).err(),
        Some(Error::DuplicateModulus { q: q0 })
    );
    let other = Arc::new(NttTable::new(*t.modulus(), 8)?);
    assert_eq!(
        RnsBasis::new(vec![t, other]).err(),
        Some(Error::DegreeMismatch {
            expected: 16,
            found: 8
        })
    );
    // Constants.
    let m = Modulus::new(ntt_primes(30, 16, 1, &[])?[0])?;
    assert_eq!(
        u128::from(b.product_mod(&m)),
        (big_q(&b) % m.value()).to_u64().unwrap().into()
    );
    for (i, qi) in b.moduli().iter().enumerate() {
        let hat = big_q(&b) / qi.value() % qi.value();
        assert_eq!(qi.mul(hat.to_u64().unwrap(), b.q_hat_inv(i).unwrap()), 1);
    }
    assert_eq!(b.q_hat_inv(3), None);
    assert!(format!("{b:?}").starts_with("RnsBasis { n: 16, moduli: ["));
    let small = basis(8, &[40]);
    assert_eq!(
        BasisConverter::new(&b, &small).err(),
        Some(Error::DegreeMismatch {
            expected: 16,
            found: 8
        })
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reconstruct_matches_bigint(k in 1usize..6, seed in any::<u64>()) {
        let b = basis(8, &[61, 60, 45, 33, 50, 59][..k]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let residues: Vec<u64> = b.moduli().iter().map(|m| rng.next_u64() % m.value()).collect();
        let expected = crt_oracle(&b, &residues);
        prop_assert_eq!(b.reconstruct(&residues), to_words(&expected, b.product_words().len()));
    }

    #[test]
    fn to_centered_matches_bigint_random(k in 1usize..6, seed in any::<u64>()) {
        let b = basis(8, &[61, 60, 45, 33, 50, 59][..k]);
        let q = big_q(&b);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let values: Vec<BigUint> = (0..8).map(|_| random_below(&mut rng, &q)).collect();
        let mut limbs = vec![0u64; k * 8];
        for (j, x) in values.iter().enumerate() {
            for (i, r) in residues_of(&b, x).into_iter().enumerate() {
                limbs[i * 8 + j] = r;
            }
        }
        let mut out = [0.0; 8];
        b.to_centered_f64(&limbs, &mut out).unwrap();
        for (o, x) in out.iter().zip(&values) {
            prop_assert_eq!(*o, centered_oracle(x, &q));
        }
    }
}

/// Converting disjoint column ranges (any start, several blocks) gives the conversion of the
/// whole input, for the scalar and the vector output paths and the one-prime path.
#[test]
fn convert_exact_columns_equal_the_whole() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let n = 2048;
    let shapes: [(&[u32], &[u32]); 4] = [
        (&[31, 31], &[26, 26, 26, 31]),
        (&[60, 60], &[40, 40, 61]),
        (&[40, 40, 40], &[40, 50]),
        (&[40], &[40, 60]),
    ];
    for (from_bits, to_bits) in shapes {
        let all: Vec<u32> = from_bits.iter().chain(to_bits).copied().collect();
        let whole = basis(n, &all);
        let from = whole.prefix(from_bits.len())?;
        let to = RnsBasis::new(whole.tables()[from_bits.len()..].to_vec())?;
        let conv = BasisConverter::new(&from, &to)?;
        let input: Vec<u64> = from
            .moduli()
            .iter()
            .flat_map(|q| {
                (0..n)
                    .map(|_| rng.next_u64() % q.value())
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut want = vec![0u64; to.len() * n];
        conv.convert_exact(&input, &mut want);
        for cut in [1usize, 5, 13, 256, 300, 1024] {
            let mut got = vec![u64::MAX; to.len() * n];
            let mut start = 0;
            while start < n {
                let end = n.min(start + cut + start % 7);
                let mut outs: Vec<&mut [u64]> = got
                    .chunks_exact_mut(n)
                    .map(|limb| &mut limb[start..end])
                    .collect();
                conv.convert_exact_columns(&input, start, &mut outs);
                start = end;
            }
            assert_eq!(
                got, want,
                "{from_bits:?} -> {to_bits:?}, pieces of about {cut}"
            );
        }
    }
    Ok(())
}
