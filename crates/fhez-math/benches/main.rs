//! Criterion benchmarks for `fhez-math` (placeholder until milestone 3).

fn main() {}
