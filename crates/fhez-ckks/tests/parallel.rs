//! Key switching split over threads gives the same ciphertexts, bit for bit, as on one thread.
//!
//! One relinearization / rotation / ModDown-with-rescale / rescale runs its digits, limbs,
//! conversion columns and output polynomials as rayon tasks (`src/rlwe/keyswitch.rs`,
//! `src/rlwe/split.rs`); every task computes exactly what the sequential loop computed, so the
//! result must not depend on the number of threads (one thread runs everything inline).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use common::{max_err, n13, tiny, values};
use fhez_ckks::Ciphertext;

/// Runs `f` on a dedicated rayon pool of `threads` threads.
fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Every key-switching operation of one fixture, in a fixed order.
fn key_switches(f: &common::Fixture) -> Vec<Ciphertext> {
    let level = f.params.max_level();
    let (x, y) = (values(f.params.slots(), 3), values(f.params.slots(), 4));
    let encode = |v: &[f64]| f.enc.encode(v, f.params.default_scale(), level).unwrap();
    let cx =
        f.pk.encrypt(&f.params, &encode(&x), &mut common::rng(11))
            .unwrap();
    let cy =
        f.pk.encrypt(&f.params, &encode(&y), &mut common::rng(12))
            .unwrap();
    let prod = f.eval.mul(&cx, &cy).unwrap();
    let mut out = vec![
        f.eval.relinearize(&prod, &f.rk).unwrap(),
        f.eval.relinearize_rescale(&prod, &f.rk).unwrap(),
        f.eval.mul_relin_rescale(&cx, &cy, &f.rk).unwrap(),
        f.eval.rotate(&cx, 1, &f.gk).unwrap(),
        f.eval.rotate(&cx, -3, &f.gk).unwrap(),
    ];
    out.extend(f.eval.rotate_hoisted(&cx, &[1, 2, 5], &f.gk).unwrap());
    out.push(f.eval.rescale(&out[0]).unwrap());
    out.push(f.eval.rescale(&prod).unwrap());
    // The results are right, not only equal: rotation by one matches the plain rotation.
    let got = f.enc.decode(&f.sk.decrypt(&out[3]).unwrap()).unwrap();
    let want: Vec<f64> = (0..x.len()).map(|i| x[(i + 1) % x.len()]).collect();
    assert!(max_err(&got, &want) < 1.0 / 4096.0);
    out
}

/// The CNN benchmark's chain shape (`q = [31, 26×5]`, two special primes `[29, 28]`: digits of
/// two primes, so ModUp and ModDown take the general exact conversion, split by columns) at
/// N = 2^12, large enough to be split over threads.
fn two_special_primes() -> common::Fixture {
    let spec = fhez_ckks::CkksParamsSpec::new(12)
        .with_log_q(&[31, 26, 26, 26, 26, 26])
        .with_log_p(&[29, 28])
        .with_log_scale(26)
        .insecure_for_testing();
    let params = fhez_ckks::CkksParams::new(&spec).unwrap();
    assert_eq!(params.digit_count(), 3);
    let mut r = common::rng(21);
    let sk = fhez_ckks::SecretKey::generate(&params, &mut r).unwrap();
    let pk = sk.public_key(&mut r).unwrap();
    let rk = sk.relin_key(&mut r).unwrap();
    let gk = sk.galois_keys(&[1, 2, 5, -3], true, &mut r).unwrap();
    common::Fixture {
        enc: fhez_ckks::Encoder::new(&params),
        eval: fhez_ckks::Evaluator::new(&params),
        params,
        sk,
        pk,
        rk,
        gk,
    }
}

#[test]
fn key_switching_is_independent_of_the_thread_count() {
    let two = two_special_primes();
    for f in [tiny(), n13(), &two] {
        let one = on_threads(1, || key_switches(f));
        for threads in [2, 3, 4] {
            let many = on_threads(threads, || key_switches(f));
            assert_eq!(one.len(), many.len());
            for (i, (a, b)) in one.iter().zip(&many).enumerate() {
                assert!(a == b, "operation {i} differs with {threads} threads");
            }
        }
    }
}
