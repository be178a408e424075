//! Hot CKKS operations at the secure N = 2^13 preset.

use criterion::{BenchmarkId, Criterion};
use fhez_ckks::{CkksParams, Encoder, Evaluator, Preset, SecretKey};

pub fn bench(c: &mut Criterion) {
    for preset in [Preset::N13Qp218, Preset::N14Qp438] {
        let params = CkksParams::new(&preset.spec()).unwrap();
        let id = format!("logN={}/L={}", params.log_n(), params.max_level());
        let mut rng = fhez_ckks::os_rng();
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
        g.bench_function(BenchmarkId::new("decrypt_decode", &id), |b| {
            b.iter(|| enc.decode(&sk.decrypt(&ct).unwrap()))
        });
        g.finish();
    }
}
