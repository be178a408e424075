//! The conformance suite on the CKKS backend: values and accounting on the client
//! (`Backend + Decrypt`), accounting on the server (`Backend` only), on the insecure tiny
//! preset and on the secure `N13Qp218` preset (depth 2).
//!
//! Keys are generated once per preset (Galois keys for exactly the steps the suite requests,
//! as a planner would list them) and shared; every test gets a backend with fresh counters.

use std::sync::{Arc, OnceLock};

use fhez_backend::Caps;
use fhez_ckks::{CkksClient, CkksParams, CkksServer, Preset};
use fhez_testkit::backend_suite;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

#[expect(
    clippy::expect_used,
    reason = "fixture: a failed key generation must abort the test that needs it"
)]
fn make_client(preset: Preset) -> CkksClient {
    let params: Arc<CkksParams> = CkksParams::new(&preset.spec()).expect("params");
    let steps = fhez_testkit::suite_rotation_steps(params.slots(), params.max_level())
        .expect("planning sim");
    let steps: Vec<i64> = steps.into_iter().collect();
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed);
    CkksClient::generate_with_rng(&params, &steps, &mut rng).expect("keygen")
}

/// The tiny-preset client, keys memoised; fresh counters for each caller.
fn tiny_client() -> CkksClient {
    static CLIENT: OnceLock<CkksClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| make_client(Preset::TinyInsecure))
        .with_fresh_stats()
}

/// A server with the tiny client's evaluation keys only; fresh counters.
fn tiny_server() -> CkksServer {
    static SERVER: OnceLock<CkksServer> = OnceLock::new();
    SERVER
        .get_or_init(|| CkksServer::new(tiny_client().server_keys()))
        .with_fresh_stats()
}

/// The secure N = 2^13 client (Q = 60+40+40, P = 60), keys memoised.
fn n13_client() -> CkksClient {
    static CLIENT: OnceLock<CkksClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| make_client(Preset::N13Qp218))
        .with_fresh_stats()
}

/// Absolute tolerance `2^-(log_scale − log2 N − 4)` (with `N = 2·slots`) for values of
/// magnitude ≤ 1; the suite scales it by each case's term count and by `1 + |expected|`.
///
/// Why: a fresh public-key ciphertext carries the rounding of the division by P, a polynomial
/// `r0 + r1·s` with coefficients of standard deviation ≈ `sqrt(N)/4`; the canonical embedding
/// multiplies that by ≈ `sqrt(N)`, so a slot is off by ≈ `2^(log2 N − 2) / Δ` (one standard
/// deviation), ≈ `2^(log2 N) / Δ` at worst over all slots — measured 1.1e-6 ≈ 2^-19.8 for
/// `TinyInsecure` (N = 2^10, Δ = 2^30) and 4.9e-9 ≈ 2^-27.6 for `N13Qp218` (N = 2^13,
/// Δ = 2^40). Products of values ≤ 1 at depth ≤ 2 and the rounding added by rescales and key
/// switches are of the same order, and the cases' scale factors cover their sums: the whole
/// suite passes at `2^-(log_scale − log2 N)` for several seeds, so the 4 extra bits are margin.
/// A flat `2^-(log_scale − c)` cannot serve both presets, since the error grows with N. Any
/// real bug (a missed rescale, a wrong rotation, a scale mismatch) is off by far more.
fn ckks_tolerance(caps: &Caps) -> f64 {
    let log_n = (2.0 * caps.slots as f64).log2();
    (-(caps.log_scale - log_n - 4.0)).exp2()
}

backend_suite!(ckks_tiny, decrypt: tiny_client(), tolerance: ckks_tolerance);
backend_suite!(ckks_server_accounting, accounting_only: tiny_server());
backend_suite!(ckks_n13, decrypt: n13_client(), tolerance: ckks_tolerance);

#[test]
fn suite_steps_are_exactly_the_advertised_keys() {
    let client = tiny_client();
    let caps = fhez_backend::Backend::caps(&client);
    let steps =
        fhez_testkit::suite_rotation_steps(caps.slots, caps.max_level).expect("planning sim");
    assert!(!steps.is_empty());
    assert_eq!(client.server_keys().rotation_steps(), steps);
    assert_eq!(caps.rotations, fhez_backend::RotationSet::Steps(steps));
}

/// The single-input cases run to completion on the tiny preset (three levels), so the suite
/// compares their values, not only identical errors.
#[test]
fn single_input_cases_complete_on_tiny() -> Result<(), String> {
    use fhez_testkit::{Case, Inputs, cases};
    let client = tiny_client();
    let inputs = Inputs::new(
        fhez_testkit::DEFAULT_SEED,
        fhez_backend::Backend::slots(&client),
    );
    let run = |r: fhez_erray::Result<fhez_erray::Erray<CkksClient>>, name: &str| {
        r.map(|_| ()).map_err(|e| format!("{name}: {e}"))
    };
    run(cases::SingleConv.run(&client, &inputs), "single_conv")?;
    run(cases::SinglePool.run(&client, &inputs), "single_pool")?;
    run(cases::SingleChain.run(&client, &inputs), "single_chain")?;
    run(
        cases::SingleDenseBudget.run(&client, &inputs),
        "single_dense_budget",
    )
}
