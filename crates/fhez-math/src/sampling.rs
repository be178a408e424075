//! Samplers for uniform, ternary and discrete Gaussian polynomials.
//!
//! Randomness is always injected as `&mut (impl CryptoRng + ?Sized)`; nothing here touches
//! the operating system. Use [`seeded_rng`] for the deterministic expansion of a 32-byte seed.
//!
//! # Seed expansion (stable, part of the wire format)
//!
//! `sample_uniform_into(&mut seeded_rng(seed), basis, poly)` is fully determined by `seed`:
//! ChaCha20 ([`rand_chacha::ChaCha20Rng::from_seed`]) is read limb by limb (limb 0 first) and,
//! within a limb, coefficient by coefficient; each attempt takes one `next_u64()`, keeps its
//! low `bits(q_i)` bits and accepts the value if it is below `q_i`, otherwise draws again.

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};

use crate::{Error, Poly, Repr, Result, RnsBasis};

/// The standard deviation used by the CKKS layer (as in SEAL and the HE standard).
pub const DEFAULT_SIGMA: f64 = 3.2;

/// The largest Gaussian standard deviation accepted (keeps the CDT table small).
pub const MAX_GAUSSIAN_SIGMA: f64 = 1024.0;

/// Tail cut of the discrete Gaussian, in standard deviations.
pub const GAUSSIAN_TAIL_CUT: f64 = 6.0;

/// A ChaCha20 generator seeded with `seed` (see the [module docs](self) for the expansion).
#[must_use]
pub fn seeded_rng(seed: [u8; 32]) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(seed)
}

/// Fills every limb `i < min(poly.limbs(), basis.len())` of `poly` with independent values
/// uniform in `[0, q_i)`, by rejection sampling (unbiased).
///
/// The rejections depend only on discarded random words, never on accepted values. A basis
/// with fewer moduli than `poly.limbs()` is a caller bug (debug-asserted); the extra limbs are
/// left untouched.
pub fn sample_uniform_into<R: Repr>(
    rng: &mut (impl CryptoRng + ?Sized),
    basis: &RnsBasis,
    poly: &mut Poly<R>,
) {
    debug_assert!(basis.len() >= poly.limbs());
    debug_assert_eq!(basis.n(), poly.n());
    for (limb, q) in poly.limbs_iter_mut().zip(basis.moduli()) {
        let (qv, mask) = (q.value(), u64::MAX >> (64 - q.bits()));
        for x in limb.iter_mut() {
            *x = loop {
                let candidate = rng.next_u64() & mask;
                if candidate < qv {
                    break candidate;
                }
            };
        }
    }
}

/// `n` values uniform in `{-1, 0, 1}`.
///
/// Each value is `floor(3·r / 2^64) - 1` for a fresh 64-bit word `r` (one multiplication, no
/// branch or table lookup on the value; bias below `2^-64`).
#[must_use]
pub fn sample_ternary(rng: &mut (impl CryptoRng + ?Sized), n: usize) -> Vec<i64> {
    (0..n)
        .map(|_| {
            let r = rng.next_u64();
            // Below 3, so the narrowing is lossless.
            ((u128::from(r) * 3) >> 64) as i64 - 1
        })
        .collect()
}

/// `n` samples of the discrete Gaussian of standard deviation `sigma`, clipped to
/// `|x| <= ceil(6σ)` (the tail beyond is dropped and the rest renormalised).
///
/// Cumulative-distribution-table sampling with 64-bit thresholds: each sample compares one
/// fresh 64-bit word against **every** table entry (no early exit, no secret-dependent
/// memory access), so the running time does not depend on the value drawn. The table is
/// built in `f64`, so probabilities are accurate to about `2^-53`.
///
/// `sigma` must be finite in `(0, MAX_GAUSSIAN_SIGMA]` (debug-asserted); in release builds a
/// NaN or non-positive `sigma` falls back to [`DEFAULT_SIGMA`] (never to zero noise) and a
/// larger one is clamped to [`MAX_GAUSSIAN_SIGMA`]. Use [`try_sample_gaussian`] to get an error
/// instead.
#[must_use]
pub fn sample_gaussian(rng: &mut (impl CryptoRng + ?Sized), n: usize, sigma: f64) -> Vec<i64> {
    debug_assert!(
        sigma > 0.0 && sigma <= MAX_GAUSSIAN_SIGMA,
        "invalid sigma {sigma}"
    );
    let sigma = if sigma > 0.0 {
        sigma.min(MAX_GAUSSIAN_SIGMA)
    } else {
        DEFAULT_SIGMA
    };
    gaussian_with_table(rng, n, sigma)
}

/// [`sample_gaussian`] that rejects an invalid `sigma`.
///
/// # Errors
///
/// [`Error::InvalidSigma`] unless `0 < sigma <= MAX_GAUSSIAN_SIGMA`.
pub fn try_sample_gaussian(
    rng: &mut (impl CryptoRng + ?Sized),
    n: usize,
    sigma: f64,
) -> Result<Vec<i64>> {
    if !(sigma > 0.0 && sigma <= MAX_GAUSSIAN_SIGMA) {
        return Err(Error::InvalidSigma { sigma });
    }
    Ok(gaussian_with_table(rng, n, sigma))
}

/// The clipping bound `ceil(6σ)` for a valid `sigma`.
#[must_use]
pub fn gaussian_bound(sigma: f64) -> i64 {
    // sigma <= MAX_GAUSSIAN_SIGMA keeps this far inside i64.
    (GAUSSIAN_TAIL_CUT * sigma).ceil() as i64
}

fn gaussian_with_table<G: RngCore + ?Sized>(rng: &mut G, n: usize, sigma: f64) -> Vec<i64> {
    let bound = gaussian_bound(sigma);
    let table = cdt(sigma, bound);
    (0..n)
        .map(|_| {
            let r = rng.next_u64();
            // Full scan: index = #{k : r >= T_k}.
            let index = table.iter().fold(0i64, |acc, &t| acc + i64::from(r >= t));
            index - bound
        })
        .collect()
}

/// Thresholds `T_k = round(2^64 · P[X <= k - bound])` for `k = 0 .. 2·bound - 1`.
fn cdt(sigma: f64, bound: i64) -> Vec<u64> {
    let weight = |x: i64| (-((x * x) as f64) / (2.0 * sigma * sigma)).exp();
    // Sum from the small tail terms up for accuracy; the distribution is symmetric.
    let total: f64 = weight(0) + 2.0 * (1..=bound).rev().map(weight).sum::<f64>();
    let two64 = 18_446_744_073_709_551_616.0;
    let mut cumulative = 0.0;
    (-bound..bound)
        .map(|x| {
            cumulative += weight(x);
            // Saturating float-to-int conversion: a threshold of 2^64 becomes u64::MAX.
            (cumulative / total * two64).round() as u64
        })
        .collect()
}

#[cfg(test)]
mod tests;
