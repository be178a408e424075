//! Bench groups.

pub mod encoding;
pub mod ops;
pub mod wire;

criterion::criterion_group!(benches, encoding::bench, ops::bench, wire::bench);
