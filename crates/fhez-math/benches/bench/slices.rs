//! Slice-kernel benchmarks at N = 16384 (the `n16384` preset's limb length): the dispatched
//! kernels of `zq` (AVX-512 where the CPU has them) against their `_scalar` specifications,
//! and the exact conversion from one prime (ModUp of one digit to the seven other limbs,
//! ModDown from the special prime; run with `FHEZ_SIMD=scalar` for the scalar figure).

use criterion::{BenchmarkId, Criterion, criterion_group};
use fhez_math::{BasisConverter, RnsBasis, zq};
use std::hint::black_box;

fn slices(c: &mut Criterion) {
    let mut group = c.benchmark_group("slices");
    let n = 1 << 14;
    // 40 bits: the scaling primes (IFMA52); 60 bits: the first and special primes (64-bit
    // words).
    for bits in [40u32, 60] {
        let basis = super::basis(n, &[bits; 8]);
        let q = basis.moduli()[0];
        let data = super::residues(&basis, 3);
        let limbs: Vec<&[u64]> = data.chunks_exact(n).collect();
        let (a, b) = (limbs[0].to_vec(), limbs[1]);
        let mut x = a.clone();
        let id = format!("logN=14/q={bits}bit");
        group.bench_function(BenchmarkId::new("mul", &id), |bch| {
            bch.iter(|| {
                x.copy_from_slice(&a);
                zq::mul_slices_assign(&q, black_box(&mut x), black_box(b));
            });
        });
        group.bench_function(BenchmarkId::new("mul_scalar", &id), |bch| {
            bch.iter(|| {
                x.copy_from_slice(&a);
                zq::mul_slices_assign_scalar(&q, black_box(&mut x), black_box(b));
            });
        });
        group.bench_function(BenchmarkId::new("mul_add", &id), |bch| {
            bch.iter(|| {
                x.copy_from_slice(&a);
                zq::mul_add_slices_assign(&q, black_box(&mut x), b, limbs[2]);
            });
        });
        group.bench_function(BenchmarkId::new("mul_add_scalar", &id), |bch| {
            bch.iter(|| {
                x.copy_from_slice(&a);
                zq::mul_add_slices_assign_scalar(&q, black_box(&mut x), b, limbs[2]);
            });
        });
        group.bench_function(BenchmarkId::new("sub_scale", &id), |bch| {
            bch.iter(|| {
                x.copy_from_slice(&a);
                zq::sub_scale_slices_assign(&q, black_box(&mut x), b, 12345);
            });
        });
        group.bench_function(BenchmarkId::new("sub_scale_scalar", &id), |bch| {
            bch.iter(|| {
                x.copy_from_slice(&a);
                zq::sub_scale_slices_assign_scalar(&q, black_box(&mut x), b, 12345);
            });
        });
        // The key inner product of one limb over the seven digits of the n16384 preset.
        let (xs, bs, as_) = (&limbs[..7], &limbs[1..8], &limbs[..7]);
        let (mut o0, mut o1) = (vec![0u64; n], vec![0u64; n]);
        group.bench_function(BenchmarkId::new("mul_sum2/7digits", &id), |bch| {
            bch.iter(|| zq::mul_sum2_slices(&q, (xs, bs, as_), black_box(&mut o0), &mut o1));
        });
        group.bench_function(BenchmarkId::new("mul_sum2_scalar/7digits", &id), |bch| {
            bch.iter(|| {
                zq::mul_sum2_slices_scalar(&q, (xs, bs, as_), black_box(&mut o0), &mut o1);
            });
        });
    }
    // Conversion from one prime: 40-bit digit to the other limbs (six 40-bit, one 60-bit),
    // 60-bit special prime to the seven ciphertext limbs.
    let whole = super::basis(n, &[40, 40, 40, 40, 40, 40, 60, 60]);
    let t = whole.tables();
    for (name, from, to) in [
        ("modup_digit/40->7", vec![t[0].clone()], t[1..].to_vec()),
        ("moddown/60->7", vec![t[7].clone()], t[..7].to_vec()),
    ] {
        let (from, to) = (RnsBasis::new(from).unwrap(), RnsBasis::new(to).unwrap());
        let conv = BasisConverter::new(&from, &to).unwrap();
        let input = super::residues(&from, 5);
        let mut out = vec![0u64; to.len() * n];
        group.bench_function(BenchmarkId::new("convert_exact", name), |bch| {
            bch.iter(|| conv.convert_exact(black_box(&input), black_box(&mut out)));
        });
    }
    group.finish();
}

criterion_group!(benches, slices);
