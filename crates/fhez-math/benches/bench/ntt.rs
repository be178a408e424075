//! NTT benchmarks: the dispatched kernel ([`NttTable::kernel`]) against the scalar one.

use criterion::{BenchmarkId, Criterion, criterion_group};
use fhez_math::NttTable;
use std::hint::black_box;

fn ntt(c: &mut Criterion) {
    let mut group = c.benchmark_group("ntt");
    for log_n in [13u32, 14, 15] {
        let n = 1usize << log_n;
        // 60 bits: the key-switching and first primes (scalar); 40 and 50 bits: the
        // scaling primes of the presets (IFMA52 kernel where the CPU has it; 60 bits: the
        // AVX-512DQ kernel where the CPU has it).
        for bits in [60u32, 50, 40] {
            let basis = super::basis(n, &[bits]);
            let table = &basis.tables()[0];
            let mut a = super::residues(&basis, 7);
            let id = format!("logN={log_n}/q={bits}bit/{:?}", table.kernel());
            let sid = format!("logN={log_n}/q={bits}bit/Scalar");
            group.bench_function(BenchmarkId::new("forward", &id), |b| {
                b.iter(|| table.forward(black_box(&mut a)));
            });
            group.bench_function(BenchmarkId::new("forward_lazy", &id), |b| {
                b.iter(|| table.forward_lazy(black_box(&mut a)));
            });
            group.bench_function(BenchmarkId::new("inverse", &id), |b| {
                b.iter(|| table.inverse(black_box(&mut a)));
            });
            group.bench_function(BenchmarkId::new("forward+inverse", &id), |b| {
                b.iter(|| fwd_inv(table, black_box(&mut a), false));
            });
            if table.kernel() != fhez_math::NttKernel::Scalar {
                group.bench_function(BenchmarkId::new("forward+inverse", &sid), |b| {
                    b.iter(|| fwd_inv(table, black_box(&mut a), true));
                });
            }
        }
    }
    group.finish();
}

/// One forward and one inverse transform (outputs of `forward` are in `[0, q)`, inputs of
/// `inverse` must be in `[0, 2q)`).
fn fwd_inv(table: &NttTable, a: &mut [u64], scalar: bool) {
    if scalar {
        table.forward_scalar(a);
        table.inverse_scalar(a);
    } else {
        table.forward(a);
        table.inverse(a);
    }
}

criterion_group!(benches, ntt);
