//! Times one key switch at the N = 2^13 and 2^14 presets on rayon pools of 1 and 2 threads,
//! alternating between them so that drift of a shared machine hits both alike:
//! `cargo run --release -p fhez-ckks --example ks_time [ROUNDS]`.
//! Prints the minimum and the median over rounds (each round: the mean of 4 calls) per
//! operation and thread count. `FHEZ_SIMD=scalar` disables the vector NTT for an A/B run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "timing harness"
)]

use std::time::Instant;

use fhez_ckks::{CkksParams, Encoder, Evaluator, Preset, SecretKey};

/// One named operation to time.
type Op<'a> = (&'a str, Box<dyn Fn() + Sync + 'a>);

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let pools: Vec<(usize, rayon::ThreadPool)> = [1usize, 2]
        .iter()
        .map(|&t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            (t, pool)
        })
        .collect();
    for preset in [Preset::N13Qp218, Preset::N14Qp438] {
        let params = CkksParams::new(&preset.spec()).unwrap();
        let mut rng = fhez_ckks::os_rng().unwrap();
        let sk = SecretKey::generate(&params, &mut rng).unwrap();
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
        let ct = sk.encrypt(&pt, &mut rng).unwrap();
        let prod = eval.mul(&ct, &ct).unwrap();
        let ops: Vec<Op<'_>> = vec![
            (
                "relinearize",
                Box::new(|| drop(eval.relinearize(&prod, &rk).unwrap())),
            ),
            (
                "rotate1",
                Box::new(|| drop(eval.rotate(&ct, 1, &gk).unwrap())),
            ),
            (
                "mul_relin_rescale",
                Box::new(|| drop(eval.mul_relin_rescale(&ct, &ct, &rk).unwrap())),
            ),
            ("rescale", Box::new(|| drop(eval.rescale(&prod).unwrap()))),
        ];
        for (name, op) in &ops {
            let mut times: Vec<Vec<f64>> = vec![Vec::new(); pools.len()];
            for _ in 0..rounds {
                for ((_, pool), ts) in pools.iter().zip(times.iter_mut()) {
                    pool.install(|| {
                        op();
                        let t = Instant::now();
                        for _ in 0..4 {
                            op();
                        }
                        ts.push(t.elapsed().as_secs_f64() * 1e6 / 4.0);
                    });
                }
            }
            for ((threads, _), ts) in pools.iter().zip(times.iter_mut()) {
                ts.sort_by(f64::total_cmp);
                println!(
                    "logN={} {name:18} threads={threads} min={:9.1} us median={:9.1} us",
                    params.log_n(),
                    ts[0],
                    ts[ts.len() / 2]
                );
            }
        }
    }
}
