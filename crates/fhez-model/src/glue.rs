//! From a [`Plan`] (measured on `Sim`) to CKKS parameters and keys.

use std::sync::Arc;

use fhez_ckks::{CkksClient, CkksParams, CkksParamsSpec, SecurityLevel};
use fhez_nn::{Plan, SecurityStandard};

use crate::{Error, Result};

/// The CKKS parameter spec of a plan: the planned ring degree, modulus chain, special
/// primes and scale, with the **128-bit security** check of the table the plan was made
/// against ([`SecurityLevel::Tc128`] for [`SecurityStandard::Standard2018`],
/// [`SecurityLevel::Tc128Guideline2024`] for [`SecurityStandard::Guideline2024`]); the
/// planner picks the smallest `N` that table allows for the chain, so [`CkksParams::new`]
/// accepts it.
///
/// For fast tests, lower `log_n` and opt out explicitly:
/// `CkksParamsSpec { log_n: 10, ..spec_from_plan(&plan) }.insecure_for_testing()`.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let graph = fhez_nn::prefab::cnn_classifier(10, 1)?;
/// let plan = fhez_nn::plan(&graph, 256, 30)?;
/// let spec = fhez_model::spec_from_plan(&plan);
/// assert_eq!((spec.log_n, spec.log_q.len()), (14, 7));
/// assert_eq!(spec.security, fhez_ckks::SecurityLevel::Tc128);
/// # Ok(()) }
/// ```
#[must_use]
pub fn spec_from_plan(plan: &Plan) -> CkksParamsSpec {
    CkksParamsSpec::new(plan.log_n)
        .with_log_q(&plan.log_q)
        .with_log_p(&plan.log_p)
        .with_log_scale(plan.log_scale)
        .with_security(match plan.standard {
            SecurityStandard::Standard2018 => SecurityLevel::Tc128,
            SecurityStandard::Guideline2024 => SecurityLevel::Tc128Guideline2024,
        })
}

/// Bits after the binary point a decrypted value under `params` is promised to hold: the
/// planner's rule read backwards (`crates/fhez-nn/src/plan.rs`, module docs). The planner
/// sets the scale to `precision_bits + log_n + NOISE_BITS`, the `log_n + NOISE_BITS` bits
/// under the requested precision covering rescaling, encoding and encryption noise; so the
/// promise is `log_scale − log_n − NOISE_BITS` (at least 0). Decrypted outputs shown to
/// anyone are rounded to it ([`round_to_bits`]): the digits below carry the noise.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let graph = fhez_nn::prefab::cnn_classifier(10, 1)?;
/// let plan = fhez_nn::plan(&graph, 256, 30)?;
/// let params = fhez_ckks::CkksParams::new(&fhez_model::spec_from_plan(&plan))?;
/// assert_eq!(fhez_model::promised_precision_bits(&params), 30);
/// # Ok(()) }
/// ```
#[must_use]
pub fn promised_precision_bits(params: &CkksParams) -> u32 {
    params
        .log_scale()
        .saturating_sub(params.log_n())
        .saturating_sub(fhez_nn::plan::NOISE_BITS)
}

/// `x` rounded to the nearest multiple of `2^-bits` (`bits` above 1000 are taken as 1000,
/// far beyond an `f64`'s precision).
#[must_use]
pub fn round_to_bits(x: f64, bits: u32) -> f64 {
    let step = f64::from(bits.min(1000)).exp2();
    (x * step).round() / step
}

/// Checks that validated parameters can run `plan` with `batch` samples per ciphertext:
/// enough levels for the measured depth and enough slots for the batch.
///
/// # Errors
/// [`Error::PlanMismatch`] naming the quantity that is too small.
pub fn check_params(plan: &Plan, params: &CkksParams, batch: usize) -> Result<()> {
    if params.max_level() < plan.depth {
        return Err(Error::PlanMismatch {
            what: "max level",
            needed: u64::from(plan.depth),
            found: u64::from(params.max_level()),
        });
    }
    if params.slots() < batch {
        return Err(Error::PlanMismatch {
            what: "slot count",
            needed: batch as u64,
            found: params.slots() as u64,
        });
    }
    // Single-input layouts repeat with a period that must fit the slots (the rotation steps
    // of a single-input plan do not depend on the slot count).
    let period = plan
        .layouts
        .iter()
        .map(|l| match l.packing {
            fhez_nn::PackingSpec::SingleInput { period } => period,
            fhez_nn::PackingSpec::BatchInSlots { .. } | fhez_nn::PackingSpec::Flat => 1,
        })
        .max()
        .unwrap_or(1);
    if params.slots() < period {
        return Err(Error::PlanMismatch {
            what: "slot count",
            needed: period as u64,
            found: params.slots() as u64,
        });
    }
    Ok(())
}

/// Client key generation for a plan: secret, public and relinearization keys, and Galois
/// keys for **exactly** the plan's rotation steps (none at all for batch-in-slots dense and
/// CC layers).
///
/// # Errors
/// [`Error::PlanMismatch`] (see [`check_params`]) and key-generation errors.
pub fn keygen(plan: &Plan, params: &Arc<CkksParams>, batch: usize) -> Result<CkksClient> {
    check_params(plan, params, batch)?;
    let steps: Vec<i64> = plan.rotation_steps.iter().copied().collect();
    Ok(CkksClient::generate(params, &steps)?)
}
