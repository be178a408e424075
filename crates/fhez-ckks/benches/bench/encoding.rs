//! Slot encoder benches: `encode/coeffs_from_slots` and `encode/slots_from_coeffs`
//! (allocation-free `_into` variants) for logN = 12..=16.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion};
use fhez_ckks::encoding::{Complex64, SlotEncoder};

/// Registers the encoding benches (wired into `benches/main.rs`).
pub fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for log_n in 12..=16u32 {
        let n = 1usize << log_n;
        let Ok(enc) = SlotEncoder::new(n) else {
            continue;
        };
        // Deterministic, non-trivial inputs.
        let values: Vec<Complex64> = (0..n / 2)
            .map(|j| {
                let t = j as f64;
                Complex64::new((0.37 * t).sin(), (0.11 * t).cos())
            })
            .collect();
        let mut coeffs = vec![0.0; n];
        let mut slots = vec![Complex64::new(0.0, 0.0); n / 2];
        let id = format!("logN={log_n}");
        group.bench_function(BenchmarkId::new("coeffs_from_slots", &id), |b| {
            b.iter(|| enc.coeffs_from_slots_into(black_box(&values), &mut coeffs));
        });
        group.bench_function(BenchmarkId::new("slots_from_coeffs", &id), |b| {
            b.iter(|| enc.slots_from_coeffs_into(black_box(&coeffs), &mut slots));
        });
    }
    group.finish();
}
