//! Criterion benches of fhez-ckks, one binary: `cargo bench -p fhez-ckks`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "bench harness"
)]

mod bench;

criterion::criterion_main!(bench::benches);
