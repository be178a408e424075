//! The vector kernels against the scalar NTT, bit for bit.
//!
//! `Emu` runs everywhere (including Miri) and checks the kernel logic; the `Avx` tests run on
//! CPUs with AVX-512 IFMA52 and DQ and check the intrinsics (and that the dispatch picks them).

use super::*;
use crate::primes::ntt_primes;
use crate::{NttKernel, NttTable};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

type TestResult = core::result::Result<(), Box<dyn std::error::Error>>;

/// Prime sizes for the IFMA52 kernel: those of the presets it serves
/// (`crates/fhez-ckks/src/params/presets.rs`: 30, 40 and 50 bits) and the largest it accepts.
const BITS_52: [u32; 4] = [30, 40, 49, 50];

/// Prime sizes for the 64-bit kernel: the presets' 60-bit primes, the other preset sizes (it
/// serves them on CPUs without IFMA) and the largest supported size, 62 bits.
const BITS_64: [u32; 6] = [30, 40, 50, 60, 61, 62];

/// Every (word, prime size) pair to test.
fn cases() -> Vec<(Word, u32)> {
    let w52 = BITS_52.iter().map(|&b| (Word::W52, b));
    w52.chain(BITS_64.iter().map(|&b| (Word::W64, b))).collect()
}

/// Degrees tested: every in-register special case (16, 32) and the preset sizes.
fn degrees() -> Vec<usize> {
    if cfg!(miri) {
        vec![16, 32, 64]
    } else {
        vec![16, 32, 64, 256, 1 << 12, 1 << 13, 1 << 14, 1 << 15]
    }
}

/// Inputs: random in `[0, bound)`, then the edge vectors 0, q − 1, `bound − 1` and a mix.
fn inputs(rng: &mut impl RngCore, n: usize, q: u64, bound: u64) -> Vec<Vec<u64>> {
    let random: Vec<u64> = (0..n).map(|_| rng.next_u64() % bound).collect();
    let mix: Vec<u64> = (0..n)
        .map(|i| match i % 4 {
            0 => 0,
            1 => q - 1,
            2 => bound - 1,
            _ => rng.next_u64() % bound,
        })
        .collect();
    vec![random, vec![0; n], vec![q - 1; n], vec![bound - 1; n], mix]
}

/// The largest `bits`-bit prime `q ≡ 1 (mod 2n)` (`ntt_primes` up to 61 bits; a direct search
/// below `2^62` for 62 bits, the largest size `Modulus` accepts).
fn prime(bits: u32, n: usize) -> Result<Modulus, Box<dyn std::error::Error>> {
    if bits == 62 {
        let step = 2 * n as u64;
        let mut q = (1u64 << 62) - step + 1;
        while !crate::primes::is_prime(q) {
            q -= step;
        }
        return Ok(Modulus::new(q)?);
    }
    let q = ntt_primes(bits, n, 1, &[])?;
    Ok(Modulus::new(q.first().copied().ok_or("no prime")?)?)
}

fn table(
    bits: u32,
    n: usize,
    word: Word,
) -> Result<(NttTable, VecTables), Box<dyn std::error::Error>> {
    let q = prime(bits, n)?;
    let t = NttTable::new(q, n)?;
    let v =
        VecTables::new(&q, n, (&t.fwd, &t.inv), (t.n_inv, t.last_inv), word).ok_or("no tables")?;
    Ok((t, v))
}

/// One vector forward transform of `a` on emulated lanes.
fn emu_forward(v: &VecTables, t: &NttTable, a: &mut [u64], reduce: bool) {
    match v.word() {
        Word::W52 => v.forward_with::<Emu, false>(&t.fwd, a, reduce),
        Word::W64 => v.forward_with::<Emu, true>(&t.fwd, a, reduce),
    }
}

/// One vector inverse transform of `a` on emulated lanes.
fn emu_inverse(v: &VecTables, t: &NttTable, a: &mut [u64]) {
    match v.word() {
        Word::W52 => v.inverse_with::<Emu, false>(&t.inv, a),
        Word::W64 => v.inverse_with::<Emu, true>(&t.inv, a),
    }
}

#[test]
fn emulated_kernels_equal_scalar() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    for n in degrees() {
        for (word, bits) in cases() {
            let (t, v) = table(bits, n, word)?;
            let q = t.modulus().value();
            for a in inputs(&mut rng, n, q, 4 * q) {
                let mut want = a.clone();
                t.forward_scalar(&mut want);
                let mut got = a.clone();
                emu_forward(&v, &t, &mut got, true);
                assert_eq!(got, want, "forward n={n} {word:?} bits={bits}");
                if word == Word::W64 {
                    // The 64-bit kernel's lazy outputs are the scalar lazy outputs.
                    let mut want = a.clone();
                    t.forward_lazy_scalar(&mut want);
                    let mut got = a.clone();
                    emu_forward(&v, &t, &mut got, false);
                    assert_eq!(got, want, "forward_lazy n={n} bits={bits}");
                }
            }
            for a in inputs(&mut rng, n, q, 2 * q) {
                let mut want = a.clone();
                t.inverse_scalar(&mut want);
                let mut got = a.clone();
                emu_inverse(&v, &t, &mut got);
                assert_eq!(got, want, "inverse n={n} {word:?} bits={bits}");
            }
        }
    }
    Ok(())
}

#[test]
fn tables_only_for_supported_primes_and_degrees() -> TestResult {
    let cases = [
        (50, 16, Word::W52, true),
        (51, 16, Word::W52, false),
        (60, 1024, Word::W52, false),
        (60, 1024, Word::W64, true),
        (62, 16, Word::W64, true),
        (40, 8, Word::W52, false),
        (40, 8, Word::W64, false),
    ];
    for (bits, n, word, some) in cases {
        let q = prime(bits, n)?;
        let t = NttTable::new(q, n)?;
        let v = VecTables::new(&q, n, (&t.fwd, &t.inv), (t.n_inv, t.last_inv), word);
        assert_eq!(v.is_some(), some, "bits={bits} n={n} {word:?}");
    }
    // Kernel choice: IFMA52 up to 50 bits, else 64-bit words; nothing below n = 16.
    let all = Features {
        ifma: true,
        dq: true,
    };
    let dq_only = Features {
        ifma: false,
        dq: true,
    };
    let ifma_only = Features {
        ifma: true,
        dq: false,
    };
    assert_eq!(word_for(50, 16, all), Some(Word::W52));
    assert_eq!(word_for(51, 16, all), Some(Word::W64));
    assert_eq!(word_for(62, 1 << 17, all), Some(Word::W64));
    assert_eq!(word_for(40, 8, all), None);
    assert_eq!(word_for(40, 16, dq_only), Some(Word::W64));
    assert_eq!(word_for(60, 16, ifma_only), None);
    assert_eq!(word_for(40, 16, Features::default()), None);
    Ok(())
}

#[test]
fn emulated_products_match_wide_products() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..200 {
        let x: [u64; 8] = core::array::from_fn(|_| rng.next_u64());
        let y: [u64; 8] = core::array::from_fn(|_| rng.next_u64());
        let (lo, hi) = (Emu(x).mul52lo(Emu(y)), Emu(x).mul52hi(Emu(y)));
        for (((&a, &b), &l), &h) in x.iter().zip(&y).zip(&lo.0).zip(&hi.0) {
            let p = u128::from(a & MASK52) * u128::from(b & MASK52);
            assert_eq!(u128::from(l) | (u128::from(h) << 52), p);
        }
        let (lo, hi) = (Emu(x).mullo64(Emu(y)), Emu(x).mulhi64(Emu(y)));
        for (((&a, &b), &l), &h) in x.iter().zip(&y).zip(&lo.0).zip(&hi.0) {
            assert_eq!(
                u128::from(l) | (u128::from(h) << 64),
                u128::from(a) * u128::from(b)
            );
        }
    }
}

/// Every vector kernel through the public dispatch, on this CPU.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute AVX-512 intrinsics")]
fn avx512_kernels_equal_scalar() -> TestResult {
    let f = features();
    if !(f.ifma && f.dq) {
        eprintln!("no AVX-512 IFMA52 and DQ on this CPU (or FHEZ_SIMD=scalar): not run");
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    for n in degrees() {
        for (word, bits) in cases() {
            if word == Word::W64 && bits <= IFMA_MAX_MODULUS_BITS {
                continue; // served by IFMA52 on this CPU
            }
            let (t, _) = table(bits, n, word)?;
            let kernel = match word {
                Word::W52 => NttKernel::Ifma52,
                Word::W64 => NttKernel::Avx512Dq,
            };
            assert_eq!(t.kernel(), kernel, "n={n} bits={bits}");
            let q = t.modulus().value();
            for a in inputs(&mut rng, n, q, 4 * q) {
                let mut want = a.clone();
                t.forward_scalar(&mut want);
                let mut got = a.clone();
                t.forward(&mut got);
                assert_eq!(got, want, "forward n={n} bits={bits}");
                if word == Word::W64 {
                    want.clone_from(&a);
                    t.forward_lazy_scalar(&mut want);
                }
                let mut lazy = a.clone();
                t.forward_lazy(&mut lazy);
                assert_eq!(lazy, want, "forward_lazy n={n} bits={bits}");
            }
            for a in inputs(&mut rng, n, q, 2 * q) {
                let mut want = a.clone();
                t.inverse_scalar(&mut want);
                let mut got = a.clone();
                t.inverse(&mut got);
                assert_eq!(got, want, "inverse n={n} bits={bits}");
            }
        }
    }
    Ok(())
}

/// Each AVX-512 lane operation equals its emulation on random lanes.
#[test]
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn avx512_lanes_equal_emulation() {
    type Op<S> = fn(S, S) -> S;
    let ops: [(Op<avx::Avx>, Op<Emu>); 9] = [
        (|a, b| a.add(b), |a, b| a.add(b)),
        (|a, b| a.sub(b), |a, b| a.sub(b)),
        (|a, b| a.min(b), |a, b| a.min(b)),
        (|a, b| a.and(b), |a, b| a.and(b)),
        (|a, b| a.mul52lo(b), |a, b| a.mul52lo(b)),
        (|a, b| a.mul52hi(b), |a, b| a.mul52hi(b)),
        (|a, b| a.mullo64(b), |a, b| a.mullo64(b)),
        (|a, b| a.mulhi64(b), |a, b| a.mulhi64(b)),
        (|a, b| a.permute2(b, a), |a, b| a.permute2(b, a)),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for round in 0..100 {
        // Random lanes, then all-ones lanes (the carries of the 64-bit high product).
        let (x, y): ([u64; 8], [u64; 8]) = if round == 0 {
            ([u64::MAX; 8], [u64::MAX; 8])
        } else {
            (
                core::array::from_fn(|_| rng.next_u64()),
                core::array::from_fn(|_| rng.next_u64()),
            )
        };
        for (i, (vec_op, emu_op)) in ops.iter().enumerate() {
            let Some(got) = avx::apply(*vec_op, &x, &y) else {
                eprintln!("no AVX-512 IFMA52 and DQ on this CPU: lanes not compared");
                return;
            };
            assert_eq!(got, emu_op(Emu(x), Emu(y)).0, "op {i}");
        }
    }
}
