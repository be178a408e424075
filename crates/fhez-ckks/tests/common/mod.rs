//! Shared fixtures: parameter sets and keys built once per test binary.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test fixtures"
)]

use std::sync::{Arc, OnceLock};

use fhez_ckks::{
    CkksParams, Encoder, Evaluator, GaloisKeys, Preset, PublicKey, RelinKey, SecretKey,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

pub struct Fixture {
    pub params: Arc<CkksParams>,
    pub sk: SecretKey,
    pub pk: PublicKey,
    pub rk: RelinKey,
    pub gk: GaloisKeys,
    pub enc: Encoder,
    pub eval: Evaluator,
}

pub const SEED: u64 = 0x5eed_f4e2;

pub fn rng(stream: u64) -> ChaCha20Rng {
    let mut r = ChaCha20Rng::seed_from_u64(SEED);
    r.set_stream(stream);
    r
}

fn build(preset: Preset) -> Fixture {
    let params = CkksParams::new(&preset.spec()).expect("preset validates");
    let mut r = rng(1);
    let sk = SecretKey::generate(&params, &mut r).expect("sk");
    let pk = sk.public_key(&mut r).expect("pk");
    let rk = sk.relin_key(&mut r).expect("rk");
    let mut steps = GaloisKeys::pow2_steps(params.slots());
    steps.extend([3, 5, 7, -3]);
    let gk = sk.galois_keys(&steps, true, &mut r).expect("gk");
    Fixture {
        enc: Encoder::new(&params),
        eval: Evaluator::new(&params),
        params,
        sk,
        pk,
        rk,
        gk,
    }
}

pub fn tiny() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| build(Preset::TinyInsecure))
}

pub fn n13() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| build(Preset::N13Qp218))
}

/// Uniform values in [-1, 1].
pub fn values(len: usize, stream: u64) -> Vec<f64> {
    let mut r = rng(1000 + stream);
    (0..len)
        .map(|_| (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
        .collect()
}

pub fn max_err(got: &[f64], want: &[f64]) -> f64 {
    assert!(got.len() >= want.len());
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}
