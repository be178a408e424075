//! Runs one CKKS operation in a loop, for profilers: `profile_ops OP ITERS`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "profiling harness"
)]

use fhez_bench as _;
use fhez_ckks::{CkksParams, CkksParamsSpec, Encoder, Evaluator, SecretKey};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let op = args.get(1).cloned().unwrap_or_else(|| "rotate1".into());
    let iters: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let spec = CkksParamsSpec::from_seal_bits(13, &[60, 40, 40, 60], 40);
    let params = CkksParams::new(&spec).unwrap();
    let mut rng = fhez_ckks::os_rng().unwrap();
    let sk = SecretKey::generate(&params, &mut rng).unwrap();
    let pk = sk.public_key(&mut rng).unwrap();
    let rk = sk.relin_key(&mut rng).unwrap();
    let gk = sk.galois_keys(&[1], false, &mut rng).unwrap();
    let enc = Encoder::new(&params);
    let eval = Evaluator::new(&params);
    let x: Vec<f64> = (0..params.slots()).map(|i| (i as f64).sin()).collect();
    let pt = enc.encode(&x, params.default_scale(), 2).unwrap();
    let ct = pk.encrypt(&params, &pt, &mut rng).unwrap();
    let c3 = eval.mul(&ct, &ct).unwrap();
    let mut scratch_ct = ct.clone();
    let mut scratch_pt = pt.clone();
    let mut best = f64::MAX;
    for _ in 0..iters / 10 {
        let t = std::time::Instant::now();
        for _ in 0..10 {
            match op.as_str() {
                "rotate1" => drop(eval.rotate(&ct, 1, &gk).unwrap()),
                "relin" => drop(eval.relinearize(&c3, &rk).unwrap()),
                "encrypt" => drop(pk.encrypt(&params, &pt, &mut rng).unwrap()),
                "encode" => drop(enc.encode(&x, params.default_scale(), 2).unwrap()),
                "decode" => drop(enc.decode(&pt).unwrap()),
                "mul" => drop(eval.mul(&ct, &ct).unwrap()),
                "rescale" => drop(eval.rescale(&c3).unwrap()),
                "add" => drop(eval.add(&ct, &ct).unwrap()),
                "mul_plain" => drop(eval.mul_plain(&ct, &pt).unwrap()),
                "mul_plain_into" => eval.mul_plain_into(&ct, &pt, &mut scratch_ct).unwrap(),
                "decrypt" => drop(sk.decrypt(&ct).unwrap()),
                "decrypt_into" => sk.decrypt_into(&ct, &mut scratch_pt).unwrap(),
                "keygen_relin" => drop(sk.relin_key(&mut rng).unwrap()),
                _ => panic!("unknown op {op}"),
            }
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / 10.0);
    }
    eprintln!("{op}: {best:.1} us/iter (best batch of 10)");
}
