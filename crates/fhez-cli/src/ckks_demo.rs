//! `fhez ckks-demo`: an end-to-end CKKS round trip with errors and timings (the scheme
//! alone, no network).

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use fhez_ckks::{CkksParams, Encoder, Evaluator, Preset, SecretKey};

/// Demo options.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Parameter preset (see `fhez params list`).
    #[arg(long, default_value = "N14_QP438_128")]
    preset: String,
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<()> {
    let preset = Preset::from_name(&args.preset)
        .with_context(|| format!("unknown preset {:?}", args.preset))?;
    let t = Instant::now();
    let params = CkksParams::new(&preset.spec())?;
    outln!(
        "fhez CKKS demo — {} (N = 2^{}, {} slots, depth {}, log2(QP) = {:.0}, {:?})",
        preset.name(),
        params.log_n(),
        params.slots(),
        params.max_level(),
        params.log_qp(),
        params.security()
    );
    step("context", t, None);

    let mut rng = fhez_ckks::os_rng()?;
    let t = Instant::now();
    let sk = SecretKey::generate(&params, &mut rng)?;
    let pk = sk.public_key(&mut rng)?;
    let rk = sk.relin_key(&mut rng)?;
    let gk = sk.galois_keys_pow2(&mut rng)?;
    step(
        "keygen (secret, public, relin, all power-of-two Galois)",
        t,
        None,
    );

    let slots = params.slots();
    let x: Vec<f64> = (0..slots).map(|i| ((i as f64) * 0.37).sin()).collect();
    let y: Vec<f64> = (0..slots).map(|i| ((i as f64) * 0.11).cos()).collect();
    let enc = Encoder::new(&params);
    let eval = Evaluator::new(&params);
    let (scale, top) = (params.default_scale(), params.max_level());

    let t = Instant::now();
    let cx = pk.encrypt(&params, &enc.encode(&x, scale, top)?, &mut rng)?;
    let cy = pk.encrypt(&params, &enc.encode(&y, scale, top)?, &mut rng)?;
    step(
        "encode + public-key encrypt x and y",
        t,
        Some(err(&enc.decode(&sk.decrypt(&cx)?)?, &x)),
    );

    let t = Instant::now();
    let prod = eval.mul_relin_rescale(&cx, &cy, &rk)?;
    let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
    step(
        "x·y (multiply, relinearize, rescale)",
        t,
        Some(err(&enc.decode(&sk.decrypt(&prod)?)?, &want)),
    );

    let t = Instant::now();
    let rot = eval.rotate(&prod, 3, &gk)?;
    let want_rot: Vec<f64> = want.iter().cycle().skip(3).take(slots).copied().collect();
    step(
        "rotate left by 3 (composed from power-of-two keys)",
        t,
        Some(err(&enc.decode(&sk.decrypt(&rot)?)?, &want_rot)),
    );

    let t = Instant::now();
    let mut acc = prod.clone();
    let mut s = 1;
    while s < slots {
        acc = eval.add(&acc, &eval.rotate(&acc, s as i64, &gk)?)?;
        s *= 2;
    }
    let dot: f64 = want.iter().sum();
    let got = enc.decode(&sk.decrypt(&acc)?)?;
    step(
        "inner product <x, y> (rotate-and-add tree)",
        t,
        Some(err(got.get(..1).unwrap_or_default(), &[dot])),
    );
    outln!(
        "\n<x, y> = {dot:.6} (plain) vs {:.6} (encrypted)",
        got.first().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}

fn err(got: &[f64], want: &[f64]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

fn step(what: &str, t: Instant, max_err: Option<f64>) {
    let ms = t.elapsed().as_secs_f64() * 1e3;
    match max_err {
        Some(e) => outln!(
            "  {what:<58} {ms:>9.2} ms   max |error| = {e:.2e} (2^{:.1})",
            e.log2()
        ),
        None => outln!("  {what:<58} {ms:>9.2} ms"),
    }
}
