//! Direct `O(N²)` canonical embedding, the test oracle for the special FFT.
//!
//! Deliberately independent of `fft.rs`: roots come from
//! `Complex64::from_polar` on the exponent reduced modulo `2N` (so each power
//! is computed directly, never accumulated), the rotation group is computed by
//! repeated multiplication, and sums run in plain evaluation order.

use core::f64::consts::TAU;

use super::Complex64;

/// `ζ^e` with `ζ = exp(iπ/N)`, `e` reduced modulo `2N` first.
pub(super) fn zeta_pow(e: u64, n: usize) -> Complex64 {
    let m = 2 * n as u64;
    Complex64::from_polar(1.0, TAU * (e % m) as f64 / m as f64)
}

/// `g_j = 5^j mod 2N` for `j < N/2`.
pub(super) fn rotation_group(n: usize) -> Vec<u64> {
    let m = 2 * n as u64;
    let mut g = 1;
    (0..n / 2)
        .map(|_| {
            let out = g;
            g = g * 5 % m;
            out
        })
        .collect()
}

/// `m(ζ^e)` for a real coefficient vector of length `N`.
pub(super) fn evaluate_at(coeffs: &[f64], e: u64) -> Complex64 {
    let n = coeffs.len();
    let m = 2 * n as u64;
    coeffs
        .iter()
        .enumerate()
        .map(|(k, c)| zeta_pow(e * k as u64 % m, n) * c)
        .sum()
}

/// Slot values `z_j = m(ζ^{5^j})`, `j < N/2`.
pub(super) fn slots_from_coeffs(coeffs: &[f64]) -> Vec<Complex64> {
    rotation_group(coeffs.len())
        .into_iter()
        .map(|g| evaluate_at(coeffs, g))
        .collect()
}

/// The inverse: `m_k = (2/N)·Re Σ_j z_j ζ^{−k·g_j}` (the inverse DFT over all
/// `N` primitive `2N`-th roots, where the roots `ζ^{−g_j}` carry `conj(z_j)`).
/// `values` shorter than `N/2` are zero-padded.
pub(super) fn coeffs_from_slots(values: &[Complex64], n: usize) -> Vec<f64> {
    let m = 2 * n as u64;
    let group = rotation_group(n);
    (0..n as u64)
        .map(|k| {
            let s: Complex64 = values
                .iter()
                .zip(&group)
                .map(|(z, g)| z * zeta_pow(m - k * g % m, n))
                .sum();
            2.0 / n as f64 * s.re
        })
        .collect()
}
