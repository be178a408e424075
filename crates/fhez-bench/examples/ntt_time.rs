//! Times the NTT at n = 8192 (best of batches), for tuning.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tuning harness"
)]

use fhez_bench as _;
use fhez_math::{Modulus, NttTable, primes};

fn main() {
    let n = 8192;
    let q = primes::ntt_primes(60, n, 1, &[]).unwrap()[0];
    let t = NttTable::new(Modulus::new(q).unwrap(), n).unwrap();
    let mut a: Vec<u64> = (0..n as u64).map(|i| (i * 7919) % q).collect();
    let orig = a.clone();
    let time = |f: &mut dyn FnMut()| {
        let mut best = f64::MAX;
        for _ in 0..30 {
            let s = std::time::Instant::now();
            for _ in 0..20 {
                f();
            }
            best = best.min(s.elapsed().as_secs_f64() * 1e6 / 20.0);
        }
        best
    };
    let fwd = time(&mut || t.forward(&mut a));
    let inv = time(&mut || t.inverse(&mut a));
    t.forward(&mut a);
    t.inverse(&mut a);
    let _ = orig;
    println!("forward {fwd:.1} us, inverse {inv:.1} us");
}
