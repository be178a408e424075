//! Criterion benchmarks for `fhez-math`: `cargo bench -p fhez-math -- ntt` (or `rns`,
//! `slices`).

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark setup on fixed, known-good parameters"
)]

mod bench;

criterion::criterion_main!(
    bench::ntt::benches,
    bench::rns::benches,
    bench::slices::benches
);
