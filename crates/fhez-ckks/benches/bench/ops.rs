//! Hot CKKS operations at the secure N = 2^13 and 2^14 presets, and key switching
//! (rotation, relinearization) at N = 2^15, whose two special primes exercise the
//! multi-prime basis conversions of ModUp and ModDown.
//!
//! Key switching uses rayon's global pool: `RAYON_NUM_THREADS=1` for one thread.
//! `FHEZ_SIMD=scalar` disables the vector NTT (for A/B runs of one binary).

use criterion::{BenchmarkId, Criterion};
use fhez_ckks::{CkksParams, Encoder, Evaluator, Preset, SecretKey};

pub fn bench(c: &mut Criterion) {
    for preset in [Preset::N13Qp218, Preset::N14Qp438] {
        let params = CkksParams::new(&preset.spec()).unwrap();
        let id = format!("logN={}/L={}", params.log_n(), params.max_level());
        let mut rng = fhez_ckks::os_rng().unwrap();
        let sk = SecretKey::generate(&params, &mut rng).unwrap();
        let pk = sk.public_key(&mut rng).unwrap();
        let rk = sk.relin_key(&mut rng).unwrap();
        let gk = sk.galois_keys(&[1], false, &mut rng).unwrap();
        let enc = Encoder::new(&params);
        let eval = Evaluator::new(&params);
        let x: Vec<f64> = (0..params.slots())
            .map(|i| (i as f64 * 0.1).sin())
            .collect();
        let pt = enc
            .encode(&x, params.default_scale(), params.max_level())
            .unwrap();
        let ct = pk.encrypt(&params, &pt, &mut rng).unwrap();
        let mut g = c.benchmark_group("ckks");
        g.sample_size(20);
        g.bench_function(BenchmarkId::new("encode", &id), |b| {
            b.iter(|| enc.encode(&x, params.default_scale(), params.max_level()))
        });
        g.bench_function(BenchmarkId::new("encrypt_pk", &id), |b| {
            b.iter(|| pk.encrypt(&params, &pt, &mut rng))
        });
        g.bench_function(BenchmarkId::new("mul_relin_rescale", &id), |b| {
            b.iter(|| eval.mul_relin_rescale(&ct, &ct, &rk))
        });
        g.bench_function(BenchmarkId::new("rotate1", &id), |b| {
            b.iter(|| eval.rotate(&ct, 1, &gk))
        });
        let prod = eval.mul(&ct, &ct).unwrap();
        g.bench_function(BenchmarkId::new("relinearize", &id), |b| {
            b.iter(|| eval.relinearize(&prod, &rk))
        });
        g.bench_function(BenchmarkId::new("rescale", &id), |b| {
            b.iter(|| eval.rescale(&prod))
        });
        g.bench_function(BenchmarkId::new("decrypt_decode", &id), |b| {
            b.iter(|| enc.decode(&sk.decrypt(&ct).unwrap()))
        });
        g.finish();
    }
}

/// Key switching at the N = 2^15 preset (two special primes).
pub fn bench_keyswitch_n15(c: &mut Criterion) {
    let params = CkksParams::new(&Preset::N15Qp881.spec()).unwrap();
    let id = format!("logN={}/L={}", params.log_n(), params.max_level());
    let mut rng = fhez_ckks::os_rng().unwrap();
    let sk = SecretKey::generate(&params, &mut rng).unwrap();
    let rk = sk.relin_key(&mut rng).unwrap();
    let gk = sk.galois_keys(&[1], false, &mut rng).unwrap();
    let enc = Encoder::new(&params);
    let eval = Evaluator::new(&params);
    let pt = enc
        .encode(&[0.5], params.default_scale(), params.max_level())
        .unwrap();
    let ct = sk.encrypt(&pt, &mut rng).unwrap();
    let prod = eval.mul(&ct, &ct).unwrap();
    let mut g = c.benchmark_group("ckks");
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("rotate1", &id), |b| {
        b.iter(|| eval.rotate(&ct, 1, &gk))
    });
    g.bench_function(BenchmarkId::new("relinearize", &id), |b| {
        b.iter(|| eval.relinearize(&prod, &rk))
    });
    g.finish();
}
