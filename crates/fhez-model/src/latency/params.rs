//! Parameters for latency mode: the smallest 128-bit-secure ring for the depth.

use fhez_ckks::CkksParamsSpec;
use fhez_ckks::params::max_log_qp_128;

use super::LatencyNet;
use crate::{Error, Result};

/// Headroom of the base prime over the scale, in bits, that [`latency_spec`] is usually
/// called with: outputs up to about `±2^6` decrypt correctly.
pub const DEFAULT_HEADROOM_BITS: u32 = 8;

/// Smallest scale (bits) accepted before moving to the next ring degree.
const MIN_LOG_SCALE: u32 = 22;
/// Largest scale (bits) used: more precision than CKKS rounding needs for inference.
const MAX_LOG_SCALE: u32 = 40;
/// Largest prime size the engine generates.
const MAX_PRIME_BITS: u32 = 60;

/// A 128-bit-secure parameter spec (HomomorphicEncryption.org table, ternary secret) for a
/// latency-mode network of multiplicative `depth` whose outputs stay below
/// `2^(headroom_bits − 1)` in magnitude.
///
/// Ring degree `N = 2^13` when it leaves a scale of at least 22 bits, else `2^14`, else
/// `2^15`. With scale `s` and headroom `h`: ciphertext primes `[s + h, s × depth]` and two
/// special primes sharing the rest of the budget, so that `P` is at least every two-prime
/// key-switching digit: `(depth + 3)·s + 2h ≤ max log QP`, `s ≤ 40`. (A larger `P` does
/// not make rotations more precise with this engine — measured: about `2^19` units of
/// noise per rotation either way — so the budget goes to the scale.)
///
/// # Examples
///
/// ```
/// let spec = fhez_model::latency::latency_spec(3, 8)?;
/// assert_eq!((spec.log_n, spec.log_scale), (13, 33));
/// assert_eq!((spec.log_q, spec.log_p), (vec![41, 33, 33, 33], vec![39, 39]));
/// # Ok::<(), fhez_model::Error>(())
/// ```
///
/// # Errors
/// [`Error::PlanMismatch`] when no table entry fits (`depth` far too large).
pub fn latency_spec(depth: u32, headroom_bits: u32) -> Result<CkksParamsSpec> {
    spec_from(13, depth, headroom_bits)
}

/// [`latency_spec`] for `net`: its depth, and a ring with enough slots for its im2col
/// layout and widest layer ([`LatencyNet::slots_needed`]).
///
/// # Errors
/// As [`latency_spec`].
pub fn latency_spec_for(net: &LatencyNet, headroom_bits: u32) -> Result<CkksParamsSpec> {
    // N = 2·slots
    let min_log_n = (2 * net.slots_needed())
        .next_power_of_two()
        .trailing_zeros();
    spec_from(min_log_n.max(13), net.depth(), headroom_bits)
}

fn spec_from(min_log_n: u32, depth: u32, headroom_bits: u32) -> Result<CkksParamsSpec> {
    let h = headroom_bits;
    for log_n in min_log_n..=15 {
        let Some(budget) = max_log_qp_128(log_n) else {
            continue;
        };
        let spare = budget.saturating_sub(2 * h);
        let s = (spare / (depth + 3)).min(MAX_LOG_SCALE);
        if s < MIN_LOG_SCALE || s + h > MAX_PRIME_BITS {
            continue;
        }
        let mut log_q = vec![s + h];
        log_q.extend(std::iter::repeat_n(s, depth as usize));
        let used: u32 = log_q.iter().sum();
        let p_total = budget.saturating_sub(used).min(2 * MAX_PRIME_BITS);
        let log_p = [p_total.div_ceil(2), p_total / 2];
        return Ok(CkksParamsSpec::new(log_n)
            .with_log_q(&log_q)
            .with_log_p(&log_p)
            .with_log_scale(s));
    }
    Err(Error::PlanMismatch {
        what: "latency depth",
        needed: u64::from(depth),
        found: 0,
    })
}
