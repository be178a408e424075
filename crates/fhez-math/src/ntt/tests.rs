use super::*;
use crate::primes::ntt_primes;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

type TestResult = core::result::Result<(), Box<dyn std::error::Error>>;

fn random_vec(rng: &mut impl RngCore, n: usize, bound: u64) -> Vec<u64> {
    (0..n).map(|_| rng.next_u64() % bound).collect()
}

/// Test primes for degree n: a 61-, 50-, 40- and a small (≤ 30-bit) prime.
fn test_moduli(n: usize) -> Vec<Modulus> {
    let mut out = Vec::new();
    for bits in [61, 50, 40, 30] {
        out.push(Modulus::new(ntt_primes(bits, n, 1, &[]).unwrap()[0]).unwrap());
    }
    out
}

/// Direct evaluation of `a` at `ψ^e` (O(n) per point).
fn evaluate(q: &Modulus, a: &[u64], x: u64) -> u64 {
    a.iter().rev().fold(0, |acc, &c| q.add(q.mul(acc, x), c))
}

#[test]
fn known_answer_q17_n8() -> TestResult {
    let table = NttTable::new(Modulus::new(17)?, 8)?;
    assert_eq!(table.psi(), 3);
    let mut a = [1u64, 2, 3, 4, 5, 6, 7, 8];
    table.forward(&mut a);
    // Computed by hand/independently as a(3^(2·brv(i)+1)) mod 17.
    assert_eq!(a, [5, 0, 13, 8, 9, 11, 5, 8]);
    table.inverse(&mut a);
    assert_eq!(a, [1, 2, 3, 4, 5, 6, 7, 8]);
    Ok(())
}

#[test]
fn known_answer_q7681_n16() -> TestResult {
    let table = NttTable::new(Modulus::new(7681)?, 16)?;
    assert_eq!(table.psi(), 97);
    let mut a: Vec<u64> = (1..=16).map(|i| 100 * i).collect();
    table.forward(&mut a);
    assert_eq!(
        a,
        [
            2377, 6117, 5154, 6209, 1098, 1610, 5564, 4544, 3213, 6800, 6187, 7656, 6140, 276,
            7410, 374
        ]
    );
    Ok(())
}

#[test]
fn forward_matches_evaluation_definition() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for n in [2usize, 4, 8, 16, 32, 64, 128, 256, 512] {
        for q in test_moduli(n) {
            let table = NttTable::new(q, n)?;
            let a = random_vec(&mut rng, n, q.value());
            let mut ntt = a.clone();
            table.forward(&mut ntt);
            for (i, &v) in ntt.iter().enumerate() {
                let e = table.evaluation_exponent(i) as u64;
                assert_eq!(v, evaluate(&q, &a, q.pow(table.psi(), e)), "n={n} i={i}");
            }
        }
    }
    Ok(())
}

#[test]
fn round_trip() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for n in [2usize, 4, 8, 16, 32, 64, 128, 1024, 2048, 8192] {
        for q in test_moduli(n) {
            let table = NttTable::new(q, n)?;
            let a = random_vec(&mut rng, n, q.value());
            let mut b = a.clone();
            table.forward(&mut b);
            assert!(b.iter().all(|&x| x < q.value()));
            table.inverse(&mut b);
            assert_eq!(a, b, "n = {n}, q = {}", q.value());
        }
    }
    Ok(())
}

#[test]
fn extreme_inputs() -> TestResult {
    for n in [2usize, 32] {
        for q in test_moduli(n) {
            let table = NttTable::new(q, n)?;
            let a = vec![q.value() - 1; n];
            let mut b = a.clone();
            table.forward(&mut b);
            table.inverse(&mut b);
            assert_eq!(a, b);
        }
    }
    Ok(())
}

#[test]
fn lazy_ranges() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 256;
    for q in test_moduli(n) {
        let qv = q.value();
        let table = NttTable::new(q, n)?;
        // forward_lazy: inputs in [0, 4q) -> outputs in [0, 4q), congruent to forward.
        let a = random_vec(&mut rng, n, 4 * qv);
        let mut lazy = a.clone();
        table.forward_lazy(&mut lazy);
        assert!(lazy.iter().all(|&x| x < 4 * qv));
        let mut exact: Vec<u64> = a.iter().map(|x| x % qv).collect();
        table.forward(&mut exact);
        assert!(lazy.iter().zip(&exact).all(|(l, e)| l % qv == *e));
        // inverse accepts [0, 2q).
        let mut wide: Vec<u64> = exact
            .iter()
            .zip(&a)
            .map(|(&e, &r)| if r % 2 == 0 { e } else { e + qv })
            .collect();
        table.inverse(&mut wide);
        assert!(wide.iter().zip(&a).all(|(w, r)| *w == r % qv));
    }
    Ok(())
}

#[test]
fn pointwise_product_matches_schoolbook() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for n in [16usize, 64, 1024] {
        for q in test_moduli(n) {
            let table = NttTable::new(q, n)?;
            let a = random_vec(&mut rng, n, q.value());
            let b = random_vec(&mut rng, n, q.value());
            let expected = negacyclic_mul_schoolbook(&q, &a, &b);
            let (mut fa, mut fb) = (a.clone(), b.clone());
            table.forward(&mut fa);
            table.forward(&mut fb);
            crate::zq::mul_slices_assign(&q, &mut fa, &fb);
            table.inverse(&mut fa);
            assert_eq!(fa, expected, "n = {n}, q = {}", q.value());
        }
    }
    Ok(())
}

#[test]
fn schoolbook_small_known_answer() -> TestResult {
    // (1 + X)(1 + X) = 1 + 2X + X^2; with n = 2, X^2 = -1, so the product is 2X.
    let q = Modulus::new(17)?;
    assert_eq!(negacyclic_mul_schoolbook(&q, &[1, 1], &[1, 1]), [0, 2]);
    // X^3 · X = X^4 = -1 for n = 4.
    assert_eq!(
        negacyclic_mul_schoolbook(&q, &[0, 0, 0, 1], &[0, 1, 0, 0]),
        [16, 0, 0, 0]
    );
    Ok(())
}

#[test]
fn galois_coeff_known_answer() -> TestResult {
    let q = Modulus::new(17)?;
    // n = 4, g = 3: X -> X^3, X^2 -> X^6 = -X^2, X^3 -> X^9 = X.
    let mut out = [0u64; 4];
    apply_galois_coeff(&q, &[1, 2, 3, 4], 3, &mut out);
    assert_eq!(out, [1, 4, 14, 2]);
    // g = 2n - 1: X -> X^-1 = -X^(n-1).
    apply_galois_coeff(&q, &[1, 2, 3, 4], 7, &mut out);
    assert_eq!(out, [1, 13, 14, 15]);
    Ok(())
}

#[test]
fn galois_permutation_matches_coeff_automorphism() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for n in [2usize, 8, 256, 4096] {
        let q = test_moduli(n)[0];
        let table = NttTable::new(q, n)?;
        let a = random_vec(&mut rng, n, q.value());
        let mut a_ntt = a.clone();
        table.forward(&mut a_ntt);
        let mut elts = vec![1usize, 3, 5, 25, 2 * n - 1];
        elts.push((q.pow(5, 7) as usize % (2 * n)) | 1);
        for g in elts {
            let mut rotated = vec![0u64; n];
            apply_galois_coeff(&q, &a, g, &mut rotated);
            table.forward(&mut rotated);
            let perm = galois_permutation_ntt(n, g);
            let permuted: Vec<u64> = perm.iter().map(|&p| a_ntt[p]).collect();
            assert_eq!(permuted, rotated, "n = {n}, g = {g}");
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            assert!(sorted.iter().enumerate().all(|(i, &p)| i == p));
        }
    }
    assert!(galois_permutation_ntt(0, 3).is_empty());
    Ok(())
}

#[test]
fn table_errors() -> TestResult {
    let candidates = ntt_primes(40, 1024, 16, &[])?;
    let q = Modulus::new(candidates.into_iter().find(|q| q % 8192 != 1).unwrap())?;
    assert_eq!(
        NttTable::new(q, 1).err(),
        Some(Error::InvalidDegree { n: 1 })
    );
    assert_eq!(
        NttTable::new(q, 12).err(),
        Some(Error::InvalidDegree { n: 12 })
    );
    assert_eq!(
        NttTable::new(q, 1 << 18).err(),
        Some(Error::InvalidDegree { n: 1 << 18 })
    );
    assert_eq!(
        NttTable::new(q, 4096).err(),
        Some(Error::NotNttFriendly {
            q: q.value(),
            n: 4096
        }),
    );
    // 1 mod 16 but composite: 33 = 3 · 11.
    assert_eq!(
        NttTable::new(Modulus::new(33)?, 8).err(),
        Some(Error::NotNttFriendly { q: 33, n: 8 })
    );
    assert!(NttTable::new(Modulus::new(ntt_primes(30, 1 << 17, 1, &[])?[0])?, 1 << 17).is_ok());
    Ok(())
}

#[test]
fn debug_is_short() -> TestResult {
    let table = NttTable::new(Modulus::new(17)?, 8)?;
    assert_eq!(format!("{table:?}"), "NttTable { q: 17, n: 8, psi: 3, .. }");
    Ok(())
}
