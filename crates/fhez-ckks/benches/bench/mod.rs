//! Bench groups.

pub mod encoding;
pub mod ops;
pub mod wire;

criterion::criterion_group!(
    benches,
    encoding::bench,
    ops::bench,
    ops::bench_keyswitch_n15,
    wire::bench
);
