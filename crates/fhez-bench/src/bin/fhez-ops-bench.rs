//! CKKS primitive-operation benchmark following the peer harness contract
//! (docs/BENCHMARKS.md): `fhez-ops-bench N bits(comma) scale_bits [budget_s]`
//! prints `{"fhez": {"ops": …, "sizes": …, "precision": …, "config": …}}`.
//! Same op names, inputs, repetition rules and precision trials as
//! `seal_native.cpp`; the last prime in `bits` is the special prime.

#![expect(
    clippy::indexing_slicing,
    reason = "bench binary: argument count checked, slices sized by slots"
)]

use anyhow::{Context, Result, bail};
use fhez_bench::{Budget, bench};
use fhez_ckks::{CkksParams, CkksParamsSpec, Encoder, Evaluator, SecretKey};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::{Map, Value, json};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        bail!(
            "usage: {} N bits(comma) scale_bits [budget_s]",
            args.first().map_or("fhez-ops-bench", String::as_str)
        );
    }
    let n: usize = args[1].parse().context("N")?;
    let bits: Vec<u32> = args[2]
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("bits")?;
    let scale_bits: u32 = args[3].parse().context("scale_bits")?;
    let budget: f64 = args
        .get(4)
        .map(|s| s.parse())
        .transpose()
        .context("budget_s")?
        .unwrap_or(1.5);
    let log_n = n.trailing_zeros();
    let spec = CkksParamsSpec::from_seal_bits(log_n, &bits, scale_bits);
    let out = run(&spec, budget)?;
    println!("{}", json!({ "fhez": out }));
    Ok(())
}

fn uniform(rng: &mut ChaCha20Rng, len: usize) -> Vec<f64> {
    (0..len)
        .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
        .collect()
}

fn max_abs(got: &[f64], want: &[f64]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

fn run(spec: &CkksParamsSpec, budget: f64) -> Result<Value> {
    let op = Budget::op(budget);
    let key = Budget::key();
    let mut ops = Map::new();
    let mut put = |name: &str, s: fhez_bench::Stats| {
        eprintln!("{name:<24} {:>12.2} us", s.median_us);
        ops.insert(name.to_owned(), s.to_json());
    };
    // `os_rng` returns the operating system's failure as an error; `from_os_rng` panics.
    let mut rng = fhez_ckks::os_rng().context("seeding from the operating system")?;

    put(
        "context_create",
        bench(key, || (), |()| CkksParams::new(spec)),
    );
    let params = CkksParams::new(spec)?;
    let slots = params.slots();
    put(
        "keygen_secret",
        bench(key, || (), |()| SecretKey::generate(&params, &mut rng)),
    );
    let sk = SecretKey::generate(&params, &mut rng)?;
    put(
        "keygen_public",
        bench(key, || (), |()| sk.public_key(&mut rng)),
    );
    put(
        "keygen_relin",
        bench(key, || (), |()| sk.relin_key(&mut rng)),
    );
    put(
        "keygen_galois_all_pow2",
        bench(key, || (), |()| sk.galois_keys_pow2(&mut rng)),
    );
    put(
        "keygen_galois_step1",
        bench(key, || (), |()| sk.galois_keys(&[1], false, &mut rng)),
    );
    let pk = sk.public_key(&mut rng)?;
    let rk = sk.relin_key(&mut rng)?;
    let gk = sk.galois_keys_pow2(&mut rng)?;

    let enc = Encoder::new(&params);
    let eval = Evaluator::new(&params);
    let (scale, top) = (params.default_scale(), params.max_level());
    let mut data_rng = ChaCha20Rng::seed_from_u64(1);
    let x = uniform(&mut data_rng, slots);
    let y = uniform(&mut data_rng, slots);
    put("encode", bench(op, || (), |()| enc.encode(&x, scale, top)));
    let (ptx, pty) = (enc.encode(&x, scale, top)?, enc.encode(&y, scale, top)?);
    put(
        "encrypt",
        bench(op, || (), |()| pk.encrypt(&params, &ptx, &mut rng)),
    );
    let cx = pk.encrypt(&params, &ptx, &mut rng)?;
    let cy = pk.encrypt(&params, &pty, &mut rng)?;
    put(
        "decrypt_decode",
        bench(op, || (), |()| sk.decrypt(&cx).and_then(|p| enc.decode(&p))),
    );
    put("decrypt", bench(op, || (), |()| sk.decrypt(&cx)));
    let ptd = sk.decrypt(&cx)?;
    put("decode", bench(op, || (), |()| enc.decode(&ptd)));
    put("add", bench(op, || (), |()| eval.add(&cx, &cy)));
    put(
        "mul_plain",
        bench(op, || (), |()| eval.mul_plain(&cx, &pty)),
    );
    put("mul_ct_norelin", bench(op, || (), |()| eval.mul(&cx, &cy)));
    let c3 = eval.mul(&cx, &cy)?;
    put(
        "relinearize",
        bench(op, || (), |()| eval.relinearize(&c3, &rk)),
    );
    let c2 = eval.relinearize(&c3, &rk)?;
    put("rescale", bench(op, || (), |()| eval.rescale(&c2)));
    put(
        "mul_relin_rescale",
        bench(op, || (), |()| eval.mul_relin_rescale(&cx, &cy, &rk)),
    );
    put("rotate1", bench(op, || (), |()| eval.rotate(&cx, 1, &gk)));
    let ser = bench(op, || (), |()| fhez_ckks::wire::ciphertext_to_bytes(&cx));
    // `serialize` per the contract; `serialize_none` so the ratio against SEAL's
    // uncompressed save shows up too (the fhez wire format is uncompressed).
    put("serialize_none", ser.clone());
    put("serialize", ser);
    let c1 = eval.rescale(&c2)?;

    let rot = eval.rotate(&cx, 1, &gk)?;
    let dv = enc.decode(&sk.decrypt(&rot)?)?;
    let rot_err = (0..slots - 1)
        .map(|i| (dv[i] - x[i + 1]).abs())
        .fold(0.0, f64::max);

    let (mut e1s, mut e2s) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let (a, b) = (uniform(&mut data_rng, slots), uniform(&mut data_rng, slots));
        let ca = pk.encrypt(&params, &enc.encode(&a, scale, top)?, &mut rng)?;
        let cb = pk.encrypt(&params, &enc.encode(&b, scale, top)?, &mut rng)?;
        e1s.push(max_abs(&enc.decode(&sk.decrypt(&ca)?)?, &a));
        let prod = eval.mul_relin_rescale(&ca, &cb, &rk)?;
        let want: Vec<f64> = a.iter().zip(&b).map(|(p, q)| p * q).collect();
        e2s.push(max_abs(&enc.decode(&sk.decrypt(&prod)?)?, &want));
    }
    let summary = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let max = v.last().copied().unwrap_or(f64::NAN);
        json!({"max": max, "median": v[v.len() / 2], "trials": v.len(), "log2_max": (max.log2() * 100.0).round() / 100.0})
    };
    let seeded = sk.encrypt_seeded(&ptx, &mut rng)?;
    let sizes = json!({
        "ct_fresh": fhez_ckks::wire::ciphertext_to_bytes(&cx)?.len(),
        "ct_fresh_seeded": fhez_ckks::wire::seeded_ciphertext_to_bytes(&seeded)?.len(),
        "ct_after_rescale": fhez_ckks::wire::ciphertext_to_bytes(&c1)?.len(),
        "public_key": fhez_ckks::wire::public_key_to_bytes(&pk)?.len(),
        "relin_key": fhez_ckks::wire::relin_key_to_bytes(&rk)?.len(),
        "galois_keys_all_pow2": fhez_ckks::wire::galois_keys_to_bytes(&gk)?.len(),
        "galois_keys_all_pow2_count": gk.len(),
        "note": "fhez wire format: keys carry the seed of their uniform halves; no general-purpose compression",
    });
    Ok(json!({
        "ops": ops,
        "sizes": sizes,
        "precision": {
            "enc_dec_max_abs_err": summary(e1s),
            "mul_relin_rescale_max_abs_err": summary(e2s),
        },
        "rotate1_check_max_err": rot_err,
        "config": {
            "library": format!("fhez {}", env!("CARGO_PKG_VERSION")),
            "N": params.n(), "coeff_bits": spec.log_q.iter().chain(&spec.log_p).map(u32::to_string).collect::<Vec<_>>().join(","),
            "scale": format!("2^{}", params.log_scale()), "threads": 1,
            "special_primes": params.p().len(), "params_id": params.id().to_hex(),
        },
    }))
}
