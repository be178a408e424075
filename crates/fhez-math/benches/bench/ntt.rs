//! NTT benchmarks.

use criterion::{BenchmarkId, Criterion, criterion_group};
use std::hint::black_box;

fn ntt(c: &mut Criterion) {
    let mut group = c.benchmark_group("ntt");
    for log_n in [13u32, 14] {
        let n = 1usize << log_n;
        let basis = super::basis(n, &[60]);
        let table = &basis.tables()[0];
        let mut a = super::residues(&basis, 7);
        let id = format!("logN={log_n}/q=60bit");
        group.bench_function(BenchmarkId::new("forward", &id), |b| {
            b.iter(|| table.forward(black_box(&mut a)));
        });
        group.bench_function(BenchmarkId::new("forward_lazy", &id), |b| {
            b.iter(|| table.forward_lazy(black_box(&mut a)));
        });
        a.iter_mut().for_each(|x| *x %= table.modulus().value());
        group.bench_function(BenchmarkId::new("inverse", &id), |b| {
            b.iter(|| table.inverse(black_box(&mut a)));
        });
        group.bench_function(BenchmarkId::new("forward+inverse", &id), |b| {
            b.iter(|| {
                table.forward(black_box(&mut a));
                table.inverse(black_box(&mut a));
            });
        });
    }
    group.finish();
}

criterion_group!(benches, ntt);
