//! The 128-bit security bounds for ternary secrets.
//!
//! N = 2^10 … 2^15 follow the HomomorphicEncryption.org standard (v1.1, Table 1,
//! classical 128-bit, ternary secret): the largest log2(QP) — the product of all
//! ciphertext *and* key-switching primes — for each ring degree. The standard
//! stops at 2^15; for 2^16 we use 1747 bits, the value the lattice estimator
//! gives and that OpenFHE's extended table uses (conservative compared with the
//! 1772 some libraries accept).
//!
//! The 2024 guideline (Bossuat et al., "Security Guidelines for Implementing Homomorphic
//! Encryption", 2024, Table 5.2: classical attacks, ternary secret, 128 bits) re-estimates the
//! same bound with newer cost models and lowers it by 1–13 bits: [`max_log_qp_128_2024`],
//! checked when a spec asks for [`SecurityLevel::Tc128Guideline2024`].

use serde::{Deserialize, Serialize};

/// How a parameter set's security is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SecurityLevel {
    /// 128-bit classical security per the HomomorphicEncryption.org table (the default).
    #[default]
    Tc128,
    /// 128-bit classical security per the 2024 guideline values ([`max_log_qp_128_2024`]),
    /// stricter than [`SecurityLevel::Tc128`] by 1 to 13 bits of log2(QP).
    Tc128Guideline2024,
    /// No security check at all. For unit tests and toy examples only: ciphertexts made
    /// with such parameters protect nothing.
    InsecureForTesting,
}

/// `(log2 N, max log2 QP)` for 128-bit classical security with a ternary secret.
const TC128_MAX_LOG_QP: [(u32, u32); 7] = [
    (10, 27),
    (11, 54),
    (12, 109),
    (13, 218),
    (14, 438),
    (15, 881),
    (16, 1747),
];

/// The largest secure log2(QP) for ring degree 2^`log_n` at 128-bit security, or
/// `None` when the table has no entry (N below 2^10 or above 2^16).
pub fn max_log_qp_128(log_n: u32) -> Option<u32> {
    TC128_MAX_LOG_QP
        .iter()
        .find(|(l, _)| *l == log_n)
        .map(|(_, max)| *max)
}

/// `(log2 N, max log2 QP)` of the 2024 guideline for 128-bit classical security with a
/// ternary secret.
const TC128_2024_MAX_LOG_QP: [(u32, u32); 8] = [
    (10, 26),
    (11, 53),
    (12, 106),
    (13, 214),
    (14, 430),
    (15, 868),
    (16, 1747),
    (17, 3523),
];

/// The largest log2(QP) for ring degree 2^`log_n` at 128-bit security under the 2024
/// guideline values, or `None` when the table has no entry (N below 2^10 or above 2^17).
pub fn max_log_qp_128_2024(log_n: u32) -> Option<u32> {
    TC128_2024_MAX_LOG_QP
        .iter()
        .find(|(l, _)| *l == log_n)
        .map(|(_, max)| *max)
}

/// The bound `level` checks log2(QP) against for ring degree 2^`log_n`: `None` for
/// [`SecurityLevel::InsecureForTesting`], `Some(None)` when the level's table has no entry.
pub(crate) fn bound_for(level: SecurityLevel, log_n: u32) -> Option<Option<u32>> {
    match level {
        SecurityLevel::Tc128 => Some(max_log_qp_128(log_n)),
        SecurityLevel::Tc128Guideline2024 => Some(max_log_qp_128_2024(log_n)),
        SecurityLevel::InsecureForTesting => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_standard() {
        assert_eq!(max_log_qp_128(13), Some(218));
        assert_eq!(max_log_qp_128(14), Some(438));
        assert_eq!(max_log_qp_128(15), Some(881));
        assert_eq!(max_log_qp_128(9), None);
        assert_eq!(max_log_qp_128(17), None);
        for w in TC128_MAX_LOG_QP.windows(2) {
            assert_eq!(w[1].0, w[0].0 + 1);
            assert!(w[1].1 > w[0].1);
        }
    }

    #[test]
    fn guideline_2024_is_never_looser_than_the_2018_table() {
        assert_eq!(max_log_qp_128_2024(13), Some(214));
        assert_eq!(max_log_qp_128_2024(15), Some(868));
        assert_eq!(max_log_qp_128_2024(9), None);
        for log_n in 10..=16 {
            let (old, new) = (max_log_qp_128(log_n), max_log_qp_128_2024(log_n));
            assert!(new <= old, "log_n {log_n}: {new:?} > {old:?}");
        }
        for w in TC128_2024_MAX_LOG_QP.windows(2) {
            assert_eq!(w[1].0, w[0].0 + 1);
            assert!(w[1].1 > w[0].1);
        }
    }
}
