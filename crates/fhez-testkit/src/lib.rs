//! Conformance suite and fixtures for fhez backends (`publish = false`).
//!
//! [`backend_suite!`] instantiates the same tests for any backend. Every test runs one small
//! erray program ([`Case`]) three times: on the backend under test, on a [`Plain`] oracle with
//! the same slots/levels/rotation keys, and on a [`Sim`] mirror. It then checks
//!
//! - **values** against `Plain` within `tolerance × case.scale() × (1 + |expected|)`, when the
//!   backend can decrypt;
//! - **accounting**: per-ciphertext levels, and (key switches, rotations, ct×ct mults) from
//!   `stats()`, identical on all three — so `Sim`'s predictions are checked against what the
//!   real backend consumed;
//! - **errors**: when the program fails, it must fail with the same message everywhere
//!   (for example `LevelExhausted` with the same numbers).
//!
//! Inputs are uniform in `[-1, 1)` from a seeded ChaCha generator; a failure prints the seed,
//! and `FHEZ_TEST_SEED=<n>` reruns with another one.
//!
//! # Adding a backend
//!
//! In an integration test of the backend's crate (with `fhez-testkit` as a dev-dependency):
//!
//! ```ignore
//! use fhez_testkit::backend_suite;
//!
//! // A backend that can decrypt: values + accounting. The constructor runs once per test and
//! // must give fresh counters (keys may be memoised in a OnceLock and shared).
//! backend_suite!(ckks_tiny, decrypt: tiny_client(), tolerance: fhez_testkit::tolerance::from_log_scale);
//! // A server-side value (no Decrypt): accounting only.
//! backend_suite!(ckks_server, accounting_only: tiny_server());
//! ```
//!
//! `tolerance` is any `fn(&Caps) -> f64`. The suite assumes a power-of-two slot count of at
//! least 16 and at least 3 levels.
//!
//! [`Plain`]: fhez_backend::Plain
//! [`Sim`]: fhez_backend::Sim

#![forbid(unsafe_code)]

pub mod cases;
mod harness;
mod inputs;
pub mod tolerance;

pub use fhez_backend;
pub use fhez_erray;
pub use harness::{Case, DEFAULT_SEED, DecryptFn, Harness, decrypt_with, sim_mirror};
pub use inputs::Inputs;

/// The rotation steps the whole suite requests on a backend with `slots` slots and
/// `max_level` levels (normalised to `[1, slots)`), found by running every case on a planning
/// [`Sim`](fhez_backend::Sim) — what a planner does before key generation. Backends with
/// explicit key sets (CKKS, SEAL) generate Galois keys for exactly these steps.
///
/// Keep the case list in sync with the suite macro.
///
/// # Errors
/// The Sim configuration error, as text.
pub fn suite_rotation_steps(
    slots: usize,
    max_level: u32,
) -> Result<std::collections::BTreeSet<i64>, String> {
    use fhez_backend::{Sim, SimConfig};
    let sim = Sim::new(SimConfig::planning(slots, max_level, 40.0)).map_err(|e| e.to_string())?;
    let inputs = Inputs::new(harness::seed_from_env(), slots);
    macro_rules! run_all {
        ($($case:ident),* $(,)?) => {
            $(
                // Failing cases (level exhaustion) still record the rotations they reached.
                let _ = <cases::$case as Case>::run(&cases::$case, &sim, &inputs);
            )*
        };
    }
    run_all!(
        RoundTrip,
        FlatRoundTrip,
        AddSubNeg,
        MulBroadcast,
        PlainBroadcast,
        Scalars,
        FlatSum,
        BatchSums,
        MatmulBatch,
        MatmulBatchMixed,
        MulMatmulBatch,
        SquareDenseChain,
        MulMatmulExhausted,
        MatmulFlatWide,
        MatmulFlatTall,
        Polyval3,
        Pow3,
        WindowSum,
        Serialization,
        LevelExhaustion,
        SingleConv,
        SinglePool,
        SingleChain,
        SingleDenseBudget,
        SingleStack,
        SinglePrepared,
        PlainSum,
        PlainSumLevelMismatch,
    );
    Ok(sim.report().rotation_steps)
}

/// Instantiates the conformance suite for one backend; see the crate docs.
///
/// - `backend_suite!(name, decrypt: <expr>, tolerance: <fn(&Caps) -> f64>)`
/// - `backend_suite!(name, accounting_only: <expr>)`
#[macro_export]
macro_rules! backend_suite {
    ($name:ident, decrypt: $make:expr, tolerance: $tol:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports, reason = "the constructor may use items of the parent")]
            use super::*;
            $crate::__suite_tests!({
                let backend = $make;
                let tol = ($tol)($crate::fhez_backend::Backend::caps(&backend));
                $crate::Harness::decrypting(backend, tol)
            });
        }
    };
    ($name:ident, accounting_only: $make:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports, reason = "the constructor may use items of the parent")]
            use super::*;
            $crate::__suite_tests!($crate::Harness::accounting_only($make));
        }
    };
}

/// Expands to one `#[test]` per case (implementation detail of [`backend_suite!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __suite_tests {
    ($harness:expr) => {
        $crate::__suite_tests!(@cases $harness;
            round_trip: RoundTrip,
            flat_round_trip: FlatRoundTrip,
            add_sub_neg: AddSubNeg,
            mul_broadcast: MulBroadcast,
            plain_broadcast: PlainBroadcast,
            scalars: Scalars,
            flat_sum: FlatSum,
            batch_sums: BatchSums,
            matmul_batch: MatmulBatch,
            matmul_batch_mixed: MatmulBatchMixed,
            mul_matmul_batch: MulMatmulBatch,
            square_dense_chain: SquareDenseChain,
            mul_matmul_exhausted: MulMatmulExhausted,
            matmul_flat_wide: MatmulFlatWide,
            matmul_flat_tall: MatmulFlatTall,
            polyval3: Polyval3,
            pow3: Pow3,
            window_sum: WindowSum,
            serialization: Serialization,
            level_exhaustion: LevelExhaustion,
            single_conv: SingleConv,
            single_pool: SinglePool,
            single_chain: SingleChain,
            single_dense_budget: SingleDenseBudget,
            single_stack: SingleStack,
            single_prepared: SinglePrepared,
            plain_sum: PlainSum,
            plain_sum_level_mismatch: PlainSumLevelMismatch,
        );
    };
    (@cases $harness:expr; $($test:ident: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() -> ::core::result::Result<(), ::std::string::String> {
                let harness = $harness;
                harness.check(&$crate::cases::$case)
            }
        )*
    };
}
