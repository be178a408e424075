//! RNS benchmarks: fast and exact basis conversion, and centered decoding.

use criterion::{BenchmarkId, Criterion, criterion_group};
use fhez_math::{BasisConverter, RnsBasis};
use std::hint::black_box;

fn rns(c: &mut Criterion) {
    let mut group = c.benchmark_group("rns");
    let n = 8192;
    let whole = super::basis(n, &[60, 40, 40, 61, 59, 58, 57]);
    let from = whole.prefix(3).unwrap();
    let to = RnsBasis::new(whole.tables()[3..].to_vec()).unwrap();
    let conv = BasisConverter::new(&from, &to).unwrap();
    let input = super::residues(&from, 11);
    let mut out = vec![0u64; to.len() * n];
    group.bench_function(BenchmarkId::new("convert_approx", "logN=13/3->4"), |b| {
        b.iter(|| conv.convert_approx(black_box(&input), black_box(&mut out)));
    });
    group.bench_function(BenchmarkId::new("convert_exact", "logN=13/3->4"), |b| {
        b.iter(|| conv.convert_exact(black_box(&input), black_box(&mut out)));
    });
    // The ModDown shape of the N = 2^15 preset: two 60-bit special primes to 18 primes.
    let n15 = 1 << 15;
    let mut bits = vec![60u32, 60, 60];
    bits.extend([40; 17]);
    let whole = super::basis(n15, &bits);
    let from = RnsBasis::new(whole.tables()[..2].to_vec()).unwrap();
    let to = RnsBasis::new(whole.tables()[2..].to_vec()).unwrap();
    let conv = BasisConverter::new(&from, &to).unwrap();
    let input = super::residues(&from, 12);
    let mut out = vec![0u64; to.len() * n15];
    group.bench_function(BenchmarkId::new("convert_approx", "logN=15/2->18"), |b| {
        b.iter(|| conv.convert_approx(black_box(&input), black_box(&mut out)));
    });
    group.bench_function(BenchmarkId::new("convert_exact", "logN=15/2->18"), |b| {
        b.iter(|| conv.convert_exact(black_box(&input), black_box(&mut out)));
    });
    // The CNN benchmark's chain at N = 2^13 (q = [31, 26×5], P = [29, 28]): ModUp of a
    // two-prime digit to the other six limbs, and ModDown from P to Q (IFMA52 output limbs on
    // CPUs that have it; `FHEZ_SIMD=scalar` for the scalar path).
    let whole = super::basis(n, &[31, 26, 26, 26, 26, 26, 29, 28]);
    for (name, from_idx, to_idx) in [
        ("logN=13/2->6 (ModUp, 31+26 bits)", 0..2, 2..8),
        ("logN=13/2->6 (ModDown, 29+28 bits)", 6..8, 0..6),
    ] {
        let from = RnsBasis::new(whole.tables()[from_idx].to_vec()).unwrap();
        let to = RnsBasis::new(whole.tables()[to_idx].to_vec()).unwrap();
        let conv = BasisConverter::new(&from, &to).unwrap();
        let input = super::residues(&from, 14);
        let mut out = vec![0u64; to.len() * n];
        group.bench_function(BenchmarkId::new("convert_exact", name), |b| {
            b.iter(|| conv.convert_exact(black_box(&input), black_box(&mut out)));
        });
    }
    let mut decoded = vec![0.0f64; n];
    for bits in [&[60u32][..], &[60, 40], &[60, 40, 40], &[60; 16]] {
        let basis = super::basis(n, bits);
        let limbs = super::residues(&basis, 13);
        let id = format!("logN=13/L={}", bits.len());
        group.bench_function(BenchmarkId::new("to_centered_f64", id), |b| {
            b.iter(|| {
                basis
                    .to_centered_f64(black_box(&limbs), black_box(&mut decoded))
                    .unwrap()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, rns);
