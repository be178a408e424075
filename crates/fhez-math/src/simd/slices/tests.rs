//! The slice kernels against their scalar specifications, bit for bit.
//!
//! The `Emu` tests run everywhere (including Miri) and check the kernel logic on emulated
//! lanes; the AVX-512 tests run through the public dispatch on CPUs that have the
//! instructions, and compare the new lane operations with their emulation.

use super::*;
use crate::primes::{is_prime, ntt_primes};
use crate::rns::convert_one_scalar;
use crate::simd::Emu;
use crate::zq;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

type TestResult = core::result::Result<(), Box<dyn std::error::Error>>;

/// Prime sizes of the presets and models (26, 30, 31, 40, 60: `crates/fhez-ckks/src/params`
/// and the CNN's `[31, 26×6, 31]`) and the limits of each kernel (50 bits for IFMA52, 62 for
/// `Modulus`).
const BITS: [u32; 10] = [26, 30, 31, 40, 49, 50, 51, 60, 61, 62];

/// Lengths: whole vectors plus a scalar tail (and a preset degree outside Miri).
fn lengths() -> Vec<usize> {
    if cfg!(miri) {
        vec![21]
    } else {
        vec![8, 21, 1 << 12, (1 << 14) + 3]
    }
}

/// `count` distinct primes of `bits` bits, largest first (62 bits: a direct search below
/// `2^62`, the largest size `Modulus` accepts).
fn primes(bits: u32, count: usize) -> Result<Vec<Modulus>, Box<dyn std::error::Error>> {
    let values = if bits == 62 {
        let mut out = Vec::new();
        let mut q = (1u64 << 62) - 1;
        while out.len() < count {
            if is_prime(q) {
                out.push(q);
            }
            q -= 2;
        }
        out
    } else {
        ntt_primes(bits, 16, count, &[])?
    };
    Ok(values
        .into_iter()
        .map(Modulus::new)
        .collect::<crate::Result<_>>()?)
}

/// Random values below `bound` with the edges 0, `q − 1` and `bound − 1` mixed in.
fn values(rng: &mut impl RngCore, len: usize, q: u64, bound: u64) -> Vec<u64> {
    (0..len)
        .map(|i| match i % 5 {
            0 => 0,
            1 => q - 1,
            2 => bound - 1,
            _ => rng.next_u64() % bound,
        })
        .collect()
}

/// Borrowed rows.
fn refs(v: &[Vec<u64>]) -> Vec<&[u64]> {
    v.iter().map(Vec::as_slice).collect()
}

/// Every random input set of one test: fully random, all edges, all `bound − 1`.
fn input_sets(rng: &mut impl RngCore, len: usize, q: u64, bound: u64) -> Vec<Vec<u64>> {
    let random = (0..len).map(|_| rng.next_u64() % bound).collect();
    vec![random, values(rng, len, q, bound), vec![bound - 1; len]]
}

/// The words whose kernels serve a `bits`-bit modulus.
fn words(bits: u32) -> Vec<Word> {
    if bits <= IFMA_MAX_MODULUS_BITS {
        vec![Word::W52, Word::W64]
    } else {
        vec![Word::W64]
    }
}

/// Runs an emulated kernel on the leading vectors and the scalar kernel on the rest, as the
/// public dispatch does.
fn emu_then_scalar(done: usize, a: &mut [u64], scalar: impl FnOnce(&mut [u64], usize)) {
    if let Some(rest) = a.get_mut(done..) {
        scalar(rest, done);
    }
}

#[test]
fn emulated_products_equal_scalar() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(140);
    for bits in BITS {
        let q = primes(bits, 1)?.remove(0);
        let qv = q.value();
        for len in lengths() {
            for word in words(bits) {
                let w64 = word == Word::W64;
                let wide = Wide::new(&q, w64);
                for (a, b) in input_sets(&mut rng, len, qv, qv)
                    .into_iter()
                    .zip(input_sets(&mut rng, len, qv, qv))
                {
                    let mut want = a.clone();
                    zq::mul_slices_assign_scalar(&q, &mut want, &b);
                    let mut got = a.clone();
                    let done = if w64 {
                        mul_with::<Emu, true>(&q, &wide, &mut got, &b)
                    } else {
                        mul_with::<Emu, false>(&q, &wide, &mut got, &b)
                    };
                    assert_eq!(done, len / 8 * 8);
                    emu_then_scalar(done, &mut got, |rest, d| {
                        zq::mul_slices_assign_scalar(&q, rest, b.get(d..).unwrap_or_default());
                    });
                    assert_eq!(got, want, "mul bits={bits} len={len} {word:?}");
                    let z = values(&mut rng, len, qv, qv);
                    let mut want = z.clone();
                    zq::mul_add_slices_assign_scalar(&q, &mut want, &a, &b);
                    let mut got = z.clone();
                    let done = if w64 {
                        mul_add_with::<Emu, true>(&q, &wide, &mut got, &a, &b)
                    } else {
                        mul_add_with::<Emu, false>(&q, &wide, &mut got, &a, &b)
                    };
                    emu_then_scalar(done, &mut got, |rest, d| {
                        let (a, b) = (
                            a.get(d..).unwrap_or_default(),
                            b.get(d..).unwrap_or_default(),
                        );
                        zq::mul_add_slices_assign_scalar(&q, rest, a, b);
                    });
                    assert_eq!(got, want, "mul_add bits={bits} len={len} {word:?}");
                }
            }
        }
    }
    Ok(())
}

#[test]
fn emulated_subtract_and_scale_equals_scalar() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(141);
    for bits in BITS {
        let q = primes(bits, 1)?.remove(0);
        let qv = q.value();
        for len in lengths() {
            for word in words(bits) {
                for w in [0, 1, qv - 1, rng.next_u64() % qv] {
                    let a = values(&mut rng, len, qv, qv);
                    for b in input_sets(&mut rng, len, qv, 4 * qv) {
                        let mut want = a.clone();
                        zq::sub_scale_slices_assign_scalar(&q, &mut want, &b, w);
                        let mut got = a.clone();
                        let done = match word {
                            Word::W52 => {
                                sub_scale_with::<Emu, false>(&q, (w, shoup52(w, qv)), &mut got, &b)
                            }
                            Word::W64 => {
                                sub_scale_with::<Emu, true>(&q, (w, q.shoup(w)), &mut got, &b)
                            }
                        };
                        emu_then_scalar(done, &mut got, |rest, d| {
                            let b = b.get(d..).unwrap_or_default();
                            zq::sub_scale_slices_assign_scalar(&q, rest, b, w);
                        });
                        assert_eq!(got, want, "sub_scale bits={bits} len={len} {word:?} w={w}");
                    }
                }
            }
        }
    }
    Ok(())
}

/// Digit counts: one, the presets' (2, 3 at N = 8192, 7 at N = 16384), and more than one fold
/// of the 49- and 50-bit primes (3 terms per fold) and of the 40-bit ones' upper bound.
fn digit_counts() -> Vec<usize> {
    if cfg!(miri) {
        vec![1, 4, 7]
    } else {
        vec![1, 2, 3, 4, 7, 9, 17]
    }
}

/// `d` digits of `len` coefficients: `x < 4q`, `b, a < q`, edges mixed in (and one set at the
/// maxima, the worst case of the accumulators).
fn digit_sets(rng: &mut impl RngCore, d: usize, len: usize, q: u64) -> Vec<[Vec<Vec<u64>>; 3]> {
    let random = [
        (0..d).map(|_| values(rng, len, q, 4 * q)).collect(),
        (0..d).map(|_| values(rng, len, q, q)).collect(),
        (0..d).map(|_| values(rng, len, q, q)).collect(),
    ];
    let max = [
        vec![vec![4 * q - 1; len]; d],
        vec![vec![q - 1; len]; d],
        vec![vec![q - 1; len]; d],
    ];
    vec![random, max]
}

#[test]
fn emulated_key_inner_products_equal_scalar() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(142);
    for bits in BITS.into_iter().filter(|&b| b <= IFMA_MAX_MODULUS_BITS) {
        let q = primes(bits, 1)?.remove(0);
        let wide = Wide::new(&q, false);
        let terms = fold_terms(&q);
        for len in lengths() {
            for d in digit_counts() {
                for [x, b, a] in digit_sets(&mut rng, d, len, q.value()) {
                    let (x, b, a) = (refs(&x), refs(&b), refs(&a));
                    let (mut w0, mut w1) = (vec![0; len], vec![0; len]);
                    zq::mul_sum2_slices_scalar(&q, (&x, &b, &a), &mut w0, &mut w1);
                    let (mut g0, mut g1) = (vec![0; len], vec![0; len]);
                    let done =
                        mul_sum2_with::<Emu>(&q, &wide, terms, (&x, &b, &a), &mut g0, &mut g1);
                    assert_eq!(done, len / 8 * 8);
                    let tail = |v: &[&[u64]]| -> Vec<Vec<u64>> {
                        v.iter()
                            .map(|s| s.get(done..).unwrap_or_default().to_vec())
                            .collect()
                    };
                    let (xt, bt, at) = (tail(&x), tail(&b), tail(&a));
                    if let (Some(o0), Some(o1)) = (g0.get_mut(done..), g1.get_mut(done..)) {
                        zq::mul_sum2_slices_scalar(
                            &q,
                            (&refs(&xt), &refs(&bt), &refs(&at)),
                            o0,
                            o1,
                        );
                    }
                    assert_eq!((g0, g1), (w0, w1), "bits={bits} len={len} digits={d}");
                }
            }
        }
    }
    Ok(())
}

#[test]
fn fold_terms_bound_the_accumulators() -> TestResult {
    for bits in BITS.into_iter().filter(|&b| b <= IFMA_MAX_MODULUS_BITS) {
        let q = primes(bits, 1)?.remove(0);
        let qv = u128::from(q.value());
        let t = fold_terms(&q) as u128;
        let hi = ((4 * qv - 1) * (qv - 1)) >> 52;
        assert!(t >= 1 && t * (hi + 1) < 1 << 52, "bits={bits} terms={t}");
        assert!(qv + t * (1 << 52) < 1 << 64);
    }
    // 50-bit primes need a fold every few digits (the tests' 9 and 17 digits fold several
    // times), 40-bit ones only at the cap.
    assert!((3..=4).contains(&fold_terms(&primes(50, 1)?.remove(0))));
    assert_eq!(
        fold_terms(&primes(40, 1)?.remove(0)),
        MAX_FOLD_TERMS as usize
    );
    Ok(())
}

/// `(from, to)` prime sizes of the conversions from one prime: ModUp of every digit to the
/// other limbs and ModDown from the special prime, in both size orders, and equal sizes.
const PAIRS: [(u32, u32); 9] = [
    (60, 40),
    (40, 60),
    (60, 60),
    (40, 40),
    (31, 26),
    (26, 31),
    (50, 50),
    (52, 49),
    (62, 61),
];

#[test]
fn emulated_one_prime_conversions_equal_scalar() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(143);
    for (from_bits, to_bits) in PAIRS {
        let (q, p) = if from_bits == to_bits {
            let mut two = primes(from_bits, 2)?;
            let (a, b) = (two.remove(0), two.remove(0));
            // Both orders of two equal-size primes.
            if rng.next_u64() % 2 == 0 {
                (a, b)
            } else {
                (b, a)
            }
        } else {
            (
                primes(from_bits, 1)?.remove(0),
                primes(to_bits, 1)?.remove(0),
            )
        };
        let (qv, half) = (q.value(), q.value() >> 1);
        for len in lengths() {
            let mut x = values(&mut rng, len, qv, qv);
            for (i, v) in x.iter_mut().enumerate().filter(|(i, _)| i % 7 == 3) {
                *v = half + (i as u64 % 2); // both sides of the sign boundary
            }
            let qp = p.reduce(qv);
            let mut want = vec![0; len];
            convert_one_scalar(&q, &p, qp, &x, &mut want);
            for word in [Word::W52, Word::W64] {
                let (mut k, _) = one_prime_consts(&q, &p);
                if word == Word::W52 && (!k.smaller && (from_bits > 52 || to_bits > 50)) {
                    continue;
                }
                k.one_s = match word {
                    Word::W52 => shoup52(1, p.value()),
                    Word::W64 => p.shoup(1),
                };
                let mut got = vec![0; len];
                let done = match word {
                    Word::W52 => convert_one_with::<Emu, false>(&p, &k, &x, &mut got),
                    Word::W64 => convert_one_with::<Emu, true>(&p, &k, &x, &mut got),
                };
                emu_then_scalar(done, &mut got, |rest, d| {
                    convert_one_scalar(&q, &p, qp, x.get(d..).unwrap_or_default(), rest);
                });
                assert_eq!(got, want, "{from_bits}->{to_bits} len={len} {word:?}");
            }
        }
    }
    Ok(())
}

/// The public kernels of `zq` and the one-prime conversion through their dispatch, on this CPU.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute AVX-512 intrinsics")]
fn avx512_slice_kernels_equal_scalar() -> TestResult {
    let f = features();
    if !(f.ifma && f.dq) {
        eprintln!("no AVX-512 IFMA52 and DQ on this CPU (or FHEZ_SIMD=scalar): not run");
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(144);
    for bits in BITS {
        let q = primes(bits, 1)?.remove(0);
        let qv = q.value();
        assert!(SliceWord::detect(&q).0.is_some(), "bits={bits}");
        for len in lengths() {
            for (a, b) in input_sets(&mut rng, len, qv, qv)
                .into_iter()
                .zip(input_sets(&mut rng, len, qv, qv))
            {
                let mut want = a.clone();
                zq::mul_slices_assign_scalar(&q, &mut want, &b);
                let mut got = a.clone();
                zq::mul_slices_assign(&q, &mut got, &b);
                assert_eq!(got, want, "mul bits={bits} len={len}");
                let z = values(&mut rng, len, qv, qv);
                let mut want = z.clone();
                zq::mul_add_slices_assign_scalar(&q, &mut want, &a, &b);
                let mut got = z;
                zq::mul_add_slices_assign(&q, &mut got, &a, &b);
                assert_eq!(got, want, "mul_add bits={bits} len={len}");
            }
            let a = values(&mut rng, len, qv, qv);
            for b in input_sets(&mut rng, len, qv, 4 * qv) {
                for w in [0, 1, qv - 1, rng.next_u64()] {
                    let mut want = a.clone();
                    zq::sub_scale_slices_assign_scalar(&q, &mut want, &b, w);
                    let mut got = a.clone();
                    zq::sub_scale_slices_assign(&q, &mut got, &b, w);
                    assert_eq!(got, want, "sub_scale bits={bits} len={len} w={w}");
                }
            }
            for d in digit_counts() {
                for [x, b, a] in digit_sets(&mut rng, d, len, qv) {
                    let (x, b, a) = (refs(&x), refs(&b), refs(&a));
                    let (mut w0, mut w1) = (vec![0; len], vec![0; len]);
                    zq::mul_sum2_slices_scalar(&q, (&x, &b, &a), &mut w0, &mut w1);
                    let (mut g0, mut g1) = (vec![0; len], vec![0; len]);
                    zq::mul_sum2_slices(&q, (&x, &b, &a), &mut g0, &mut g1);
                    assert_eq!((g0, g1), (w0, w1), "mul_sum2 bits={bits} len={len} d={d}");
                }
            }
        }
    }
    for (from_bits, to_bits) in PAIRS {
        let two = primes(from_bits, 2)?;
        let q = two.first().copied().ok_or("no prime")?;
        let p = if from_bits == to_bits {
            two.get(1).copied().ok_or("no prime")?
        } else {
            primes(to_bits, 1)?.remove(0)
        };
        for (q, p) in [(q, p), (p, q)] {
            let (_, word) = one_prime_consts(&q, &p);
            assert!(word.is_some(), "{from_bits}<->{to_bits}");
            let x = values(&mut rng, (1 << 14) + 5, q.value(), q.value());
            let mut want = vec![0; x.len()];
            convert_one_scalar(&q, &p, p.reduce(q.value()), &x, &mut want);
            let (k, word) = one_prime_consts(&q, &p);
            let mut got = vec![0; x.len()];
            let done = convert_one_prime(&p, &k, word, &x, &mut got);
            assert_eq!(done, x.len() / 8 * 8);
            emu_then_scalar(done, &mut got, |rest, d| {
                let xs = x.get(d..).unwrap_or_default();
                convert_one_scalar(&q, &p, p.reduce(q.value()), xs, rest);
            });
            assert_eq!(got, want, "{} -> {} bits", q.bits(), p.bits());
        }
    }
    Ok(())
}

/// The lane operations added for the slice kernels equal their emulation.
#[test]
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn avx512_new_lanes_equal_emulation() {
    use crate::simd::avx::Avx;
    type Op<S> = fn(S, S) -> S;
    let ops: [(Op<Avx>, Op<Emu>); 5] = [
        (|a, b| b.madd52lo(a, b), |a, b| b.madd52lo(a, b)),
        (|a, b| a.madd52hi(b, a), |a, b| a.madd52hi(b, a)),
        (|a, _| a.shr52(), |a, _| a.shr52()),
        (|a, b| a.select_gt(b, a, b), |a, b| a.select_gt(b, a, b)),
        (
            |a, b| b.select_gt(a, a.sub(b), b),
            |a, b| b.select_gt(a, a.sub(b), b),
        ),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(145);
    for round in 0..100 {
        let (x, y): ([u64; 8], [u64; 8]) = if round == 0 {
            ([u64::MAX; 8], [u64::MAX; 8])
        } else {
            let x: [u64; 8] = core::array::from_fn(|_| rng.next_u64());
            // Equal lanes in half of them: the strict comparison's boundary.
            let y = core::array::from_fn(|i| {
                if i % 2 == 0 {
                    x.get(i).copied().unwrap_or(0)
                } else {
                    rng.next_u64()
                }
            });
            (x, y)
        };
        for (i, (vec_op, emu_op)) in ops.iter().enumerate() {
            let Some(got) = crate::simd::avx::apply(*vec_op, &x, &y) else {
                eprintln!("no AVX-512 IFMA52 and DQ on this CPU: lanes not compared");
                return;
            };
            assert_eq!(got, emu_op(Emu(x), Emu(y)).0, "op {i}");
        }
    }
}

/// The output limbs of the general exact conversion (`scalar_sums_with`) on emulated lanes
/// against `zq::scalar_sums_scalar`, and that specification against a direct `%` oracle.
/// Rows up to `2^row_bits` (the input primes' size: 26–31 bits for the models, 40 and 50 for
/// the presets' digits, 52 the kernel's limit) with the quotient row last; term counts
/// across the fold boundaries (every 3 terms for 52-bit rows and 50-bit outputs).
#[test]
fn emulated_conversion_sums_equal_scalar() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(145);
    let row_bits: [u32; 5] = [26, 31, 40, 50, 52];
    let counts: &[usize] = if cfg!(miri) {
        &[3, 7]
    } else {
        &[2, 3, 4, 7, 11, 21]
    };
    for bits in BITS.into_iter().filter(|&b| b <= IFMA_MAX_MODULUS_BITS) {
        let q = primes(bits, 1)?.remove(0);
        let qv = q.value();
        let wide = Wide::new(&q, false);
        for rb in row_bits {
            let terms = fold_terms_for(1u128 << rb, &q);
            for len in lengths() {
                for &k in counts {
                    let bound = 1u64 << rb;
                    let edge = |i: usize| -> Vec<u64> {
                        if i.is_multiple_of(2) {
                            vec![bound - 1; len]
                        } else {
                            values(
                                &mut ChaCha8Rng::seed_from_u64(i as u64),
                                len,
                                qv.min(bound),
                                bound,
                            )
                        }
                    };
                    for set in 0..2 {
                        let rows: Vec<Vec<u64>> = (0..k)
                            .map(|i| {
                                if set == 0 {
                                    values(&mut rng, len, qv.min(bound), bound)
                                } else {
                                    edge(i)
                                }
                            })
                            .collect();
                        let consts: Vec<u64> = (0..k)
                            .map(|i| match (set, i % 3) {
                                (1, _) | (_, 0) => qv - 1,
                                (_, 1) => 0,
                                _ => rng.next_u64() % qv,
                            })
                            .collect();
                        let rows = refs(&rows);
                        let mut want = vec![0; len];
                        zq::scalar_sums_scalar(&q, &rows, &consts, &mut want);
                        for (c, &w) in want.iter().enumerate() {
                            let direct = rows.iter().zip(&consts).fold(0u128, |acc, (r, &h)| {
                                (acc + u128::from(r[c]) * u128::from(h)) % u128::from(qv)
                            });
                            assert_eq!(u128::from(w), direct, "spec: bits={bits} rows<2^{rb}");
                        }
                        let mut got = vec![0; len];
                        let done =
                            scalar_sums_with::<Emu>(&q, &wide, terms, (&rows, &consts), &mut got);
                        assert_eq!(done, len / 8 * 8);
                        let tails: Vec<&[u64]> = rows
                            .iter()
                            .map(|r| r.get(done..).unwrap_or_default())
                            .collect();
                        if let Some(rest) = got.get_mut(done..) {
                            zq::scalar_sums_scalar(&q, &tails, &consts, rest);
                        }
                        assert_eq!(got, want, "bits={bits} rows<2^{rb} len={len} k={k}");
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn conversion_fold_terms_bound_the_accumulators() -> TestResult {
    for bits in BITS.into_iter().filter(|&b| b <= IFMA_MAX_MODULUS_BITS) {
        let q = primes(bits, 1)?.remove(0);
        let qv = u128::from(q.value());
        for rb in [26u32, 31, 40, 50, 52] {
            let t = fold_terms_for(1 << rb, &q) as u128;
            let hi = (((1u128 << rb) - 1) * (qv - 1)) >> 52;
            assert!(
                t >= 1 && t * (hi + 1) < 1 << 52,
                "bits={bits} rows<2^{rb} terms={t}"
            );
            assert!(qv + t * (1 << 52) < 1 << 64);
        }
    }
    // The kernel's worst case folds every few terms; the models' 31-bit digits only at the cap.
    assert!((3..=4).contains(&fold_terms_for(1 << 52, &primes(50, 1)?.remove(0))));
    let p31 = primes(31, 1)?.remove(0);
    assert_eq!(fold_terms_for(1 << 31, &p31), MAX_FOLD_TERMS as usize);
    // The key inner product's bound is the special case x < 4q.
    assert_eq!(
        fold_terms(&p31),
        fold_terms_for(4 * u128::from(p31.value()), &p31)
    );
    Ok(())
}

/// The conversion sums through their dispatch on this CPU, against the specification.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute AVX-512 intrinsics")]
fn avx512_conversion_sums_equal_scalar() -> TestResult {
    if !features().ifma {
        eprintln!("no AVX-512 IFMA52 on this CPU (or FHEZ_SIMD=scalar): not run");
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(146);
    for bits in BITS.into_iter().filter(|&b| b <= IFMA_MAX_MODULUS_BITS) {
        let q = primes(bits, 1)?.remove(0);
        let qv = q.value();
        for rb in [26u32, 31, 40, 50, 52] {
            for len in lengths() {
                let rows: Vec<Vec<u64>> = (0..5)
                    .map(|_| values(&mut rng, len, qv.min(1 << rb), 1 << rb))
                    .collect();
                let consts: Vec<u64> = (0..5).map(|_| rng.next_u64() % qv).collect();
                let rows = refs(&rows);
                let mut want = vec![0; len];
                zq::scalar_sums_scalar(&q, &rows, &consts, &mut want);
                let mut got = vec![0; len];
                let done = crate::simd::scalar_sums(&q, rb, &rows, &consts, &mut got);
                assert_eq!(done, len / 8 * 8, "the kernel ran: bits={bits} rows<2^{rb}");
                let tails: Vec<&[u64]> = rows
                    .iter()
                    .map(|r| r.get(done..).unwrap_or_default())
                    .collect();
                if let Some(rest) = got.get_mut(done..) {
                    zq::scalar_sums_scalar(&q, &tails, &consts, rest);
                }
                assert_eq!(got, want, "bits={bits} rows<2^{rb} len={len}");
            }
        }
    }
    Ok(())
}
