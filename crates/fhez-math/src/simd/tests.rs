//! The vector kernels against the scalar NTT, bit for bit.
//!
//! `Emu` runs everywhere (including Miri) and checks the kernel logic; the `Avx` tests run on
//! CPUs with AVX-512 IFMA52 and check the intrinsics (and that the dispatch picks them).

use super::*;
use crate::primes::ntt_primes;
use crate::{NttKernel, NttTable};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

type TestResult = core::result::Result<(), Box<dyn std::error::Error>>;

/// The prime sizes of the presets that the vector kernel serves (`crates/fhez-ckks/src/params/
/// presets.rs`: 30, 40 and 50 bits), and the largest size it accepts.
const BITS: [u32; 4] = [30, 40, 49, 50];

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

fn table(bits: u32, n: usize) -> Result<(NttTable, IfmaTables), Box<dyn std::error::Error>> {
    let q = Modulus::new(
        ntt_primes(bits, n, 1, &[])?
            .first()
            .copied()
            .ok_or("no prime")?,
    )?;
    let t = NttTable::new(q, n)?;
    let v = IfmaTables::new(&q, n, &t.fwd, &t.inv, t.n_inv, t.last_inv).ok_or("no tables")?;
    Ok((t, v))
}

#[test]
fn emulated_kernels_equal_scalar() -> TestResult {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    for n in degrees() {
        for bits in BITS {
            let (t, v) = table(bits, n)?;
            let q = t.modulus().value();
            for a in inputs(&mut rng, n, q, 4 * q) {
                let mut want = a.clone();
                t.forward_scalar(&mut want);
                let mut got = a.clone();
                v.forward_with::<Emu>(&t.fwd, &mut got);
                assert_eq!(got, want, "forward n={n} bits={bits}");
            }
            for a in inputs(&mut rng, n, q, 2 * q) {
                let mut want = a.clone();
                t.inverse_scalar(&mut want);
                let mut got = a.clone();
                v.inverse_with::<Emu>(&t.inv, &mut got);
                assert_eq!(got, want, "inverse n={n} bits={bits}");
            }
        }
    }
    Ok(())
}

#[test]
fn tables_only_for_small_primes_and_degrees() -> TestResult {
    for (bits, n, some) in [
        (50, 16, true),
        (51, 16, false),
        (60, 1024, false),
        (40, 8, false),
    ] {
        let q = Modulus::new(
            ntt_primes(bits, n, 1, &[])?
                .first()
                .copied()
                .ok_or("no prime")?,
        )?;
        let t = NttTable::new(q, n)?;
        let v = IfmaTables::new(&q, n, &t.fwd, &t.inv, t.n_inv, t.last_inv);
        assert_eq!(v.is_some(), some, "bits={bits} n={n}");
        if !some {
            assert_eq!(t.kernel(), NttKernel::Scalar, "bits={bits} n={n}");
        }
    }
    Ok(())
}

#[test]
fn emulated_mul52_matches_wide_product() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..200 {
        let x: [u64; 8] = core::array::from_fn(|_| rng.next_u64());
        let y: [u64; 8] = core::array::from_fn(|_| rng.next_u64());
        let lo = Emu(x).mul52lo(Emu(y));
        let hi = Emu(x).mul52hi(Emu(y));
        for (((&a, &b), &l), &h) in x.iter().zip(&y).zip(&lo.0).zip(&hi.0) {
            let p = u128::from(a & MASK52) * u128::from(b & MASK52);
            assert_eq!(u128::from(l) | (u128::from(h) << 52), p);
        }
    }
}

/// Every vector kernel through the public dispatch, on this CPU.
#[test]
#[cfg_attr(miri, ignore = "Miri cannot execute AVX-512 intrinsics")]
fn avx512_kernels_equal_scalar() -> TestResult {
    if !ifma_available() {
        eprintln!("no AVX-512 IFMA52 on this CPU (or FHEZ_SIMD=scalar): vector kernel not run");
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    for n in degrees() {
        for bits in BITS {
            let (t, _) = table(bits, n)?;
            assert_eq!(t.kernel(), NttKernel::Ifma52, "n={n} bits={bits}");
            let q = t.modulus().value();
            for a in inputs(&mut rng, n, q, 4 * q) {
                let mut want = a.clone();
                t.forward_scalar(&mut want);
                let mut got = a.clone();
                t.forward(&mut got);
                assert_eq!(got, want, "forward n={n} bits={bits}");
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
#[cfg_attr(miri, ignore = "Miri cannot execute AVX-512 intrinsics")]
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn avx512_lanes_equal_emulation() {
    type Op<S> = fn(S, S) -> S;
    let ops: [(Op<avx::Avx>, Op<Emu>); 7] = [
        (|a, b| a.add(b), |a, b| a.add(b)),
        (|a, b| a.sub(b), |a, b| a.sub(b)),
        (|a, b| a.min(b), |a, b| a.min(b)),
        (|a, b| a.and(b), |a, b| a.and(b)),
        (|a, b| a.mul52lo(b), |a, b| a.mul52lo(b)),
        (|a, b| a.mul52hi(b), |a, b| a.mul52hi(b)),
        (|a, b| a.permute2(b, a), |a, b| a.permute2(b, a)),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for _ in 0..100 {
        let x: [u64; 8] = core::array::from_fn(|_| rng.next_u64());
        let y: [u64; 8] = core::array::from_fn(|_| rng.next_u64());
        for (i, (vec_op, emu_op)) in ops.iter().enumerate() {
            let Some(got) = avx::apply(*vec_op, &x, &y) else {
                eprintln!("no AVX-512 IFMA52 on this CPU: lanes not compared");
                return;
            };
            assert_eq!(got, emu_op(Emu(x), Emu(y)).0, "op {i}");
        }
    }
}
