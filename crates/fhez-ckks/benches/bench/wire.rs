//! Wire-format benches: `wire/ciphertext_to_bytes` and `wire/ciphertext_from_bytes`
//! for a fresh ciphertext at the N13 preset (≈ 393 KB).

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use fhez_ckks::{CkksParams, Encoder, Preset, SecretKey, wire};
use rand_core::SeedableRng;

/// Registers the wire benches (wired into `benches/main.rs`).
pub fn bench(c: &mut Criterion) {
    let Ok(params) = CkksParams::new(&Preset::N13Qp218.spec()) else {
        return;
    };
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x3173);
    let Ok(sk) = SecretKey::generate(&params, &mut rng) else {
        return;
    };
    let values: Vec<f64> = (0..params.slots())
        .map(|j| (0.01 * j as f64).sin())
        .collect();
    let Ok(pt) = Encoder::new(&params).encode(&values, params.default_scale(), params.max_level())
    else {
        return;
    };
    let Ok(ct) = sk.encrypt(&pt, &mut rng) else {
        return;
    };
    let Ok(bytes) = wire::ciphertext_to_bytes(&ct) else {
        return;
    };
    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("ciphertext_to_bytes/N13", |b| {
        b.iter(|| wire::ciphertext_to_bytes(black_box(&ct)));
    });
    group.bench_function("ciphertext_from_bytes/N13", |b| {
        b.iter(|| wire::ciphertext_from_bytes(&params, black_box(&bytes), wire::DEFAULT_LIMIT));
    });
    group.finish();
}
