//! From a [`Plan`] (measured on `Sim`) to CKKS parameters and keys.

use std::sync::Arc;

use fhez_ckks::{CkksClient, CkksParams, CkksParamsSpec, SecurityLevel};
use fhez_nn::{Plan, ReleasePolicy, SecurityStandard};

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

/// Bits after the binary point a decrypted value under `params` is promised to hold after
/// the decryption's noise flooding: the planner's rule read backwards
/// ([`fhez_nn::plan::released_precision_bits`]; `crates/fhez-nn/src/plan.rs`, module docs).
/// The planner sets the scale to `precision_bits + log_n + NOISE_BITS + flooding_bits`,
/// the bits under the requested precision covering rescaling, encoding and encryption
/// noise and the flooding; so the promise is what is left (0 when nothing is). Decrypted
/// outputs are rounded to it ([`release_policy`]).
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let graph = fhez_nn::prefab::cnn_classifier(10, 1)?;
/// let plan = fhez_nn::plan(&graph, 256, 30)?;
/// let params = fhez_ckks::CkksParams::new(&fhez_model::spec_from_plan(&plan))?;
/// // 30 bits do not fit with flooding under 60-bit primes at N = 2^14: the scale is
/// // capped at 2^52 and 12 bits are promised (the plan records the same).
/// assert_eq!(fhez_model::promised_precision_bits(&params), 12);
/// assert_eq!(plan.release().map(|r| r.precision_bits()), Some(12));
/// # Ok(()) }
/// ```
#[must_use]
pub fn promised_precision_bits(params: &CkksParams) -> u32 {
    fhez_nn::plan::released_precision_bits(params.log_n(), params.log_scale()).unwrap_or(0)
}

/// The release policy of every client decryption under `params`
/// ([`fhez_ckks::SharedDecryption`]): the planner's statistical security parameter
/// ([`fhez_nn::plan::STAT_SECURITY_BITS`]) and noise bound
/// ([`fhez_nn::plan::noise_bound_bits`]), rounding to [`promised_precision_bits`]. Its
/// used-slot count (all slots) is replaced by each reply's.
///
/// # Errors
/// [`Error::NoReleasePrecision`] when the scale cannot pay for the flooding.
pub fn release_policy(params: &CkksParams) -> Result<fhez_ckks::SharedDecryption> {
    let (log_n, log_scale) = (params.log_n(), params.log_scale());
    let release =
        fhez_nn::Release::for_scale(log_n, log_scale).ok_or(Error::NoReleasePrecision {
            log_n,
            log_scale,
            needed: log_n + fhez_nn::plan::NOISE_BITS + fhez_nn::plan::flooding_bits(log_n),
        })?;
    Ok(fhez_ckks::SharedDecryption::new(
        release.stat_security_bits,
        f64::from(release.noise_bound_bits).exp2(),
        release.precision_bits,
        params.slots(),
    )?)
}

/// `client` decrypting for release under its parameters' [`release_policy`] (shared,
/// flooded): the policy of a client whose plan or key directory records none.
///
/// # Errors
/// As [`release_policy`].
pub fn releasing(client: CkksClient) -> Result<CkksClient> {
    let policy = release_policy(client.params())?;
    Ok(client.with_release(policy))
}

/// The engine's decryption policy for a plan's release `policy` under `params` (its
/// used-slot count, all slots, is replaced by each reply's): flooding for
/// [`ReleasePolicy::Shared`], the reply check and rounding alone for
/// [`ReleasePolicy::PrivateOnly`].
///
/// # Errors
/// [`Error::Ckks`] for a policy out of the engine's range (a hostile plan or key file).
pub fn decryption_policy(
    policy: &ReleasePolicy,
    params: &CkksParams,
) -> Result<fhez_ckks::SharedDecryption> {
    let noise_bound = f64::from(policy.noise_bound_bits()).exp2();
    let (precision, slots) = (policy.precision_bits(), params.slots());
    Ok(match policy.stat_security_bits() {
        Some(s) => fhez_ckks::SharedDecryption::new(s, noise_bound, precision, slots)?,
        None => fhez_ckks::SharedDecryption::private_only(noise_bound, precision, slots)?,
    })
}

/// `client` decrypting under the plan's release `policy` ([`decryption_policy`]).
///
/// # Errors
/// As [`decryption_policy`].
pub fn releasing_with(client: CkksClient, policy: &ReleasePolicy) -> Result<CkksClient> {
    let d = decryption_policy(policy, client.params())?;
    Ok(client.with_release(d))
}

/// The plan's release policy, or [`Error::NoReleasePrecision`] when its scale leaves no
/// bit for a shared decryption.
///
/// # Errors
/// [`Error::NoReleasePrecision`].
pub fn plan_release(plan: &Plan) -> Result<ReleasePolicy> {
    plan.release().ok_or(Error::NoReleasePrecision {
        log_n: plan.log_n,
        log_scale: plan.log_scale,
        needed: plan.log_n + fhez_nn::plan::NOISE_BITS + fhez_nn::plan::flooding_bits(plan.log_n),
    })
}

/// The plan-level form of a client's engine policy (what a key directory records):
/// `None` for an exact client.
#[must_use]
pub fn policy_of(client: &CkksClient) -> Option<ReleasePolicy> {
    client.release().map(|d| {
        // B is a power of two by construction (`decryption_policy`, `release_policy`).
        let noise_bound_bits = d.noise_bound().log2().round() as u32;
        let precision_bits = d.precision_bits();
        if d.floods() {
            ReleasePolicy::Shared(fhez_nn::Release {
                stat_security_bits: d.stat_security_bits(),
                noise_bound_bits,
                precision_bits,
            })
        } else {
            ReleasePolicy::PrivateOnly {
                noise_bound_bits,
                precision_bits,
            }
        }
    })
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
/// CC layers). Under a key budget those are the plan's key steps, checked with its table
/// first ([`Plan::rotation_table`]). The client decrypts under the plan's release policy
/// ([`plan_release`], [`releasing_with`]): shared unless the plan was requested private-only.
///
/// # Errors
/// [`Error::PlanMismatch`] (see [`check_params`]), [`Error::NoReleasePrecision`], a
/// refused rotation table ([`Error::Nn`]) and key-generation errors.
pub fn keygen(plan: &Plan, params: &Arc<CkksParams>, batch: usize) -> Result<CkksClient> {
    check_params(plan, params, batch)?;
    plan.rotation_table(params.slots())?;
    let policy = plan_release(plan)?;
    let steps: Vec<i64> = plan.rotation_steps.iter().copied().collect();
    releasing_with(CkksClient::generate(params, &steps)?, &policy)
}
